"""Sending to FIFO queues: every message carries a group id and a deduplication id.

The port is ``QueueSender`` (also in ``switchboard.ports``); the SQS adapter is ``switchboard.sqs``.
"""

from __future__ import annotations

from typing import Protocol

# Transitional re-export: the functions' composition (functions/*/handler.py), the act worker and the CLI
# still import the SQS sender from here; it lives in ``switchboard.sqs``.
from switchboard.sqs import SqsQueueSender, fifo_id

__all__ = ["QueueSender", "SqsQueueSender", "fifo_id"]


class QueueSender(Protocol):
    def send(
        self,
        queue_url: str,
        body: str,
        group_id: str,
        dedup_id: str,
        attributes: dict[str, str] | None = None,
    ) -> str: ...
