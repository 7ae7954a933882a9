"""Dead-letter queues: read them without losing a message, sort what is there, and redrive it in order.

Reading receives every message with a short lease and then releases it (visibility 0): nothing is deleted
unless it was re-sent first. Categories are deterministic: the queue, whether the failure was transient,
permanent or a poison message, and the error, taken from the task's own history.

Redrive keeps each message group's order: messages are received in order, re-sent in order with the same
group id and a deduplication id derived from the DLQ message id (so a retried redrive within SQS's window
cannot double a message), with the original message id as an attribute (so the classifier's claim still
recognizes the owner), and deleted only after the send succeeded. Where AWS offers `StartMessageMoveTask`
and no category filter is asked for, that moves everything at once; moto does not implement it, so the
receive → send → delete path is the general one.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from switchboard.aws import LazyClient
from switchboard.models import task_id_for

ORIGINAL_MESSAGE_ID = "switchboard-original-message-id"
LEASE_SECONDS = 60
TRANSIENT = re.compile(
    r"HTTP (?:5\d\d|429)|timeout|timed out|connection|ratelimited|unavailable|overloaded|breaker", re.I
)
PERMANENT = re.compile(r"HTTP 4\d\d|refused|invalid|not allowed|not permitted|validation", re.I)


@dataclass
class DeadLetter:
    queue: str
    message_id: str
    receipt_handle: str
    body: str
    group_id: str | None
    dedup_id: str | None
    receive_count: int
    original_message_id: str | None
    task_id: str | None = None
    service: str | None = None
    category: str = "unknown"
    reason: str = ""
    sent: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "queue": self.queue,
            "message_id": self.message_id,
            "group_id": self.group_id,
            "task_id": self.task_id,
            "service": self.service,
            "category": self.category,
            "reason": self.reason,
            "receive_count": self.receive_count,
        }


@dataclass
class RedriveResult:
    queue: str
    moved: int = 0
    kept: int = 0
    dry_run: bool = False
    method: str = "receive-send-delete"
    groups: dict[str, int] = field(default_factory=dict)
    task_ids: list[str] = field(default_factory=list)  # the tasks of the messages moved (or to move)


def identify(queue: str, body: str) -> tuple[str | None, str | None, bool]:
    """(task id, service, parseable) of a message from any Switchboard queue."""
    try:
        data = json.loads(body)
    except json.JSONDecodeError:
        return None, None, False
    if not isinstance(data, dict):
        return None, None, False
    if "task_id" in data:
        return str(data["task_id"]), data.get("service"), True
    if "platform" in data and "event_id" in data:
        return task_id_for(str(data["platform"]), str(data["event_id"])), None, True
    return None, None, False


def categorize(letter: DeadLetter, history: list[dict[str, Any]] | None, breaker_open: bool) -> None:
    """Deterministic categories: ``<queue>:<transient|permanent|poison|orphan|unknown>[:<error>]``."""
    _, service, parseable = identify(letter.queue, letter.body)
    letter.service = service or (
        letter.queue.removeprefix("act-") if letter.queue.startswith("act-") else None
    )
    if not parseable:
        letter.category, letter.reason = (
            f"{letter.queue}:poison:unparseable",
            "the body is not a Switchboard message",
        )
        return
    if history is None:
        letter.category, letter.reason = f"{letter.queue}:orphan", "no task was opened for this message"
        return
    reason = last_failure(history)
    letter.reason = reason or "no failure recorded on the task"
    if breaker_open:
        kind = "transient"
        error = "breaker_open"
    elif reason and TRANSIENT.search(reason):
        kind, error = "transient", _short(reason)
    elif reason and PERMANENT.search(reason):
        kind, error = "permanent", _short(reason)
    else:
        kind, error = "unknown", _short(reason) if reason else "unrecorded"
    letter.category = f"{letter.queue}:{kind}:{error}"


def last_failure(history: list[dict[str, Any]]) -> str | None:
    for entry in reversed(history):
        detail = entry.get("detail") or {}
        for key in ("error", "reason", "why"):
            if isinstance(detail.get(key), str) and detail[key]:
                return str(detail[key])
    return None


def _short(reason: str) -> str:
    match = re.search(
        r"HTTP \d{3}|timeout|connection|ratelimited|overloaded|unavailable|invalid|refused", reason, re.I
    )
    return (match.group(0) if match else reason[:40]).lower().replace(" ", "_")


class DeadLetterQueues:
    def __init__(
        self, dlq_urls: dict[str, str], queue_urls: dict[str, str], *, move_tasks: bool, sqs: Any = None
    ) -> None:
        """``move_tasks``: the SQS endpoint offers ``StartMessageMoveTask`` (AWS does; moto does not)."""
        self.dlq_urls = dlq_urls
        self.queue_urls = queue_urls
        self.move_tasks = move_tasks
        self._sqs = sqs

    sqs = LazyClient("sqs")

    def depths(self) -> dict[str, int]:
        depths = {}
        for name, url in sorted(self.dlq_urls.items()):
            attributes = self.sqs.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            depths[name] = int(attributes["ApproximateNumberOfMessages"]) + int(
                attributes["ApproximateNumberOfMessagesNotVisible"]
            )
        return depths

    def _lease_all(self, queue: str) -> Iterator[DeadLetter]:
        """Every message of one DLQ, in order, each leased for ``LEASE_SECONDS`` (the caller releases)."""
        url = self.dlq_urls[queue]
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=LEASE_SECONDS,
                WaitTimeSeconds=0,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not messages:
                return
            for message in messages:
                attributes = message.get("Attributes", {})
                original = (
                    message.get("MessageAttributes", {}).get(ORIGINAL_MESSAGE_ID, {}).get("StringValue")
                )
                task_id, service, _ = identify(queue, message["Body"])
                yield DeadLetter(
                    queue=queue,
                    message_id=message["MessageId"],
                    receipt_handle=message["ReceiptHandle"],
                    body=message["Body"],
                    group_id=attributes.get("MessageGroupId"),
                    dedup_id=attributes.get("MessageDeduplicationId"),
                    receive_count=int(attributes.get("ApproximateReceiveCount", "0")),
                    original_message_id=original,
                    task_id=task_id,
                    service=service,
                )

    def _release(self, queue: str, letters: list[DeadLetter]) -> None:
        for letter in letters:
            self.sqs.change_message_visibility(
                QueueUrl=self.dlq_urls[queue], ReceiptHandle=letter.receipt_handle, VisibilityTimeout=0
            )

    def read(
        self,
        history_of: Callable[[str], list[dict[str, Any]] | None],
        breaker_open: Callable[[str | None], bool],
        queues: list[str] | None = None,
    ) -> list[DeadLetter]:
        """Every message of the chosen DLQs, categorized; all of them stay in their DLQ."""
        letters: list[DeadLetter] = []
        for queue in queues or sorted(self.dlq_urls):
            leased = list(self._lease_all(queue))
            try:
                for letter in leased:
                    categorize(
                        letter,
                        history_of(letter.task_id) if letter.task_id else None,
                        breaker_open(letter.service),
                    )
            finally:
                self._release(queue, leased)
            letters.extend(leased)
        return letters

    def redrive(
        self,
        queue: str,
        history_of: Callable[[str], list[dict[str, Any]] | None],
        breaker_open: Callable[[str | None], bool],
        category: str | None = None,
        dry_run: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> RedriveResult:
        """Move one DLQ's messages (or one category's) back to their queue, keeping group order."""
        if queue not in self.dlq_urls or queue not in self.queue_urls:
            raise KeyError(f"unknown queue {queue!r}; known: {sorted(self.dlq_urls)}")
        result = RedriveResult(queue=queue, dry_run=dry_run)
        if category is None and not dry_run and self.move_tasks:
            self._move_task(queue)
            result.method = "StartMessageMoveTask"
            return result
        leased = list(self._lease_all(queue))
        keep: list[DeadLetter] = []
        blocked_groups: set[str | None] = set()
        try:
            for index, letter in enumerate(leased, start=1):
                categorize(
                    letter,
                    history_of(letter.task_id) if letter.task_id else None,
                    breaker_open(letter.service),
                )
                chosen = (
                    category is None
                    or letter.category == category
                    or letter.category.startswith(category + ":")
                )
                # A group whose earlier message stays must keep its later ones too, or the order would break.
                if not chosen or letter.group_id in blocked_groups:
                    blocked_groups.add(letter.group_id)
                    keep.append(letter)
                    continue
                if not dry_run:
                    self._resend(queue, letter)
                result.moved += 1
                if letter.task_id:
                    result.task_ids.append(letter.task_id)
                result.groups[letter.group_id or "-"] = result.groups.get(letter.group_id or "-", 0) + 1
                if dry_run:
                    keep.append(letter)
                if progress:
                    progress(index, len(leased))
        finally:
            self._release(queue, [letter for letter in leased if not letter.sent])
        result.kept = len(keep)
        return result

    def _resend(self, queue: str, letter: DeadLetter) -> None:
        attributes = {
            ORIGINAL_MESSAGE_ID: {
                "DataType": "String",
                "StringValue": letter.original_message_id or letter.message_id,
            }
        }
        request: dict[str, Any] = {
            "QueueUrl": self.queue_urls[queue],
            "MessageBody": letter.body,
            "MessageAttributes": attributes,
        }
        if letter.group_id:
            request["MessageGroupId"] = letter.group_id
            request["MessageDeduplicationId"] = f"redrive-{letter.message_id}"[:128]
        self.sqs.send_message(**request)
        letter.sent = True
        self.sqs.delete_message(QueueUrl=self.dlq_urls[queue], ReceiptHandle=letter.receipt_handle)

    def _arn(self, url: str) -> str:
        attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
        return str(attributes["QueueArn"])

    def _move_task(self, queue: str) -> None:
        self.sqs.start_message_move_task(
            SourceArn=self._arn(self.dlq_urls[queue]), DestinationArn=self._arn(self.queue_urls[queue])
        )


def summarize(letters: list[DeadLetter]) -> dict[str, Any]:
    by_category = Counter(letter.category for letter in letters)
    examples: dict[str, list[str]] = defaultdict(list)
    for letter in letters:
        if len(examples[letter.category]) < 3 and letter.task_id:
            examples[letter.category].append(letter.task_id)
    return {
        "total": len(letters),
        "categories": [
            {"category": category, "count": count, "example_tasks": examples[category]}
            for category, count in by_category.most_common()
        ],
    }
