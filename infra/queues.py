"""The FIFO queues between the layers, each with its FIFO dead-letter queue."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.lambda_defaults import TIMEOUT_SECONDS, pascal

SERVICES: Final = ("github", "slack", "tickets", "escalate")

# Main queue name -> logical role of its consumer (whose timeout sets the queue's visibility timeout).
QUEUE_CONSUMERS: Final[Mapping[str, str]] = {
    "ingest": "classify",
    "decide": "decide",
    **{f"act-{service}": "act" for service in SERVICES},
}

# AWS: visibility timeout at least 6 x the consumer's timeout; maxReceiveCount at least 5 (throttles count).
VISIBILITY_TIMEOUT_FACTOR: Final = 6
MAX_RECEIVE_COUNT: Final = 5
DLQ_RETENTION_DAYS: Final = 14


class Queues(Construct):
    """All main queues and their DLQs, by name (``ingest``, ``decide``, ``act-<service>``)."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.queues: dict[str, sqs.Queue] = {}
        self.dlqs: dict[str, sqs.Queue] = {}
        for name, consumer in QUEUE_CONSUMERS.items():
            self.dlqs[name] = self._build_dlq(name)
            self.queues[name] = self._build_queue(name, consumer, self.dlqs[name])

    @property
    def ingest(self) -> sqs.Queue:
        return self.queues["ingest"]

    @property
    def decide(self) -> sqs.Queue:
        return self.queues["decide"]

    def act(self, service: str) -> sqs.Queue:
        return self.queues[f"act-{service}"]

    @property
    def act_queues(self) -> dict[str, sqs.Queue]:
        """Act queues by service name."""
        return {service: self.act(service) for service in SERVICES}

    def _build_dlq(self, name: str) -> sqs.Queue:
        return sqs.Queue(
            self,
            f"{pascal(name)}Dlq",
            fifo=True,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(DLQ_RETENTION_DAYS),
        )

    def _build_queue(self, name: str, consumer: str, dlq: sqs.Queue) -> sqs.Queue:
        return sqs.Queue(
            self,
            f"{pascal(name)}Queue",
            fifo=True,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=Duration.seconds(VISIBILITY_TIMEOUT_FACTOR * TIMEOUT_SECONDS[consumer]),
            dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=MAX_RECEIVE_COUNT),
        )
