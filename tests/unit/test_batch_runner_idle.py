"""A batch tick with nothing to collect or submit never builds the model SDK: importing ``anthropic`` is
about a second of the batch function's cold start, which an idle schedule tick does not need."""

from __future__ import annotations

from typing import Any

from switchboard.batches import BatchRunner, RunReport


class EmptyStore:
    def open_batches(self) -> list[str]:
        return []

    def pending(self, limit: int) -> list[Any]:
        return []


def test_an_idle_tick_does_not_build_the_sdk() -> None:
    def sdk() -> Any:
        raise AssertionError("the SDK was built for a tick with nothing to do")

    runner = BatchRunner(EmptyStore(), queue=None, sdk=sdk)  # type: ignore[arg-type]
    assert runner.run() == RunReport()
