"""In-memory fakes of the edges (queues, delivery log) for unit tests. Our own code is never faked."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from switchboard.memory import AuthorProfile, CountedRequest
from switchboard.models import InboundEvent, Platform, Service
from tests.fakes.memory import MemorySeenLog


@dataclass
class SentMessage:
    queue_url: str
    body: str
    group_id: str
    dedup_id: str
    attributes: dict[str, str] | None


#: SQS FIFO: a message sent with the deduplication id of one sent successfully in the last 5 minutes is
#: "accepted successfully but [not] delivered" (Amazon SQS API Reference, SendMessage,
#: MessageDeduplicationId, https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/
#: API_SendMessage.html, read 2026-12-02). A queue URL ending in ``.fifo`` is a FIFO queue here.
FIFO_DEDUP_SECONDS = 300.0


@dataclass
class FakeQueue:
    sent: list[SentMessage] = field(default_factory=list)
    fail_next: int = 0
    clock: Callable[[], float] = time.monotonic
    #: (queue URL, dedup id) → (when sent, message id), for FIFO queues
    deduplicated: dict[tuple[str, str], tuple[float, str]] = field(default_factory=dict)

    def send(
        self,
        queue_url: str,
        body: str,
        group_id: str,
        dedup_id: str,
        attributes: dict[str, str] | None = None,
    ) -> str:
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("queue unavailable")
        if queue_url.endswith(".fifo"):
            kept = self.deduplicated.get((queue_url, dedup_id))
            if kept is not None and self.clock() - kept[0] < FIFO_DEDUP_SECONDS:
                return kept[1]
        self.sent.append(SentMessage(queue_url, body, group_id, dedup_id, attributes))
        message_id = f"msg-{len(self.sent)}"
        if queue_url.endswith(".fifo"):
            self.deduplicated[(queue_url, dedup_id)] = (self.clock(), message_id)
        return message_id


@dataclass
class FakeDeliveryLog(MemorySeenLog):
    """``MemorySeenLog`` on the process's monotonic clock unless given one: the door's seen marks, and the
    classifier's claims that it reads for an old mark (``claims``: (platform, event id or content id))."""

    clock: Callable[[], float] = time.monotonic


@dataclass
class FakeAuthorMemory:
    """Author flags and request counts (one window: ``counts``, by author), and the acting actions counted
    once (``acts``, by author, with their keys in ``counted``), in memory."""

    blocked: set[str] = field(default_factory=set)
    trusted: set[str] = field(default_factory=set)
    counts: dict[str, int] = field(default_factory=dict)
    acts: dict[str, int] = field(default_factory=dict)
    counted: dict[str, list[str]] = field(default_factory=dict)

    def profile(self, platform: str, author: str) -> AuthorProfile:
        return AuthorProfile(blocked=author in self.blocked, trusted=author in self.trusted)

    def set_flags(self, platform: str, author: str, *, blocked: bool, trusted: bool, note: str = "") -> None:
        for flagged, wanted in ((self.blocked, blocked), (self.trusted, trusted)):
            if wanted:
                flagged.add(author)
            else:
                flagged.discard(author)

    def count_request(
        self, platform: str, author: str, window_seconds: int, now: float | None = None
    ) -> CountedRequest:
        profile = self.profile(platform, author)
        if profile.trusted or profile.blocked:
            return CountedRequest(platform, author, 0, profile, None)
        self.counts[author] = self.counts.get(author, 0) + 1
        return CountedRequest(platform, author, 0, profile, self.counts[author])

    def give_back(self, counted: CountedRequest) -> None:
        if counted.count is not None:
            self.counts[counted.author] -= 1

    def count_once(
        self, platform: str, author: str, window_seconds: int, key: str, limit: int, now: float | None = None
    ) -> int:
        keys = self.counted.setdefault(author, [])
        if key in keys:
            return min(self.acts.get(author, 0), limit)
        if self.acts.get(author, 0) >= limit:
            return limit + 1
        keys.append(key)
        self.acts[author] = self.acts.get(author, 0) + 1
        return self.acts[author]


def github_event(
    text: str = "/label bug",
    event_id: str = "delivery-1",
    *,
    event_type: str = "issue_comment.created",
    repo: str = "octo-org/demo",
    number: str = "7",
    content_id: str | None = None,
) -> InboundEvent:
    """An inbound GitHub event on one issue, as the door would hand it to classify."""
    return InboundEvent(
        platform=Platform.GITHUB,
        event_id=event_id,
        content_id=content_id,
        event_type=event_type,
        author="mona",
        conversation=f"{repo}#{number}",
        text=text,
        received_at=datetime.now(UTC),
        context={"repo": repo, "number": number, "kind": "issue"},
    )


def act_queue_url(service: Service | str) -> str:
    """The act queue URL the unit tests route a service's actions to."""
    return f"https://sqs.local/act-{Service(service).value}.fifo"
