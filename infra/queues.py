"""The queues between the layers, each with its dead-letter queue.

The queues are the catalog's (``switchboard.catalog.queues``): ``ingest``, ``decide``, one ``act-<service>``
per external service, ``followups``. Every queue is FIFO except ``followups``: the act layer's staged
follow-ups need a per-message delay, which FIFO queues do not have (see ``switchboard.followups`` for why a
standard delay queue). It is consumed by the services that stage follow-ups (act-tickets), behind the
idempotency layer that absorbs a standard queue's duplicate deliveries, and has a standard DLQ (a FIFO
queue's DLQ must be FIFO, a standard queue's must be standard).
"""

from __future__ import annotations

from typing import Final

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.lambda_defaults import TIMEOUT_SECONDS, pascal
from switchboard import catalog

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
        for spec in catalog.queues():
            self.dlqs[spec.name] = self._build_dlq(spec)
            self.queues[spec.name] = self._build_queue(spec, self.dlqs[spec.name])

    @property
    def ingest(self) -> sqs.Queue:
        return self.queues[catalog.INGEST]

    @property
    def decide(self) -> sqs.Queue:
        return self.queues[catalog.DECIDE]

    def act(self, service: str) -> sqs.Queue:
        return self.queues[catalog.act_queue_name(service)]

    @property
    def followups(self) -> sqs.Queue:
        """The standard delay queue of the staged follow-ups (consumed by act-tickets)."""
        return self.queues[catalog.FOLLOWUPS]

    @property
    def act_queues(self) -> dict[str, sqs.Queue]:
        """Act queues by service name."""
        return {service: self.act(service) for service in catalog.service_names()}

    def _build_dlq(self, spec: catalog.QueueSpec) -> sqs.Queue:
        return sqs.Queue(
            self,
            f"{pascal(spec.name)}Dlq",
            fifo=_fifo(spec),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(DLQ_RETENTION_DAYS),
        )

    def _build_queue(self, spec: catalog.QueueSpec, dlq: sqs.Queue) -> sqs.Queue:
        return sqs.Queue(
            self,
            f"{pascal(spec.name)}Queue",
            fifo=_fifo(spec),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=Duration.seconds(VISIBILITY_TIMEOUT_FACTOR * TIMEOUT_SECONDS[spec.consumer]),
            dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=MAX_RECEIVE_COUNT),
        )


def _fifo(spec: catalog.QueueSpec) -> bool | None:
    """``True`` for a FIFO queue; ``None`` (no ``FifoQueue`` property: a standard queue) otherwise."""
    return True if spec.fifo else None
