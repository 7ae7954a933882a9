"""Every Lambda function, its environment, its queue trigger, and exactly the permissions it needs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Final

from aws_cdk import Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.lambda_defaults import FunctionSpec, LambdaFactory, pascal
from infra.queues import MAX_RECEIVE_COUNT, SERVICES, Queues
from infra.secrets import PLATFORMS, Secrets
from infra.state import State
from infra.switches import KillSwitches

LLM_API_URL: Final = "https://api.anthropic.com"
DEFAULT_TICKETS_API_URL: Final = "https://tickets.example.invalid/api"
SLACK_API_URL: Final = "https://slack.com/api"
GITHUB_API_URL: Final = "https://api.github.com"
DEFAULT_ESCALATION_CHANNEL: Final = "switchboard-escalations"
DEFAULT_LLM_DAILY_USD_CAP: Final = 25.0

# The token secret each act service reads: escalation pages people on Slack.
TOKEN_OF_SERVICE: Final[Mapping[str, str]] = {
    "github": "github",
    "slack": "slack",
    "tickets": "tickets",
    "escalate": "slack",
}
# Services that may reply on a platform, so they may send to the other act queues.
REPLYING_SERVICES: Final = frozenset({"tickets", "escalate"})
# Services whose workers page a person (through act-escalate) when a service refuses their credentials.
ESCALATING_SERVICES: Final = frozenset(SERVICES) - {"escalate"}
# Services that stage follow-ups on the follow-ups queue, and consume it.
STAGING_SERVICES: Final = frozenset({"tickets"})

MESSAGE_MOVE_ACTIONS: Final = (
    "sqs:StartMessageMoveTask",
    "sqs:ListMessageMoveTasks",
    "sqs:CancelMessageMoveTask",
)

# SQS trigger settings (FIFO: batch size at most 10, no batching window).
REASONING_BATCH_SIZE: Final = 10
ACT_BATCH_SIZE: Final = 5
MAX_CONCURRENCY: Final = 2


def _env_name(queue_name: str) -> str:
    """``act-github`` -> ``ACT_GITHUB_QUEUE_URL``."""
    return f"{queue_name.replace('-', '_').upper()}_QUEUE_URL"


class Functions(Construct):
    """The functions, as public attributes: ``ingest[platform]``, ``act[service]``, ``classify`` …"""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        queues: Queues,
        state: State,
        secrets: Secrets,
        switches: KillSwitches,
        alert_topic: sns.ITopic,
        version: str,
        tickets_api_url: str = DEFAULT_TICKETS_API_URL,
        feeds: list[dict[str, str]] | None = None,
        escalation_channel: str = DEFAULT_ESCALATION_CHANNEL,
        llm_daily_usd_cap: float = DEFAULT_LLM_DAILY_USD_CAP,
    ) -> None:
        super().__init__(scope, construct_id)
        self._queues = queues
        self._state = state
        self._secrets = secrets
        self._switches = switches
        self.defaults = LambdaFactory(self, "Defaults")
        self._escalation_channel = escalation_channel
        self._llm_daily_usd_cap = llm_daily_usd_cap
        self._service_api_urls = {
            "github": GITHUB_API_URL,
            "slack": SLACK_API_URL,
            "tickets": tickets_api_url,
            "escalate": SLACK_API_URL,
        }
        self.ingest = {platform: self._build_ingest(platform) for platform in PLATFORMS}
        self.health = self._build_health(version)
        self.classify = self._build_classify()
        self.decide = self._build_decide()
        self.act = {service: self._build_act(service) for service in SERVICES}
        self.poll = self._build_poll(feeds or [])
        self.triage = self._build_triage(alert_topic)

    @property
    def all(self) -> dict[str, lambda_.Function]:
        """Every function by its Switchboard name (``ingest-github``, ``act-tickets``, ``classify`` …)."""
        return {
            **{f"ingest-{platform}": fn for platform, fn in self.ingest.items()},
            "health": self.health,
            "classify": self.classify,
            "decide": self.decide,
            **{f"act-{service}": fn for service, fn in self.act.items()},
            "poll": self.poll,
            "triage": self.triage,
        }

    # -- builders --------------------------------------------------------------------------------------------

    def _build_ingest(self, platform: str) -> lambda_.Function:
        secret = self._secrets.webhook(platform)
        fn = self.defaults.build(
            self,
            FunctionSpec(
                construct_id=f"Ingest{pascal(platform)}",
                code="ingest",
                role="ingest",
                description=f"Switchboard ingest for {platform}: verify, validate, sanitize, enqueue",
                environment={
                    "PLATFORM": platform,
                    "INGEST_QUEUE_URL": self._queues.ingest.queue_url,
                    "MEMORY_TABLE_NAME": self._state.memory_table.table_name,
                    "WEBHOOK_SECRET_ID": secret.secret_arn,
                },
            ),
        )
        self._queues.ingest.grant_send_messages(fn)
        self._state.memory_table.grant_read_write_data(fn)
        secret.grant_read(fn)
        return fn

    def _build_health(self, version: str) -> lambda_.Function:
        return self.defaults.build(
            self,
            FunctionSpec(
                construct_id="Health",
                code="health",
                role="health",
                description="Switchboard health and OpenAPI document",
                environment={"SWITCHBOARD_VERSION": version},
            ),
        )

    def _build_classify(self) -> lambda_.Function:
        fn = self._build_reasoning("classify", "claim, open task, rules chain, else the small model")
        self._consume(fn, self._queues.ingest, REASONING_BATCH_SIZE)
        self._queues.decide.grant_send_messages(fn)
        self._grant_send_to_act_queues(fn)
        return fn

    def _build_decide(self) -> lambda_.Function:
        fn = self._build_reasoning("decide", "typed abilities as tools, escalation, budget, policy")
        self._consume(fn, self._queues.decide, REASONING_BATCH_SIZE)
        self._grant_send_to_act_queues(fn)
        return fn

    def _build_reasoning(self, role: str, summary: str) -> lambda_.Function:
        """classify and decide: same environment, both read the LLM key and both tables."""
        fn = self.defaults.build(
            self,
            FunctionSpec(
                construct_id=pascal(role),
                code=role,
                role=role,
                description=f"Switchboard {role}: {summary}",
                environment={
                    **self._table_environment(),
                    "DECIDE_QUEUE_URL": self._queues.decide.queue_url,
                    **self._act_queue_environment(),
                    "LLM_API_URL": LLM_API_URL,
                    "LLM_SECRET_ID": self._secrets.llm.secret_arn,
                    "LLM_DAILY_USD_CAP": f"{self._llm_daily_usd_cap:g}",
                },
            ),
        )
        self._grant_tables(fn)
        self._secrets.llm.grant_read(fn)
        return fn

    def _build_act(self, service: str) -> lambda_.Function:
        queue = self._queues.act(service)
        token = self._secrets.token(TOKEN_OF_SERVICE[service])
        fn = self.defaults.build(
            self,
            FunctionSpec(
                construct_id=f"Act{pascal(service)}",
                code="act",
                role="act",
                description=f"Switchboard act for {service}: idempotent execution of typed actions",
                environment={
                    "SERVICE": service,
                    **self._table_environment(),
                    "ACT_QUEUE_URL": queue.queue_url,
                    "MAX_RECEIVE_COUNT": str(MAX_RECEIVE_COUNT),
                    "SERVICE_API_URL": self._service_api_urls[service],
                    "SERVICE_TOKEN_SECRET_ID": token.secret_arn,
                    "SHADOW_MODE_PARAMETER": self._switches.shadow_mode.parameter_name,
                    "DISABLED_ABILITIES_PARAMETER": self._switches.disabled_abilities.parameter_name,
                    **self._act_sends_environment(service),
                    **({"ESCALATION_CHANNEL": self._escalation_channel} if service == "escalate" else {}),
                },
            ),
        )
        self._consume(fn, queue, ACT_BATCH_SIZE)
        self._grant_tables(fn)
        token.grant_read(fn)
        for parameter in self._switches.parameters.values():
            parameter.grant_read(fn)
        if service in REPLYING_SERVICES:
            self._grant_send_to_act_queues(fn)
        elif service in ESCALATING_SERVICES:
            self._queues.act("escalate").grant_send_messages(fn)
        if service in STAGING_SERVICES:
            self._consume(fn, self._queues.followups, ACT_BATCH_SIZE)
            self._queues.followups.grant_send_messages(fn)
        return fn

    def _act_sends_environment(self, service: str) -> dict[str, str]:
        """The queues an act worker sends to: replies (all act queues), escalations, follow-ups."""
        environment = {}
        if service in REPLYING_SERVICES:
            environment.update(self._act_queue_environment())
        elif service in ESCALATING_SERVICES:
            environment[_env_name("act-escalate")] = self._queues.act("escalate").queue_url
        if service in STAGING_SERVICES:
            environment["FOLLOWUPS_QUEUE_URL"] = self._queues.followups.queue_url
        return environment

    def _build_poll(self, feeds: list[dict[str, str]]) -> lambda_.Function:
        fn = self.defaults.build(
            self,
            FunctionSpec(
                construct_id="Poll",
                code="poll",
                role="poll",
                description="Switchboard poll: read feeds from their cursors, filter processed ids, enqueue",
                environment={
                    "INGEST_QUEUE_URL": self._queues.ingest.queue_url,
                    "MEMORY_TABLE_NAME": self._state.memory_table.table_name,
                    "FEEDS": json.dumps(feeds, sort_keys=True),
                },
            ),
        )
        self._queues.ingest.grant_send_messages(fn)
        self._state.memory_table.grant_read_write_data(fn)
        return fn

    def _build_triage(self, alert_topic: sns.ITopic) -> lambda_.Function:
        stack = Stack.of(self)
        fn = self.defaults.build(
            self,
            FunctionSpec(
                construct_id="Triage",
                code="triage",
                role="triage",
                description="Switchboard triage: daily report of dead letters, redrive on request",
                environment={
                    **self._table_environment(),
                    "ALERT_TOPIC_ARN": alert_topic.topic_arn,
                    "DLQ_URLS": stack.to_json_string(
                        {name: dlq.queue_url for name, dlq in self._queues.dlqs.items()}
                    ),
                    "QUEUE_URLS": stack.to_json_string(
                        {name: queue.queue_url for name, queue in self._queues.queues.items()}
                    ),
                },
            ),
        )
        for name, dlq in self._queues.dlqs.items():
            # Redrive either natively (a message move task, on AWS) or by receive -> send -> delete (moto).
            dlq.grant_consume_messages(fn)
            dlq.grant(fn, *MESSAGE_MOVE_ACTIONS)
            self._queues.queues[name].grant_send_messages(fn)
        self._state.tasks_table.grant_read_data(fn)
        # breaker states (read) and the daily triage report (write)
        self._state.memory_table.grant_read_write_data(fn)
        alert_topic.grant_publish(fn)
        return fn

    # -- shared pieces ---------------------------------------------------------------------------------------

    def _table_environment(self) -> dict[str, str]:
        return {
            "TASKS_TABLE_NAME": self._state.tasks_table.table_name,
            "MEMORY_TABLE_NAME": self._state.memory_table.table_name,
        }

    def _act_queue_environment(self) -> dict[str, str]:
        return {
            _env_name(f"act-{service}"): queue.queue_url for service, queue in self._queues.act_queues.items()
        }

    def _grant_tables(self, fn: lambda_.Function) -> None:
        self._state.tasks_table.grant_read_write_data(fn)
        self._state.memory_table.grant_read_write_data(fn)

    def _grant_send_to_act_queues(self, fn: lambda_.Function) -> None:
        for queue in self._queues.act_queues.values():
            queue.grant_send_messages(fn)

    @staticmethod
    def _consume(fn: lambda_.Function, queue: sqs.IQueue, batch_size: int) -> None:
        """SQS trigger: partial batch failures, bounded concurrency (grants receive/delete/visibility).

        No batching window: FIFO triggers take none, and the follow-ups trigger wants no added latency.
        """
        fn.add_event_source(
            event_sources.SqsEventSource(
                queue,
                batch_size=batch_size,
                report_batch_item_failures=True,
                max_concurrency=MAX_CONCURRENCY,
            )
        )
