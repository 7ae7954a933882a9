"""Triage: the daily look at every DLQ. For now it counts what waits in each DLQ and alerts when any is
non-empty; categorizing and redrive come with the operations issue."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from switchboard.settings import triage_settings
from switchboard.triage import DlqCensus

logger = Logger()


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = triage_settings()
    census = DlqCensus(settings.dlq_urls, settings.alert_topic_arn)
    return census.run()
