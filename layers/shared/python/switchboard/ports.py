"""The edges of the library, as ``Protocol``s: what a service needs from the outside world, in domain terms.

Services speak only these; each has one adapter that talks to AWS (``switchboard.dynamo`` for DynamoDB,
``switchboard.sqs`` for SQS) and an in-memory implementation in ``tests/fakes/`` for the unit tests. An
adapter turns the cloud's errors into the domain errors of ``switchboard.errors``; nothing above the adapters
catches a boto exception.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from switchboard.models import ActionRequest, InboundEvent, TaskStatus

if TYPE_CHECKING:
    from switchboard.memory import Claim
    from switchboard.state import Task

#: Seconds since the epoch (``time.time`` in production, a settable clock in tests).
Clock = Callable[[], float]


# -- tasks: the lifecycle's storage (``switchboard.lifecycle`` is its only writer of statuses) --------


class TaskRepository(Protocol):
    """One item per task: a versioned status, the actions, and an append-only history.

    ``transition`` is one conditional write (the status and the version must be the ones read): it raises
    ``ConcurrentUpdate`` when another worker moved the task first. Whether a move is legal is the
    lifecycle's business, not the repository's: it writes the move it is given.
    """

    def claim_and_open(self, event: InboundEvent, owner: str, claim_ttl_days: int, actor: str) -> Task | None:
        """Claim the processed id and open the task, atomically; None when the event is claimed already."""
        ...

    def claim(self, platform: str, event_id: str) -> Claim | None: ...

    def get(self, task_id: str) -> Task:
        """The task as stored; ``TaskNotFound`` when there is none."""
        ...

    def find_by_event(self, event_id: str) -> list[Task]: ...

    def needing_attention(self, status: TaskStatus, limit: int = 100) -> list[Task]: ...

    def transition(
        self,
        task: Task,
        to: TaskStatus,
        actor: str,
        detail: dict[str, Any] | None = None,
        *,
        actions: list[ActionRequest] | None = None,
        reason: str | None = None,
        route: str | None = None,
    ) -> Task: ...

    def complete_action(self, task_id: str, action_id: str, actor: str, detail: dict[str, Any]) -> Task:
        """Record one completion; ``AlreadyRecorded`` when it is recorded already (or there is no task)."""
        ...

    def note(self, task_id: str, actor: str, detail: dict[str, Any]) -> None:
        """Append a history entry that moves neither the status nor the version; ``TaskNotFound``."""
        ...


# -- queues --------------------------------------------------------------------------------------------------


class QueueSender(Protocol):
    """Sends to a FIFO queue: every message carries a group id and a deduplication id."""

    def send(
        self,
        queue_url: str,
        body: str,
        group_id: str,
        dedup_id: str,
        attributes: dict[str, str] | None = None,
    ) -> str: ...


class Visibility(Protocol):
    """Changes when a received message is seen again (a retry's backoff, or at once)."""

    def change(self, queue_url: str, receipt_handle: str, seconds: int) -> None: ...


# -- the memory table: everything the agent remembers besides tasks ---------------------------------------
# (seen marks, author profiles and rate windows, LLM budgets and the response cache, breakers, feed cursors,
# triage reports). ``switchboard.dynamo`` owns every key format of that table.
