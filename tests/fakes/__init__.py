"""In-memory fakes of the edges (queues, delivery log) for unit tests. Our own code is never faked."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from switchboard.memory import AuthorProfile
from switchboard.models import InboundEvent, Platform, Service


@dataclass
class SentMessage:
    queue_url: str
    body: str
    group_id: str
    dedup_id: str
    attributes: dict[str, str] | None


@dataclass
class FakeQueue:
    sent: list[SentMessage] = field(default_factory=list)
    fail_next: int = 0

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
        self.sent.append(SentMessage(queue_url, body, group_id, dedup_id, attributes))
        return f"msg-{len(self.sent)}"


@dataclass
class FakeDeliveryLog:
    marks: dict[tuple[str, str], str] = field(default_factory=dict)

    def seen(self, platform: str, event_id: str) -> bool:
        return (platform, event_id) in self.marks

    def mark(self, platform: str, event_id: str, message_id: str) -> None:
        self.marks[(platform, event_id)] = message_id


@dataclass
class FakeAuthorMemory:
    """Author flags and per-window request counts, in memory."""

    blocked: set[str] = field(default_factory=set)
    trusted: set[str] = field(default_factory=set)
    counts: dict[str, int] = field(default_factory=dict)
    counted: dict[str, list[str]] = field(default_factory=dict)

    def profile(self, platform: str, author: str) -> AuthorProfile:
        return AuthorProfile(blocked=author in self.blocked, trusted=author in self.trusted)

    def set_flags(self, platform: str, author: str, *, blocked: bool, trusted: bool, note: str = "") -> None:
        for flagged, wanted in ((self.blocked, blocked), (self.trusted, trusted)):
            if wanted:
                flagged.add(author)
            else:
                flagged.discard(author)

    def count_request(self, platform: str, author: str, window_seconds: int, now: float | None = None) -> int:
        self.counts[author] = self.counts.get(author, 0) + 1
        return self.counts[author]

    def count_once(
        self, platform: str, author: str, window_seconds: int, key: str, limit: int, now: float | None = None
    ) -> int:
        keys = self.counted.setdefault(author, [])
        if key in keys:
            return min(self.counts.get(author, 0), limit)
        if self.counts.get(author, 0) >= limit:
            return limit + 1
        keys.append(key)
        return self.count_request(platform, author, window_seconds, now)


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
