"""Health and the OpenAPI document of the ingestion API."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from switchboard.openapi import openapi_document
from switchboard.settings import health_settings

logger = Logger()


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if event.get("rawPath") == "/openapi.json":
        body: dict[str, Any] = openapi_document()
    else:
        body = {"status": "ok", "version": health_settings().switchboard_version}
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}
