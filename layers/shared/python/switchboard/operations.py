"""What the person on call reads and does, for the CLI and the console alike (the console has no logic of its
own): the task list with its filters, a task's timeline, the costs, resolve, redrive, replay.

Resolve: a task that needs a human, with a chosen action or a note.

The resolution is one more transition (``Lifecycle.resolve_with_action``, ``Lifecycle.close``), recorded in
the task's history with who did it and why. A chosen action goes through the same ability registry
(allow-list, validation, event-bound target) and the same per-service queue as any other action: a person can
choose, but cannot bypass the policy: the action passes the policy gate (``switchboard.policy``) as a
person's choice (the event author's trust does not matter; the label allow-list and the assignee limit do),
and a refusal raises ``PolicyRefused`` with the reason, noted on the task. Its ordinal is the next of the
person range (``action_ids.person``), counted from the task's history, so it never takes the id of an action
the agent derived (a follow-up's reply, an escalation) nor of an earlier person's action.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from switchboard import action_ids
from switchboard.abilities import ability, allowed_on
from switchboard.dlq import RedriveResult
from switchboard.errors import TaskNotFound
from switchboard.ingest import Enqueuer
from switchboard.lifecycle import Lifecycle
from switchboard.models import ActionRequest, InboundEvent, Service, TaskStatus
from switchboard.policy import PolicyGate
from switchboard.ports import QueueSender, TaskRepository
from switchboard.state import Task


def resolve_with_action(
    tasks: TaskRepository,
    queue: QueueSender,
    act_queue_url: Callable[[Service], str],
    task_id: str,
    *,
    by: str,
    ability_name: str,
    params: dict[str, Any],
    note: str = "",
    gate: PolicyGate | None = None,
) -> Task:
    lifecycle = Lifecycle(tasks, queue, act_queue_url, gate=gate)
    task = lifecycle.resolvable(task_id)
    event = task.inbound_event()
    chosen = ability(ability_name)
    if event.platform not in chosen.platforms:
        raise ValueError(f"{ability_name} is not allowed on {event.platform.value}")
    action = ActionRequest.for_task(
        event,
        action_ids.person(task.history),
        chosen.name,
        chosen.service,
        chosen.bound_params(event, params),
    )
    return lifecycle.resolve_with_action(task, action, by=by, note=note)


def resolve_closed(tasks: TaskRepository, task_id: str, *, by: str, note: str) -> Task:
    return Lifecycle(tasks).close(task_id, by=by, note=note)


# ---------------------------------------------------------------- reading: the task list and a timeline
#
# What `switchboard list`, `switchboard trace` and the console show, computed once here: the console renders
# these values and holds no logic of its own.

#: How a task was decided, as the console's filter names it.
ROUTES: Final = ("rule", "small-model", "escalated", "plan", "person", "none")
#: How much of an event's (already sanitized) text a listing shows.
LIST_TEXT_CHARS: Final = 140
#: The prefix of a replayed delivery's id and of its ``raw_ref`` (the replay marker).
REPLAY_MARK: Final = "replay"


def llm_calls(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every model call the history records (``detail.llm``), in order."""
    return [
        call
        for entry in history
        for call in (entry.get("detail") or {}).get("llm", [])
        if isinstance(call, dict)
    ]


def route_of(task: Task) -> str:
    """``rule`` (a deterministic rule matched), ``small-model`` (the small model settled it), ``escalated``
    (a larger tier or the decide stage was asked), ``plan`` (a plan ran), ``person`` (a person resolved it),
    or ``none`` (nothing decided yet, or dropped before a route)."""
    details = [entry.get("detail") or {} for entry in task.history]
    if task.route == "plan" or any("plan" in detail for detail in details):
        return "plan"
    if any(
        str(entry.get("actor", "")).startswith("human:") and "resolution" in (entry.get("detail") or {})
        for entry in task.history
    ):
        return "person"
    if any(detail.get("route") == "rule" for detail in details):
        return "rule"
    tiers = {str(call.get("tier")) for call in llm_calls(task.history)}
    if task.route == "decide" or tiers - {"small"}:
        return "escalated"
    if tiers:
        return "small-model"
    return "none"


def cost_usd(task: Task) -> float:
    return round(sum(float(call.get("usd") or 0) for call in llm_calls(task.history)), 6)


@dataclass(frozen=True)
class TaskRow:
    """One line of the task list."""

    task_id: str
    event_id: str
    platform: str
    status: str
    route: str
    author: str
    conversation: str
    at: str
    text: str
    cost_usd: float
    replay_of: str | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def replay_of(event: InboundEvent | None) -> str | None:
    """The task a replayed delivery re-injects (its marker), or None."""
    if event is None or not (event.raw_ref or "").startswith(f"{REPLAY_MARK}-of:"):
        return None
    return (event.raw_ref or "").split(":", 1)[1]


def row_of(task: Task) -> TaskRow:
    try:
        event: InboundEvent | None = task.inbound_event()
    except (TaskNotFound, ValueError):
        event = None
    text = event.text if event else ""
    if len(text) > LIST_TEXT_CHARS:
        text = text[: LIST_TEXT_CHARS - 1] + "…"
    return TaskRow(
        task_id=task.task_id,
        event_id=task.event_id,
        platform=task.platform,
        status=task.status.value,
        route=route_of(task),
        author=(event.author or "") if event else "",
        conversation=task.conversation,
        at=task.history[0]["at"] if task.history else "",
        text=text,
        cost_usd=cost_usd(task),
        replay_of=replay_of(event),
    )


@dataclass(frozen=True)
class TaskFilter:
    """The list's filters; an empty field matches everything. ``since``/``until`` are ISO times (UTC)."""

    platform: str = ""
    status: str = ""
    route: str = ""
    author: str = ""
    conversation: str = ""
    since: str = ""
    until: str = ""

    def admits(self, row: TaskRow) -> bool:
        return (
            (not self.platform or row.platform == self.platform)
            and (not self.status or row.status == self.status)
            and (not self.route or row.route == self.route)
            and (not self.author or row.author == self.author)
            and (not self.conversation or self.conversation in row.conversation)
            and (not self.since or row.at >= self.since)
            and (not self.until or row.at <= self.until)
        )


class RecentTasks(Protocol):
    """The task table read newest first (``TaskStore.recent``)."""

    def recent(self, limit: int = 1_000) -> list[Task]: ...


def list_tasks(tasks: RecentTasks, where: TaskFilter | None = None, *, limit: int = 100) -> list[TaskRow]:
    """The newest tasks that pass ``where``, newest first."""
    where = where or TaskFilter()
    rows = [row_of(task) for task in tasks.recent()]
    return [row for row in rows if where.admits(row)][:limit]


def _transition(entry: dict[str, Any]) -> str:
    if "status" not in entry:
        return "note"
    return f"{entry['from']} → {entry['status']}" if "from" in entry else str(entry["status"])


def _links(value: Any) -> list[str]:
    """External result links inside an action's result (only http and https URLs)."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, inner in value.items():
            if isinstance(inner, str) and key.endswith("url") and inner.startswith(("https://", "http://")):
                found.append(inner)
            else:
                found += _links(inner)
    elif isinstance(value, list):
        for inner in value:
            found += _links(inner)
    return found


def timeline(task: Task) -> list[dict[str, Any]]:
    """The task's history as timeline entries: ``at``, ``actor``, ``transition``, ``kind`` (``transition``,
    ``action``, ``model``, ``policy``, ``resolution``, ``replay``, ``plan``, ``note``), the model calls, the
    policy verdicts, the action results with their links, the plan steps (when the entry carries a plan), and
    the rest of the detail as it is (kinds this module does not know are shown as they are)."""
    entries = []
    for entry in task.history:
        detail = dict(entry.get("detail") or {})
        calls = [call for call in detail.pop("llm", []) if isinstance(call, dict)]
        policy = [verdict for verdict in detail.pop("policy", []) if isinstance(verdict, dict)]
        result = detail.get("result")
        plan = detail.get("plan")
        steps = plan.get("steps") if isinstance(plan, dict) else plan if isinstance(plan, list) else None
        if "resolution" in detail:
            kind = "resolution"
        elif "replay" in detail:
            kind = "replay"
        elif steps is not None:
            kind = "plan"
        elif result is not None or "action_id" in detail:
            kind = "action"
        elif "status" in entry:
            kind = "transition"
        elif calls:
            kind = "model"
        elif policy:
            kind = "policy"
        else:
            kind = "note"
        entries.append(
            {
                "at": entry.get("at", ""),
                "actor": entry.get("actor", ""),
                "transition": _transition(entry),
                "kind": kind,
                "llm": calls,
                "policy": policy,
                "links": _links(result) if result is not None else [],
                "steps": [step for step in steps if isinstance(step, dict)]
                if isinstance(steps, list)
                else [],
                "detail": detail,
            }
        )
    return entries


def resolvable_abilities(task: Task, gate: PolicyGate | None = None) -> list[str]:
    """The abilities a person may choose for ``task``: those of its platform that the policy gate offers
    (``PolicyGate.offered``, as the model is offered); the parameters are validated on submit by the same
    models as ``switchboard tasks resolve`` (``Ability.bound_params``)."""
    event = task.inbound_event()
    gate = gate or PolicyGate()
    return [entry.name for entry in gate.offered(event, allowed_on(event.platform))]


def needing_a_person(tasks: TaskRepository, limit: int = 50) -> list[Task]:
    """NEEDS_HUMAN first, then FAILED, each newest first."""
    return [
        *tasks.needing_attention(TaskStatus.NEEDS_HUMAN, limit=limit),
        *tasks.needing_attention(TaskStatus.FAILED, limit=limit),
    ]


# ---------------------------------------------------------------- replay


#: Statuses after which a task does no more work by itself: only these are replayed.
SETTLED: Final = frozenset({TaskStatus.DONE, TaskStatus.DROPPED, TaskStatus.NEEDS_HUMAN, TaskStatus.FAILED})


@dataclass(frozen=True)
class ReplayOutcome:
    task_id: str
    event_id: str
    replayed: bool
    reason: str
    delivery_id: str | None = None
    dry_run: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def replay_delivery_id(event_id: str, generation: int) -> str:
    """The new delivery's id: deterministic per original event and replay generation, so that two operators
    (or two clicks) replaying the same event at once make one delivery (the queue's dedup id, then the
    classifier's claim)."""
    return f"{REPLAY_MARK}{generation}~{event_id}"[:256]


def replay_verdict(task: Task, *, fresh: bool) -> tuple[bool, str]:
    """Whether ``task``'s event is re-injected, and why. An event whose action already ran (a completed
    action in the task) is not replayed unless ``fresh``: its new delivery would act a second time. A task
    still at work is never replayed (its own actions may be on their way)."""
    if task.status not in SETTLED:
        return False, f"still in progress ({task.status.value}): replay it once it settles"
    ran = [action for action in task.completed_actions if "#" in action]
    if ran and not fresh:
        return False, f"its action already ran ({', '.join(ran)}); a fresh replay acts again"
    return True, "fresh: acts again" if ran else "no action of it ran"


def replay(
    tasks: TaskRepository,
    door: Enqueuer,
    task_ids: list[str],
    *,
    by: str,
    fresh: bool = False,
    dry_run: bool = False,
) -> list[ReplayOutcome]:
    """Re-inject the events of ``task_ids`` as new deliveries through the door's one way in (``Enqueuer``).

    The new delivery keeps the event as stored (already sanitized at the door), with a new delivery id
    (``replay_delivery_id``), no content identity (it is a new logical event by design), a new receipt time
    and the replay marker ``raw_ref = "replay-of:<task id>"``. Each replay, and each refusal, is noted in the
    original task's history with who asked; a dry run writes nothing and sends nothing."""
    outcomes = []
    for task_id in task_ids:
        task = tasks.get(task_id)
        go, reason = replay_verdict(task, fresh=fresh)
        if not go:
            if not dry_run:
                tasks.note(task_id, f"human:{by}", {"replay": "skipped", "reason": reason, "fresh": fresh})
            outcomes.append(ReplayOutcome(task_id, task.event_id, False, reason, dry_run=dry_run))
            continue
        generation = 1 + sum(
            1 for entry in task.history if (entry.get("detail") or {}).get("replay") == "injected"
        )
        delivery = replay_delivery_id(task.event_id, generation)
        if not dry_run:
            event = task.inbound_event().model_copy(
                update={
                    "event_id": delivery,
                    "content_id": None,
                    "received_at": datetime.now(UTC),
                    "raw_ref": f"{REPLAY_MARK}-of:{task_id}",
                }
            )
            status = door.enqueue(event)
            tasks.note(
                task_id,
                f"human:{by}",
                {"replay": "injected", "delivery_id": delivery, "fresh": fresh, "door": status},
            )
        outcomes.append(ReplayOutcome(task_id, task.event_id, True, reason, delivery, dry_run))
    return outcomes


def select_for_replay(tasks: RecentTasks, where: TaskFilter, limit: int = 100) -> list[str]:
    """The task ids of the past events that ``where`` chooses (time range, platform, route, status)."""
    return [row.task_id for row in list_tasks(tasks, where, limit=limit)]


# ---------------------------------------------------------------- costs


class SpendLedger(Protocol):
    def spent_micro_usd(self, day: str) -> int: ...


def costs(tasks: RecentTasks, ledger: SpendLedger | None, daily_cap_usd: float | None) -> dict[str, Any]:
    """Model spend per UTC day and per tier (from the tasks' histories), the budget ledger's figure for the
    day and the cap, and the share of events settled without a model call. The ledger's figure is what was
    reserved: the spend plus the unspent leases of the workers that took one that day (about one lease, 0.2 %
    of the cap, per worker process; a call bigger than a lease leases its own size), never less than what
    was spent."""
    days: dict[str, dict[str, float]] = {}
    total = without_model = 0
    for task in tasks.recent():
        total += 1
        calls = llm_calls(task.history)
        if not calls:
            without_model += 1
        for call in calls:
            day = str(task.history[0].get("at", ""))[:10]
            tier = str(call.get("tier") or "?")
            per_day = days.setdefault(day, {})
            per_day[tier] = round(per_day.get(tier, 0.0) + float(call.get("usd") or 0), 6)
    rows = []
    for day in sorted(days, reverse=True):
        spent = round(sum(days[day].values()), 6)
        ledger_usd = ledger.spent_micro_usd(day) / 1_000_000 if ledger is not None else None
        rows.append(
            {
                "day": day,
                "tiers": days[day],
                "usd": spent,
                "ledger_usd": ledger_usd,
                "cap_usd": daily_cap_usd,
                "share_of_cap": round(spent / daily_cap_usd, 4) if daily_cap_usd else None,
            }
        )
    return {
        "days": rows,
        "tasks": total,
        "settled_without_model": without_model,
        "share_without_model": round(without_model / total, 4) if total else None,
        "cap_usd": daily_cap_usd,
    }


# ---------------------------------------------------------------- dead letters


class Redriver(Protocol):
    """``DeadLetterQueues.redrive``."""

    def redrive(
        self,
        queue: str,
        history_of: Callable[[str], list[dict[str, Any]] | None],
        breaker_open: Callable[[str | None], bool],
        category: str | None = None,
        dry_run: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> RedriveResult: ...


def redrive(
    dead: Redriver,
    tasks: TaskRepository,
    queue: str,
    *,
    by: str,
    category: str | None = None,
    dry_run: bool = False,
    history_of: Callable[[str], list[dict[str, Any]] | None],
    breaker_open: Callable[[str | None], bool],
    progress: Callable[[int, int], None] | None = None,
) -> RedriveResult:
    """``switchboard dlq redrive``: move a DLQ's messages (or one triage category's) back, in group order,
    and note the redrive, with who asked, in each moved message's task history (a dry run notes nothing)."""
    result = dead.redrive(queue, history_of, breaker_open, category, dry_run, progress)
    if not dry_run:
        for task_id in dict.fromkeys(result.task_ids):
            try:
                tasks.note(task_id, f"human:{by}", {"redrive": queue, "category": category or "*"})
            except TaskNotFound:
                continue
    return result
