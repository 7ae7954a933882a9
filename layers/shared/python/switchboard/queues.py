"""Sending to FIFO queues: every message carries a group id and a deduplication id."""

from __future__ import annotations

import hashlib
from typing import Any, Protocol

from switchboard.aws import LazyClient

_MAX_ID = 128  # SQS limit for MessageGroupId and MessageDeduplicationId


def fifo_id(value: str) -> str:
    """SQS allows 128 characters of [A-Za-z0-9!-~]; longer or odd ids are hashed, stably."""
    if len(value) <= _MAX_ID and all(33 <= ord(ch) <= 126 for ch in value):
        return value
    return hashlib.sha256(value.encode()).hexdigest()


class QueueSender(Protocol):
    def send(
        self,
        queue_url: str,
        body: str,
        group_id: str,
        dedup_id: str,
        attributes: dict[str, str] | None = None,
    ) -> str: ...


class SqsQueueSender:
    def __init__(self, sqs: Any = None) -> None:
        self._sqs = sqs

    sqs = LazyClient("sqs")

    def send(
        self,
        queue_url: str,
        body: str,
        group_id: str,
        dedup_id: str,
        attributes: dict[str, str] | None = None,
    ) -> str:
        response = self.sqs.send_message(
            QueueUrl=queue_url,
            MessageBody=body,
            MessageGroupId=fifo_id(group_id),
            MessageDeduplicationId=fifo_id(dedup_id),
            MessageAttributes={
                key: {"DataType": "String", "StringValue": value} for key, value in (attributes or {}).items()
            },
        )
        return str(response["MessageId"])
