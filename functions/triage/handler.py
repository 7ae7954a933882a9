"""Triage: the daily look at every DLQ. Categorizes, reports, and redrives what has cleared."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from switchboard.dlq import DeadLetterQueues
from switchboard.settings import triage_settings
from switchboard.state import TaskStore
from switchboard.triage import Triage

logger = Logger()
metrics = Metrics()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = triage_settings()
    # Triage redrives one category at a time, which only receive → send → delete can do (a message move
    # task moves a whole queue): it needs no move-task permission.
    dead_letters = DeadLetterQueues(settings.dlq_urls, settings.queue_urls, move_tasks=False)
    store = TaskStore(settings.tasks_table_name, settings.memory_table_name)
    return Triage(dead_letters, store, settings.alert_topic_arn).run()
