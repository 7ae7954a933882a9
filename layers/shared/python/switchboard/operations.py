"""What the person on call does to a task: resolve one that needs a human, with a chosen action or a note.

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
from typing import Any

from switchboard import action_ids
from switchboard.abilities import ability
from switchboard.lifecycle import Lifecycle
from switchboard.models import ActionRequest, Service
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
