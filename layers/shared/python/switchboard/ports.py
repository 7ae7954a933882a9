"""The edges of the library, as ``Protocol``s: what a service needs from the outside world, in domain terms.

Services speak only these; each has one adapter that talks to AWS (``switchboard.dynamo`` for DynamoDB,
``switchboard.sqs`` for SQS) and an in-memory implementation in ``tests/fakes/`` for the unit tests. An
adapter turns the cloud's errors into the domain errors of ``switchboard.errors``; nothing above the adapters
catches a boto exception.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from switchboard.memory import AuthorProfile, BreakerRecord, BreakerState, CountedRequest
from switchboard.models import ActionRequest, InboundEvent, TaskStatus

if TYPE_CHECKING:
    from switchboard.memory import Claim
    from switchboard.state import Opening, Task

if TYPE_CHECKING:
    from switchboard.followups import FollowUp

#: Seconds since the epoch (``time.time`` in production, a settable clock in tests).
Clock = Callable[[], float]


# -- tasks: the lifecycle's storage (``switchboard.lifecycle`` is its only writer of statuses) --------


class TaskRepository(Protocol):
    """One item per task: a versioned status, the actions, and an append-only history.

    ``transition`` is one conditional write (the status and the version must be the ones read): it raises
    ``ConcurrentUpdate`` when another worker moved the task first. Whether a move is legal is the
    lifecycle's business, not the repository's: it writes the move it is given.
    """

    def claim_and_open(
        self,
        event: InboundEvent,
        owner: str,
        actor: str,
        decided: Callable[[Task], Task | None] | None = None,
    ) -> Opening:
        """Claim the event and open its task in one conditional write: the task is named by its logical
        event (``InboundEvent.task_id``), so a redelivery or another delivery of the same logical event finds
        it taken, and the ``Opening`` holds the task it found and who claimed it. ``decided``: deferred moves
        on the new task, written with it (born in their status)."""
        ...

    def earlier_claim(self, event: InboundEvent) -> Claim | None:
        """The claim an earlier version wrote for the event (its own items, before 2026-12-03), if any."""
        ...

    def get(self, task_id: str) -> Task:
        """The task as stored; ``TaskNotFound`` when there is none."""
        ...

    def find_by_event(self, event_id: str) -> list[Task]: ...

    def needing_attention(self, status: TaskStatus, limit: int = 100) -> list[Task]: ...

    def watch_plan(self, task_id: str, actor: str, detail: dict[str, Any]) -> bool:
        """Note the plan's start and mark the task as watched while it is DECIDING (its next transition
        clears the mark); False when it had moved on already (the note is written alone)."""
        ...

    def watched_plans(self, idle_before: str, limit: int = 100) -> list[Task]:
        """Marked tasks unchanged since ``idle_before`` (ISO time), oldest first."""
        ...

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

    def complete_action(
        self,
        task_id: str,
        action_id: str,
        actor: str,
        detail: dict[str, Any],
        *,
        finishing: TaskStatus | None = None,
    ) -> Task:
        """Record one completion; ``AlreadyRecorded`` when it is recorded already (or there is no task). With
        ``finishing``, also move the task there in the same write when the item alone decides it (DISPATCHED,
        this its only action, nothing completed before)."""
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


class SeenLog(Protocol):
    """The door's marks, one conditional write per delivery (``switchboard.ingest.Enqueuer`` says why the mark
    may come before the send)."""

    def first_sight(self, platform: str, event_id: str) -> float | None:
        """Mark the delivery seen: None when it was not, else when the earlier mark was written (epoch s)."""
        ...

    def forget(self, platform: str, event_id: str) -> None:
        """Remove the delivery's mark (its send failed)."""
        ...

    def claimed(self, event: InboundEvent) -> bool:
        """Whether the classifier claimed the event: its task exists (it is named by the logical event, so
        another delivery of it finds it too)."""
        ...


class AuthorDirectory(Protocol):
    """Per-author memory: flags (blocked, trusted) and atomic request counts per fixed window.

    Two kinds of count: ``count_request`` counts an event's request and reads the author's profile in the
    same request (the rules' rate limit, for authors neither trusted nor blocked); ``count_once`` counts a key
    (the policy gate's acting actions, each action id once) in windows of its own.
    """

    def profile(self, platform: str, author: str) -> AuthorProfile: ...

    def set_flags(self, platform: str, author: str, *, blocked: bool, trusted: bool, note: str = "") -> None:
        """Set the author's flags; the counts kept with them stay."""
        ...

    def count_request(
        self, platform: str, author: str, window_seconds: int, now: float | None = None
    ) -> CountedRequest:
        """The author's profile, and unless they are trusted or blocked one more request in their current
        window, in one request; the count includes this one."""
        ...

    def give_back(self, counted: CountedRequest) -> None:
        """Take back a request ``count_request`` counted (an event that turned out a duplicate): its window's
        count one lower, if that window's count is still kept; nothing for a request not counted."""
        ...

    def count_once(
        self, platform: str, author: str, window_seconds: int, key: str, limit: int, now: float | None = None
    ) -> int:
        """Count ``key`` in the author's current window at most once; the count with it (``limit + 1`` when
        the window is full; a key counted before: at most the count it was allowed at)."""
        ...


class BudgetLedger(Protocol):
    """Atomic LLM spending counters: tokens per task and micro-dollars per UTC day (``YYYY-MM-DD``).

    No write per settlement: ``settle``'s correction is carried by this ledger (this process) into the same
    counter's next ``reserve``. The task's counter takes one conditional write per model call; the day's,
    given a ``lease_micro_usd``, one per lease: a block of the day's budget reserved at once, from which this
    process's calls are taken without a write. A correction never written or a lease never spent (the
    process ended) leaves the counter high: caps refuse early, never late.
    """

    def reserve(
        self,
        task_id: str,
        day: str,
        tokens: int,
        micro_usd: int,
        *,
        token_cap: int,
        micro_usd_cap: int,
        lease_micro_usd: int = 0,
    ) -> None:
        """Add to both counters (with this ledger's carried corrections), or reserve nothing:
        ``BudgetExceeded("task_tokens" | "daily_usd")`` when either counter, as it would stand settled,
        would pass its cap (a concurrent reservation counts). ``lease_micro_usd`` > 0: the day's counter is
        leased in blocks of that size (or only what the call needs, where a block no longer fits)."""
        ...

    def settle(self, task_id: str, day: str, tokens: int, micro_usd: int) -> None:
        """Correct both counters by these amounts (negative gives back), without a cap: carried into each
        counter's next reservation from this ledger, not written now."""
        ...

    def spent_micro_usd(self, day: str) -> int:
        """The day's counter as stored, with this ledger's corrections not written yet and its unspent lease
        taken off; other processes' unspent leases are counted: reserved, not spent."""
        ...

    def spent_tokens(self, task_id: str) -> int:
        """The task's counter as stored, with this ledger's corrections not written yet."""
        ...


class LlmCache(Protocol):
    """Tool calls by request hash, each until its TTL is over."""

    def get(self, key: str) -> dict[str, Any] | None: ...

    def put(self, key: str, value: dict[str, Any], ttl_seconds: int) -> None: ...


class BreakerStore(Protocol):
    """Each service's circuit breaker as stored, and its conditional moves: a move whose condition no longer
    holds lost the race to another worker, writes nothing and returns False (``count_failure``: None)."""

    def read(self, service: str) -> BreakerRecord: ...

    def start_probe(self, service: str, version: int, lease_until: float) -> bool:
        """Half open with the probe held until ``lease_until``, if still at ``version``."""
        ...

    def close(self, service: str, now: float) -> bool:
        """Closed with a fresh window, if half open."""
        ...

    def count_failure(self, service: str, now: float, window_seconds: float) -> int | None:
        """One more failure in the current window (or a new one); the count, or None when not closed."""
        ...

    def open(self, service: str, now: float, until: float, *, from_state: BreakerState) -> bool:
        """Open until ``until``, if still ``from_state``."""
        ...


class CursorStore(Protocol):
    """Each polled feed's cursor."""

    def get(self, feed: str) -> str | None: ...

    def put(self, feed: str, cursor: str) -> None: ...


class ReportStore(Protocol):
    """The daily DLQ triage's reports, by their time (``at``, ISO 8601 UTC)."""

    def save(self, at: str, report: dict[str, Any]) -> None: ...

    def on(self, day: str) -> list[dict[str, Any]]:
        """The reports of one UTC day, oldest first."""
        ...


class DelayQueue(Protocol):
    """Delivers a staged action's follow-up after a delay (at most 900 s); the message id."""

    def schedule(self, followup: FollowUp, delay_seconds: int) -> str: ...
