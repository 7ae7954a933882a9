"""When a dispatched task is finished, and the one move that finishes it.

A task is finished when every one of its actions is recorded as completed and every follow-up that an action
staged is completed too. An action that stages a follow-up (a ticket whose link appears later) records
``awaits: <action id>#followup`` in the history entry of its result; the follow-up, when it is done, records
that id as completed. Until then the task is WAITING.

Any worker that records a completion calls ``settle_progress``; whichever records the last one moves the task
(DISPATCHED → WAITING, DISPATCHED/WAITING → DONE). The move is a conditional write, retried on a race. A task
that went FAILED when its action reached the DLQ is reopened (FAILED → DISPATCHED) once a redrive of that
action succeeds, and then finishes like any other.

``end_task`` ends a task that is still under way (FAILED, NEEDS_HUMAN, DROPPED) with its reason; a task that
already ended keeps its status and gets the detail as a history note, so nothing that happened is lost.
"""

from __future__ import annotations

from typing import Any

from switchboard.errors import ConcurrentUpdate
from switchboard.models import TaskStatus
from switchboard.state import TRANSITIONS, Task, TaskStore

_ATTEMPTS = 3


def awaited(task: Task) -> set[str]:
    """The follow-up ids that the task's actions staged."""
    found = set()
    for entry in task.history:
        detail = entry.get("detail")
        if isinstance(detail, dict) and isinstance(detail.get("awaits"), str):
            found.add(detail["awaits"])
    return found


def settle_progress(store: TaskStore, task: Task, actor: str) -> TaskStatus:
    """Move the task to WAITING or DONE if its recorded completions say so; return its status."""
    for _ in range(_ATTEMPTS):
        expected = {action["action_id"] for action in task.actions}
        completed = set(task.completed_actions)
        if task.status is TaskStatus.FAILED and expected and expected <= completed:
            # The action that failed it came back from the DLQ (a redrive) and succeeded: the task goes on.
            try:
                reopened = {"reopened": "redriven action succeeded"}
                task = store.transition(task, TaskStatus.DISPATCHED, actor, reopened)
            except ConcurrentUpdate:
                task = store.get(task.task_id)
            continue
        if task.status not in (TaskStatus.DISPATCHED, TaskStatus.WAITING):
            return task.status
        if not expected <= completed:
            return task.status
        pending = awaited(task) - completed
        target = TaskStatus.WAITING if pending else TaskStatus.DONE
        if task.status is target:
            return task.status
        detail: dict[str, Any] = {"actions": sorted(expected)}
        if pending:
            detail["awaiting"] = sorted(pending)
        try:
            return store.transition(task, target, actor, detail).status
        except ConcurrentUpdate:
            task = store.get(task.task_id)
    return task.status


def end_task(
    store: TaskStore, task_id: str, to: TaskStatus, actor: str, detail: dict[str, Any], reason: str
) -> TaskStatus:
    """Move the task to ``to`` with ``reason``, or note ``detail`` if it has ended or cannot move there."""
    task = store.get(task_id)
    for _ in range(_ATTEMPTS):
        if task.status.terminal or to not in TRANSITIONS[task.status]:
            store.note(task_id, actor, detail | {"status_kept": task.status.value, "not_moved_to": to.value})
            return task.status
        try:
            return store.transition(task, to, actor, detail, reason=reason).status
        except ConcurrentUpdate:
            task = store.get(task_id)
    return task.status
