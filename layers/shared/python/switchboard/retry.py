"""What becomes of a failed action: the ONE place where an error maps to retry, fail, a person or the DLQ.

- ``TransientActionError`` (5xx, 429, timeouts, connection errors, Slack ``ratelimited``): RETRY after a
  backoff that honours ``Retry-After``; DEAD_LETTER on the last attempt.
- ``BreakerOpen`` (no call was made): RETRY when the breaker may admit a call; DEAD_LETTER on the last
  attempt.
- ``GetParameterError`` (a kill switch cannot be read): RETRY; DEAD_LETTER on the last attempt.
- ``IdempotencyAlreadyInProgressError``, ``ConcurrentUpdate``: RETRY shortly, never FAILED: another worker
  holds the action or moved the task.
- ``OutOfTime`` (too little Lambda time left to start a call): RETRY at once; nothing was called.
- ``MalformedMessage`` (neither an action nor a follow-up): RETRY at once, so SQS dead-letters it after
  ``maxReceiveCount`` quick receives.
- ``AccessDenied`` (401/403, Slack auth errors): NEEDS_HUMAN where the worker may escalate, else FAIL.
- ``PermanentActionError`` (other 4xx, validation, an unknown ability): FAIL, consumed, never retried.

- ``DependencyUnavailable``, ``DependencyRefused`` (our own DynamoDB or SQS, already translated by the
  adapters): not handled here, like any other exception below.

RETRY changes the message's visibility to the delay and fails the record, so SQS delivers it again then.
DEAD_LETTER records the reason on the task, moves it to FAILED, makes the message visible at once and fails
the record: SQS moves it to the DLQ on its next receive (``maxReceiveCount`` reached). Any other exception is
a bug or an outage of our own (DynamoDB): it propagates, and the message comes back after the visibility
timeout.

The attempt number is the message's ``ApproximateReceiveCount``. The backoff is exponential with full jitter
(uniform between ``floor`` and ``min(cap, base * 2^(attempt-1))``), and never earlier than ``Retry-After``
(itself capped at ``retry_after_cap``, 900 s by default).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final, NoReturn

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

from switchboard.errors import (
    AccessDenied,
    ActionFailed,
    BreakerOpen,
    ConcurrentUpdate,
    MalformedMessage,
    OutOfTime,
    PermanentActionError,
    RecordFailed,
    TransientActionError,
)
from switchboard.ports import Visibility

# Transitional re-export: act.py, followups.py and actworker.py import the SQS visibility adapter from here;
# it lives in ``switchboard.sqs``.

logger = Logger(child=True)

_RANDOM: Final = random.SystemRandom()
CONTENTION_DELAY_SECONDS: Final = 2


# What ``disposition`` understands; the act layer catches exactly these.
HANDLED_ERRORS: Final = (
    ActionFailed,
    BreakerOpen,
    GetParameterError,
    IdempotencyAlreadyInProgressError,
    ConcurrentUpdate,
    OutOfTime,
    MalformedMessage,
)


class Outcome(StrEnum):
    RETRY = "retry"
    DEAD_LETTER = "dead_letter"
    FAIL = "fail"
    NEEDS_HUMAN = "needs_human"


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    kind: str  # transient | breaker | switch | contention | deadline | access | permanent
    reason: str
    status: int | None = None
    delay: int = 0

    @property
    def fails_record(self) -> bool:
        return self.outcome in (Outcome.RETRY, Outcome.DEAD_LETTER)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_seconds: float = 5.0
    cap_seconds: float = 900.0
    floor_seconds: float = 1.0
    retry_after_cap_seconds: float = 900.0
    uniform: Callable[[float, float], float] = field(default=_RANDOM.uniform, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.base_seconds < 0 or self.cap_seconds < self.floor_seconds:
            raise ValueError("retry policy: max_attempts >= 1, base >= 0, cap >= floor")

    def backoff(self, attempt: int, retry_after: float | None = None) -> int:
        """Seconds before attempt ``attempt + 1``."""
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** max(0, attempt - 1))
        delay = self.uniform(min(self.floor_seconds, ceiling), ceiling)
        if retry_after is not None:
            return math.ceil(max(delay, min(retry_after, self.retry_after_cap_seconds)))
        return int(min(math.ceil(delay), self.cap_seconds))

    def disposition(self, error: BaseException, attempt: int, *, may_escalate: bool) -> Verdict:
        """THE mapping (see the module docstring)."""
        last = attempt >= self.max_attempts
        if isinstance(error, TransientActionError):
            delay = self.backoff(attempt, error.retry_after)
            return self._retry("transient", error.reason, last, delay, error.status)
        if isinstance(error, BreakerOpen):
            delay = int(min(math.ceil(error.retry_in + self.uniform(0, self.base_seconds)), self.cap_seconds))
            return self._retry("breaker", error.reason, last, max(1, delay))
        if isinstance(error, GetParameterError):
            return self._retry("switch", f"kill switch unreadable: {error}", last, self.backoff(attempt))
        if isinstance(error, IdempotencyAlreadyInProgressError | ConcurrentUpdate):
            reason = (
                "another worker holds this action"
                if isinstance(error, IdempotencyAlreadyInProgressError)
                else str(error)
            )
            return Verdict(Outcome.RETRY, "contention", reason, delay=CONTENTION_DELAY_SECONDS)
        if isinstance(error, OutOfTime):
            return Verdict(Outcome.RETRY, "deadline", str(error), delay=0)
        if isinstance(error, MalformedMessage):
            return Verdict(Outcome.RETRY, "malformed", str(error), delay=0)
        if isinstance(error, AccessDenied):
            outcome = Outcome.NEEDS_HUMAN if may_escalate else Outcome.FAIL
            return Verdict(outcome, "access", error.reason, error.status)
        if isinstance(error, PermanentActionError):
            return Verdict(Outcome.FAIL, "permanent", error.reason, error.status)
        if isinstance(error, ActionFailed):
            return Verdict(Outcome.FAIL, "permanent", error.reason, error.status)
        raise TypeError(f"no disposition for {type(error).__name__}") from error

    @staticmethod
    def _retry(kind: str, reason: str, last: bool, delay: int, status: int | None = None) -> Verdict:
        if last:
            return Verdict(Outcome.DEAD_LETTER, kind, reason, status, delay=0)
        return Verdict(Outcome.RETRY, kind, reason, status, delay=delay)


@dataclass(frozen=True)
class Delivery:
    """Where a record came from: enough to delay its next delivery."""

    queue_url: str
    receipt_handle: str
    attempt: int  # ApproximateReceiveCount: 1 on the first delivery


def fail_record(verdict: Verdict, delivery: Delivery, visibility: Visibility) -> NoReturn:
    """Carry out RETRY or DEAD_LETTER on the message: set when it is seen again, and fail the record."""
    visibility.change(delivery.queue_url, delivery.receipt_handle, verdict.delay)
    raise RecordFailed(verdict)
