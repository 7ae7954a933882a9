"""The action layer's infrastructure: the follow-ups delay queue, act-tickets' second trigger, the kill-switch
parameters that only the act functions may read, and the act environment that ties retries to the redrive."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from infra.stack import SwitchboardStack
from tests.infra.support import Resource, actions_on, logical_id, policy_statements_of_role, target

SERVICES = ("github", "slack", "tickets", "escalate")
READ_PARAMETER = {"ssm:GetParameter", "ssm:GetParameters"}
SEND = "sqs:SendMessage"


def _statements(stack: SwitchboardStack, template: Template, name: str) -> list[Resource]:
    role = stack.functions.all[name].role
    assert role is not None
    return policy_statements_of_role(template, logical_id(role))


def _environment(stack: SwitchboardStack, template: Template, name: str) -> dict[str, Any]:
    functions = template.find_resources("AWS::Lambda::Function")
    return dict(functions[logical_id(stack.functions.all[name])]["Properties"]["Environment"]["Variables"])


def _queue(stack: SwitchboardStack, template: Template, name: str) -> Resource:
    return template.find_resources("AWS::SQS::Queue")[logical_id(stack.queues.queues[name])]


def test_follow_ups_queue_is_standard_encrypted_tls_only_with_a_standard_dlq(
    stack: SwitchboardStack, template: Template
) -> None:
    queues = template.find_resources("AWS::SQS::Queue")
    followups = queues[logical_id(stack.queues.followups)]["Properties"]
    dlq_id = logical_id(stack.queues.dlqs["followups"])
    assert "FifoQueue" not in followups  # per-message DelaySeconds needs a standard queue
    assert followups["SqsManagedSseEnabled"] is True
    assert followups["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
        "maxReceiveCount": 5,
    }
    assert "FifoQueue" not in queues[dlq_id]["Properties"]
    assert queues[dlq_id]["Properties"]["SqsManagedSseEnabled"] is True
    for queue_id in (logical_id(stack.queues.followups), dlq_id):
        template.has_resource_properties(
            "AWS::SQS::QueuePolicy",
            {
                "Queues": [{"Ref": queue_id}],
                "PolicyDocument": Match.object_like(
                    {
                        "Statement": Match.array_with(
                            [
                                Match.object_like(
                                    {
                                        "Effect": "Deny",
                                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                                    }
                                )
                            ]
                        )
                    }
                ),
            },
        )


def test_follow_ups_dlq_is_watched_like_every_other_dlq(stack: SwitchboardStack) -> None:
    assert "followups" in stack.monitoring.dlq_alarms


def test_act_tickets_consumes_its_act_queue_and_the_follow_ups_queue(
    stack: SwitchboardStack, template: Template
) -> None:
    function_id = logical_id(stack.functions.act["tickets"])
    sources = {
        target(mapping["Properties"]["EventSourceArn"]): mapping["Properties"]
        for mapping in template.find_resources("AWS::Lambda::EventSourceMapping").values()
        if target(mapping["Properties"]["FunctionName"]) == function_id
    }
    assert set(sources) == {logical_id(stack.queues.act("tickets")), logical_id(stack.queues.followups)}
    for properties in sources.values():
        assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    consumers_of_followups = [
        target(mapping["Properties"]["FunctionName"])
        for mapping in template.find_resources("AWS::Lambda::EventSourceMapping").values()
        if target(mapping["Properties"]["EventSourceArn"]) == logical_id(stack.queues.followups)
    ]
    assert consumers_of_followups == [function_id]


def test_kill_switch_parameters_exist_with_safe_defaults(stack: SwitchboardStack, template: Template) -> None:
    parameters = template.find_resources("AWS::SSM::Parameter")
    shadow = parameters[logical_id(stack.switches.shadow_mode)]["Properties"]
    disabled = parameters[logical_id(stack.switches.disabled_abilities)]["Properties"]
    assert (shadow["Name"], shadow["Type"], shadow["Value"]) == (
        "/switchboard/Switchboard/shadow-mode",
        "String",
        "false",
    )
    assert shadow["AllowedPattern"] == "^(true|false)$"
    assert (disabled["Name"], disabled["Type"], disabled["Value"]) == (
        "/switchboard/Switchboard/disabled-abilities",
        "String",
        "none",
    )


def test_only_the_act_functions_read_the_kill_switches(stack: SwitchboardStack, template: Template) -> None:
    parameter_ids = [logical_id(p) for p in (stack.switches.shadow_mode, stack.switches.disabled_abilities)]
    for name in stack.functions.all:
        statements = _statements(stack, template, name)
        for parameter_id in parameter_ids:
            granted = actions_on(statements, parameter_id)
            if name.startswith("act-"):
                assert granted >= READ_PARAMETER, f"{name} on {parameter_id}"
                assert not {action for action in granted if action.startswith("ssm:Put")}, name
            else:
                assert not granted, f"{name} reads {parameter_id}"


@pytest.mark.parametrize("service", SERVICES)
def test_act_environment_names_the_switches_and_the_redrive_limit(
    stack: SwitchboardStack, template: Template, service: str
) -> None:
    environment = _environment(stack, template, f"act-{service}")
    assert environment["SHADOW_MODE_PARAMETER"] == {"Ref": logical_id(stack.switches.shadow_mode)}
    assert environment["DISABLED_ABILITIES_PARAMETER"] == {
        "Ref": logical_id(stack.switches.disabled_abilities)
    }
    redrive = _queue(stack, template, f"act-{service}")["Properties"]["RedrivePolicy"]
    assert environment["MAX_RECEIVE_COUNT"] == str(redrive["maxReceiveCount"])


@pytest.mark.parametrize("service", ["github", "slack", "tickets"])
def test_act_workers_may_page_a_person_through_the_escalate_queue(
    stack: SwitchboardStack, template: Template, service: str
) -> None:
    escalate = logical_id(stack.queues.act("escalate"))
    assert _environment(stack, template, f"act-{service}")["ACT_ESCALATE_QUEUE_URL"] == {"Ref": escalate}
    assert SEND in actions_on(_statements(stack, template, f"act-{service}"), escalate)


@pytest.mark.parametrize("service", ["github", "slack"])
def test_act_workers_that_do_not_reply_send_to_no_other_queue(
    stack: SwitchboardStack, template: Template, service: str
) -> None:
    statements = _statements(stack, template, f"act-{service}")
    sends = {
        name
        for name, queue in stack.queues.queues.items()
        if SEND in actions_on(statements, logical_id(queue))
    }
    assert sends == {"act-escalate"}


def test_only_act_tickets_stages_follow_ups(stack: SwitchboardStack, template: Template) -> None:
    followups = logical_id(stack.queues.followups)
    for name in stack.functions.all:
        environment = _environment(stack, template, name)
        sends = SEND in actions_on(_statements(stack, template, name), followups)
        if name == "act-tickets":
            assert environment["FOLLOWUPS_QUEUE_URL"] == {"Ref": followups}
            assert sends
            for service in ("github", "slack"):
                assert environment[f"ACT_{service.upper()}_QUEUE_URL"] == {
                    "Ref": logical_id(stack.queues.act(service))
                }
        elif name != "triage":  # triage redrives every DLQ into its queue
            assert "FOLLOWUPS_QUEUE_URL" not in environment, name
            assert not sends, name
