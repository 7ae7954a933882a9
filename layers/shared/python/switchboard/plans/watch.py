"""The plan watch: a plan whose durable execution ended without ending its task goes to a person.

The plan function moves its task on at its last step (``switchboard.plans.engine``). A durable execution can
still end without getting there: its invocations fail for good (Lambda stops retrying and the execution is
FAILED), it outlives ``DurableConfig.ExecutionTimeout`` (TIMED_OUT), or someone stops it (STOPPED). Its task
would then stay DECIDING forever, and no alarm on a queue would see it. So the task of a started plan carries
a watch mark (``TaskStore.watch_plan``, the sparse index's ``PLAN_WATCH`` partition) until its next
transition, and the triage function, on its own schedule (``infra/schedules.py``), asks Lambda about each
marked task that has not changed for ``IDLE_SECONDS``: RUNNING (or paused) is left alone; any other status,
or an execution Lambda no longer knows, hands the task to a person with what the plan did, how the execution
ended and what they must decide. One Query per run when nothing is stuck; one ``GetDurableExecution`` per
idle plan, or, for a plan whose start noted no execution ARN (``Invoke`` answered without one), one
``ListDurableExecutionsByFunction`` by its execution name, which is the task id (``switchboard.plans.start``).

Lambda's documentation (read 2026-12-02): "GetDurableExecution" (https://docs.aws.amazon.com/lambda/latest/
api/API_GetDurableExecution.html) answers ``Status`` (RUNNING | SUCCEEDED | FAILED | TIMED_OUT | STOPPED, and
in the botocore model also PAUSING | PAUSED | DELETING) and ``Error`` {ErrorType, ErrorMessage}; an unknown
ARN is ``ResourceNotFoundException``; "ListDurableExecutionsByFunction" (https://docs.aws.amazon.com/lambda/
latest/api/API_ListDurableExecutionsByFunction.html) lists the executions of one ``Qualifier`` ("If not
specified, lists executions for the $LATEST version"), those whose names "contain" ``DurableExecutionName``,
oldest first unless ``ReverseOrder``, each with its ``Status`` but not its ``Error`` (botocore's model in
uv.lock words the qualifier and the order the other way round: the code depends on neither, it names the
qualifier and compares names and start times itself); retention (``DurableConfig.RetentionPeriodInDays``)
bounds how long a closed execution is kept. "Monitoring durable functions" (https://docs.aws.amazon.com/lambda/latest/dg/
durable-monitoring.html) lists the ``DurableExecutionFailed`` and ``DurableExecutionTimedOut`` metrics,
which ``infra/monitoring.py`` alarms on as well.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from aws_lambda_powertools import Logger

from switchboard.aws import LazyClient, translated
from switchboard.errors import DependencyRefused
from switchboard.escalation import Escalator
from switchboard.lifecycle import Lifecycle
from switchboard.models import TaskStatus
from switchboard.ports import Clock
from switchboard.state import Task

logger = Logger(child=True)

ACTOR = "plan-watch"
#: A plan's task unchanged this long is asked about (each step notes its result, so a plan at work moves it).
IDLE_SECONDS: Final = 600
#: Marked tasks looked at per run (oldest first); the next run takes the rest.
LIMIT: Final = 100
#: Statuses of an execution that may still end its task itself.
STILL_GOING: Final = frozenset({"RUNNING", "PAUSING", "PAUSED"})


@dataclass(frozen=True)
class ExecutionState:
    """What Lambda says of a durable execution; ``status`` None: it does not know the execution (any more)."""

    status: str | None
    error: str = ""

    @property
    def going(self) -> bool:
        return self.status in STILL_GOING


class DurableExecutions(Protocol):
    def state(self, execution_arn: str) -> ExecutionState: ...

    def named(self, execution_name: str) -> ExecutionState:
        """The newest execution of the plan function with this name, as ``state`` answers it."""
        ...


class LambdaDurableExecutions:
    """``GetDurableExecution`` and ``ListDurableExecutionsByFunction`` on the Lambda API, for the executions
    of ``function_name`` (the plan function)."""

    lambda_ = LazyClient("lambda")

    def __init__(self, function_name: str, lambda_client: Any = None) -> None:
        self.function_name = function_name
        self._lambda_ = lambda_client

    def state(self, execution_arn: str) -> ExecutionState:
        try:
            with translated("lambda", "GetDurableExecution"):
                found = self.lambda_.get_durable_execution(DurableExecutionArn=execution_arn)
        except DependencyRefused as refused:
            if refused.code == "ResourceNotFoundException":
                return ExecutionState(None)
            raise
        error = found.get("Error") or {}
        message = ": ".join(str(error[k]) for k in ("ErrorType", "ErrorMessage") if error.get(k))
        return ExecutionState(str(found["Status"]), message[:500])

    def named(self, execution_name: str) -> ExecutionState:
        """The newest execution named exactly ``execution_name`` of the plan function's qualifier (the
        alias that decide invokes), then ``state`` of its ARN for the error an ended one carries; unknown
        when there is none."""
        function, qualifier = split_qualifier(self.function_name)
        request: dict[str, Any] = {"FunctionName": function, "DurableExecutionName": execution_name}
        if qualifier:
            request["Qualifier"] = qualifier
        with translated("lambda", "ListDurableExecutionsByFunction"):
            listed = self.lambda_.list_durable_executions_by_function(**request, ReverseOrder=True)
        named = [
            e for e in listed.get("DurableExecutions", []) if e.get("DurableExecutionName") == execution_name
        ]
        if not named:
            return ExecutionState(None, "no execution of that name is known to Lambda")
        newest = max(named, key=lambda execution: str(execution.get("StartTimestamp", "")))
        if str(newest.get("Status")) in STILL_GOING:
            return ExecutionState(str(newest["Status"]))
        return self.state(str(newest["DurableExecutionArn"]))


def split_qualifier(function: str) -> tuple[str, str | None]:
    """A function ARN with its qualifier (``arn:aws:lambda:region:account:function:name:alias``) → the
    unqualified ARN and the qualifier; a name or an unqualified ARN → itself and None."""
    parts = function.split(":")
    if function.startswith("arn:") and len(parts) == 8:
        return ":".join(parts[:7]), parts[7]
    return function, None


def execution_of(task: Task) -> str | None:
    """The durable execution ARN the decide step noted when it started the plan (the latest start)."""
    for entry in reversed(task.history):
        started = (entry.get("detail") or {}).get("plan_started")
        if isinstance(started, dict) and str(started.get("execution", "")).startswith("arn:"):
            return str(started["execution"])
    return None


class PlanWatch:
    def __init__(
        self,
        lifecycle: Lifecycle,
        executions: DurableExecutions,
        *,
        idle_seconds: float = IDLE_SECONDS,
        limit: int = LIMIT,
        clock: Clock = time.time,
    ) -> None:
        self.lifecycle = lifecycle
        self.executions = executions
        self.idle_seconds = idle_seconds
        self.limit = limit
        self.clock = clock
        self.escalator = Escalator(lifecycle, ACTOR)

    def run(self) -> dict[str, Any]:
        cutoff = datetime.fromtimestamp(self.clock() - self.idle_seconds, UTC).isoformat(
            timespec="milliseconds"
        )
        report: dict[str, Any] = {"idle": 0, "running": 0, "ended": []}
        for task in self.lifecycle.tasks.watched_plans(cutoff, self.limit):
            report["idle"] += 1
            arn = execution_of(task)
            # no ARN noted: the execution is named by the task id (switchboard.plans.start)
            state = self.executions.state(arn) if arn else self.executions.named(task.task_id)
            if state.going:
                report["running"] += 1
                continue
            status = self._hand_over(task, arn, state)
            report["ended"].append({"task_id": task.task_id, "execution": state.status, "task": status})
        logger.info("plan watch", idle=report["idle"], running=report["running"], ended=len(report["ended"]))
        return report

    def _hand_over(self, task: Task, arn: str | None, state: ExecutionState) -> str:
        how = f"ended {state.status}" if state.status else "is unknown to Lambda"
        why = f"the plan's durable execution {how}" + (f" ({state.error})" if state.error else "")
        why += " before the plan finished"

        def once(current: Task) -> str:
            if current.status is not TaskStatus.DECIDING:  # it moved on between the query and now
                return current.status.value
            done, sent = _progress(current)
            tried = [f"plan step {step}: {result}" for step, result in done] or ["the plan did no step"]
            if sent:
                tried.append(f"actions sent before it stopped: {', '.join(sent)}")
            return self.escalator.needs_human(
                current,
                current.inbound_event(),
                why=why,
                tried=tried,
                decision=(
                    "Answer the request yourself (what the plan found is above), or send it again with "
                    "`switchboard replay`; the actions listed as sent may already have happened"
                ),
                detail={"plan_watch": {"execution": arn, "status": state.status, "error": state.error}},
            ).status.value

        # Read again after Lambda answered: an execution that ended writes no more, so what this read shows
        # is final (a page is sent before the move, and must not go out for a task the plan just ended).
        return self.lifecycle.retrying(self.lifecycle.get(task.task_id), once)


def _progress(task: Task) -> tuple[list[tuple[str, str]], list[str]]:
    """The plan's noted steps (``step id`` → its status) and the action ids it sent, from the history."""
    done: list[tuple[str, str]] = []
    sent: list[str] = []
    for entry in task.history:
        step = (entry.get("detail") or {}).get("plan_step")
        if not isinstance(step, dict):
            continue
        output = step.get("output") or {}
        done.append((f"{step.get('plan', 0)}.{step.get('step')}", str(output.get("status", "noted"))))
        if step.get("action_id") and output.get("status") == "done":
            sent.append(str(step["action_id"]))
    return done, sent
