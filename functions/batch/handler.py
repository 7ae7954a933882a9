"""Batch: the scheduled submitter and collector of the Message Batches API (``switchboard.batches``)."""

from __future__ import annotations

from dataclasses import asdict
from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from switchboard.batches import BatchRunner
from switchboard.dynamo.batches import DynamoBatchStore
from switchboard.llm import budgeted_llm
from switchboard.settings import batch_settings
from switchboard.sqs import SqsQueueSender

logger = Logger()
metrics = Metrics()


@lru_cache(maxsize=1)
def runner() -> BatchRunner:
    settings = batch_settings()
    llm = budgeted_llm(settings, settings.memory_table_name)
    return BatchRunner(DynamoBatchStore(settings.memory_table_name), SqsQueueSender(), llm.sdk)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return asdict(runner().run())
