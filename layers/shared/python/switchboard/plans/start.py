"""The router's plan path: which requests plan (``switchboard.plans.route``: deterministic, no model call),
and how a plan is started.

A plan starts asynchronously: ``Invoke`` with ``InvocationType=Event`` and ``DurableExecutionName`` = the task
id, with a payload computed only from the decide message, so a redelivered message starts no second
execution (Lambda answers the same name and payload with the existing one: "Invoking durable Lambda
functions", https://docs.aws.amazon.com/lambda/latest/dg/durable-invoking.html); a redelivery after the start
was noted invokes nothing and writes no second note. The task stays DECIDING while the plan runs; the plan
function moves it on (``switchboard.plans.engine``), and the plan watch (``switchboard.plans.watch``) hands it
to a person if the execution ends without doing so.
"""

from __future__ import annotations

from typing import Any, Protocol

from switchboard.lifecycle import Lifecycle
from switchboard.models import DecideRequest, TaskStatus
from switchboard.plans.engine import PlanRequest
from switchboard.plans.route import wants_plan
from switchboard.state import Task

__all__ = ["LambdaPlanInvoker", "PlanInvoker", "PlanStarter", "started", "wants_plan"]

ACTOR = "decide"


def started(task: Task) -> bool:
    """The plan was started: its note is written after the Invoke returned (so the execution exists)."""
    return any(isinstance(e.get("detail"), dict) and "plan_started" in e["detail"] for e in task.history)


class PlanInvoker(Protocol):
    def start(self, function_name: str, execution_name: str, payload: str) -> str | None:
        """Start the durable execution (asynchronously); the execution's ARN when the API says it."""
        ...


class LambdaPlanInvoker:
    def __init__(self, client: Any = None) -> None:
        self._client = client

    def start(self, function_name: str, execution_name: str, payload: str) -> str | None:
        if self._client is None:
            from switchboard.aws import client

            self._client = client("lambda")
        response = self._client.invoke(
            FunctionName=function_name,
            InvocationType="Event",
            DurableExecutionName=execution_name,
            Payload=payload.encode(),
        )
        arn = response.get("DurableExecutionArn")
        return str(arn) if arn else None


class PlanStarter:
    def __init__(self, lifecycle: Lifecycle, invoker: PlanInvoker, function_name: str) -> None:
        self.lifecycle = lifecycle
        self.invoker = invoker
        self.function_name = function_name

    def start(self, task: Task, request: DecideRequest, why: str) -> TaskStatus:
        if started(task):  # a redelivered decide message: the execution named by the task id runs already
            return TaskStatus.DECIDING
        payload = PlanRequest(task_id=task.task_id, event=request.event, intent=request.intent)
        arn = self.invoker.start(self.function_name, task.task_id, payload.model_dump_json())
        # The note marks the task for the plan watch (switchboard.plans.watch) while it is DECIDING.
        self.lifecycle.plan_started(
            task.task_id, ACTOR, {"plan_started": {"why": why, "execution": arn or task.task_id}}
        )
        return TaskStatus.DECIDING
