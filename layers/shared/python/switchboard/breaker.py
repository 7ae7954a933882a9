"""A circuit breaker per external service, its state in the memory table, shared by every worker.

One stored record per service (``BreakerStore``; the memory table's ``Keys.breaker`` item in AWS), whose
``state`` is closed, open or half_open:
- ``closed``: calls go through. Transient failures are counted in a fixed window (``failures`` since
  ``window_start``); the ``failure_threshold``-th failure within ``window_seconds`` opens the breaker.
  Permanent errors do not count: the service answered, the request was wrong.
- ``open`` until ``open_until`` (``cooldown_seconds`` after it opened): no call is made; the message waits
  (the act layer turns ``BreakerOpen.retry_in`` into a visibility change) and the task's history says so.
- ``half_open``: after the cool-down, exactly one worker wins a conditional write (on ``version``) and makes
  one probe call, holding the probe for ``probe_lease_seconds`` (so a crashed prober does not keep it half
  open forever). A probe that gets any answer from the service closes the breaker; a transient failure opens
  it again for another cool-down.

Every transition is a conditional move of the ``BreakerStore`` (``switchboard.dynamo.DynamoBreakerStore``
in AWS), so two workers never both open, probe or close: a move that lost the race changes nothing here
either. This module is the policy (when to move); the store is the state. The state is
emitted as the ``BreakerOpen`` metric (1 open or half open, 0 closed) with the dimension ``service``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger

from switchboard.errors import BreakerOpen
from switchboard.memory import BreakerState
from switchboard.metrics import Metric, count
from switchboard.ports import BreakerStore

logger = Logger(child=True)

__all__ = [
    "BreakerConfig",
    "BreakerOpen",
    "BreakerState",
    "CircuitBreaker",
    "Permit",
    "breaker_is_open",
]


@dataclass(frozen=True)
class BreakerConfig:
    failure_threshold: int = 5
    window_seconds: float = 60.0
    cooldown_seconds: float = 30.0
    probe_lease_seconds: float = 30.0

    def __post_init__(self) -> None:
        if self.failure_threshold < 1 or min(self.window_seconds, self.cooldown_seconds) <= 0:
            raise ValueError("breaker: threshold >= 1, window and cool-down > 0")


@dataclass(frozen=True)
class Permit:
    """Leave to make one call; ``probe`` when it is the half-open probe."""

    probe: bool = False


def breaker_is_open(store: BreakerStore, service: str | None) -> bool:
    """Whether ``service``'s breaker is open now (the triage's and the CLI's "has the cause cleared?")."""
    return bool(service) and store.read(str(service)).state is BreakerState.OPEN


class CircuitBreaker:
    def __init__(
        self,
        service: str,
        store: BreakerStore,
        config: BreakerConfig | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.service = service
        self.store: BreakerStore = store
        self.config = config or BreakerConfig()
        self.clock = clock

    # -- what the act layer calls ----------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """The stored state: ``state``, ``version``, ``failures``, ``window_start``, ``open_until``…"""
        return self.store.read(self.service).to_json()

    def acquire(self) -> Permit:
        """A permit to call, or ``BreakerOpen``. After the cool-down one caller wins the probe."""
        stored = self.store.read(self.service)
        now = self.clock()
        if stored.state is BreakerState.CLOSED:
            self._emit(False)
            return Permit()
        until = (stored.open_until if stored.state is BreakerState.OPEN else stored.probe_until) or 0.0
        if now < until:
            self._emit(True)
            raise BreakerOpen(self.service, stored.state, until - now)
        if not self.store.start_probe(self.service, stored.version, now + self.config.probe_lease_seconds):
            self._emit(True)
            raise BreakerOpen(self.service, BreakerState.HALF_OPEN, self.config.probe_lease_seconds)
        self._emit(True)
        logger.info("circuit half open: probing", service=self.service)
        return Permit(probe=True)

    def record_success(self, permit: Permit) -> BreakerState | None:
        """The service answered. Returns ``CLOSED`` when this closed the breaker (a successful probe)."""
        if not permit.probe:
            return None
        if not self.store.close(self.service, self.clock()):
            return None
        self._emit(False)
        logger.info("circuit closed after a successful probe", service=self.service)
        return BreakerState.CLOSED

    def record_failure(self, permit: Permit) -> BreakerState | None:
        """A transient failure. Returns ``OPEN`` when this failure opened (or re-opened) the breaker."""
        now = self.clock()
        if permit.probe:
            return self._open(now, BreakerState.HALF_OPEN, reopened=True)
        failures = self.store.count_failure(self.service, now, self.config.window_seconds)
        if failures is None or failures < self.config.failure_threshold:
            return None  # not closed (opened meanwhile), or another worker started the window: a rounding
        return self._open(now, BreakerState.CLOSED, reopened=False)

    # -- the moves -------------------------------------------------------------------------------------------

    def _open(self, now: float, from_state: BreakerState, *, reopened: bool) -> BreakerState | None:
        if not self.store.open(self.service, now, now + self.config.cooldown_seconds, from_state=from_state):
            return None
        self._emit(True)
        logger.warning(
            "circuit re-opened by a failed probe" if reopened else "circuit opened",
            service=self.service,
            cooldown_seconds=self.config.cooldown_seconds,
        )
        return BreakerState.OPEN

    def _emit(self, is_open: bool) -> None:
        count(Metric.BREAKER_OPEN, 1 if is_open else 0, service=self.service)
