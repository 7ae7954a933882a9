"""Poll: the scheduled pull of feeds for platforms without webhooks. Enqueues exactly like a webhook does."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from switchboard.dynamo import DynamoCursorStore, DynamoSeenLog
from switchboard.feeds import Poller
from switchboard.heartbeat import Heartbeat
from switchboard.ingest import Enqueuer
from switchboard.settings import poll_settings
from switchboard.sqs import SqsQueueSender

logger = Logger()
metrics = Metrics()


@lru_cache(maxsize=1)
def poller() -> Poller:
    settings = poll_settings()
    seen = DynamoSeenLog(
        settings.memory_table_name, settings.seen_ttl_days, tasks_table=settings.tasks_table_name
    )
    return Poller(
        settings.feeds,
        Enqueuer(SqsQueueSender(), settings.ingest_queue_url, seen),
        DynamoCursorStore(settings.memory_table_name),
        timeout=settings.feed_timeout_seconds,
    )


@lru_cache(maxsize=1)
def heartbeat() -> Heartbeat:
    return Heartbeat(poll_settings().memory_table_name)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    metrics.add_dimension(name="platform", value="feed")
    result = poller().run()
    heartbeat().beat("poll")
    return result
