"""In-memory fakes of the edges (queues, delivery log) for unit tests. Our own code is never faked."""

from __future__ import annotations

from dataclasses import dataclass, field


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
