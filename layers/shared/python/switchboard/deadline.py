"""The time a function invocation has left, for outbound calls that must not outlive it.

Lambda stops a function at its timeout: an LLM call that is still waiting then fails the whole batch, with no
partial report. A ``Deadline`` is the invocation's end (the context's remaining time) minus a margin for the
state write that records what happened; callers size each attempt's timeout to what is left and give up, with
a reason, when too little is left for another attempt.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol

# Kept back from the Lambda timeout for the task's state write and the batch report after the last call.
STATE_WRITE_MARGIN_SECONDS = 3.0


class LambdaContext(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


@dataclass(frozen=True)
class Deadline:
    at: float  # a time.monotonic() reading

    @classmethod
    def from_context(
        cls, context: LambdaContext | Any, margin: float = STATE_WRITE_MARGIN_SECONDS
    ) -> Deadline:
        return cls(time.monotonic() + context.get_remaining_time_in_millis() / 1000 - margin)

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(time.monotonic() + seconds)

    def remaining(self) -> float:
        return max(0.0, self.at - time.monotonic())
