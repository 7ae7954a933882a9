"""The memory table's simple item kinds: seen marks, author profiles and rate windows, feed cursors, triage
reports. Keys from ``switchboard.dynamo.keys``; the ports they implement in ``switchboard.ports``."""

from __future__ import annotations

import json
import time
from typing import Any

from switchboard.dynamo.keys import Keys
from switchboard.dynamo.table import Table
from switchboard.memory import DAY, AuthorProfile
from switchboard.ports import Clock


class DynamoSeenLog:
    """``SeenLog``: "did the door already enqueue this delivery?".

    The mark is written only after the message is in the queue (``Enqueuer``), so a failed enqueue leaves no
    mark and the provider's retry still gets through. Two racing deliveries may both enqueue: the queue's
    dedup id and the classifier's claim make that harmless. Marks expire (TTL) after ``ttl_days``.
    """

    def __init__(
        self, table_name: str, ttl_days: int, dynamodb: Any = None, clock: Clock = time.time
    ) -> None:
        self.table = Table(table_name, dynamodb)
        self.ttl_seconds = ttl_days * DAY
        self.clock = clock

    def seen(self, platform: str, event_id: str) -> bool:
        return self.table.get(Keys.seen(platform, event_id), projection="pk") is not None

    def mark(self, platform: str, event_id: str, message_id: str) -> None:
        now = int(self.clock())
        self.table.put(
            {
                **Keys.seen(platform, event_id),
                "message_id": {"S": message_id},
                "seen_at": {"N": str(now)},
                "expires_at": {"N": str(now + self.ttl_seconds)},
            }
        )


class DynamoAuthorDirectory:
    """``AuthorDirectory``: block list, trusted accounts, and request counts per window.

    A window's counter is atomic (``ADD``) and expires a day after the window ends.
    """

    def __init__(self, table_name: str, dynamodb: Any = None, clock: Clock = time.time) -> None:
        self.table = Table(table_name, dynamodb)
        self.clock = clock

    def profile(self, platform: str, author: str) -> AuthorProfile:
        item = self.table.get(Keys.profile(platform, author), consistent=False)
        if not item:
            return AuthorProfile()
        return AuthorProfile(
            blocked=item.get("blocked", {}).get("BOOL", False),
            trusted=item.get("trusted", {}).get("BOOL", False),
            note=item.get("note", {}).get("S"),
        )

    def set_flags(self, platform: str, author: str, *, blocked: bool, trusted: bool, note: str = "") -> None:
        self.table.put(
            {
                **Keys.profile(platform, author),
                "blocked": {"BOOL": blocked},
                "trusted": {"BOOL": trusted},
                "note": {"S": note},
                "updated_at": {"N": str(int(self.clock()))},
            }
        )

    def count_request(self, platform: str, author: str, window_seconds: int, now: float | None = None) -> int:
        """Add one request to the author's current window; returns the count including this one."""
        now = self.clock() if now is None else now
        start = int(now) // window_seconds * window_seconds
        attributes = self.table.update(
            Keys.rate_window(platform, author, start),
            "ADD #c :one SET expires_at = :ttl",
            ExpressionAttributeNames={"#c": "count"},
            ExpressionAttributeValues={":one": {"N": "1"}, ":ttl": {"N": str(start + window_seconds + DAY)}},
            ReturnValues="UPDATED_NEW",
        )
        return int(attributes["count"]["N"])


class DynamoCursorStore:
    """``CursorStore``: each polled feed's cursor."""

    def __init__(self, table_name: str, dynamodb: Any = None, clock: Clock = time.time) -> None:
        self.table = Table(table_name, dynamodb)
        self.clock = clock

    def get(self, feed: str) -> str | None:
        item = self.table.get(Keys.cursor(feed))
        return str(item["cursor"]["S"]) if item else None

    def put(self, feed: str, cursor: str) -> None:
        self.table.put(
            {**Keys.cursor(feed), "cursor": {"S": cursor}, "updated_at": {"N": str(int(self.clock()))}}
        )


class DynamoReportStore:
    """``ReportStore``: the daily DLQ triage's reports, one partition per UTC day, sorted by ``at``."""

    def __init__(
        self, table_name: str, ttl_days: int = 90, dynamodb: Any = None, clock: Clock = time.time
    ) -> None:
        self.table = Table(table_name, dynamodb)
        self.ttl_seconds = ttl_days * DAY
        self.clock = clock

    def save(self, at: str, report: dict[str, Any]) -> None:
        self.table.put(
            {
                **Keys.triage_report(at[:10], at),
                "report": {"S": json.dumps(report)},
                "expires_at": {"N": str(int(self.clock()) + self.ttl_seconds)},
            }
        )

    def on(self, day: str) -> list[dict[str, Any]]:
        items = self.table.query(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": Keys.triage_reports(day)}},
            ConsistentRead=True,
        )
        return [json.loads(item["report"]["S"]) for item in items]
