"""Task state in DynamoDB: one item per task, a versioned status, and an append-only history.

Every transition is one conditional write: the status must be the one we read and the version must not have
moved, so a concurrent transition is refused (an illegal one never gets here: ``switchboard.lifecycle``, the
only module that changes a status, refuses it). The task is its event's claim: it is named by its logical
event (``InboundEvent.task_id``: the content identity, else the delivery id), and one conditional put writes
it, so a redelivery and every other delivery of the same logical event find it taken, and there is never a
claim without a task. (Before 2026-12-03 the claim was two more items, ``processed#`` and ``content#``,
written with the task in one transaction: a redelivery of a message that an earlier version took still finds
them, ``TaskStore.earlier_claim``.)
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from switchboard.aws import LazyClient
from switchboard.dynamo import (
    TASKS_BY_ATTENTION_INDEX,
    ConditionFailed,
    Keys,
    Table,
    from_item,
    to_item,
    to_value,
)
from switchboard.errors import AlreadyRecorded, ConcurrentUpdate, TaskNotFound
from switchboard.memory import DAY, Claim
from switchboard.models import ActionRequest, InboundEvent, Platform, TaskStatus, task_id_for

S = TaskStatus

# A task that needs a person has `attention` = its status, so it is in the sparse `by-attention` index.
ATTENTION_STATUSES = frozenset({S.NEEDS_HUMAN, S.FAILED})
#: The same index's other partition: a task whose plan runs (DECIDING, its durable execution started) has
#: `attention` = this until its next transition removes it, so the plan watch (``switchboard.plans.watch``)
#: lists just those tasks, however many there are in other states.
PLAN_WATCH = "PLAN_RUNNING"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass
class Task:
    task_id: str
    event_id: str
    platform: str
    status: TaskStatus
    version: int
    conversation: str
    history: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    completed_actions: list[str] = field(default_factory=list)
    reason: str | None = None
    route: str | None = None
    event_json: str | None = None
    #: Moves made in memory and not written yet (``Lifecycle``'s ``defer=True``): the next transition writes
    #: them with its own, in one conditional write on the status as stored.
    deferred: Deferred | None = None

    @property
    def stored_status(self) -> TaskStatus:
        """The status as the table holds it (``status`` may be a deferred move ahead of it)."""
        return self.deferred.from_status if self.deferred is not None else self.status

    def deferring(self, to: TaskStatus, actor: str, detail: dict[str, Any], sets: dict[str, Any]) -> Task:
        """A copy of this task moved to ``to`` in memory only: its history entry (seen by whoever reads the
        history before the write, as the policy gate reads who chose) and ``sets`` (actions, reason, route)
        wait for the next transition, which writes them all at once."""
        entry = history_entry(to, actor, detail, previous=self.status)
        before = self.deferred or Deferred(self.status, [], {})
        deferred = Deferred(before.from_status, [*before.entries, entry], {**before.sets, **sets})
        moved = replace(self, status=to, history=[*self.history, entry], deferred=deferred)
        if "actions" in sets:
            moved.actions = list(sets["actions"])
        for name in ("reason", "route"):
            if name in sets:
                setattr(moved, name, sets[name])
        return moved

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Task:
        """The task of an item in its stored form (``stored_item``), or in the older plain form (the event as
        a JSON string, whole actions, ISO timestamps in the history)."""
        data = from_item(item)
        task_id = data.get("task_id") or Keys.task_id_of(str(data["pk"]))
        data["task_id"] = task_id
        event_json = read_event(data.get("event"), data)
        return cls(
            task_id=task_id,
            event_id=data["event_id"],
            platform=data["platform"],
            status=TaskStatus(data["status"]),
            version=int(data["version"]),
            conversation=data.get("conversation", ""),
            history=read_history(data.get("history", []), task_id, event_json),
            actions=read_actions(data.get("actions", []), data),
            completed_actions=sorted(_full_id(task_id, each) for each in data.get("completed_actions", [])),
            reason=data.get("reason"),
            route=data.get("route"),
            event_json=event_json,
        )

    def updated(self, to: TaskStatus, attributes: dict[str, Any]) -> Task:
        """This task after ``TaskStore.transition``'s write (conditional on its status and version, returning
        ``UPDATED_NEW``): moved to ``to``, one version on, with the attributes the write set as returned; the
        rest as this task holds them (whoever else changes those bumps the version, which the condition
        pinned; a note only appends to the history, which is read back whole; the event never changes)."""
        data = from_item(attributes)
        moved = replace(
            self,
            status=to,
            version=self.version + 1,
            history=read_history(data["history"], self.task_id, self.event_json),
            deferred=None,
        )
        if "actions" in data:
            own = {"task_id": self.task_id, "event_id": self.event_id, "conversation": self.conversation}
            moved.actions = read_actions(data["actions"], own)
        for name in ("reason", "route"):
            if name in data:
                setattr(moved, name, data[name])
        return moved

    def inbound_event(self) -> InboundEvent:
        if not self.event_json:
            raise TaskNotFound(f"task {self.task_id} has no stored event")
        return InboundEvent.model_validate_json(self.event_json)

    def action_requests(self) -> list[ActionRequest]:
        return [ActionRequest.model_validate(action) for action in self.actions]

    def to_json(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "event_id": self.event_id,
            "platform": self.platform,
            "status": self.status.value,
            "version": self.version,
            "conversation": self.conversation,
            "reason": self.reason,
            "route": self.route,
            "actions": self.actions,
            "completed_actions": self.completed_actions,
            "history": self.history,
        }


@dataclass(frozen=True)
class Deferred:
    """Moves not written yet: the status the table holds, their history entries and the attributes they set
    (``actions`` as stored, ``reason``, ``route``)."""

    from_status: TaskStatus
    entries: list[dict[str, Any]]
    sets: dict[str, Any]


@dataclass(frozen=True)
class ActionState:
    """Where one action of a task stands, as its item says (``TaskStore.start_action``, ``action_state``):
    completed (with the result its completion recorded), in flight until a time (ms since the epoch), or
    neither."""

    completed: bool = False
    result: dict[str, Any] | None = None
    in_flight_until_ms: int | None = None

    @classmethod
    def of(cls, task: Task, item: dict[str, Any], action_id: str) -> ActionState:
        if action_id in task.completed_actions:
            return cls(completed=True, result=recorded_result(task, action_id))
        mark = item.get(in_flight_attribute(task.task_id, action_id))
        return cls(in_flight_until_ms=int(mark["N"]) if mark is not None else None)


@dataclass(frozen=True)
class Opening:
    """What opening an event's task found (``TaskStore.claim_and_open``): the task, the message that claimed
    it (``owner``: the SQS message id, or the one a resumed message names as its original), and whether this
    call opened it (False: it was claimed already)."""

    task: Task
    owner: str
    opened: bool


class TaskStore:
    """The ``TaskRepository`` on DynamoDB: the tasks table (each task its event's claim), and in the memory
    table the claims an earlier version wrote (read only for redeliveries: ``earlier_claim``).

    Keys come from ``switchboard.dynamo.Keys``; a failed condition arrives as the adapter-internal
    ``ConditionFailed`` and leaves as a domain error (``ConcurrentUpdate``, ``AlreadyRecorded``,
    ``TaskNotFound``) or, for a claim taken already, as an ``Opening`` that did not open.
    """

    def __init__(
        self, tasks_table: str, memory_table: str, task_ttl_days: int = 90, dynamodb: Any = None
    ) -> None:
        self.tasks_table = tasks_table
        self.memory_table = memory_table
        self.task_ttl_seconds = task_ttl_days * DAY
        self._dynamodb = dynamodb
        self.tasks = Table(tasks_table, dynamodb)
        self.memory = Table(memory_table, dynamodb)

    dynamodb = LazyClient("dynamodb")

    @staticmethod
    def key(task_id: str) -> dict[str, Any]:
        return Keys.task(task_id)

    def claim_and_open(
        self,
        event: InboundEvent,
        owner: str,
        actor: str = "classify",
        decided: Callable[[Task], Task | None] | None = None,
    ) -> Opening:
        """Claim the event and open its task: one conditional put of the task, named by its logical event
        (``InboundEvent.task_id``). When the task exists already (a redelivery, or the same logical event
        under another delivery id), the refusal returns it, so nothing more is read: the ``Opening`` holds it
        and the message that claimed it.

        ``decided``: moves made on the new task before anything is written (``Task.deferring``), written
        with it, so the task is born in their last status (None: born RECEIVED)."""
        entry = history_entry(TaskStatus.RECEIVED, actor, {"event_type": event.event_type})
        task_item = {
            "task_id": event.task_id,
            "event_id": event.event_id,
            "platform": event.platform.value,
            "conversation": event.conversation,
            "author": event.author,
            "status": TaskStatus.RECEIVED.value,
            "version": 1,
            "history": [entry],
            "created_at": entry["at"],
            "expires_at": int(time.time()) + self.task_ttl_seconds,
            "owner": owner,
            "event": event.model_dump_json(),
        }
        task = Task.from_item(to_item(task_item))
        moved = decided(task) if decided is not None else None
        if moved is not None and moved.deferred is not None:
            task_item |= born(moved)
            task = replace(moved, deferred=None)
        try:
            self.tasks.put(
                {**Keys.task(event.task_id), **stored_item(task_item, event)},
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ConditionFailed as failed:
            item = failed.item or self.tasks.get(Keys.task(event.task_id))
            if not item:  # removed between the refusal and the read: only its TTL removes a task
                raise ConcurrentUpdate(f"task {event.task_id} vanished") from None
            return Opening(Task.from_item(item), owner=item.get("owner", {}).get("S", ""), opened=False)
        return Opening(task, owner=owner, opened=True)

    def earlier_claim(self, event: InboundEvent) -> Claim | None:
        """The claim an earlier version wrote for this event (``processed#``, else ``content#``), if any: its
        task is named by the delivery id that took it. Read only for a redelivered message, until the claims
        of the last messages that version took have expired (14 days after the deploy)."""
        platform = event.platform.value
        keys = [Keys.claim(platform, event.event_id)]
        if event.content_id is not None:
            keys.append(Keys.content_claim(platform, event.content_id))
        for key in keys:
            item = self.memory.get(key)
            if item:
                return Claim(item["task_id"]["S"], item["owner"]["S"], int(item["claimed_at"]["N"]))
        return None

    def get(self, task_id: str) -> Task:
        item = self.tasks.get(Keys.task(task_id))
        if item is None:
            raise TaskNotFound(task_id)
        return Task.from_item(item)

    def find_by_event(self, event_id: str) -> list[Task]:
        """The tasks a delivery id opened (the operator's `switchboard trace`), usually one. A task without a
        content identity is named by its delivery id (``task_id_for``), so those are read directly; the
        others are named by their content, so when none is found that way the table is scanned for the
        delivery id (an operator's command, never a hot path; ``trace TASK_ID`` reads one item). No index is
        kept for it: an index would be written once for every task born."""
        found = []
        for platform in Platform:
            try:
                found.append(self.get(task_id_for(platform.value, event_id)))
            except TaskNotFound:
                continue
        if found:
            return found
        items = self.tasks.scan(
            len(Platform),
            FilterExpression="event_id = :id",
            ExpressionAttributeValues={":id": {"S": event_id}},
        )
        return [Task.from_item(item) for item in items]

    def needing_attention(self, status: TaskStatus, limit: int = 100) -> list[Task]:
        """Tasks in NEEDS_HUMAN or FAILED, newest first, from the sparse index."""
        if status not in ATTENTION_STATUSES:
            raise ValueError(f"only {sorted(s.value for s in ATTENTION_STATUSES)} are indexed")
        items = self.tasks.query(
            IndexName=TASKS_BY_ATTENTION_INDEX,
            KeyConditionExpression="attention = :s",
            ExpressionAttributeValues={":s": {"S": status.value}},
            ScanIndexForward=False,
            Limit=limit,
        )
        return [Task.from_item(item) for item in items]

    def watch_plan(self, task_id: str, actor: str, detail: dict[str, Any]) -> bool:
        """Note that the task's plan started, and put the task in the watch partition (``PLAN_WATCH``) if it
        is still DECIDING: one conditional write. False when the plan moved it on already (the note is then
        written alone): its next transition would have removed the mark anyway."""
        try:
            self._append(
                task_id,
                history_entry(None, actor, detail),
                "#s = :deciding",
                sets=", #att = :watch",
                names={"#att": "attention", "#s": "status"},
                values={":watch": PLAN_WATCH, ":deciding": S.DECIDING.value},
            )
        except ConditionFailed:
            self.note(task_id, actor, detail)
            return False
        return True

    def watched_plans(self, idle_before: str, limit: int = 100) -> list[Task]:
        """Tasks whose plan runs and whose item has not changed since ``idle_before`` (ISO time), oldest
        first, from the sparse index's ``PLAN_WATCH`` partition."""
        items = self.tasks.query(
            IndexName=TASKS_BY_ATTENTION_INDEX,
            KeyConditionExpression="attention = :w AND updated_at < :cut",
            ExpressionAttributeValues={":w": {"S": PLAN_WATCH}, ":cut": {"S": idle_before}},
            Limit=limit,
        )
        return [Task.from_item(item) for item in items]

    def recent(self, limit: int = 1_000) -> list[Task]:
        """Up to ``limit`` tasks, newest first (a scan: for the operator's console and CLI listing only)."""
        tasks = [Task.from_item(item) for item in self.tasks.scan(limit)]
        tasks.sort(key=lambda task: task.history[0]["at"] if task.history else "", reverse=True)  # created
        return tasks

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
    ) -> Task:
        """Move ``task`` to ``to`` with one conditional write; return the task as stored afterwards.

        Whether the move is legal is decided before, in ``switchboard.lifecycle``; this only refuses a write
        whose status or version moved since ``task`` was read (``ConcurrentUpdate``). A task with deferred
        moves (``Task.deferring``) has them written in the same write, from the status as stored."""
        entry = history_entry(to, actor, detail or {}, previous=task.status)
        deferred = task.deferred or Deferred(task.status, [], {})
        names = {"#s": "status", "#v": "version", "#h": "history", "#u": "updated_at"}
        values: dict[str, Any] = {
            ":to": to.value,
            ":from": deferred.from_status.value,
            ":v": task.version,
            ":one": 1,
            ":entry": [stored_entry(each, task.task_id) for each in [*deferred.entries, entry]],
            ":now": entry["at"],
        }
        sets = ["#s = :to", "#v = #v + :one", "#h = list_append(#h, :entry)", "#u = :now"]
        names["#att"] = "attention"
        if to in ATTENTION_STATUSES:
            values[":attention"] = to.value
            sets.append("#att = :attention")
            removes = ""
        else:
            removes = " REMOVE #att"
        written = dict(deferred.sets)
        if actions is not None:
            written["actions"] = [action.model_dump(mode="json") for action in actions]
        for attribute, value in (("reason", reason), ("route", route)):
            if value is not None:
                written[attribute] = value
        if "actions" in written:
            own = {"task_id": task.task_id, "event_id": task.event_id, "conversation": task.conversation}
            written["actions"] = stored_actions(written["actions"], own)
        for attribute, value in written.items():
            names[f"#{attribute}"] = attribute
            values[f":{attribute}"] = value
            sets.append(f"#{attribute} = :{attribute}")
        try:
            attributes = self.tasks.update(
                Keys.task(task.task_id),
                "SET " + ", ".join(sets) + removes,
                ConditionExpression="#s = :from AND #v = :v",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_item(values),
                ReturnValues="UPDATED_NEW",  # the rest of the item is the task's own (``Task.updated``)
            )
        except ConditionFailed:
            raise ConcurrentUpdate(f"task {task.task_id} moved past {task.status} v{task.version}") from None
        return task.updated(to, attributes)

    def complete_action(
        self,
        task_id: str,
        action_id: str,
        actor: str,
        detail: dict[str, Any],
        *,
        finishing: TaskStatus | None = None,
    ) -> Task:
        """Record one action's result; idempotent (a set of completed action ids): ``AlreadyRecorded`` when an
        earlier attempt recorded it. A task that does not exist is refused the same way (no item is made).

        With ``finishing`` (the lifecycle's DONE, for a completion that stages nothing), the record and the
        move to ``finishing`` are one write when it can be decided from the item alone: the task is
        DISPATCHED, this is its only action and nothing was completed before (so nothing awaits a
        follow-up). Otherwise (the condition refuses) the result is recorded alone, as without it.

        Either write also removes the action's in-flight mark (``start_action``): the record of its
        idempotency guard is its completion from then on."""
        entry = history_entry(None, actor, {"action_id": action_id, **detail})
        if finishing is not None:
            finished = self._record_and_finish(task_id, action_id, entry, finishing, actor)
            if finished is not None:
                return Task.from_item(finished)
        try:
            attributes = self._record_completion(task_id, action_id, entry)
        except ConditionFailed:
            raise AlreadyRecorded(f"{action_id} of task {task_id}") from None
        return Task.from_item(attributes)

    def _record_and_finish(
        self, task_id: str, action_id: str, entry: dict[str, Any], to: TaskStatus, actor: str
    ) -> dict[str, Any] | None:
        moved = history_entry(to, actor, {"actions": [action_id]}, previous=TaskStatus.DISPATCHED)
        # the task's only action is this one: its stored id, or (stored without it) its ordinal
        only = "#a[0].#aid = :id"
        values: dict[str, Any] = {}
        if (ordinal := _ordinal(task_id, action_id)) is not None:
            only = f"({only} OR (attribute_not_exists(#a[0].#aid) AND #a[0].#o = :ordinal))"
            values[":ordinal"] = {"N": str(ordinal)}
        try:
            return self.tasks.update(
                Keys.task(task_id),
                "ADD #c :ids, #v :one SET #h = list_append(#h, :entries), #u = :now, #s = :to "
                "REMOVE #att, #f",
                ConditionExpression=(
                    f"#s = :dispatched AND size(#a) = :one AND {only} AND attribute_not_exists(#c)"
                ),
                ExpressionAttributeNames={
                    "#c": "completed_actions",
                    "#v": "version",
                    "#h": "history",
                    "#u": "updated_at",
                    "#s": "status",
                    "#att": "attention",
                    "#f": in_flight_attribute(task_id, action_id),
                    "#a": "actions",
                    "#aid": "action_id",
                    **({"#o": "ordinal"} if values else {}),
                },
                ExpressionAttributeValues={
                    ":ids": {"SS": [_short_id(task_id, action_id)]},
                    ":id": {"S": action_id},
                    ":one": {"N": "1"},
                    ":entries": to_value([stored_entry(entry, task_id), stored_entry(moved, task_id)]),
                    ":now": {"S": moved["at"]},
                    ":to": {"S": to.value},
                    ":dispatched": {"S": TaskStatus.DISPATCHED.value},
                    **values,
                },
                ReturnValues="ALL_NEW",
            )
        except ConditionFailed:
            return None

    def _record_completion(self, task_id: str, action_id: str, entry: dict[str, Any]) -> dict[str, Any]:
        """The id is recorded short (``stored_id``); an item written before holds it whole: neither may be
        in the set."""
        return self.tasks.update(
            Keys.task(task_id),
            "ADD #c :ids, #v :one SET #h = list_append(#h, :entry), #u = :now REMOVE #f",
            ConditionExpression="attribute_exists(pk) AND NOT contains(#c, :id) AND NOT contains(#c, :short)",
            ExpressionAttributeNames={
                "#c": "completed_actions",
                "#v": "version",
                "#h": "history",
                "#u": "updated_at",
                "#f": in_flight_attribute(task_id, action_id),
            },
            ExpressionAttributeValues={
                ":ids": {"SS": [_short_id(task_id, action_id)]},
                ":id": {"S": action_id},
                ":short": {"S": _short_id(task_id, action_id)},
                ":one": {"N": "1"},
                ":entry": to_value([stored_entry(entry, task_id)]),
                ":now": {"S": entry["at"]},
            },
            ReturnValues="ALL_NEW",
        )

    # -- an action's idempotency record, on its task (``switchboard.dynamo.idempotency``) -------------------

    def start_action(self, task_id: str, action_id: str, until_ms: int, now_ms: int) -> ActionState | None:
        """Mark the action in flight until ``until_ms``: one conditional write, refused when the action is
        completed already or another mark holds it (one that has not passed ``now_ms``). None when marked;
        otherwise where the action stands, from the item as the refusal found it (no read).
        ``TaskNotFound`` when there is no task (no item is made).

        The mark moves neither the version nor ``updated_at``: it is no step of the task, and a concurrent
        transition must not fail because of it."""
        names = {"#c": "completed_actions", "#f": in_flight_attribute(task_id, action_id)}
        try:
            self.tasks.update(
                Keys.task(task_id),
                "SET #f = :until",
                ConditionExpression=(
                    "attribute_exists(pk) AND NOT contains(#c, :id) AND NOT contains(#c, :short)"
                    " AND (attribute_not_exists(#f) OR #f < :now)"
                ),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={
                    ":until": {"N": str(until_ms)},
                    ":now": {"N": str(now_ms)},
                    ":id": {"S": action_id},
                    ":short": {"S": _short_id(task_id, action_id)},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ConditionFailed as refused:
            if not refused.item:
                raise TaskNotFound(task_id) from None
            return ActionState.of(Task.from_item(refused.item), refused.item, action_id)
        return None

    def action_state(self, task_id: str, action_id: str) -> ActionState:
        """Where the action stands (a consistent read of its task); ``TaskNotFound``."""
        item = self.tasks.get(Keys.task(task_id))
        if item is None:
            raise TaskNotFound(task_id)
        return ActionState.of(Task.from_item(item), item, action_id)

    def end_action(self, task_id: str, action_id: str) -> None:
        """Remove the action's in-flight mark: its call failed, and a later attempt may make it. A task that
        is gone has no mark to remove (the condition keeps the update from making an item)."""
        try:
            self.tasks.update(
                Keys.task(task_id),
                "REMOVE #f",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames={"#f": in_flight_attribute(task_id, action_id)},
            )
        except ConditionFailed:
            return

    def note(self, task_id: str, actor: str, detail: dict[str, Any]) -> None:
        """Append a history entry that changes no status (a failed attempt, a breaker event, a shadow call).

        It leaves the version alone, so it never makes a concurrent transition fail.
        """
        try:
            self._append(task_id, history_entry(None, actor, detail), "attribute_exists(pk)")
        except ConditionFailed:
            raise TaskNotFound(task_id) from None

    def _append(
        self,
        task_id: str,
        entry: dict[str, Any],
        condition: str,
        *,
        sets: str = "",
        names: dict[str, str] | None = None,
        values: dict[str, Any] | None = None,
    ) -> None:
        """Append ``entry`` to the history (and set ``sets``) if ``condition`` holds; the version stays."""
        self.tasks.update(
            Keys.task(task_id),
            "SET #h = list_append(#h, :entry), #u = :now" + sets,
            ConditionExpression=condition,
            ExpressionAttributeNames={"#h": "history", "#u": "updated_at", **(names or {})},
            ExpressionAttributeValues=to_item(
                {":entry": [stored_entry(entry, task_id)], ":now": entry["at"], **(values or {})}
            ),
        )


def in_flight_attribute(task_id: str, action_id: str) -> str:
    """The attribute of an action's in-flight mark: ``inflight#0`` for ``tsk_…#0`` (the stored form)."""
    return f"inflight{_short_id(task_id, action_id)}"


def recorded_result(task: Task, action_id: str) -> dict[str, Any] | None:
    """The result the action's completion recorded in the history (``complete_action``), if any."""
    for entry in reversed(task.history):
        detail = entry.get("detail")
        if isinstance(detail, dict) and detail.get("action_id") == action_id and "result" in detail:
            result = detail["result"]
            return result if isinstance(result, dict) else None
    return None


def born(moved: Task) -> dict[str, Any]:
    """The attributes of a task written in the status its deferred moves reached (``claim_and_open``)."""
    assert moved.deferred is not None
    attributes: dict[str, Any] = {
        "status": moved.status.value,
        "history": moved.history,
        "updated_at": moved.history[-1]["at"],
        **moved.deferred.sets,
    }
    if moved.status in ATTENTION_STATUSES:
        attributes["attention"] = moved.status.value
    return attributes


def history_entry(
    status: TaskStatus | None, actor: str, detail: dict[str, Any], previous: TaskStatus | None = None
) -> dict[str, Any]:
    entry: dict[str, Any] = {"at": now_iso(), "actor": actor, "detail": detail}
    if status is not None:
        entry["status"] = status.value
    if previous is not None:
        entry["from"] = previous.value
    return entry


# -- the stored form ----------------------------------------------------------------------------------------
# A task item is written at every step and each write is billed by the item's size, the larger of before and
# after (1 write unit per KB started: "DynamoDB item sizes and formats", https://docs.aws.amazon.com/
# amazondynamodb/latest/developerguide/CapacityUnitCalculations.html, read 2026-12-02), so it is stored
# small, and read back exactly as it was written (``Task.from_item``; an item written before in the plain
# form reads as it did):
# - no ``task_id`` (the key holds it) and no ``created_at`` (the first history entry's time);
# - the event (``event``): a Binary, the event's JSON without what the item holds already (its event id,
#   platform, author and conversation) and without the fields at their defaults, deflated (zlib) with a
#   preset dictionary (the plain form: the event's JSON as a string);
# - each action (``actions``): without its task id, event id and conversation where they are the item's,
#   nor its action id where that is the task id and its ordinal;
# - an action in flight (its idempotency record: ``switchboard.dynamo.idempotency``): ``inflight#0`` for
#   ``tsk_…#0``, a Number (until when, ms since the epoch), only while its call runs: its completion, or its
#   failure, removes it (a process that dies inside the call leaves it until a redelivery takes it over);
# - the task's action ids (``completed_actions``, and in the history the entries' ``action_id``,
#   ``actions``, ``sent`` and ``policy`` ids) without the task id they begin with: ``#0`` for
#   ``tsk_…#0`` (an action id always begins with its task id and ``#``: ``action_ids.action_id``);
# - the first history entry (RECEIVED, written with the task) without its detail, the event's type (the
#   event holds it);
# - each history entry's ``at``: milliseconds since the epoch (a Number) where that is exactly ``now_iso``'s
#   string, read back as that string (an ``at`` of any other form is kept as it is).

#: Strings frequent in the events' JSON, so that even a short event deflates well. NEVER edit it: a stored
#: event names its dictionary by its Adler-32 (in the zlib header); add a new one to ``EVENT_DICTIONARIES``.
EVENT_DICTIONARY = (
    b'"channel":"","thread_ts":"","ticket_id":"","links":["https://","author_is_bot":true,'
    b'"content_id":"issue_comment.created:","event_type":"issue_comment.created","text":"","received_at":"2026-'
    b'T00:00:00.000000Z","raw_ref":"https://github.com/","/issues/#issuecomment-","context":{"repo":"","number":"'
    b'","kind":"issue","issue_author":"'
)
EVENT_DICTIONARIES = {zlib.adler32(EVENT_DICTIONARY): EVENT_DICTIONARY}
_FDICT = 0x20  # the zlib header's flag: a preset dictionary, named by the next 4 bytes (RFC 1950, 2.2)
_NOT_STORED = frozenset({"task_id", "created_at", "event"})
_EVENT_ON_ITEM = frozenset({"event_id", "platform", "author", "conversation"})
_ACTION_ON_ITEM = ("task_id", "event_id", "conversation")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: A history entry's own attribute names, stored one letter long (the names are most of a short entry's bytes)
_SHORT_NAMES: Final = {"at": "t", "actor": "a", "status": "s", "from": "f", "detail": "d"}
_LONG_NAMES: Final = {short: name for name, short in _SHORT_NAMES.items()}


def _renamed(entry: dict[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    """``entry`` with its names changed by ``names``, when each of them has one (an entry of another shape,
    or of the other form already, is kept as it is)."""
    if not entry or not all(name in names for name in entry):
        return entry
    return {names[name]: value for name, value in entry.items()}


def stored_item(task: dict[str, Any], event: InboundEvent) -> dict[str, Any]:
    """A new task's item (``claim_and_open``'s plain attributes) in its stored form, as attribute values."""
    task_id = task["task_id"]
    attributes = {name: value for name, value in task.items() if name not in _NOT_STORED}
    history = list(task["history"])
    first = history[0]
    if _is_received(first) and first.get("detail") == {"event_type": event.event_type}:
        history[0] = {name: value for name, value in first.items() if name != "detail"}
    attributes["history"] = [stored_entry(entry, task_id) for entry in history]
    if "actions" in attributes:
        attributes["actions"] = stored_actions(attributes["actions"], task)
    return {**to_item(attributes), "event": {"B": stored_event(event)}}


def stored_event(event: InboundEvent) -> bytes:
    body = event.model_dump_json(exclude_defaults=True, exclude=set(_EVENT_ON_ITEM)).encode()
    deflate = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS, 9, zlib.Z_DEFAULT_STRATEGY, EVENT_DICTIONARY)
    return deflate.compress(body) + deflate.flush()


def read_event(value: Any, item: dict[str, Any]) -> str | None:
    """The event's JSON from a stored ``event`` (a Binary, ``stored_event``; or the older JSON string)."""
    if value is None or isinstance(value, str):
        return value
    blob = bytes(getattr(value, "value", value))  # boto3's Binary, or bytes
    if blob[1] & _FDICT:
        inflate = zlib.decompressobj(zdict=EVENT_DICTIONARIES[int.from_bytes(blob[2:6], "big")])
    else:
        inflate = zlib.decompressobj()
    fields = json.loads(inflate.decompress(blob) + inflate.flush())
    return json.dumps({name: item[name] for name in _EVENT_ON_ITEM if name in item} | fields)


def stored_actions(actions: list[dict[str, Any]], item: dict[str, Any]) -> list[dict[str, Any]]:
    own = {name: item.get(name) for name in _ACTION_ON_ITEM}
    stored = []
    for action in actions:
        slim = {name: value for name, value in action.items() if not (name in own and value == own[name])}
        if slim.get("action_id") == f"{own['task_id']}#{slim.get('ordinal')}":
            del slim["action_id"]
        stored.append(slim)
    return stored


def read_actions(actions: list[dict[str, Any]], item: dict[str, Any]) -> list[dict[str, Any]]:
    own = {name: item[name] for name in _ACTION_ON_ITEM if name in item}
    read = []
    for action in actions:
        whole = own | action
        if "action_id" not in whole:
            whole = {"action_id": f"{whole['task_id']}#{whole['ordinal']}", **whole}
        read.append(whole)
    return read


def stored_entry(entry: dict[str, Any], task_id: str) -> dict[str, Any]:
    stored = dict(entry)
    if isinstance(entry.get("detail"), dict):
        stored["detail"] = _with_ids(entry["detail"], lambda value: _short_id(task_id, value))
    at = entry.get("at")
    if isinstance(at, str):
        try:
            ms = (datetime.fromisoformat(at) - _EPOCH) // timedelta(milliseconds=1)
        except (TypeError, ValueError):  # TypeError: a time without a zone
            ms = None
        if ms is not None and _iso(ms) == at:
            stored["at"] = ms
    return _renamed(stored, _SHORT_NAMES)


def read_history(history: list[dict[str, Any]], task_id: str, event_json: str | None) -> list[dict[str, Any]]:
    read = [read_entry(entry, task_id) for entry in history]
    if read and _is_received(read[0]) and "detail" not in read[0] and event_json:
        first, head = read[0], ("at", "actor")
        read[0] = {
            **{name: first[name] for name in head if name in first},
            "detail": {"event_type": json.loads(event_json)["event_type"]},
            **{name: value for name, value in first.items() if name not in head},
        }
    return read


def _is_received(entry: dict[str, Any]) -> bool:
    """The entry ``claim_and_open`` writes the task with."""
    return entry.get("status") == TaskStatus.RECEIVED.value and "from" not in entry


def read_entry(entry: dict[str, Any], task_id: str) -> dict[str, Any]:
    entry = _renamed(entry, _LONG_NAMES)
    read = dict(entry)
    if isinstance(entry.get("detail"), dict):
        read["detail"] = _with_ids(entry["detail"], lambda value: _full_id(task_id, value))
    at = entry.get("at")
    if isinstance(at, int) and not isinstance(at, bool):
        read["at"] = _iso(at)
    return read


def _with_ids(detail: dict[str, Any], change: Callable[[Any], Any]) -> dict[str, Any]:
    """``detail`` with ``change`` applied to the action ids where the entries hold them: ``action_id``, each
    of ``actions``, and the ``action_id`` of each of ``sent`` and ``policy``."""
    changed = dict(detail)
    if "action_id" in detail:
        changed["action_id"] = change(detail["action_id"])
    if isinstance(detail.get("actions"), list):
        changed["actions"] = [change(each) for each in detail["actions"]]
    for name in ("sent", "policy"):
        if isinstance(detail.get(name), list):
            changed[name] = [
                {**each, "action_id": change(each["action_id"])}
                if isinstance(each, dict) and "action_id" in each
                else each
                for each in detail[name]
            ]
    return changed


def _short_id(task_id: str, value: Any) -> Any:
    """``tsk_…#0`` → ``#0`` (the task's own action ids; anything else as it is)."""
    return value[len(task_id) :] if isinstance(value, str) and value.startswith(f"{task_id}#") else value


def _full_id(task_id: str, value: Any) -> Any:
    """``#0`` → ``tsk_…#0`` (no action id begins with ``#``: a stored one that does was shortened)."""
    return task_id + value if isinstance(value, str) and value.startswith("#") else value


def _ordinal(task_id: str, action_id: str) -> int | None:
    """The ordinal of an action id of the form ``stored_actions`` leaves out (the task id and an ordinal)."""
    suffix = _short_id(task_id, action_id)
    digits = suffix[1:]
    return int(digits) if suffix != action_id and digits.isdigit() and str(int(digits)) == digits else None


def _iso(ms: int) -> str:
    return (_EPOCH + timedelta(milliseconds=ms)).isoformat(timespec="milliseconds")
