"""Plan: a durable function (Lambda durable execution) that plans, runs and evaluates multi-step work.

Started by decide asynchronously (Invoke, InvocationType=Event) with the task id as the durable execution
name, so a redelivered decide message never starts a second execution. Each step is a checkpoint
(``switchboard.plans.runner.DurableRunner``); the engine is ``switchboard.plans.engine``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from aws_durable_execution_sdk_python.context import DurableContext
from aws_durable_execution_sdk_python.execution import durable_execution
from aws_lambda_powertools import Logger

from switchboard.aws import secrets
from switchboard.dynamo import DynamoAuthorDirectory
from switchboard.lifecycle import Lifecycle
from switchboard.llm import budgeted_llm
from switchboard.lookups.http import HttpLookups
from switchboard.plans.budget import budgeted_for_plan
from switchboard.plans.engine import PlanEngine, PlanRequest
from switchboard.plans.runner import DurableRunner
from switchboard.plans.validate import Limits, Validator
from switchboard.policy import PolicyGate
from switchboard.settings import plan_settings
from switchboard.sqs import SqsQueueSender
from switchboard.state import TaskStore

logger = Logger()


@lru_cache(maxsize=1)
def engine() -> PlanEngine:
    settings = plan_settings()
    gate = PolicyGate(settings.policy_config(), DynamoAuthorDirectory(settings.memory_table_name))
    tasks = TaskStore(settings.tasks_table_name, settings.memory_table_name, settings.task_ttl_days)
    limits = Limits()
    tokens = settings.token_secrets()

    def token(service: str) -> str:
        return secrets().text(tokens[service], max_age=300)

    return PlanEngine(
        Lifecycle(tasks, SqsQueueSender(), settings.act_queue_url, gate=gate),
        budgeted_for_plan(budgeted_llm(settings, settings.memory_table_name), limits),
        HttpLookups(settings.lookup_urls(), token),
        Validator(gate, limits),
    )


@durable_execution
def handler(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    request = PlanRequest.model_validate(event)
    logger.set_correlation_id(request.event.event_id)
    return engine().run(request, DurableRunner(context))
