"""Decide: typed abilities as tools for the model. Until the agent-core issue lands, nothing is routed here;
a message that does arrive is refused, so it returns to the queue and reaches the DLQ (and its alarm) rather
than being dropped silently."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from switchboard.errors import SwitchboardError

logger = Logger()
tracer = Tracer()
processor = SqsFifoPartialProcessor(skip_group_on_error=True)


class DecideNotEnabled(SwitchboardError):
    pass


def decide_record(record: SQSRecord) -> None:
    logger.error("decide is not enabled yet; leaving the message for the DLQ", message_id=record.message_id)
    raise DecideNotEnabled(record.message_id)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=decide_record, processor=processor, context=context
    )
