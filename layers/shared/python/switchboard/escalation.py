"""Handing a task to a person, with the full context: what came in, what was tried, why it failed, and what
the human must decide. The escalate action is sent before the task turns NEEDS_HUMAN (a terminal state), so
a crash in between can only repeat the send, which the action id deduplicates."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from switchboard.abilities import ability
from switchboard.models import ActionRequest, InboundEvent, Service, TaskStatus
from switchboard.queues import QueueSender
from switchboard.state import Task, TaskStore

logger = Logger(child=True)
metrics = Metrics()

ESCALATION_ORDINAL = 99  # a fixed ordinal: however often a task is escalated, it is one action


class Escalator:
    def __init__(self, store: TaskStore, queue: QueueSender, escalate_queue_url: str, actor: str) -> None:
        self.store = store
        self.queue = queue
        self.escalate_queue_url = escalate_queue_url
        self.actor = actor

    def needs_human(
        self,
        task: Task,
        event: InboundEvent,
        *,
        why: str,
        tried: list[str],
        decision: str,
        detail: dict[str, Any] | None = None,
    ) -> Task:
        excerpt = event.text[:600] + ("…" if len(event.text) > 600 else "")
        summary = (
            f"{event.platform.value} {event.event_type} from {event.author or 'an unknown author'} "
            f"in {event.conversation}: “{excerpt}”. Switchboard could not decide: {why}."
        )
        params = ability("escalate.human").bound_params(
            event, {"summary": summary[:4_000], "decision_needed": decision, "tried": tried}
        )
        action = ActionRequest.for_task(event, ESCALATION_ORDINAL, "escalate.human", Service.ESCALATE, params)
        self.queue.send(
            self.escalate_queue_url,
            action.model_dump_json(),
            group_id=action.conversation,
            dedup_id=action.action_id,
        )
        metrics.add_metric(name="TasksNeedingHuman", unit=MetricUnit.Count, value=1)
        logger.warning("task needs a human", task_id=task.task_id, why=why)
        return self.store.transition(
            task,
            TaskStatus.NEEDS_HUMAN,
            self.actor,
            (detail or {})
            | {"why": why, "tried": tried, "decision_needed": decision, "escalated_to": "escalate"},
            actions=[action],
            reason=why,
        )
