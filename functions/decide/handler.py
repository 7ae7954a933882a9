"""Decide: typed abilities as tools for the model; validated, bound to the event, dispatched or escalated."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from switchboard.decide import DecideService
from switchboard.dynamo import DynamoAuthorDirectory
from switchboard.dynamo.memory import PROFILE_MAX_AGE_SECONDS
from switchboard.heartbeat import Heartbeat, finished_any
from switchboard.llm import budgeted_llm
from switchboard.models import DecideRequest
from switchboard.policy import STANDING_MAX_AGE_SECONDS, PolicyGate
from switchboard.settings import agent_settings
from switchboard.sqs import SqsQueueSender
from switchboard.state import TaskStore

logger = Logger()
metrics = Metrics()
processor = SqsFifoPartialProcessor(skip_group_on_error=True)


@lru_cache(maxsize=1)
def service() -> DecideService:
    settings = agent_settings()
    tasks = TaskStore(settings.tasks_table_name, settings.memory_table_name, settings.task_ttl_days)
    plans = None
    if settings.plan_function_name:  # multi-step requests start a plan (switchboard.plans.start)
        from switchboard.lifecycle import Lifecycle
        from switchboard.plans.start import LambdaPlanInvoker, PlanStarter

        plans = PlanStarter(Lifecycle(tasks), LambdaPlanInvoker(), settings.plan_function_name)
    return DecideService(
        tasks=tasks,
        queue=SqsQueueSender(),
        act_queue_url=settings.act_queue_url,
        llm=budgeted_llm(settings, settings.memory_table_name),
        gate=PolicyGate(
            settings.policy_config(),
            DynamoAuthorDirectory(
                settings.memory_table_name, profile_max_age_seconds=PROFILE_MAX_AGE_SECONDS
            ),
            standing_max_age_seconds=STANDING_MAX_AGE_SECONDS,
        ),
        plans=plans,
        resume_queue_url=settings.decide_queue_url if settings.llm_batches else None,
    )


@lru_cache(maxsize=1)
def heartbeat() -> Heartbeat:
    return Heartbeat(agent_settings().memory_table_name)


def decide_record(record: SQSRecord) -> None:
    first_receive = record.attributes.approximate_receive_count == "1"
    service().process(DecideRequest.model_validate_json(record.body), first_receive=first_receive)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    service().begin(context)
    response = process_partial_response(
        event=event, record_handler=decide_record, processor=processor, context=context
    )
    if finished_any(event, response):
        heartbeat().beat("decide")
    return response
