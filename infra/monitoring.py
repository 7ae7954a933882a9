"""Alerting: an encrypted SNS topic, and an alarm on every dead-letter queue that has a message in it."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.lambda_defaults import pascal


class Monitoring(Construct):
    """The alert topic (``alert_topic``) and one alarm per DLQ (``dlq_alarms``, by queue name)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        dlqs: Mapping[str, sqs.IQueue],
        alert_email: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.alert_key = self._build_alert_key()
        self.alert_topic = self._build_alert_topic()
        if alert_email:
            self._build_email_subscription(alert_email)
        self.dlq_alarms = {name: self._build_dlq_alarm(name, dlq) for name, dlq in dlqs.items()}

    def _build_alert_key(self) -> kms.Key:
        # CloudWatch alarms cannot publish to a topic encrypted with the AWS managed key alias/aws/sns: its
        # key policy cannot be changed to let cloudwatch.amazonaws.com use it. Hence a customer managed key.
        key = kms.Key(
            self,
            "AlertKey",
            description="Switchboard: encrypts the alert topic",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
            pending_window=Duration.days(7),
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
            )
        )
        return key

    def _build_alert_topic(self) -> sns.Topic:
        return sns.Topic(
            self,
            "AlertTopic",
            display_name="Switchboard alerts",
            master_key=self.alert_key,
            enforce_ssl=True,
        )

    def _build_email_subscription(self, email: str) -> None:
        self.alert_topic.add_subscription(subscriptions.EmailSubscription(email))

    def _build_dlq_alarm(self, name: str, dlq: sqs.IQueue) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            f"{pascal(name)}DlqAlarm",
            alarm_description=f"Switchboard: a message is in the {name} dead-letter queue",
            metric=dlq.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(1), statistic=cloudwatch.Stats.MAXIMUM
            ),
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(self.alert_topic))
        return alarm
