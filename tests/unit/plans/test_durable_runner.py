"""The engine on the official durable-execution SDK (``DurableRunner``), run by the SDK's testing runner:
steps are checkpointed operations, independent steps a parallel block, a review a callback with a timeout."""

from __future__ import annotations

import json
from typing import Any

from aws_durable_execution_sdk_python.context import DurableContext
from aws_durable_execution_sdk_python.execution import InvocationStatus, durable_execution
from aws_durable_execution_sdk_python_testing.runner import DurableFunctionTestRunner

from switchboard.models import TaskStatus
from switchboard.plans.runner import DurableRunner
from tests.fakes import github_event
from tests.unit.plans.conftest import Harness, bug_report, make_harness, slack_event


def durable_handler(h: Harness) -> Any:
    @durable_execution
    def handler(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
        from switchboard.plans.engine import PlanRequest

        return h.engine.run(PlanRequest.model_validate(event), DurableRunner(context))

    return handler


def test_the_status_question_runs_as_a_durable_execution_with_every_step_checkpointed() -> None:
    h = make_harness()
    request = h.open(slack_event("What's the status of the ticket about the login timeouts?"))
    with DurableFunctionTestRunner(handler=durable_handler(h)) as runner:
        result = runner.run(
            input=request.model_dump_json(), execution_timeout=30, execution_name=request.task_id
        )
    assert result.status is InvocationStatus.SUCCEEDED, result.error
    assert json.loads(result.result)["status"] == "DISPATCHED"
    for name in (
        "plan0",
        "plan0.search",
        "plan0.read",
        "plan0.draft",
        "plan0.draft.eval",
        "plan0.reply",
        "finish",
    ):
        assert result.get_step(name).status.value == "SUCCEEDED", name
    assert h.sdk.tools_called() == ["submit_plan", "draft_answer", "judge_step"]
    [reply] = h.sent()
    assert "TCK-42" in reply.params["text"]


def test_independent_steps_run_as_one_parallel_block() -> None:
    h = make_harness()
    request = h.open(bug_report(), intent="question")
    with DurableFunctionTestRunner(handler=durable_handler(h)) as runner:
        result = runner.run(
            input=request.model_dump_json(), execution_timeout=30, execution_name=request.task_id
        )
    assert result.status is InvocationStatus.SUCCEEDED, result.error
    assert result.get_context("plan0.wave2").status.value == "SUCCEEDED"  # comment and label together
    assert sorted(a.ability for a in h.sent()) == ["github.add_labels", "github.comment"]


def test_a_review_waits_for_the_callback_then_the_plan_goes_on() -> None:
    h = make_harness()
    request = h.open(github_event("Please close this issue, it is obsolete.", "d-close"), intent="other")
    with DurableFunctionTestRunner(handler=durable_handler(h)) as runner:
        arn = runner.run_async(
            input=request.model_dump_json(), execution_timeout=30, execution_name=request.task_id
        )
        callback_id = runner.wait_for_callback(arn, timeout=20)
        assert h.status(request) is TaskStatus.NEEDS_HUMAN  # a person's while the review waits
        [review] = h.notes(request, "plan_review")
        assert review["callback_id"] == callback_id  # what `tasks resolve` answers
        runner.send_callback_success(callback_id, json.dumps({"approved": True, "by": "ops"}).encode())
        result = runner.wait_for_result(arn, timeout=30)
    assert result.status is InvocationStatus.SUCCEEDED, result.error
    assert json.loads(result.result)["status"] == "DISPATCHED"
    abilities = [a.ability for a in h.sent()]
    assert abilities[0] == "escalate.human"  # close and comment run in parallel: in either order
    assert sorted(abilities[1:]) == ["github.close", "github.comment"]


def test_a_review_answered_with_a_failure_stops_the_plan() -> None:
    from aws_durable_execution_sdk_python.lambda_service import ErrorObject

    h = make_harness()
    request = h.open(github_event("Please close this issue, it is obsolete.", "d-close2"), intent="other")
    with DurableFunctionTestRunner(handler=durable_handler(h)) as runner:
        arn = runner.run_async(
            input=request.model_dump_json(), execution_timeout=30, execution_name=request.task_id
        )
        callback_id = runner.wait_for_callback(arn, timeout=20)
        runner.send_callback_failure(callback_id, ErrorObject("keep it open", "Declined", None, None))
        result = runner.wait_for_result(arn, timeout=30)
    assert result.status is InvocationStatus.SUCCEEDED, result.error
    assert json.loads(result.result)["status"] == "DROPPED"
    assert "keep it open" in (h.tasks.get(request.task_id).reason or "")
