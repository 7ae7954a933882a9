"""The queues between the layers, each with its dead-letter queue.

Every queue is FIFO except ``followups``: the act layer's staged follow-ups need a per-message delay, which
FIFO queues do not have (see ``switchboard.followups`` for why a standard delay queue). It is consumed by
act-tickets, behind the idempotency layer that absorbs a standard queue's duplicate deliveries, and has a
standard DLQ (a FIFO queue's DLQ must be FIFO, a standard queue's must be standard).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.lambda_defaults import TIMEOUT_SECONDS, pascal

SERVICES: Final = ("github", "slack", "tickets", "escalate")
FOLLOWUPS: Final = "followups"
# The only standard (not FIFO) queues, with their standard DLQs.
STANDARD_QUEUES: Final = frozenset({FOLLOWUPS})

# Main queue name -> logical role of its consumer (whose timeout sets the queue's visibility timeout).
QUEUE_CONSUMERS: Final[Mapping[str, str]] = {
    "ingest": "classify",
    "decide": "decide",
    **{f"act-{service}": "act" for service in SERVICES},
    FOLLOWUPS: "act",  # act-tickets
}

# AWS: visibility timeout at least 6 x the consumer's timeout; maxReceiveCount at least 5 (throttles count).
VISIBILITY_TIMEOUT_FACTOR: Final = 6
MAX_RECEIVE_COUNT: Final = 5
DLQ_RETENTION_DAYS: Final = 14


class Queues(Construct):
    """All main queues and their DLQs, by name (``ingest``, ``decide``, ``act-<service>``, ``followups``)."""

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
    def followups(self) -> sqs.Queue:
        """The standard delay queue of the staged follow-ups (consumed by act-tickets)."""
        return self.queues[FOLLOWUPS]

    @property
    def act_queues(self) -> dict[str, sqs.Queue]:
        """Act queues by service name."""
        return {service: self.act(service) for service in SERVICES}

    def _build_dlq(self, name: str) -> sqs.Queue:
        return sqs.Queue(
            self,
            f"{pascal(name)}Dlq",
            fifo=_fifo(name),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(DLQ_RETENTION_DAYS),
        )

    def _build_queue(self, name: str, consumer: str, dlq: sqs.Queue) -> sqs.Queue:
        return sqs.Queue(
            self,
            f"{pascal(name)}Queue",
            fifo=_fifo(name),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=Duration.seconds(VISIBILITY_TIMEOUT_FACTOR * TIMEOUT_SECONDS[consumer]),
            dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=MAX_RECEIVE_COUNT),
        )


def _fifo(name: str) -> bool | None:
    """``True`` for a FIFO queue; ``None`` (no ``FifoQueue`` property: a standard queue) otherwise."""
    return None if name in STANDARD_QUEUES else True
