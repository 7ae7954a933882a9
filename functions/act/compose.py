"""The act function's composition root: one ``ActWorker`` per execution environment, from ``ActSettings``.

It wires the executor of the worker's service, Powertools idempotency (the in-progress expiry tied to the
Lambda context; an action's record on its task item, a follow-up attempt's in the memory table), the task
store, the circuit breaker, the kill switches, the retry policy,
the access escalation and, for act-tickets, the follow-ups. The handler imports it as a sibling module (the
code folder is on ``sys.path`` in Lambda and in the local runtime); the tests import ``functions.act.compose``
to build a worker the same way.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig
from aws_lambda_powertools.utilities.parameters import SSMProvider

from switchboard.act import AccessEscalation, ActService
from switchboard.actions.tickets import TicketsExecutor
from switchboard.actworker import ActWorker, CallWindow, idempotent_runner, make_executor
from switchboard.aws import client
from switchboard.breaker import BreakerConfig, CircuitBreaker
from switchboard.dynamo import DynamoAuthorDirectory, DynamoBreakerStore
from switchboard.dynamo.breaker import CLOSED_MAX_AGE_SECONDS
from switchboard.dynamo.idempotency import TaskActionRecords
from switchboard.followups import Followups
from switchboard.killswitch import KillSwitches
from switchboard.memory import DAY
from switchboard.models import Service
from switchboard.policy import PolicyGate
from switchboard.retry import RetryPolicy
from switchboard.settings import ActSettings
from switchboard.sqs import SqsDelayQueue, SqsQueueSender, SqsVisibility
from switchboard.state import TaskStore


def build_act_worker(
    settings: ActSettings,
    token: str,
    *,
    dynamodb: Any = None,
    sqs: Any = None,
    ssm: SSMProvider | None = None,
    policy: RetryPolicy | None = None,
) -> ActWorker:
    """The act worker of ``settings.service``; clients default to the lazily built real ones."""
    idempotency = IdempotencyConfig(expires_after_seconds=settings.idempotency_ttl_days * DAY)
    store = TaskStore(settings.tasks_table_name, settings.memory_table_name, dynamodb=dynamodb)
    # an action's record is its state on its task, made by its completion (switchboard.dynamo.idempotency)
    once = idempotent_runner(TaskActionRecords(store), idempotency)
    visibility = SqsVisibility(sqs)
    policy = policy or RetryPolicy(
        max_attempts=settings.max_receive_count,
        base_seconds=settings.retry_base_seconds,
        cap_seconds=settings.retry_cap_seconds,
        floor_seconds=settings.retry_floor_seconds,
        retry_after_cap_seconds=settings.retry_after_cap_seconds,
    )
    switches = KillSwitches(
        settings.shadow_mode_parameter,
        settings.disabled_abilities_parameter,
        settings.kill_switch_max_age_seconds,
        ssm,
    )
    breaker = CircuitBreaker(
        settings.service.value,
        # a closed breaker is read every few seconds, not once per call
        DynamoBreakerStore(
            settings.memory_table_name, dynamodb, closed_max_age_seconds=CLOSED_MAX_AGE_SECONDS
        ),
        BreakerConfig(
            failure_threshold=settings.breaker_failure_threshold,
            window_seconds=settings.breaker_window_seconds,
            cooldown_seconds=settings.breaker_cooldown_seconds,
            probe_lease_seconds=settings.breaker_probe_lease_seconds,
        ),
    )
    sender = SqsQueueSender(sqs)
    executor = make_executor(settings, token)
    followups: Followups | None = None
    if settings.service is Service.TICKETS:
        assert isinstance(executor, TicketsExecutor)
        assert settings.followups_queue_url is not None  # ActSettings checks it for act-tickets
        # a follow-up attempt has no completion of its own to carry its record: it stays in the memory table
        attempts = DynamoDBPersistenceLayer(
            table_name=settings.memory_table_name,
            key_attr="pk",
            sort_key_attr="sk",
            expiry_attr="expires_at",
            boto3_client=dynamodb if dynamodb is not None else client("dynamodb"),  # the shared session's
        )
        followups = Followups(
            store,
            executor,
            SqsDelayQueue(settings.followups_queue_url, sqs),
            sender,
            settings.reply_queue_url,
            delays=settings.followup_delays_seconds,
            url_template=settings.tickets_public_url_template,
            once=idempotent_runner(attempts, idempotency),
            switches=switches,
            policy=policy,
            visibility=visibility,
        )
    escalation = None
    if settings.service is not Service.ESCALATE and settings.act_escalate_queue_url:
        escalation = AccessEscalation(sender, settings.act_escalate_queue_url)
    # The longest an external call may take is the client's whole-answer deadline: twice its timeout.
    deadline = CallWindow(call_budget_seconds=settings.http_timeout_seconds * 2)
    actions = ActService(
        store,
        executor,
        once=once,
        policy=policy,
        visibility=visibility,
        breaker=breaker,
        switches=switches,
        escalation=escalation,
        stager=followups,
        deadline=deadline.check,
        # the same trust lookup as decide's gate (the act layer re-checks a close or an assignment)
        gate=PolicyGate(
            settings.policy_config(), DynamoAuthorDirectory(settings.memory_table_name, dynamodb)
        ),
    )
    return ActWorker(
        settings,
        actions,
        idempotency=idempotency,
        policy=policy,
        visibility=visibility,
        deadline=deadline,
        followups=followups,
    )
