"""Poll: scheduled pull of feeds for platforms without webhooks. No feed is configured until the ingestion
issue adds the feed readers; the run reports that plainly."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.info("poll ran", feeds=0)
    return {"feeds": 0, "enqueued": 0}
