"""Every Lambda function, its environment, its queue trigger, and exactly the permissions it needs.

The platforms, services, queues and environment variable names are the catalog's (``switchboard.catalog``):
one ingest function per webhook platform, one act function per external service, wired as its entry says.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Final

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.lambda_defaults import FunctionSpec, LambdaFactory, pascal
from infra.queues import MAX_RECEIVE_COUNT, Queues
from infra.secrets import Secrets
from infra.state import State
from infra.switches import KillSwitches
from switchboard import catalog
from switchboard.catalog import Env, ServiceSpec, queue_url_env
from switchboard.policy import LabelPolicy
from switchboard.render import LinkPolicy

LLM_API_URL: Final = "https://api.anthropic.com"
DEFAULT_ESCALATION_CHANNEL: Final = "switchboard-escalations"
DEFAULT_LLM_DAILY_USD_CAP: Final = 25.0

# SQS trigger settings (FIFO: batch size at most 10, no batching window).
REASONING_BATCH_SIZE: Final = 10
ACT_BATCH_SIZE: Final = 5
MAX_CONCURRENCY: Final = 2

# The plan function: the services its read-only lookups read, and how long a plan (with a person's review)
# may last and its history is kept.
PLAN_LOOKUP_SERVICES: Final = ("github", "slack", "tickets")
PLAN_EXECUTION_DAYS: Final = 3
PLAN_RETENTION_DAYS: Final = 7


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
        service_api_urls: Mapping[str, str] | None = None,
        feeds: list[dict[str, str]] | None = None,
        escalation_channel: str = DEFAULT_ESCALATION_CHANNEL,
        llm_daily_usd_cap: float = DEFAULT_LLM_DAILY_USD_CAP,
        label_policy: str = "",
        link_allow_list: str = "",
    ) -> None:
        super().__init__(scope, construct_id)
        self._queues = queues
        self._state = state
        self._secrets = secrets
        self._switches = switches
        self.defaults = LambdaFactory(self, "Defaults")
        self._escalation_channel = escalation_channel
        self._llm_daily_usd_cap = llm_daily_usd_cap
        # The policy gate's label allow-list (CDK context ``labelPolicy``), checked here so that a bad one
        # fails the synth; classify, decide and every act worker read it (``switchboard.policy``).
        self._label_policy = json.dumps(
            {repo: list(labels) for repo, labels in LabelPolicy.parse(label_policy).lists.items()},
            sort_keys=True,
        )
        # Hosts whose links stay links in rendered text (CDK context ``linkAllowList``), checked here so
        # that a bad one fails the synth; the act workers that render text read it (``switchboard.render``).
        self._link_allow_list = json.dumps(list(LinkPolicy.parse_hosts(link_allow_list)))
        # Each service's API: the catalog's default unless the stack was given another (CDK context).
        self._service_api_urls = {
            spec.name: (service_api_urls or {}).get(spec.name, spec.api_url) for spec in catalog.services()
        }
        self.label_policy = self._label_policy  # the stack's output of it, for `switchboard tasks resolve`
        self.ingest = {platform: self._build_ingest(platform) for platform in catalog.webhook_platforms()}
        self.health = self._build_health(version)
        self.classify = self._build_classify()
        self.plan = self._build_plan()
        self.decide = self._build_decide()
        self.act = {spec.name: self._build_act(spec) for spec in catalog.services()}
        self.poll = self._build_poll(feeds or [])
        self.triage = self._build_triage(alert_topic)
        self.batch = self._build_batch()

    @property
    def all(self) -> dict[str, lambda_.Function]:
        """Every function by its Switchboard name (``ingest-github``, ``act-tickets``, ``classify`` …)."""
        return {
            **{f"ingest-{platform}": fn for platform, fn in self.ingest.items()},
            "health": self.health,
            "classify": self.classify,
            "decide": self.decide,
            "plan": self.plan,
            **{f"act-{service}": fn for service, fn in self.act.items()},
            "poll": self.poll,
            "triage": self.triage,
            "batch": self.batch,
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
                    Env.PLATFORM: platform,
                    queue_url_env(catalog.INGEST): self._queues.ingest.queue_url,
                    Env.MEMORY_TABLE_NAME: self._state.memory_table.table_name,
                    Env.TASKS_TABLE_NAME: self._state.tasks_table.table_name,
                    Env.WEBHOOK_SECRET_ID: secret.secret_arn,
                },
            ),
        )
        self._queues.ingest.grant_send_messages(fn)
        self._state.memory_table.grant_read_write_data(fn)
        self._grant_claim_read(fn)
        secret.grant_read(fn)
        return fn

    def _build_health(self, version: str) -> lambda_.Function:
        fn = self.defaults.build(
            self,
            FunctionSpec(
                construct_id="Health",
                code="health",
                role="health",
                description="Switchboard health (each stage's last work and waiting messages) and OpenAPI",
                environment={
                    Env.SWITCHBOARD_VERSION: version,
                    Env.MEMORY_TABLE_NAME: self._state.memory_table.table_name,
                    Env.QUEUE_URLS: Stack.of(self).to_json_string(
                        {name: queue.queue_url for name, queue in self._queues.queues.items()}
                    ),
                },
            ),
        )
        # least privilege: the queues' depths and the stages' markers (switchboard.heartbeat), nothing else
        for queue in self._queues.queues.values():
            queue.grant(fn, "sqs:GetQueueAttributes")
        self._state.memory_table.grant(fn, "dynamodb:BatchGetItem")
        return fn

    def _build_classify(self) -> lambda_.Function:
        fn = self._build_reasoning(
            "classify",
            "claim, open task, rules chain, else the small model",
            # a feed item's classification waits for a Message Batch and resumes through its own queue
            {queue_url_env(catalog.INGEST): self._queues.ingest.queue_url},
        )
        self._consume(fn, self._queues.ingest, REASONING_BATCH_SIZE)
        self._queues.ingest.grant_send_messages(fn)  # the batch function resumes it there; classify defers
        self._queues.decide.grant_send_messages(fn)
        self._grant_send_to_act_queues(fn)
        return fn

    def _build_decide(self) -> lambda_.Function:
        fn = self._build_reasoning("decide", "typed abilities as tools, escalation, budget, policy")
        self._consume(fn, self._queues.decide, REASONING_BATCH_SIZE)
        self._queues.decide.grant_send_messages(fn)  # a decision that waited for a Message Batch resumes here
        self._grant_send_to_act_queues(fn)
        # Multi-step requests start a plan: an asynchronous Invoke of the plan function's alias (a durable
        # function is invoked qualified, and a replay then runs the version it started on), nothing else.
        fn.add_environment(Env.PLAN_FUNCTION_NAME, self.plan_alias.function_arn)
        self.plan_alias.grant_invoke(fn)
        return fn

    def _build_plan(self) -> lambda_.Function:
        """The plan function: a durable function (``DurableConfig``). CDK attaches the AWS managed
        ``AWSLambdaBasicDurableExecutionRolePolicy`` (lambda:CheckpointDurableExecution and
        lambda:GetDurableExecutionState, "Security and permissions for Lambda durable functions",
        https://docs.aws.amazon.com/lambda/latest/dg/durable-security.html). Its lookups read GitHub,
        Slack and the tickets API with the act workers' tokens; its actions go to the act queues."""
        stack = Stack.of(self)
        looked_up = [spec for spec in catalog.services() if spec.name in PLAN_LOOKUP_SERVICES]
        tokens = {spec.name: self._secrets.token(spec.token_secret) for spec in looked_up}
        lookup_tokens = stack.to_json_string({name: token.secret_arn for name, token in tokens.items()})
        lookup_urls: dict[str, str] = {
            Env.GITHUB_API_URL: self._service_api_urls["github"],
            Env.SLACK_API_URL: self._service_api_urls["slack"],
            Env.TICKETS_API_URL: self._service_api_urls["tickets"],
        }
        fn = self.defaults.build(
            self,
            FunctionSpec(
                construct_id="Plan",
                code="plan",
                role="plan",
                description="Switchboard plan: planner, durable steps, evaluator, replans, budgets",
                environment={
                    **self._table_environment(),
                    **self._act_queue_environment(),
                    Env.LLM_API_URL: LLM_API_URL,
                    Env.LLM_SECRET_ID: self._secrets.llm.secret_arn,
                    Env.LLM_DAILY_USD_CAP: f"{self._llm_daily_usd_cap:g}",
                    Env.LABEL_POLICY: self._label_policy,
                    Env.LOOKUP_TOKEN_SECRETS: lookup_tokens,
                    **lookup_urls,
                },
                aws_sdk=True,  # the durable execution SDK's boto3, not the runtime's
                durable=lambda_.DurableConfig(
                    execution_timeout=Duration.days(PLAN_EXECUTION_DAYS),
                    retention_period=Duration.days(PLAN_RETENTION_DAYS),
                ),
            ),
        )
        # The durable execution's own API on this function's executions only (the page's minimum policy,
        # scoped to <plan arn>:*); a policy of its own, so the function does not depend on it (no cycle).
        if fn.role is not None:
            iam.Policy(
                self,
                "PlanDurableExecution",
                roles=[fn.role],
                statements=[
                    iam.PolicyStatement(
                        actions=["lambda:CheckpointDurableExecution", "lambda:GetDurableExecutionState"],
                        resources=[f"{fn.function_arn}:*"],
                    )
                ],
            )
        self._grant_tables(fn)
        self._secrets.llm.grant_read(fn)
        for token in tokens.values():
            token.grant_read(fn)
        self._grant_send_to_act_queues(fn)
        self.plan_alias = lambda_.Alias(self, "PlanLive", alias_name="live", version=fn.current_version)
        return fn

    def _build_reasoning(
        self, role: str, summary: str, extra: dict[str, str] | None = None
    ) -> lambda_.Function:
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
                    queue_url_env(catalog.DECIDE): self._queues.decide.queue_url,
                    **self._act_queue_environment(),
                    Env.LLM_API_URL: LLM_API_URL,
                    Env.LLM_SECRET_ID: self._secrets.llm.secret_arn,
                    Env.LLM_DAILY_USD_CAP: f"{self._llm_daily_usd_cap:g}",
                    Env.LABEL_POLICY: self._label_policy,
                    Env.LLM_BATCHES: "true",
                    **(extra or {}),
                },
            ),
        )
        self._grant_tables(fn)
        self._secrets.llm.grant_read(fn)
        return fn

    def _build_act(self, spec: ServiceSpec) -> lambda_.Function:
        service = spec.name
        queue = self._queues.act(service)
        token = self._secrets.token(spec.token_secret)
        fn = self.defaults.build(
            self,
            FunctionSpec(
                construct_id=f"Act{pascal(service)}",
                code="act",
                role="act",
                description=f"Switchboard act for {service}: idempotent execution of typed actions",
                environment={
                    Env.SERVICE: service,
                    **self._table_environment(),
                    Env.ACT_QUEUE_URL: queue.queue_url,
                    Env.MAX_RECEIVE_COUNT: str(MAX_RECEIVE_COUNT),
                    Env.SERVICE_API_URL: self._service_api_urls[service],
                    Env.SERVICE_TOKEN_SECRET_ID: token.secret_arn,
                    Env.SHADOW_MODE_PARAMETER: self._switches.shadow_mode.parameter_name,
                    Env.DISABLED_ABILITIES_PARAMETER: self._switches.disabled_abilities.parameter_name,
                    Env.LABEL_POLICY: self._label_policy,
                    **{
                        queue_url_env(name): self._queues.queues[name].queue_url
                        for name in catalog.sends_to(spec)
                    },
                    **({Env.ESCALATION_CHANNEL: self._escalation_channel} if spec.escalation else {}),
                    **(
                        {
                            Env.LINK_ALLOW_LIST: self._link_allow_list,
                            Env.TICKETS_API_URL: self._service_api_urls["tickets"],
                        }
                        if spec.platform or spec.escalation
                        else {}
                    ),
                },
            ),
        )
        self._consume(fn, queue, ACT_BATCH_SIZE)
        self._grant_tables(fn)
        token.grant_read(fn)
        for parameter in self._switches.parameters.values():
            parameter.grant_read(fn)
        # Where it sends (catalog.sends_to): replies to the act queues, escalations, and the staged
        # follow-ups, which it also consumes.
        for name in catalog.sends_to(spec):
            if name == catalog.FOLLOWUPS:
                self._consume(fn, self._queues.followups, ACT_BATCH_SIZE)
            self._queues.queues[name].grant_send_messages(fn)
        return fn

    def _build_poll(self, feeds: list[dict[str, str]]) -> lambda_.Function:
        fn = self.defaults.build(
            self,
            FunctionSpec(
                construct_id="Poll",
                code="poll",
                role="poll",
                description="Switchboard poll: read feeds from their cursors, filter processed ids, enqueue",
                environment={
                    queue_url_env(catalog.INGEST): self._queues.ingest.queue_url,
                    Env.MEMORY_TABLE_NAME: self._state.memory_table.table_name,
                    Env.TASKS_TABLE_NAME: self._state.tasks_table.table_name,
                    Env.FEEDS: json.dumps(feeds, sort_keys=True),
                },
            ),
        )
        self._queues.ingest.grant_send_messages(fn)
        self._state.memory_table.grant_read_write_data(fn)
        self._grant_claim_read(fn)
        return fn

    def _build_batch(self) -> lambda_.Function:
        """The Message Batches submitter and collector (``switchboard.batches``), on a schedule: the batch
        state in the memory table, the LLM key, and the two queues a waiting task resumes through."""
        fn = self.defaults.build(
            self,
            FunctionSpec(
                construct_id="Batch",
                code="batch",
                role="batch",
                description="Switchboard batch: send waiting model requests as one batch, collect the ended",
                environment={
                    Env.MEMORY_TABLE_NAME: self._state.memory_table.table_name,
                    Env.LLM_API_URL: LLM_API_URL,
                    Env.LLM_SECRET_ID: self._secrets.llm.secret_arn,
                },
            ),
        )
        self._state.memory_table.grant_read_write_data(fn)
        self._secrets.llm.grant_read(fn)
        self._queues.ingest.grant_send_messages(fn)
        self._queues.decide.grant_send_messages(fn)
        return fn

    def _build_triage(self, alert_topic: sns.ITopic) -> lambda_.Function:
        stack = Stack.of(self)
        escalation = catalog.escalation_service()
        fn = self.defaults.build(
            self,
            FunctionSpec(
                construct_id="Triage",
                code="triage",
                role="triage",
                description="Switchboard triage: daily report of dead letters, redrive; the plan watch",
                environment={
                    **self._table_environment(),
                    Env.ALERT_TOPIC_ARN: alert_topic.topic_arn,
                    Env.DLQ_URLS: stack.to_json_string(
                        {name: dlq.queue_url for name, dlq in self._queues.dlqs.items()}
                    ),
                    Env.QUEUE_URLS: stack.to_json_string(
                        {name: queue.queue_url for name, queue in self._queues.queues.items()}
                    ),
                    # the plan watch pages a person through the escalation queue, past the policy gate
                    queue_url_env(escalation.act_queue): self._queues.act_queues[escalation.name].queue_url,
                    Env.LABEL_POLICY: self._label_policy,
                    # the plan watch lists the executions of the alias decide invokes, by name
                    Env.PLAN_FUNCTION_NAME: self.plan_alias.function_arn,
                },
            ),
        )
        for name, dlq in self._queues.dlqs.items():
            # The category redrive: receive -> send -> delete, in group order (no message move task: that
            # moves a whole queue, and is left to an operator's `switchboard dlq redrive QUEUE`).
            dlq.grant_consume_messages(fn)
            self._queues.queues[name].grant_send_messages(fn)
        # task histories (read); the plan watch's move of a stuck plan's task to NEEDS_HUMAN (an update only)
        self._state.tasks_table.grant_read_data(fn)
        self._state.tasks_table.grant(fn, "dynamodb:UpdateItem")
        # breaker states and author profiles (read) and the daily triage report (write)
        self._state.memory_table.grant_read_write_data(fn)
        alert_topic.grant_publish(fn)
        self._queues.act_queues[escalation.name].grant_send_messages(fn)
        # The plan watch asks Lambda how each idle plan's execution ended: GetDurableExecution on the plan
        # function's executions only (sub-resources of its versions, "Security and permissions for Lambda
        # durable functions", https://docs.aws.amazon.com/lambda/latest/dg/durable-security.html), and, for a
        # start that noted no ARN, ListDurableExecutionsByFunction on the plan function itself.
        fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["lambda:GetDurableExecution"], resources=[f"{self.plan.function_arn}:*"]
            )
        )
        fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["lambda:ListDurableExecutionsByFunction"],
                resources=[
                    self.plan.function_arn,
                    f"{self.plan.function_arn}:*",
                ],  # with or without qualifier
            )
        )
        return fn

    # -- shared pieces ---------------------------------------------------------------------------------------

    def _table_environment(self) -> dict[str, str]:
        return {
            Env.TASKS_TABLE_NAME: self._state.tasks_table.table_name,
            Env.MEMORY_TABLE_NAME: self._state.memory_table.table_name,
        }

    def _act_queue_environment(self) -> dict[str, str]:
        return {
            queue_url_env(catalog.act_queue_name(service)): queue.queue_url
            for service, queue in self._queues.act_queues.items()
        }

    def _grant_claim_read(self, fn: lambda_.Function) -> None:
        """The door's one read of the tasks table: whether the classifier claimed an event (its task exists,
        ``DynamoSeenLog.claimed``), for a mark too old for the queue's deduplication: the table only, none
        of its indexes (``Table.grant`` would add those)."""
        fn.add_to_role_policy(
            iam.PolicyStatement(actions=["dynamodb:GetItem"], resources=[self._state.tasks_table.table_arn])
        )

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
