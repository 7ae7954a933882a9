"""Alerting: an alarm on every DLQ, to an encrypted, TLS-only topic that CloudWatch can publish to."""

from __future__ import annotations

from aws_cdk.assertions import Match, Template

from infra.stack import SwitchboardStack
from tests.infra.conftest import ALERT_EMAIL
from tests.infra.support import logical_id


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


def test_no_alarm_watches_a_main_queue(stack: SwitchboardStack, template: Template) -> None:
    dlqs = {logical_id(dlq) for dlq in stack.queues.dlqs.values()}
    for alarm in template.find_resources("AWS::CloudWatch::Alarm").values():
        (dimension,) = alarm["Properties"]["Dimensions"]
        assert dimension["Value"]["Fn::GetAtt"][0] in dlqs


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


def test_alert_email_from_context_is_subscribed(stack: SwitchboardStack, template: Template) -> None:
    template.has_resource_properties(
        "AWS::SNS::Subscription",
        {
            "Protocol": "email",
            "Endpoint": ALERT_EMAIL,
            "TopicArn": {"Ref": logical_id(stack.monitoring.alert_topic)},
        },
    )
