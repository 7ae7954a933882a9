"""The circuit breaker's policy (``switchboard.breaker``) over the in-memory breaker store: when it opens,
how long it stays open, who probes, and what closes it. No sockets; the store's conditional moves are pinned
against DynamoDB in tests/integration/test_memory_ports.py."""

from __future__ import annotations

import pytest

from switchboard.breaker import (
    BreakerConfig,
    BreakerState,
    CircuitBreaker,
    Permit,
    breaker_is_open,
)
from switchboard.errors import BreakerOpen
from tests.fakes.memory import FakeClock, MemoryBreakerStore

CONFIG = BreakerConfig(failure_threshold=3, window_seconds=60, cooldown_seconds=30, probe_lease_seconds=20)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_000.0)


@pytest.fixture
def store() -> MemoryBreakerStore:
    return MemoryBreakerStore()


def breaker(store: MemoryBreakerStore, clock: FakeClock, service: str = "github") -> CircuitBreaker:
    return CircuitBreaker(service, store, CONFIG, clock=clock)


def open_it(workers: CircuitBreaker, clock: FakeClock) -> None:
    for _ in range(CONFIG.failure_threshold):
        workers.record_failure(workers.acquire())
        clock.now += 1


def test_a_closed_breaker_lets_calls_through_and_ignores_successes(
    store: MemoryBreakerStore, clock: FakeClock
) -> None:
    github = breaker(store, clock)
    assert github.acquire() == Permit(probe=False)
    assert github.record_success(Permit()) is None
    assert github.state()["state"] == "closed"


def test_the_threshold_th_failure_within_the_window_opens_it(
    store: MemoryBreakerStore, clock: FakeClock
) -> None:
    github = breaker(store, clock)
    assert github.record_failure(Permit()) is None
    clock.now += 10
    assert github.record_failure(Permit()) is None
    clock.now += 10
    assert github.record_failure(Permit()) is BreakerState.OPEN
    assert breaker_is_open(store, "github")
    with pytest.raises(BreakerOpen) as refused:
        github.acquire()
    assert refused.value.state is BreakerState.OPEN
    assert refused.value.retry_in == pytest.approx(30)


def test_failures_spread_over_more_than_a_window_do_not_open_it(
    store: MemoryBreakerStore, clock: FakeClock
) -> None:
    github = breaker(store, clock)
    for _ in range(5):
        assert github.record_failure(Permit()) is None
        clock.now += 31  # every other failure starts a new 60 s window
    assert github.acquire() == Permit()


def test_after_the_cool_down_exactly_one_worker_probes(store: MemoryBreakerStore, clock: FakeClock) -> None:
    first, second = breaker(store, clock), breaker(store, clock)
    open_it(first, clock)
    clock.now += 30
    assert first.acquire() == Permit(probe=True)
    with pytest.raises(BreakerOpen) as waiting:
        second.acquire()
    assert (waiting.value.state, waiting.value.retry_in) == (BreakerState.HALF_OPEN, pytest.approx(20))
    assert not breaker_is_open(store, "github")  # half open is not "open": the triage may redrive


def test_a_successful_probe_closes_it_and_a_failed_one_reopens_it(
    store: MemoryBreakerStore, clock: FakeClock
) -> None:
    github = breaker(store, clock)
    open_it(github, clock)
    clock.now += 30
    probe = github.acquire()
    assert github.record_failure(probe) is BreakerState.OPEN  # another cool-down
    with pytest.raises(BreakerOpen):
        github.acquire()
    clock.now += 30
    probe = github.acquire()
    assert probe.probe
    assert github.record_success(probe) is BreakerState.CLOSED
    assert github.record_success(probe) is None  # a second success of the same probe closes nothing
    assert github.acquire() == Permit()
    assert github.state()["failures"] == 0


def test_a_crashed_prober_s_lease_runs_out(store: MemoryBreakerStore, clock: FakeClock) -> None:
    first, second = breaker(store, clock), breaker(store, clock)
    open_it(first, clock)
    clock.now += 30
    assert first.acquire().probe  # and this worker dies without an answer
    clock.now += 19
    with pytest.raises(BreakerOpen):
        second.acquire()
    clock.now += 1
    assert second.acquire() == Permit(probe=True)


def test_each_service_has_its_own_breaker(store: MemoryBreakerStore, clock: FakeClock) -> None:
    open_it(breaker(store, clock, "slack"), clock)
    assert breaker_is_open(store, "slack")
    assert not breaker_is_open(store, "github")
    assert not breaker_is_open(store, None)
    assert breaker(store, clock, "github").acquire() == Permit()
