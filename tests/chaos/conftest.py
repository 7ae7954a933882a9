"""Fixtures of the reliability suite. Scale: CHAOS_SCALE=full (make chaos), else fast (inside make test)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.chaos.harness import Stack
from tests.fakes.http_apis import FakeApis
from tests.local_process import TEMPLATE

FULL = os.environ.get("CHAOS_SCALE") == "full"


@pytest.fixture(scope="session")
def scale() -> dict[str, int]:
    if FULL:
        return {"events": 1000, "poison_groups": 100, "faulty": 200, "llm": 20, "crash": 5,
                "plans": 50, "plan_crashes": 1}  # fmt: skip
    return {"events": 30, "poison_groups": 10, "faulty": 10, "llm": 5, "crash": 1,
            "plans": 4, "plan_crashes": 1}  # fmt: skip


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The main runtime: 3 s visibility, so crashed and failed messages come back in seconds."""
    if not TEMPLATE.exists():
        pytest.fail(f"{TEMPLATE} is missing: run `make synth` first")
    # the plan watch asks about a plan idle 2 s (not 10 min): a running one it must leave alone
    running = Stack(
        tmp_path_factory.mktemp("chaos-main"), visibility_cap=3, env={"PLAN_WATCH_IDLE_SECONDS": "2"}
    )
    yield running
    running.stop()


@pytest.fixture(scope="session")
def faulty() -> Iterator[FakeApis]:
    with FakeApis(seed=11) as apis:
        yield apis


@pytest.fixture(scope="session")
def faulty_stack(tmp_path_factory: pytest.TempPathFactory, faulty: FakeApis) -> Iterator[Stack]:
    """GitHub behind the fault proxy; 25 s visibility: longer than the act function's 30 s in-progress expiry
    minus four 2 s contention retries, so a crash inside the idempotency guard does not dead-letter."""
    running = Stack(
        tmp_path_factory.mktemp("chaos-faulty"),
        visibility_cap=25,
        env={"SERVICE_API_URL": faulty.service_url("github"), "HTTP_TIMEOUT_SECONDS": "1"},
    )
    yield running
    running.stop()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "chaos: the reliability suite (tests/chaos)")
