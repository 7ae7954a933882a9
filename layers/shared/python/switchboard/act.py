"""Act: carry out one typed action exactly once, then record it on the task.

The external call runs inside Powertools idempotency keyed by the action id, so a redelivery or a racing
second worker gets the first result back and makes no second call. Retrying re-runs only this step: the
classify and decide steps, and their LLM calls, are never repeated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from switchboard.abilities import ability
from switchboard.errors import ConcurrentUpdate, PermanentActionError
from switchboard.models import ActionRequest, TaskStatus
from switchboard.state import Task, TaskStore

logger = Logger(child=True)
metrics = Metrics()

ACTOR = "act"


class Executor(Protocol):
    def execute(self, action: ActionRequest) -> dict[str, Any]: ...


class ActService:
    def __init__(self, store: TaskStore, execute_once: Callable[[ActionRequest], dict[str, Any]]) -> None:
        self.store = store
        self.execute_once = execute_once

    def process(self, action: ActionRequest) -> TaskStatus:
        logger.set_correlation_id(action.event_id)
        try:
            ability(action.ability).validate(action.params)
        except (LookupError, ValueError) as exc:
            return self._fail(action, PermanentActionError(action.service.value, f"refused: {exc}"))
        try:
            result = self.execute_once(action)
        except PermanentActionError as exc:
            return self._fail(action, exc)
        metrics.add_metric(name="ActionsSucceeded", unit=MetricUnit.Count, value=1)
        logger.info("action done", task_id=action.task_id, action_id=action.action_id, ability=action.ability)
        task = self._record(action, result)
        return self._finish_if_complete(task)

    def _fail(self, action: ActionRequest, error: PermanentActionError) -> TaskStatus:
        """A permanent error: retrying cannot help, so the message is consumed and the task says why."""
        metrics.add_metric(name="ActionsFailedPermanently", unit=MetricUnit.Count, value=1)
        logger.warning("action failed permanently", action_id=action.action_id, reason=error.reason)
        task = self.store.get(action.task_id)
        if task.status.terminal:
            return task.status
        detail = {"action_id": action.action_id, "status": error.status, "reason": error.reason}
        return self.store.transition(task, TaskStatus.FAILED, ACTOR, detail, reason=error.reason).status

    def _record(self, action: ActionRequest, result: dict[str, Any]) -> Task:
        try:
            return self.store.complete_action(
                action.task_id,
                action.action_id,
                ACTOR,
                {"ability": action.ability, "service": action.service.value, "result": result},
            )
        except self.store.dynamodb.exceptions.ConditionalCheckFailedException:
            return self.store.get(action.task_id)  # recorded by an earlier attempt

    def _finish_if_complete(self, task: Task) -> TaskStatus:
        for _ in range(3):
            expected = {action["action_id"] for action in task.actions}
            if task.status.terminal or not expected.issubset(task.completed_actions):
                return task.status
            if task.status not in (TaskStatus.DISPATCHED, TaskStatus.WAITING):
                return task.status
            try:
                return self.store.transition(
                    task, TaskStatus.DONE, ACTOR, {"actions": sorted(expected)}
                ).status
            except ConcurrentUpdate:
                task = self.store.get(task.task_id)
        return task.status
