"""In-memory implementations of the task ports (``switchboard.ports``): a ``TaskRepository`` with the same
semantics as ``TaskStore`` (conditional writes, ``ConcurrentUpdate`` on a stale status or version,
``AlreadyRecorded``, ``TaskNotFound``, the task as its event's claim, the sparse attention index) and a
FIFO ``QueueSender`` that deduplicates like SQS. ``tests/integration/test_task_repository_contract.py`` runs
the same assertions against these and against ``TaskStore`` on moto, so the fake cannot drift from the
adapter.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from switchboard.errors import AlreadyRecorded, ConcurrentUpdate, TaskNotFound
from switchboard.memory import Claim
from switchboard.models import ActionRequest, InboundEvent, TaskStatus
from switchboard.state import ATTENTION_STATUSES, PLAN_WATCH, Opening, Task, history_entry
from tests.fakes import FakeQueue


def _as_stored(detail: dict[str, Any]) -> dict[str, Any]:
    """What DynamoDB gives back: JSON values (tuples become lists, other objects their ``str``)."""
    stored: dict[str, Any] = json.loads(json.dumps(detail, default=str))
    return stored


@dataclass
class _Stored:
    task: Task
    updated_at: str
    attention: str | None = None


class InMemoryTaskRepository:
    """Tasks and claims in dictionaries. Every read returns a copy, as a database read would."""

    def __init__(self) -> None:
        self._tasks: dict[str, _Stored] = {}
        self._owners: dict[str, str] = {}
        #: claims an earlier version wrote, by delivery id and by content id (``plant_earlier_claim``)
        self.earlier_claims: dict[tuple[str, str], Claim] = {}
        self.writes = 0  # conditional writes that landed (transitions and completions)

    def claim_and_open(
        self,
        event: InboundEvent,
        owner: str,
        actor: str = "classify",
        decided: Callable[[Task], Task | None] | None = None,
    ) -> Opening:
        if event.task_id in self._tasks:
            return Opening(self.get(event.task_id), self._owners[event.task_id], opened=False)
        entry = history_entry(TaskStatus.RECEIVED, actor, {"event_type": event.event_type})
        task = Task(
            task_id=event.task_id,
            event_id=event.event_id,
            platform=event.platform.value,
            status=TaskStatus.RECEIVED,
            version=1,
            conversation=event.conversation,
            history=[entry],
            event_json=event.model_dump_json(),
        )
        moved = decided(copy.deepcopy(task)) if decided is not None else None
        attention = None
        if moved is not None and moved.deferred is not None:  # born in the status its moves reached
            task = replace(moved, deferred=None, history=_as_stored({"h": moved.history})["h"])
            attention = task.status.value if task.status in ATTENTION_STATUSES else None
        self._tasks[task.task_id] = _Stored(task, task.history[-1]["at"], attention)
        self._owners[task.task_id] = owner
        return Opening(copy.deepcopy(task), owner, opened=True)

    def earlier_claim(self, event: InboundEvent) -> Claim | None:
        platform = event.platform.value
        claim = self.earlier_claims.get((platform, event.event_id))
        if claim is None and event.content_id is not None:
            claim = self.earlier_claims.get((platform, f"content:{event.content_id}"))
        return claim

    def plant_earlier_claim(self, event: InboundEvent, task: Task, owner: str) -> None:
        """What an earlier version left for ``event``: its claim on the delivery id and the content id, and
        its ``task`` (named by the delivery id)."""
        claim = Claim(task.task_id, owner, int(time.time()))
        platform = event.platform.value
        self.earlier_claims[(platform, event.event_id)] = claim
        if event.content_id is not None:
            self.earlier_claims[(platform, f"content:{event.content_id}")] = claim
        self._tasks[task.task_id] = _Stored(copy.deepcopy(task), task.history[-1]["at"])
        self._owners[task.task_id] = ""

    def get(self, task_id: str) -> Task:
        return copy.deepcopy(self._stored(task_id).task)

    def find_by_event(self, event_id: str) -> list[Task]:
        return [copy.deepcopy(s.task) for s in self._tasks.values() if s.task.event_id == event_id]

    def needing_attention(self, status: TaskStatus, limit: int = 100) -> list[Task]:
        if status not in ATTENTION_STATUSES:
            raise ValueError(f"only {sorted(s.value for s in ATTENTION_STATUSES)} are indexed")
        found = [s for s in self._tasks.values() if s.attention == status.value]
        found.sort(key=lambda s: s.updated_at, reverse=True)
        return [copy.deepcopy(s.task) for s in found[:limit]]

    def watch_plan(self, task_id: str, actor: str, detail: dict[str, Any]) -> bool:
        self.note(task_id, actor, detail)
        stored = self._stored(task_id)
        if stored.task.status is not TaskStatus.DECIDING:
            return False
        stored.attention = PLAN_WATCH
        return True

    def watched_plans(self, idle_before: str, limit: int = 100) -> list[Task]:
        found = [s for s in self._tasks.values() if s.attention == PLAN_WATCH and s.updated_at < idle_before]
        found.sort(key=lambda s: s.updated_at)
        return [copy.deepcopy(s.task) for s in found[:limit]]

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
        stored = self._tasks.get(task.task_id)
        if (
            stored is None
            or stored.task.status is not task.stored_status
            or stored.task.version != task.version
        ):
            raise ConcurrentUpdate(f"task {task.task_id} moved past {task.status} v{task.version}")
        entry = history_entry(to, actor, _as_stored(detail or {}), previous=task.status)
        current = stored.task
        current.status = to
        current.version += 1
        sets: dict[str, Any] = {}
        if task.deferred is not None:  # moves made in memory, written with this one (as TaskStore does)
            current.history.extend(_as_stored(e) for e in task.deferred.entries)
            sets |= _as_stored(task.deferred.sets)
        current.history.append(entry)
        if actions is not None:
            sets["actions"] = [action.model_dump(mode="json") for action in actions]
        for name, value in (("reason", reason), ("route", route)):
            if value is not None:
                sets[name] = value
        for name, value in sets.items():
            setattr(current, name, value)
        stored.updated_at = entry["at"]
        stored.attention = to.value if to in ATTENTION_STATUSES else None
        self.writes += 1
        return copy.deepcopy(current)

    def complete_action(
        self,
        task_id: str,
        action_id: str,
        actor: str,
        detail: dict[str, Any],
        *,
        finishing: TaskStatus | None = None,
    ) -> Task:
        stored = self._tasks.get(task_id)
        if stored is None or action_id in stored.task.completed_actions:
            raise AlreadyRecorded(f"{action_id} of task {task_id}")
        entry = history_entry(None, actor, {"action_id": action_id, **_as_stored(detail)})
        current = stored.task
        current.completed_actions = sorted([*current.completed_actions, action_id])
        current.version += 1
        current.history.append(entry)
        stored.updated_at = entry["at"]
        sole = [action.get("action_id") for action in current.actions] == [action_id]
        first = current.completed_actions == [action_id]  # nothing completed before: nothing awaits
        if finishing is not None and current.status is TaskStatus.DISPATCHED and sole and first:
            moved = history_entry(finishing, actor, {"actions": [action_id]}, previous=current.status)
            current.status = finishing
            current.history.append(moved)
            stored.updated_at = moved["at"]
            stored.attention = None
        self.writes += 1
        return copy.deepcopy(current)

    def note(self, task_id: str, actor: str, detail: dict[str, Any]) -> None:
        stored = self._stored(task_id)
        entry = history_entry(None, actor, _as_stored(detail))
        stored.task.history.append(entry)
        stored.updated_at = entry["at"]

    def _stored(self, task_id: str) -> _Stored:
        stored = self._tasks.get(task_id)
        if stored is None:
            raise TaskNotFound(task_id)
        return stored


@dataclass
class InMemoryQueue(FakeQueue):
    """FIFO queues in memory: a second send with a deduplication id already seen on that queue is accepted
    and dropped, and answers the first message's id, as SQS does within its deduplication window."""

    _seen: dict[tuple[str, str], str] = field(default_factory=dict)

    def send(
        self,
        queue_url: str,
        body: str,
        group_id: str,
        dedup_id: str,
        attributes: dict[str, str] | None = None,
    ) -> str:
        if not self.fail_next and (queue_url, dedup_id) in self._seen:
            return self._seen[(queue_url, dedup_id)]
        message_id = super().send(queue_url, body, group_id, dedup_id, attributes)
        self._seen[(queue_url, dedup_id)] = message_id
        return message_id

    def actions(self, queue_url: str | None = None) -> list[ActionRequest]:
        """The actions sent (to ``queue_url``, or anywhere), in order."""
        return [
            ActionRequest.model_validate_json(m.body)
            for m in self.sent
            if queue_url is None or m.queue_url == queue_url
        ]

    def take(self, queue_url: str) -> list[ActionRequest]:
        """Receive and delete every action on ``queue_url`` (what a worker would be handed)."""
        taken = [m for m in self.sent if m.queue_url == queue_url]
        self.sent = [m for m in self.sent if m.queue_url != queue_url]
        return [ActionRequest.model_validate_json(m.body) for m in taken]
