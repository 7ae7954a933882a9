"""Health and the OpenAPI document of the ingestion API.

``GET /health`` reports each stage's last finished work and waiting messages (``switchboard.heartbeat``),
and answers 503 when a stage has work waiting and has finished nothing for longer than its threshold."""

from __future__ import annotations

import json
import time
from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from switchboard.heartbeat import Heartbeat, assess, stages
from switchboard.openapi import openapi_document
from switchboard.settings import health_settings
from switchboard.sqs import SqsDepths

logger = Logger()


@lru_cache(maxsize=1)
def readers() -> tuple[Heartbeat, SqsDepths]:
    return Heartbeat(health_settings().memory_table_name), SqsDepths()


def health() -> tuple[int, dict[str, Any]]:
    settings = health_settings()
    heartbeat, depths = readers()
    beats = heartbeat.read([stage.name for stage in stages()])
    waiting = depths.waiting(settings.queue_urls)
    report = assess(beats, waiting, time.time(), settings.health_stale_seconds)
    stuck = [stage.stage for stage in report if stage.stuck]
    body = {
        "status": "stuck" if stuck else "ok",
        "version": settings.switchboard_version,
        "stuck": stuck,
        "stages": [stage.to_json() for stage in report],
    }
    return (503 if stuck else 200), body


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if event.get("rawPath") == "/openapi.json":
        status, body = 200, openapi_document()
    else:
        status, body = health()
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}
