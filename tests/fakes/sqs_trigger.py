"""Lambda's SQS trigger, in the test's thread: receive a batch, invoke the act worker, delete what succeeded.

Messages come from a real queue (moto server), with the real record shape (``tools.local.pollers``), so the
worker's visibility changes, the receive counts and the redrive to the DLQ are SQS's own.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from switchboard.actworker import ActWorker, handle_batch
from tools.local.pollers import lambda_record


@dataclass
class SqsTrigger:
    sqs: Any
    worker: ActWorker
    queue_url: str
    batch_size: int = 5
    time_left_seconds: float = 30.0  # what the invocation's context reports as left at its start

    def __post_init__(self) -> None:
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])
        self.queue_arn = attributes["Attributes"]["QueueArn"]
        self.invocations = 0

    def poll(self) -> int:
        """One receive and, if it brought anything, one invocation. Returns the number of records."""
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=0,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0
        records = [lambda_record(message, self.queue_arn) for message in messages]
        self.invocations += 1
        context: Any = LambdaContextStub(timeout_seconds=self.time_left_seconds)
        response = handle_batch(self.worker, {"Records": records}, context)
        failed = {failure["itemIdentifier"] for failure in response.get("batchItemFailures", [])}
        for record in records:
            if record["messageId"] not in failed:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=record["receiptHandle"])
        return len(records)


def run_until(
    triggers: Sequence[SqsTrigger], done: Callable[[], bool], timeout: float = 20.0, pause: float = 0.1
) -> None:
    """Poll every trigger until ``done()``; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"not done after {timeout}s")
        if not sum(trigger.poll() for trigger in triggers):
            time.sleep(pause)


class LambdaContextStub:
    """The parts of Lambda's context that the act worker and Powertools read."""

    def __init__(self, timeout_seconds: float) -> None:
        self.function_name = "act-test"
        self.function_version = "$LATEST"
        self.invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:act-test"
        self.memory_limit_in_mb = 256
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = "/aws/lambda/act-test"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))
