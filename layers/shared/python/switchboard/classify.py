"""Classify: claim the processed id, open the task, run the rules chain, dispatch what the rules decided.

Each step is resumable from the task's status, so a redelivery after a crash picks up where the first attempt
stopped, and a racing duplicate message sees the claim and skips without creating a second task.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from switchboard.abilities import ability
from switchboard.errors import ConcurrentUpdate
from switchboard.models import ActionRequest, InboundEvent, Service, TaskStatus
from switchboard.queues import QueueSender
from switchboard.rules import Act, Drop, RuleChain
from switchboard.state import Task, TaskStore

logger = Logger(child=True)
metrics = Metrics()

ACTOR = "classify"
MAX_RACES = 3


class ClassifyService:
    def __init__(
        self,
        store: TaskStore,
        queue: QueueSender,
        act_queue_url: Callable[[Service], str],
        chain: RuleChain,
        claim_ttl_days: int,
    ) -> None:
        self.store = store
        self.queue = queue
        self.act_queue_url = act_queue_url
        self.chain = chain
        self.claim_ttl_days = claim_ttl_days

    def process(self, event: InboundEvent, message_id: str) -> TaskStatus | None:
        """Advance the event's task as far as classify can take it. None means: a duplicate, skipped."""
        logger.set_correlation_id(event.event_id)
        task = self.store.claim_and_open(event, owner=message_id, claim_ttl_days=self.claim_ttl_days)
        if task is None:
            claim = self.store.claim(event.platform.value, event.event_id)
            if claim is None:
                raise ConcurrentUpdate(f"claim for {event.event_id} vanished")
            if claim.owner != message_id:
                logger.info("duplicate event skipped", task_id=claim.task_id, owner=claim.owner)
                metrics.add_metric(name="EventsDuplicate", unit=MetricUnit.Count, value=1)
                return None
            task = self.store.get(claim.task_id)
            logger.info("resuming task", task_id=task.task_id, status=task.status.value)
        else:
            logger.info("task opened", task_id=task.task_id, platform=event.platform.value)
        for _ in range(MAX_RACES):
            try:
                return self._advance(task, event)
            except ConcurrentUpdate:
                task = self.store.get(task.task_id)
        raise ConcurrentUpdate(f"task {task.task_id} kept moving under us")

    def _advance(self, task: Task, event: InboundEvent) -> TaskStatus:
        if task.status is TaskStatus.RECEIVED:
            task = self._classify(task, event)
        if task.status is TaskStatus.CLASSIFIED and task.actions:
            task = self._dispatch(task)
        return task.status

    def _classify(self, task: Task, event: InboundEvent) -> Task:
        result = self.chain.evaluate(event)
        metrics.add_metric(name=f"RuleHit_{result.rule}", unit=MetricUnit.Count, value=1)
        if isinstance(result, Drop):
            return self.store.transition(
                task,
                TaskStatus.DROPPED,
                ACTOR,
                {"rule": result.rule, "reason": result.reason},
                reason=result.reason,
            )
        if isinstance(result, Act):
            actions = [
                ActionRequest.for_task(
                    event, ordinal, planned.ability, ability(planned.ability).service, planned.params
                )
                for ordinal, planned in enumerate(result.actions)
            ]
            return self.store.transition(
                task,
                TaskStatus.CLASSIFIED,
                ACTOR,
                {"rule": result.rule, "route": "rule", "abilities": [a.ability for a in actions]},
                actions=actions,
            )
        # Needs classification: the small model takes this in the agent-core issue. Until then nothing may
        # act on unrecognized text, so the task ends DROPPED with a reason anyone can read in the trace.
        reason = "needs_classification:no_model_configured"
        return self.store.transition(
            task, TaskStatus.DROPPED, ACTOR, {"rule": result.rule, "reason": reason}, reason=reason
        )

    def _dispatch(self, task: Task) -> Task:
        sent: list[dict[str, Any]] = []
        for action in task.action_requests():
            message_id = self.queue.send(
                self.act_queue_url(action.service),
                action.model_dump_json(),
                group_id=action.conversation,
                dedup_id=action.action_id,
            )
            sent.append(
                {"action_id": action.action_id, "service": action.service.value, "message_id": message_id}
            )
        return self.store.transition(task, TaskStatus.DISPATCHED, ACTOR, {"sent": sent})
