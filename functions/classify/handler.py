"""Classify: claim, open the task, rules first; dispatch direct actions to the per-service queues."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from switchboard.classify import ClassifyService
from switchboard.models import InboundEvent
from switchboard.queues import SqsQueueSender
from switchboard.rules import default_chain
from switchboard.settings import classify_settings
from switchboard.state import TaskStore

logger = Logger()
tracer = Tracer()
metrics = Metrics()
processor = SqsFifoPartialProcessor(skip_group_on_error=True)


@lru_cache(maxsize=1)
def service() -> ClassifyService:
    settings = classify_settings()
    return ClassifyService(
        store=TaskStore(settings.tasks_table_name, settings.memory_table_name, settings.task_ttl_days),
        queue=SqsQueueSender(),
        act_queue_url=settings.act_queue_url,
        chain=default_chain(),
        claim_ttl_days=settings.processed_ttl_days,
    )


@tracer.capture_method
def classify_record(record: SQSRecord) -> None:
    service().process(InboundEvent.model_validate_json(record.body), record.message_id)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=classify_record, processor=processor, context=context
    )
