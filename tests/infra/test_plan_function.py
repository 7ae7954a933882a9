"""The plan function in the template: a durable function, started only by decide, checkpointing only its own
executions (the scope "Security and permissions for Lambda durable functions" documents,
https://docs.aws.amazon.com/lambda/latest/dg/durable-security.html)."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Template

from infra.stack import SwitchboardStack
from tests.infra.support import logical_id

DURABLE_ACTIONS = {"lambda:CheckpointDurableExecution", "lambda:GetDurableExecutionState"}


def _statements(template: Template) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        for role in policy["Properties"].get("Roles", []):
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                found.append((role["Ref"], statement))
    return found


def _actions(statement: dict[str, Any]) -> set[str]:
    actions = statement["Action"]
    return {actions} if isinstance(actions, str) else set(actions)


def test_the_plan_function_is_durable_with_a_bounded_execution_and_retention(
    template: Template, stack: SwitchboardStack
) -> None:
    plan = template.find_resources("AWS::Lambda::Function")[logical_id(stack.functions.plan)]
    assert plan["Properties"]["DurableConfig"] == {"ExecutionTimeout": 3 * 86_400, "RetentionPeriodInDays": 7}
    assert plan["Properties"]["Handler"] == "handler.handler"
    durable = [
        fn
        for fn in template.find_resources("AWS::Lambda::Function").values()
        if "DurableConfig" in fn["Properties"]
    ]
    assert len(durable) == 1  # only plans are durable: rules and single decisions keep the queue path


def test_only_the_plan_role_checkpoints_and_only_its_own_executions(
    template: Template, stack: SwitchboardStack
) -> None:
    plan_role = logical_id(stack.functions.plan.role)  # type: ignore[arg-type]
    plan_id = logical_id(stack.functions.plan)
    holders = {role for role, st in _statements(template) if _actions(st) & DURABLE_ACTIONS}
    assert holders == {plan_role}
    [statement] = [st for role, st in _statements(template) if _actions(st) & DURABLE_ACTIONS]
    assert _actions(statement) == DURABLE_ACTIONS
    assert json.dumps(statement["Resource"]) == json.dumps(
        {"Fn::Join": ["", [{"Fn::GetAtt": [plan_id, "Arn"]}, ":*"]]}
    )


def test_decide_alone_may_invoke_the_plan_function_through_its_alias(
    template: Template, stack: SwitchboardStack
) -> None:
    alias_id = logical_id(stack.functions.plan_alias)
    alias = template.find_resources("AWS::Lambda::Alias")[alias_id]
    assert json.dumps(alias["Properties"]["FunctionName"]) == json.dumps(
        {"Ref": logical_id(stack.functions.plan)}
    )
    invokers = {
        role
        for role, st in _statements(template)
        if "lambda:InvokeFunction" in _actions(st) and alias_id in json.dumps(st["Resource"])
    }
    assert invokers == {logical_id(stack.functions.decide.role)}  # type: ignore[arg-type]
    env = template.find_resources("AWS::Lambda::Function")[logical_id(stack.functions.decide)]
    # a durable function is invoked qualified: decide names the alias, whose ARN carries the qualifier
    assert env["Properties"]["Environment"]["Variables"]["PLAN_FUNCTION_NAME"] == {"Ref": alias_id}
    plan_role = logical_id(stack.functions.plan.role)  # type: ignore[arg-type]
    assert not any(
        "lambda:InvokeFunction" in _actions(st) for role, st in _statements(template) if role == plan_role
    )


def test_only_the_triage_role_reads_how_plans_ended_and_only_the_plan_functions_executions(
    template: Template, stack: SwitchboardStack
) -> None:
    """The plan watch (``switchboard.plans.watch``) runs in triage: GetDurableExecution on the plan
    function's executions (``<plan arn>:*``) and ListDurableExecutionsByFunction on the plan function (for a
    start that noted no ARN), nothing else of Lambda's durable API."""
    triage_role = logical_id(stack.functions.triage.role)  # type: ignore[arg-type]
    plan_arn = {"Fn::GetAtt": [logical_id(stack.functions.plan), "Arn"]}
    reading = [
        (role, st) for role, st in _statements(template) if "lambda:GetDurableExecution" in _actions(st)
    ]
    assert [role for role, _ in reading] == [triage_role]
    [(_, statement)] = reading
    assert _actions(statement) == {"lambda:GetDurableExecution"}
    assert json.dumps(statement["Resource"]) == json.dumps({"Fn::Join": ["", [plan_arn, ":*"]]})
    listing = [
        (role, st)
        for role, st in _statements(template)
        if "lambda:ListDurableExecutionsByFunction" in _actions(st)
    ]
    assert [role for role, _ in listing] == [triage_role]
    [(_, statement)] = listing
    assert _actions(statement) == {"lambda:ListDurableExecutionsByFunction"}
    assert json.dumps(statement["Resource"]) == json.dumps([plan_arn, {"Fn::Join": ["", [plan_arn, ":*"]]}])
    triage_actions = {a for role, st in _statements(template) if role == triage_role for a in _actions(st)}
    assert {a for a in triage_actions if a.startswith("lambda:")} == {
        "lambda:GetDurableExecution",
        "lambda:ListDurableExecutionsByFunction",
    }
    triage = template.find_resources("AWS::Lambda::Function")[logical_id(stack.functions.triage)]
    alias = logical_id(stack.functions.plan_alias)
    assert triage["Properties"]["Environment"]["Variables"]["PLAN_FUNCTION_NAME"] == {"Ref": alias}


def test_the_plan_watch_runs_every_quarter_hour_and_pages_through_the_escalation_queue(
    template: Template, stack: SwitchboardStack
) -> None:
    triage_id = logical_id(stack.functions.triage)
    rules = template.find_resources(
        "AWS::Events::Rule", {"Properties": {"ScheduleExpression": "rate(15 minutes)"}}
    )
    [rule] = rules.values()
    [target] = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [triage_id, "Arn"]}
    assert json.loads(target["Input"]) == {"source": "switchboard.schedule", "action": "plans"}
    env = template.find_resources("AWS::Lambda::Function")[triage_id]["Properties"]["Environment"][
        "Variables"
    ]
    escalate = logical_id(stack.queues.act_queues["escalate"])
    assert env["ACT_ESCALATE_QUEUE_URL"] == {"Ref": escalate}
    assert "LABEL_POLICY" in env  # the gate it pages through reads the same policy as every other
