"""Least privilege: read from the IAM policies attached to each function's role."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Template

from infra.stack import SwitchboardStack
from tests.infra.support import (
    Resource,
    actions_on,
    as_list,
    logical_id,
    policy_statements_of_role,
    references,
)

READ_SECRET = {"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}
SEND = "sqs:SendMessage"
CONSUME = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"}
WRITE_ITEM = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
SERVICES = ("github", "slack", "tickets", "escalate")
TOKEN_OF_SERVICE = {"github": "github", "slack": "slack", "tickets": "tickets", "escalate": "slack"}


def _statements(stack: SwitchboardStack, template: Template, name: str) -> list[Resource]:
    role = stack.functions.all[name].role
    assert role is not None
    return policy_statements_of_role(template, logical_id(role))


def _referenced(statements: list[Resource]) -> set[str]:
    return {ref for statement in statements for ref in references(statement["Resource"])}


def _secrets_read(stack: SwitchboardStack, template: Template, name: str) -> set[str]:
    """Tag values (``webhook:github`` …) of the secrets that the function may read."""
    statements = _statements(stack, template, name)
    return {
        tag
        for tag, secret in stack.secrets.secrets.items()
        if actions_on(statements, logical_id(secret)) & READ_SECRET
    }


@pytest.mark.parametrize("platform", ["github", "slack", "standard"])
def test_ingest_role_reads_only_its_own_webhook_secret(
    stack: SwitchboardStack, template: Template, platform: str
) -> None:
    statements = _statements(stack, template, f"ingest-{platform}")
    own = logical_id(stack.secrets.webhook(platform))
    all_secrets = {logical_id(secret) for secret in stack.secrets.secrets.values()}
    assert _referenced(statements) & all_secrets == {own}
    assert actions_on(statements, own) == READ_SECRET


@pytest.mark.parametrize("platform", ["github", "slack", "standard"])
def test_ingest_role_sends_to_the_ingest_queue_and_uses_the_memory_table(
    stack: SwitchboardStack, template: Template, platform: str
) -> None:
    statements = _statements(stack, template, f"ingest-{platform}")
    assert SEND in actions_on(statements, logical_id(stack.queues.ingest))
    assert actions_on(statements, logical_id(stack.state.memory_table)) >= WRITE_ITEM
    _reads_only_whether_a_task_exists(stack, statements)
    queue_ids = {logical_id(q) for q in [*stack.queues.queues.values(), *stack.queues.dlqs.values()]}
    assert _referenced(statements) & queue_ids == {logical_id(stack.queues.ingest)}


def test_each_function_reads_only_the_secrets_it_needs(stack: SwitchboardStack, template: Template) -> None:
    expected = {
        **{f"ingest-{p}": {f"webhook:{p}"} for p in ("github", "slack", "standard")},
        "health": set(),
        "classify": {"llm:anthropic"},
        "decide": {"llm:anthropic"},
        **{f"act-{s}": {f"token:{TOKEN_OF_SERVICE[s]}"} for s in SERVICES},
        "poll": set(),
        "triage": set(),
        "batch": {"llm:anthropic"},  # it submits and collects Message Batches with the LLM key
        # the plan's model calls, and its read-only lookups with the act workers' tokens
        "plan": {"llm:anthropic", "token:github", "token:slack", "token:tickets"},
    }
    assert {name: _secrets_read(stack, template, name) for name in stack.functions.all} == expected


def test_consumers_receive_delete_and_extend_visibility_on_their_own_queue_only(
    stack: SwitchboardStack, template: Template
) -> None:
    consumers = {"classify": {"ingest"}, "decide": {"decide"}, **{f"act-{s}": {f"act-{s}"} for s in SERVICES}}
    consumers["act-tickets"].add("followups")  # its second trigger: the staged follow-ups
    for name, queue_names in consumers.items():
        statements = _statements(stack, template, name)
        for other, queue in stack.queues.queues.items():
            granted = actions_on(statements, logical_id(queue)) & CONSUME
            assert granted == (CONSUME if other in queue_names else set()), f"{name} on {other}"


def test_classify_and_decide_dispatch_to_the_act_queues(stack: SwitchboardStack, template: Template) -> None:
    for name in ("classify", "decide"):
        statements = _statements(stack, template, name)
        for service in SERVICES:
            assert SEND in actions_on(statements, logical_id(stack.queues.act(service))), (
                f"{name} -> {service}"
            )
        assert actions_on(statements, logical_id(stack.state.tasks_table)) >= WRITE_ITEM
        assert actions_on(statements, logical_id(stack.state.memory_table)) >= WRITE_ITEM
    assert SEND in actions_on(_statements(stack, template, "classify"), logical_id(stack.queues.decide))


def test_health_reads_only_queue_depths_and_the_stage_markers(
    stack: SwitchboardStack, template: Template
) -> None:
    statements = _statements(stack, template, "health")
    actions = {action for s in statements for action in as_list(s["Action"])}
    assert actions - {a for a in actions if a.startswith(("logs:", "xray:"))} == {
        "sqs:GetQueueAttributes",
        "dynamodb:BatchGetItem",
    }
    for queue in stack.queues.queues.values():
        assert actions_on(statements, logical_id(queue)) == {"sqs:GetQueueAttributes"}
    for dlq in stack.queues.dlqs.values():
        assert not actions_on(statements, logical_id(dlq))
    assert actions_on(statements, logical_id(stack.state.memory_table)) == {"dynamodb:BatchGetItem"}
    assert not actions_on(statements, logical_id(stack.state.tasks_table))


def test_poll_sends_to_ingest_and_uses_memory_only(stack: SwitchboardStack, template: Template) -> None:
    statements = _statements(stack, template, "poll")
    assert SEND in actions_on(statements, logical_id(stack.queues.ingest))
    assert actions_on(statements, logical_id(stack.state.memory_table)) >= WRITE_ITEM
    _reads_only_whether_a_task_exists(stack, statements)


def _reads_only_whether_a_task_exists(stack: SwitchboardStack, statements: list[Resource]) -> None:
    """The door's one use of the tasks table (``DynamoSeenLog.claimed``): GetItem on the table itself, not
    on its index, and nothing else."""
    tasks = logical_id(stack.state.tasks_table)
    assert actions_on(statements, tasks) == {"dynamodb:GetItem"}
    on_tasks = [statement for statement in statements if tasks in json.dumps(statement["Resource"])]
    assert [statement["Resource"] for statement in on_tasks] == [{"Fn::GetAtt": [tasks, "Arn"]}]


def test_batch_keeps_its_state_in_memory_and_resumes_tasks_through_ingest_and_decide_only(
    stack: SwitchboardStack, template: Template
) -> None:
    statements = _statements(stack, template, "batch")
    assert actions_on(statements, logical_id(stack.state.memory_table)) >= WRITE_ITEM
    assert not actions_on(statements, logical_id(stack.state.tasks_table))  # it never changes a task
    queue_ids = {logical_id(q) for q in [*stack.queues.queues.values(), *stack.queues.dlqs.values()]}
    assert _referenced(statements) & queue_ids == {
        logical_id(stack.queues.ingest),
        logical_id(stack.queues.decide),
    }
    for queue in (stack.queues.ingest, stack.queues.decide):
        assert actions_on(statements, logical_id(queue)) & CONSUME == set()  # sends, never receives
        assert SEND in actions_on(statements, logical_id(queue))


def test_classify_and_decide_can_resume_through_their_own_queue(
    stack: SwitchboardStack, template: Template
) -> None:
    assert SEND in actions_on(_statements(stack, template, "classify"), logical_id(stack.queues.ingest))
    assert SEND in actions_on(_statements(stack, template, "decide"), logical_id(stack.queues.decide))


def test_triage_reads_the_dlqs_redrives_by_category_and_alerts(
    stack: SwitchboardStack, template: Template
) -> None:
    statements = _statements(stack, template, "triage")
    for name, dlq in stack.queues.dlqs.items():
        granted = actions_on(statements, logical_id(dlq))
        assert granted >= CONSUME, name
        assert not {action for action in granted if "MessageMoveTask" in action}, name  # category redrives
        assert SEND in actions_on(statements, logical_id(stack.queues.queues[name])), name
    tasks = actions_on(statements, logical_id(stack.state.tasks_table))
    assert {"dynamodb:GetItem", "dynamodb:Query"} <= tasks
    # the plan watch moves a stuck plan's task to NEEDS_HUMAN (an update; act-escalate it may send to as the
    # redrive of its DLQ does)
    assert tasks & WRITE_ITEM == {"dynamodb:UpdateItem"}
    assert "sns:Publish" in actions_on(statements, logical_id(stack.monitoring.alert_topic))


def test_functions_write_only_their_own_log_group(stack: SwitchboardStack, template: Template) -> None:
    log_groups = set(template.find_resources("AWS::Logs::LogGroup"))
    for name, fn in stack.functions.all.items():
        own = template.find_resources("AWS::Lambda::Function")[logical_id(fn)]["Properties"]["LoggingConfig"]
        granted = _referenced(_statements(stack, template, name)) & log_groups
        assert granted == {own["LogGroup"]["Ref"]}, name


def test_function_roles_have_no_managed_policies(stack: SwitchboardStack, template: Template) -> None:
    roles = template.find_resources("AWS::IAM::Role")
    for name, fn in stack.functions.all.items():
        assert fn.role is not None
        assert "ManagedPolicyArns" not in roles[logical_id(fn.role)]["Properties"], name


def test_only_xray_is_granted_on_every_resource(template: Template) -> None:
    for policy in template.find_resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if "*" in as_list(statement["Resource"]):
                assert {action.split(":")[0] for action in as_list(statement["Action"])} == {"xray"}
