"""Classify: claim, open the task, rules first, then the small model; dispatch or hand over to decide.

Garbage collection is off from the first statement to the end of the first call (``switchboard.coldstart``),
so its imports come after that statement."""

from __future__ import annotations

import gc

gc.disable()  # until the first call ends: what the cold start builds is for good (switchboard.coldstart)

from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from switchboard.classify import ClassifyService
from switchboard.coldstart import collect_after_first_call
from switchboard.dlq import ORIGINAL_MESSAGE_ID
from switchboard.dynamo import DynamoAuthorDirectory
from switchboard.dynamo.memory import PROFILE_MAX_AGE_SECONDS
from switchboard.heartbeat import Heartbeat, finished_any
from switchboard.intents import Policy
from switchboard.llm import budgeted_llm
from switchboard.models import InboundEvent
from switchboard.policy import STANDING_MAX_AGE_SECONDS, PolicyGate
from switchboard.rules import default_chain
from switchboard.settings import agent_settings
from switchboard.sqs import SqsQueueSender
from switchboard.state import TaskStore

logger = Logger()
metrics = Metrics()
processor = SqsFifoPartialProcessor(skip_group_on_error=True)


@lru_cache(maxsize=1)
def service() -> ClassifyService:
    settings = agent_settings()
    # One profile read per event, and per burst of one author's events: the rules and the gate share it.
    authors = DynamoAuthorDirectory(
        settings.memory_table_name, profile_max_age_seconds=PROFILE_MAX_AGE_SECONDS
    )
    return ClassifyService(
        tasks=TaskStore(settings.tasks_table_name, settings.memory_table_name, settings.task_ttl_days),
        queue=SqsQueueSender(),
        act_queue_url=settings.act_queue_url,
        decide_queue_url=settings.decide_queue_url,
        chain=default_chain(authors),
        llm=budgeted_llm(settings, settings.memory_table_name),
        policy=Policy(confidence_threshold=settings.llm_confidence_threshold),
        gate=PolicyGate(settings.policy_config(), authors, standing_max_age_seconds=STANDING_MAX_AGE_SECONDS),
        resume_queue_url=settings.ingest_queue_url if settings.llm_batches else None,
    )


@lru_cache(maxsize=1)
def heartbeat() -> Heartbeat:
    return Heartbeat(agent_settings().memory_table_name)


def classify_record(record: SQSRecord) -> None:
    # A redriven message carries the id of the message that claimed the event, so it resumes that claim.
    original = record.message_attributes.get(ORIGINAL_MESSAGE_ID)
    owner = original.string_value if original and original.string_value else record.message_id
    redelivered = owner != record.message_id or int(record.attributes.approximate_receive_count) > 1
    service().process(InboundEvent.model_validate_json(record.body), owner, redelivered=redelivered)


@collect_after_first_call
@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    service().begin(context)
    response = process_partial_response(
        event=event, record_handler=classify_record, processor=processor, context=context
    )
    if finished_any(event, response):
        heartbeat().beat("classify")
    return response
