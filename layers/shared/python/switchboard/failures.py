"""What becomes of an error in classify or decide, after the event's claim: the one place they ask.

- ``PERMANENT``: trying the same event again gives the same error. Its parameters fail an ability's
  validation (``InvalidParams``, pydantic's ``ValidationError``), something names an ability that does not
  exist (``UnknownAbility``), the lifecycle refuses a move (``IllegalTransition``, ``OrdinalOutOfRange``), or
  this event meets a bug (``TypeError``, ``KeyError`` …). The task ends FAILED with the error as its reason
  (``Lifecycle.end``) and the message is consumed: five more receives would hold the conversation's FIFO group
  for a quarter of an hour and leave the message in the DLQ with the task RECEIVED and no reason.
- Anything else propagates: our own AWS dependencies (``DependencyUnavailable``, ``DependencyRefused``), a
  connection error, ``ConcurrentUpdate`` after ``Lifecycle.retrying`` gave up. SQS delivers the message again
  after its visibility timeout and dead-letters it after ``maxReceiveCount``, where a redrive can help.
"""

from __future__ import annotations

from typing import Final

from switchboard.errors import IllegalTransition, InvalidParams, OrdinalOutOfRange

#: ValueError covers InvalidParams and pydantic's ValidationError; LookupError covers UnknownAbility.
PERMANENT: Final[tuple[type[Exception], ...]] = (
    ValueError,
    LookupError,
    TypeError,
    AttributeError,
    IllegalTransition,
    OrdinalOutOfRange,
)

REASON_LIMIT: Final = 500


def reason(error: Exception) -> str:
    """The task's reason: the error's kind and what it says (for invalid parameters, which ones and why)."""
    said = error.feedback() if isinstance(error, InvalidParams) else str(error)
    if isinstance(error, InvalidParams):
        said = f"{error.ability}: {said}"
    return f"{type(error).__name__}: {said}"[:REASON_LIMIT]
