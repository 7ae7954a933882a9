"""The SQS adapters: sending to the FIFO queues (``QueueSender``), a received message's visibility
(``Visibility``) and the follow-ups' standard delay queue (``DelayQueue``). SQS's errors stop here
(``switchboard.aws.translated``): a failed send leaves as ``DependencyUnavailable`` or ``DependencyRefused``.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, Final

from aws_lambda_powertools import Logger

from switchboard.aws import LazyClient, translated
from switchboard.errors import DependencyRefused, DependencyUnavailable

if TYPE_CHECKING:
    from switchboard.followups import FollowUp

logger = Logger(child=True)

_MAX_ID: Final = 128  # SQS limit for MessageGroupId and MessageDeduplicationId
MAX_VISIBILITY_SECONDS: Final = 43_200  # SQS's limit for a visibility timeout (12 hours)


def fifo_id(value: str) -> str:
    """SQS allows 128 characters of [A-Za-z0-9!-~]; longer or odd ids are hashed, stably."""
    if len(value) <= _MAX_ID and all(33 <= ord(ch) <= 126 for ch in value):
        return value
    return hashlib.sha256(value.encode()).hexdigest()


class SqsQueueSender:
    """``QueueSender``: every message carries a group id and a deduplication id (made SQS-safe)."""

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
        with translated("sqs", "SendMessage"):
            response = self.sqs.send_message(
                QueueUrl=queue_url,
                MessageBody=body,
                MessageGroupId=fifo_id(group_id),
                MessageDeduplicationId=fifo_id(dedup_id),
                MessageAttributes={
                    key: {"DataType": "String", "StringValue": value}
                    for key, value in (attributes or {}).items()
                },
            )
        return str(response["MessageId"])


class SqsVisibility:
    """``Visibility``: ``ChangeMessageVisibility``, when an in-flight message is seen again."""

    def __init__(self, sqs: Any = None) -> None:
        self._sqs = sqs

    sqs = LazyClient("sqs")

    def change(self, queue_url: str, receipt_handle: str, seconds: int) -> None:
        try:
            with translated("sqs", "ChangeMessageVisibility"):
                self.sqs.change_message_visibility(
                    QueueUrl=queue_url,
                    ReceiptHandle=receipt_handle,
                    VisibilityTimeout=max(0, min(seconds, MAX_VISIBILITY_SECONDS)),
                )
        except (DependencyUnavailable, DependencyRefused) as exc:
            # The record still fails; the message then comes back after the queue's visibility timeout.
            logger.warning("could not change the message's visibility", seconds=seconds, error=str(exc))


class SqsDelayQueue:
    """``DelayQueue``: the standard follow-ups queue, with a per-message ``DelaySeconds``."""

    def __init__(self, queue_url: str, sqs: Any = None) -> None:
        self.queue_url = queue_url
        self._sqs = sqs

    sqs = LazyClient("sqs")

    def schedule(self, followup: FollowUp, delay_seconds: int) -> str:
        # followups imports this module (for the visibility): its names are read here, not at import time.
        from switchboard.followups import FOLLOWUP_KIND, KIND_ATTRIBUTE, MAX_DELAY_SECONDS

        with translated("sqs", "SendMessage"):
            response = self.sqs.send_message(
                QueueUrl=self.queue_url,
                MessageBody=followup.model_dump_json(),
                DelaySeconds=max(0, min(delay_seconds, MAX_DELAY_SECONDS)),
                MessageAttributes={KIND_ATTRIBUTE: {"DataType": "String", "StringValue": FOLLOWUP_KIND}},
            )
        return str(response["MessageId"])


class SqsDepths:
    """How many messages wait in each queue, one ``GetQueueAttributes`` per queue.

    ``ApproximateNumberOfMessages`` counts the messages available for retrieval: not those in flight
    (``...NotVisible``), nor those delayed (``...Delayed``), and it is approximate ("Resources required to
    process Amazon SQS messages", Amazon SQS Developer Guide, https://docs.amazonaws.cn/en_us/
    AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-resources-required-process-messages.html, read
    2026-12-02)."""

    def __init__(self, sqs: Any = None) -> None:
        self._sqs = sqs

    sqs = LazyClient("sqs")

    def waiting(self, queue_urls: dict[str, str]) -> dict[str, int]:
        depths = {}
        for name, url in queue_urls.items():
            with translated("sqs", "GetQueueAttributes"):
                attributes = self.sqs.get_queue_attributes(
                    QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
                )["Attributes"]
            depths[name] = int(attributes.get("ApproximateNumberOfMessages", 0))
        return depths
