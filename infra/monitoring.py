"""Alerting: an encrypted SNS topic, and an alarm on every dead-letter queue that has a message in it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.lambda_defaults import pascal
from switchboard import catalog
from switchboard.catalog import METRICS_NAMESPACE, Metric


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
                conditions=self._this_stacks_alarms(),
            )
        )
        return key

    def _build_alert_topic(self) -> sns.Topic:
        topic = sns.Topic(
            self,
            "AlertTopic",
            display_name="Switchboard alerts",
            master_key=self.alert_key,
            enforce_ssl=True,
        )
        # `enforce_ssl` writes a topic policy holding only its Deny-non-TLS statement, and a topic policy
        # REPLACES the default one (which let the account's principals publish): without this Allow,
        # cloudwatch.amazonaws.com may not publish and no alarm notifies anyone. AWS's recommended statement
        # ("Why didn't I receive an SNS notification for my CloudWatch alarm trigger?", AWS re:Post Knowledge
        # Center, https://repost.aws/knowledge-center/cloudwatch-receive-sns-for-alarm-trigger, and the
        # confused-deputy conditions of "Example cases for Amazon SNS access control", Amazon SNS Developer
        # Guide, https://docs.aws.amazon.com/sns/latest/dg/sns-access-policy-use-cases.html; read 2025).
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions=self._this_stacks_alarms(),
            )
        )
        return topic

    def _this_stacks_alarms(self) -> dict[str, Any]:
        """CloudWatch acts for the alarms of this account and region only (no confused deputy)."""
        stack = Stack.of(self)
        alarms = stack.format_arn(
            service="cloudwatch",
            resource="alarm",
            resource_name="*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        return {"StringEquals": {"aws:SourceAccount": stack.account}, "ArnLike": {"aws:SourceArn": alarms}}

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


# How old the oldest message of a main queue may get before someone should look (seconds).
QUEUE_AGE_LIMITS = {"ingest": 300, "decide": 600}
DEFAULT_QUEUE_AGE_LIMIT = 900
LLM_SPEND_ALARM_SHARE = 0.8
TIERS = ("small", "medium", "large")


class Watch(Construct):
    """The operational alarms and the one dashboard, built once the functions and queues exist.

    Alarms (all to the alert topic): the oldest message on each main queue, every function's errors and
    throttles, and the day's LLM spend near its budget. The dashboard shows the loop at a glance: intake,
    the share decided by rules vs the LLM, spend, action outcomes, DLQ depth and p99 durations.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        topic: sns.ITopic,
        functions: Mapping[str, lambda_.IFunction],
        queues: Mapping[str, sqs.IQueue],
        dlqs: Mapping[str, sqs.IQueue],
        llm_daily_usd_cap: float,
    ) -> None:
        super().__init__(scope, construct_id)
        self._action = cloudwatch_actions.SnsAction(topic)
        self.age_alarms = {name: self._build_age_alarm(name, queue) for name, queue in queues.items()}
        self.error_alarms = {name: self._build_error_alarm(name, fn) for name, fn in functions.items()}
        self.throttle_alarms = {name: self._build_throttle_alarm(name, fn) for name, fn in functions.items()}
        self.spend_alarm = self._build_spend_alarm(llm_daily_usd_cap)
        self.dashboard = self._build_dashboard(functions, dlqs)

    def _alarm(
        self, construct_id: str, description: str, metric: cloudwatch.IMetric, threshold: float
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            alarm_description=f"Switchboard: {description}",
            metric=metric,
            threshold=threshold,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(self._action)
        return alarm

    def _build_age_alarm(self, name: str, queue: sqs.IQueue) -> cloudwatch.Alarm:
        limit = QUEUE_AGE_LIMITS.get(name, DEFAULT_QUEUE_AGE_LIMIT)
        return self._alarm(
            f"{pascal(name)}AgeAlarm",
            f"the oldest message on {name} is older than {limit} s (the consumer is stuck or too slow)",
            queue.metric_approximate_age_of_oldest_message(
                period=Duration.minutes(5), statistic=cloudwatch.Stats.MAXIMUM
            ),
            limit,
        )

    def _build_error_alarm(self, name: str, fn: lambda_.IFunction) -> cloudwatch.Alarm:
        return self._alarm(
            f"{pascal(name)}ErrorsAlarm",
            f"{name} raised errors (see its logs; partial batch failures do not count)",
            fn.metric_errors(period=Duration.minutes(5), statistic=cloudwatch.Stats.SUM),
            0,
        )

    def _build_throttle_alarm(self, name: str, fn: lambda_.IFunction) -> cloudwatch.Alarm:
        return self._alarm(
            f"{pascal(name)}ThrottlesAlarm",
            f"{name} was throttled (concurrency limit reached)",
            fn.metric_throttles(period=Duration.minutes(5), statistic=cloudwatch.Stats.SUM),
            0,
        )

    @staticmethod
    def _spend(period: Duration) -> cloudwatch.MathExpression:
        """The LLM cost metric summed over the functions that call a model and every tier."""
        using = {
            f"{service.removeprefix('switchboard-')}_{tier}": cloudwatch.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name=Metric.LLM_COST_USD.value,
                dimensions_map={"service": service, "tier": tier},
                statistic=cloudwatch.Stats.SUM,
                period=period,
            )
            for tier in TIERS
            for service in ("switchboard-classify", "switchboard-decide")
        }
        return cloudwatch.MathExpression(
            expression="+".join(f"FILL({key}, 0)" for key in using),
            using_metrics=using,
            label="LLM spend (USD)",
            period=period,
        )

    def _build_spend_alarm(self, daily_cap: float) -> cloudwatch.Alarm:
        return self._alarm(
            "LlmSpendAlarm",
            f"LLM spend today passed {LLM_SPEND_ALARM_SHARE:.0%} of the daily budget (${daily_cap:g})",
            self._spend(Duration.days(1)),
            round(daily_cap * LLM_SPEND_ALARM_SHARE, 2),
        )

    def _build_dashboard(
        self, functions: Mapping[str, lambda_.IFunction], dlqs: Mapping[str, sqs.IQueue]
    ) -> cloudwatch.Dashboard:
        five = Duration.minutes(5)

        def app_metric(metric: Metric, dimensions: dict[str, str]) -> cloudwatch.Metric:
            # Powertools adds `service` (the function's service name) unless the code set it itself.
            return cloudwatch.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name=metric.value,
                dimensions_map=dimensions,
                statistic=cloudwatch.Stats.SUM,
                period=five,
                label=" ".join([metric.value, *(v for k, v in dimensions.items() if k != "service")]),
            )

        intake = [
            app_metric(metric, {"service": "switchboard-ingest", "platform": platform})
            for platform in catalog.webhook_platforms()
            for metric in catalog.INTAKE
        ] + [
            app_metric(Metric.EVENTS_ACCEPTED, {"service": "switchboard-poll", "platform": platform})
            for platform in catalog.POLLED_PLATFORMS
        ]
        routing = [
            app_metric(Metric.RULE_HITS, {"service": "switchboard-classify"}),
            app_metric(Metric.NEEDS_CLASSIFICATION, {"service": "switchboard-classify"}),
        ]
        actions = [
            app_metric(metric, {"service": service})  # the act workers set `service` to the external service
            for service in catalog.service_names()
            for metric in catalog.ACTION_OUTCOMES
        ]
        depth = [
            dlq.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(1), statistic=cloudwatch.Stats.MAXIMUM, label=name
            )
            for name, dlq in dlqs.items()
        ]
        p99 = [fn.metric_duration(period=five, statistic="p99", label=name) for name, fn in functions.items()]
        dashboard = cloudwatch.Dashboard(self, "Dashboard", default_interval=Duration.hours(6))
        dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Intake by platform", left=intake, width=12),
            cloudwatch.GraphWidget(title="Decided by rules vs sent to the LLM", left=routing, width=12),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(title="LLM spend (USD, 5 min)", left=[self._spend(five)], width=8),
            cloudwatch.GraphWidget(title="Action outcomes by service", left=actions, width=8),
            cloudwatch.GraphWidget(title="DLQ depth", left=depth, width=8),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(title="p99 duration by function (ms)", left=p99, width=24)
        )
        return dashboard
