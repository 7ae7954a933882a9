"""What the person on call does to a task: resolve one that needs a human, with a chosen action or a note.

The resolution is one more transition, recorded in the task's history with who did it and why. A chosen
action goes through the same ability registry (allow-list, validation, event-bound target) and the same
per-service queue as any other action: a person can choose, but cannot bypass the policy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from switchboard.abilities import ability
from switchboard.models import ActionRequest, Service, TaskStatus
from switchboard.queues import QueueSender
from switchboard.state import Task, TaskStore

HUMAN_ORDINAL_BASE = 100  # actions a person chose are numbered apart from the agent's


def resolve_with_action(
    store: TaskStore,
    queue: QueueSender,
    act_queue_url: Callable[[Service], str],
    task_id: str,
    *,
    by: str,
    ability_name: str,
    params: dict[str, Any],
    note: str = "",
) -> Task:
    task = store.get(task_id)
    _require_attention(task)
    event = task.inbound_event()
    chosen = ability(ability_name)
    if event.platform not in chosen.platforms:
        raise ValueError(f"{ability_name} is not allowed on {event.platform.value}")
    ordinal = HUMAN_ORDINAL_BASE + sum(1 for a in task.actions if a["ordinal"] >= HUMAN_ORDINAL_BASE)
    action = ActionRequest.for_task(
        event, ordinal, chosen.name, chosen.service, chosen.bound_params(event, params)
    )
    queue.send(
        act_queue_url(action.service),
        action.model_dump_json(),
        group_id=action.conversation,
        dedup_id=action.action_id,
    )
    return store.transition(
        task,
        TaskStatus.DISPATCHED,
        f"human:{by}",
        {"resolution": "action", "ability": chosen.name, "params": action.params, "note": note},
        actions=[action],
    )


def resolve_closed(store: TaskStore, task_id: str, *, by: str, note: str) -> Task:
    task = store.get(task_id)
    if task.status is not TaskStatus.NEEDS_HUMAN:
        raise ValueError(
            f"task {task.task_id} is {task.status.value}: only a NEEDS_HUMAN task is closed with a note"
        )
    if not note.strip():
        raise ValueError("closing a task needs a note that says why")
    detail = {"resolution": "closed", "note": note}
    return store.transition(task, TaskStatus.DROPPED, f"human:{by}", detail, reason=f"closed by {by}: {note}")


def _require_attention(task: Task) -> None:
    if task.status not in (TaskStatus.NEEDS_HUMAN, TaskStatus.FAILED):
        raise ValueError(
            f"task {task.task_id} is {task.status.value}: only NEEDS_HUMAN or FAILED tasks are resolved"
        )
