"""Alerting: an alarm on every DLQ, to an encrypted, TLS-only topic that CloudWatch can publish to."""

from __future__ import annotations

import json

from aws_cdk.assertions import Match, Template

from infra.stack import SwitchboardStack
from tests.infra.conftest import ALERT_EMAIL
from tests.infra.support import logical_id

#: CloudWatch acts for this account's alarms in this region only (the confused-deputy conditions).
THIS_STACKS_ALARMS = {
    "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
    "ArnLike": {
        "aws:SourceArn": {
            "Fn::Join": [
                "",
                ["arn:", {"Ref": "AWS::Partition"}, ":cloudwatch:", {"Ref": "AWS::Region"}, ":",
                 {"Ref": "AWS::AccountId"}, ":alarm:*"],
            ]
        }
    },
}  # fmt: skip


def test_every_dlq_has_an_alarm_on_its_first_visible_message(
    stack: SwitchboardStack, template: Template
) -> None:
    topic = logical_id(stack.monitoring.alert_topic)
    for name, dlq in stack.queues.dlqs.items():
        alarms = template.find_resources(
            "AWS::CloudWatch::Alarm",
            {
                "Properties": Match.object_like(
                    {
                        "Namespace": "AWS/SQS",
                        "MetricName": "ApproximateNumberOfMessagesVisible",
                        "Dimensions": [
                            {"Name": "QueueName", "Value": {"Fn::GetAtt": [logical_id(dlq), "QueueName"]}}
                        ],
                        "Threshold": 0,
                        "ComparisonOperator": "GreaterThanThreshold",
                        "EvaluationPeriods": 1,
                        "Period": 60,
                        "TreatMissingData": "notBreaching",
                        "AlarmActions": [{"Ref": topic}],
                    }
                )
            },
        )
        assert alarms, f"no alarm on the {name} DLQ"


def test_every_main_queue_has_an_alarm_on_the_age_of_its_oldest_message(
    stack: SwitchboardStack, template: Template
) -> None:
    topic = logical_id(stack.monitoring.alert_topic)
    for name, queue in stack.queues.queues.items():
        alarms = template.find_resources(
            "AWS::CloudWatch::Alarm",
            {
                "Properties": Match.object_like(
                    {
                        "Namespace": "AWS/SQS",
                        "MetricName": "ApproximateAgeOfOldestMessage",
                        "Dimensions": [
                            {"Name": "QueueName", "Value": {"Fn::GetAtt": [logical_id(queue), "QueueName"]}}
                        ],
                        "ComparisonOperator": "GreaterThanThreshold",
                        "AlarmActions": [{"Ref": topic}],
                    }
                )
            },
        )
        assert alarms, f"no age alarm on {name}"
        (alarm,) = alarms.values()
        assert 60 <= alarm["Properties"]["Threshold"] <= 900


def test_every_function_has_error_and_throttle_alarms(stack: SwitchboardStack, template: Template) -> None:
    topic = logical_id(stack.monitoring.alert_topic)
    for name, fn in stack.functions.all.items():
        for metric in ("Errors", "Throttles"):
            alarms = template.find_resources(
                "AWS::CloudWatch::Alarm",
                {
                    "Properties": Match.object_like(
                        {
                            "Namespace": "AWS/Lambda",
                            "MetricName": metric,
                            "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": logical_id(fn)}}],
                            "Statistic": "Sum",
                            "Threshold": 0,
                            "AlarmActions": [{"Ref": topic}],
                        }
                    )
                },
            )
            assert alarms, f"no {metric} alarm on {name}"


def test_llm_spend_alarm_fires_at_80_percent_of_the_daily_budget(
    stack: SwitchboardStack, template: Template
) -> None:
    alarm = template.to_json()["Resources"][logical_id(stack.watch.spend_alarm)]["Properties"]
    assert alarm["Threshold"] == 20  # 80 % of the default $25 a day
    assert alarm["AlarmActions"] == [{"Ref": logical_id(stack.monitoring.alert_topic)}]
    queries = {query["Id"]: query for query in alarm["Metrics"]}
    spend = [q for q in queries.values() if "MetricStat" in q]
    assert {q["MetricStat"]["Metric"]["MetricName"] for q in spend} == {"LlmCostUsd"}
    assert {q["MetricStat"]["Period"] for q in spend} == {86_400}
    tiers = {
        d["Value"] for q in spend for d in q["MetricStat"]["Metric"]["Dimensions"] if d["Name"] == "tier"
    }
    assert tiers == {"small", "medium", "large"}
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {"Environment": {"Variables": Match.object_like({"LLM_DAILY_USD_CAP": "25"})}},
    )


def test_one_dashboard_shows_the_loop(stack: SwitchboardStack, template: Template) -> None:
    (dashboard,) = template.find_resources("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for title in (
        "Intake by platform",
        "Decided by rules vs sent to the LLM",
        "LLM spend",
        "Action outcomes by service",
        "DLQ depth",
        "p99 duration by function",
    ):
        assert title in body, title


def test_alert_topic_is_encrypted_with_a_rotated_key_cloudwatch_may_use(
    stack: SwitchboardStack, template: Template
) -> None:
    key = logical_id(stack.monitoring.alert_key)
    template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::GetAtt": [key, "Arn"]}})
    template.has_resource_properties(
        "AWS::KMS::Key",
        {
            "EnableKeyRotation": True,
            "KeyPolicy": Match.object_like(
                {
                    "Statement": Match.array_with(
                        [
                            Match.object_like(
                                {
                                    "Effect": "Allow",
                                    "Principal": {"Service": "cloudwatch.amazonaws.com"},
                                    "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                                    "Condition": THIS_STACKS_ALARMS,
                                }
                            )
                        ]
                    )
                }
            ),
        },
    )


def test_alert_topic_denies_publishing_without_tls(stack: SwitchboardStack, template: Template) -> None:
    template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "Topics": [{"Ref": logical_id(stack.monitoring.alert_topic)}],
            "PolicyDocument": Match.object_like(
                {
                    "Statement": Match.array_with(
                        [
                            Match.object_like(
                                {"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
                            )
                        ]
                    )
                }
            ),
        },
    )


def test_cloudwatch_alarms_of_this_account_may_publish_to_the_alert_topic(
    stack: SwitchboardStack, template: Template
) -> None:
    """The topic policy replaces SNS's default policy: without this Allow no alarm could notify anyone."""
    topic = logical_id(stack.monitoring.alert_topic)
    policies = template.find_resources("AWS::SNS::TopicPolicy", {"Properties": {"Topics": [{"Ref": topic}]}})
    (policy,) = policies.values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    allows = [statement for statement in statements if statement["Effect"] == "Allow"]

    assert allows == [
        {
            "Sid": "AllowCloudWatchAlarmsToPublish",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": "sns:Publish",
            "Resource": {"Ref": topic},
            "Condition": THIS_STACKS_ALARMS,
        }
    ]
    assert any(
        statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for statement in statements
    )


def test_alert_email_from_context_is_subscribed(stack: SwitchboardStack, template: Template) -> None:
    template.has_resource_properties(
        "AWS::SNS::Subscription",
        {
            "Protocol": "email",
            "Endpoint": ALERT_EMAIL,
            "TopicArn": {"Ref": logical_id(stack.monitoring.alert_topic)},
        },
    )
