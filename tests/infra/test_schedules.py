"""Schedules: poll the feed every five minutes, triage the dead letters every morning."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match, Template

from infra.stack import SwitchboardStack
from tests.infra.support import logical_id


@pytest.mark.parametrize(
    ("function", "expression"),
    [("poll", "rate(5 minutes)"), ("triage", "cron(0 6 * * ? *)"), ("batch", "rate(5 minutes)")],
)
def test_schedule_invokes_its_function(
    stack: SwitchboardStack, template: Template, function: str, expression: str
) -> None:
    function_id = logical_id(stack.functions.all[function])
    rules = template.find_resources(
        "AWS::Events::Rule",
        {
            "Properties": Match.object_like(
                {
                    "ScheduleExpression": expression,
                    "State": "ENABLED",
                    "Targets": [Match.object_like({"Arn": {"Fn::GetAtt": [function_id, "Arn"]}})],
                }
            )
        },
    )
    (rule_id,) = rules
    template.has_resource_properties(
        "AWS::Lambda::Permission",
        {
            "Action": "lambda:InvokeFunction",
            "Principal": "events.amazonaws.com",
            "FunctionName": {"Fn::GetAtt": [function_id, "Arn"]},
            "SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]},
        },
    )
