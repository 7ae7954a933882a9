"""Ingest: one function per platform, all from this code asset. Verify, validate, enqueue, answer.

The cold-start path of every webhook, so it imports only what a request needs: no tracer (Lambda's active
tracing records the invocation; see docs/snapstart.md) and no event data class (the three fields it reads are
plain keys of the HTTP API's payload format 2.0). Garbage collection is off from its first statement to the
end of its first call (``switchboard.coldstart``), so its imports come after that statement.
"""

from __future__ import annotations

import gc

gc.disable()  # until the first call ends: what the cold start builds is for good (switchboard.coldstart)

from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from switchboard.adapters import adapter_for
from switchboard.aws import secrets
from switchboard.coldstart import collect_after_first_call
from switchboard.dynamo import DynamoSeenLog
from switchboard.heartbeat import Heartbeat
from switchboard.ingest import Enqueuer, IngestService, split_secrets
from switchboard.settings import ingest_settings
from switchboard.sqs import SqsQueueSender

logger = Logger()
metrics = Metrics()


def _secrets() -> list[str]:
    settings = ingest_settings()
    value = secrets().text(settings.webhook_secret_id, max_age=settings.secret_max_age_seconds)
    return split_secrets(value, settings.platform.value)


@lru_cache(maxsize=1)
def service() -> IngestService:
    settings = ingest_settings()
    return IngestService(
        adapter=adapter_for(settings.platform.value),
        secrets=_secrets,
        door=Enqueuer(
            SqsQueueSender(),
            settings.ingest_queue_url,
            DynamoSeenLog(
                settings.memory_table_name,
                settings.seen_ttl_days,
                tasks_table=settings.tasks_table_name,
            ),
        ),
    )


@lru_cache(maxsize=1)
def heartbeat() -> Heartbeat:
    return Heartbeat(ingest_settings().memory_table_name)


@collect_after_first_call
@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    metrics.add_dimension(name="platform", value=ingest_settings().platform.value)
    # HTTP API payload format 2.0: headers are lower-cased, a repeated header is comma-joined, and the body
    # is a string, base64-encoded when `isBase64Encoded` is true.
    response = service().handle(
        event.get("headers") or {}, event.get("body"), bool(event.get("isBase64Encoded"))
    )
    answer = response.to_api_gateway()
    if answer["statusCode"] == 202:  # the door did its work (accepted, duplicate or ignored)
        heartbeat().beat("ingest")
    return answer
