"""SQS event source mappings: poll a queue, invoke the function with the exact Lambda SQS event, settle.

One receiving thread per mapping long-polls the queue whenever one of its `MaximumConcurrency` slots is free,
and hands each batch to a slot. Settling follows Lambda:
- the function succeeded, with `ReportBatchItemFailures`: delete every record not listed in
  `batchItemFailures` (an empty or null list, or an empty response, means all succeeded; a malformed list
  fails the whole batch);
- succeeded without `ReportBatchItemFailures`: delete all;
- failed or timed out: delete none; the records come back after the visibility timeout.

The queue itself (moto) moves a message to its DLQ once its receive count reaches `maxReceiveCount`, and
blocks a FIFO group while one of its messages is in flight (see `moto_fixes`).
"""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from tools.local.functions import InvokeResult
from tools.local.template import REGION

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import DeleteMessageBatchRequestEntryTypeDef, MessageTypeDef

logger = logging.getLogger("switchboard.local")

WAIT_TIME_SECONDS: Final = 1
_RECORD_ATTRIBUTES: Final = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SequenceNumber",
    "MessageGroupId",
    "SenderId",
    "MessageDeduplicationId",
    "ApproximateFirstReceiveTimestamp",
    "AWSTraceHeader",
)


@dataclass(frozen=True)
class EventSourceMapping:
    """An `AWS::Lambda::EventSourceMapping` from an SQS queue, resolved."""

    logical_id: str
    function: str
    queue_url: str
    queue_arn: str
    batch_size: int = 10
    report_batch_item_failures: bool = False
    maximum_concurrency: int = 2
    enabled: bool = True


def lambda_record(message: MessageTypeDef, queue_arn: str) -> dict[str, Any]:
    """One record of the Lambda SQS event, in Lambda's shape."""
    attributes = message.get("Attributes") or {}
    message_attributes: dict[str, Any] = {}
    for name, value in (message.get("MessageAttributes") or {}).items():
        entry: dict[str, Any] = {}
        if "StringValue" in value:
            entry["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            entry["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode("ascii")
        entry["stringListValues"] = list(value.get("StringListValues") or [])
        entry["binaryListValues"] = [
            base64.b64encode(item).decode("ascii") for item in value.get("BinaryListValues") or []
        ]
        entry["dataType"] = value["DataType"]
        message_attributes[name] = entry
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": {name: attributes[name] for name in _RECORD_ATTRIBUTES if name in attributes},
        "messageAttributes": message_attributes,
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }


def records_to_delete(
    records: list[dict[str, Any]], result: InvokeResult, report_failures: bool
) -> list[str]:
    """The message ids to delete after an invocation (see the module docstring)."""
    ids = [record["messageId"] for record in records]
    if not result.ok:
        return []
    if not report_failures:
        return ids
    payload = result.payload
    if payload is None or payload == "" or payload == {}:
        return ids
    if not isinstance(payload, dict):
        return []
    failures = payload.get("batchItemFailures")
    if failures is None or failures == []:
        return ids
    if not isinstance(failures, list):
        return []
    failed: set[str] = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier or identifier not in ids:
            return []
        failed.add(identifier)
    return [message_id for message_id in ids if message_id not in failed]


class SqsPoller:
    """Polls one queue for one event source mapping until `stop()`."""

    def __init__(
        self,
        mapping: EventSourceMapping,
        sqs: SQSClient,
        invoke: Callable[[str, Any], InvokeResult],
        *,
        wait_time_seconds: int = WAIT_TIME_SECONDS,
    ) -> None:
        self.mapping = mapping
        self._sqs = sqs
        self._invoke = invoke
        self._wait = wait_time_seconds
        self._stopping = threading.Event()
        self._slots = threading.BoundedSemaphore(max(1, mapping.maximum_concurrency))
        self._executor = ThreadPoolExecutor(
            max_workers=max(1, mapping.maximum_concurrency), thread_name_prefix=f"esm-{mapping.logical_id}"
        )
        self._thread = threading.Thread(target=self._run, name=f"poll-{mapping.logical_id}", daemon=True)
        self._visibility_timeout: float | None = None

    def start(self) -> None:
        self._visibility_timeout = self._queue_visibility_timeout()
        self._thread.start()

    def _queue_visibility_timeout(self) -> float | None:
        try:
            attributes = self._sqs.get_queue_attributes(
                QueueUrl=self.mapping.queue_url, AttributeNames=["VisibilityTimeout"]
            )["Attributes"]
        except (BotoCoreError, ClientError, KeyError):
            return None
        return float(attributes["VisibilityTimeout"])

    def stop(self) -> None:
        """Stop receiving. In-flight batches finish (or fail, once their workers are terminated)."""
        self._stopping.set()

    def join(self, timeout: float | None = None) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._executor.shutdown(wait=True, cancel_futures=True)

    def _run(self) -> None:
        while not self._stopping.is_set():
            if not self._slots.acquire(timeout=0.5):
                continue
            try:
                messages = self._receive()
            except (BotoCoreError, ClientError) as exc:
                self._slots.release()
                if not self._stopping.is_set():
                    logger.warning("%s: receive failed: %s", self.mapping.logical_id, exc)
                    self._stopping.wait(1.0)
                continue
            if not messages or self._stopping.is_set():
                self._slots.release()
                continue
            self._executor.submit(self._process, messages).add_done_callback(self._report_crash)

    def _report_crash(self, future: Future[None]) -> None:
        exc = future.exception() if not future.cancelled() else None
        if exc is not None:
            logger.error("%s: batch processing crashed", self.mapping.logical_id, exc_info=exc)

    def _receive(self) -> list[MessageTypeDef]:
        response = self._sqs.receive_message(
            QueueUrl=self.mapping.queue_url,
            MaxNumberOfMessages=self.mapping.batch_size,
            WaitTimeSeconds=self._wait,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
        )
        return response.get("Messages", [])

    def _process(self, messages: list[MessageTypeDef]) -> None:
        try:
            records = [lambda_record(message, self.mapping.queue_arn) for message in messages]
            result = self._invoke(self.mapping.function, {"Records": records})
            self._warn_if_outlived(result, len(records))
            if not result.ok:
                logger.warning(
                    "%s: %s failed on a batch of %d (%s); it comes back after the visibility timeout",
                    self.mapping.logical_id,
                    self.mapping.function,
                    len(records),
                    (result.error or {}).get("errorType"),
                )
            delete = set(records_to_delete(records, result, self.mapping.report_batch_item_failures))
            handles = [record["receiptHandle"] for record in records if record["messageId"] in delete]
            self._delete(handles)
        finally:
            self._slots.release()

    def _warn_if_outlived(self, result: InvokeResult, count: int) -> None:
        """The poller never changes or extends a message's visibility (Lambda's event source mapping does not
        either): an invoke that outlives the queue's visibility timeout (a cold start included) has its
        records handed out again by SQS meanwhile, at least once, as AWS does. Say so in the log."""
        visibility = self._visibility_timeout
        if visibility is not None and result.duration_ms / 1000 > visibility:
            logger.warning(
                "%s: %s took %.1f s on a batch of %d, longer than the queue's visibility timeout (%g s): "
                "SQS may have delivered those records again meanwhile",
                self.mapping.logical_id,
                self.mapping.function,
                result.duration_ms / 1000,
                count,
                visibility,
            )

    def _delete(self, handles: list[str]) -> None:
        for start in range(0, len(handles), 10):
            entries: list[DeleteMessageBatchRequestEntryTypeDef] = [
                {"Id": str(index), "ReceiptHandle": handle}
                for index, handle in enumerate(handles[start : start + 10])
            ]
            try:
                response = self._sqs.delete_message_batch(QueueUrl=self.mapping.queue_url, Entries=entries)
            except (BotoCoreError, ClientError) as exc:
                logger.warning("%s: delete failed: %s", self.mapping.logical_id, exc)
                continue
            for failure in response.get("Failed", []):
                logger.warning("%s: delete failed: %s", self.mapping.logical_id, failure.get("Message"))
