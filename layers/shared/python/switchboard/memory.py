"""Long-term memory in the memory table: seen marks at the door and processed-id claims behind it.

Key layout (partition ``pk``, sort ``sk``):
- ``seen#{platform}#{event_id}`` / ``seen``: the door enqueued this delivery (written only after the enqueue).
- ``processed#{platform}#{event_id}`` / ``claim``: the classifier owns this event (conditional put).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from switchboard.aws import LazyClient

DAY = 86_400


@dataclass(frozen=True)
class Claim:
    task_id: str
    owner: str
    claimed_at: int


class SeenLog:
    """Answers "did we already enqueue this delivery?" at the door.

    The mark is written only after the message is in the queue, so a failed enqueue leaves no mark and the
    provider's retry still gets through. Two racing deliveries may both enqueue: the queue's dedup id and the
    classifier's claim make that harmless.
    """

    def __init__(self, table_name: str, ttl_days: int, dynamodb: Any = None) -> None:
        self.table_name = table_name
        self.ttl_seconds = ttl_days * DAY
        self._dynamodb = dynamodb

    dynamodb = LazyClient("dynamodb")

    @staticmethod
    def key(platform: str, event_id: str) -> dict[str, Any]:
        return {"pk": {"S": f"seen#{platform}#{event_id}"}, "sk": {"S": "seen"}}

    def seen(self, platform: str, event_id: str) -> bool:
        response = self.dynamodb.get_item(
            TableName=self.table_name,
            Key=self.key(platform, event_id),
            ConsistentRead=True,
            ProjectionExpression="pk",
        )
        return "Item" in response

    def mark(self, platform: str, event_id: str, message_id: str) -> None:
        now = int(time.time())
        self.dynamodb.put_item(
            TableName=self.table_name,
            Item={
                **self.key(platform, event_id),
                "message_id": {"S": message_id},
                "seen_at": {"N": str(now)},
                "expires_at": {"N": str(now + self.ttl_seconds)},
            },
        )


@dataclass(frozen=True)
class AuthorProfile:
    blocked: bool = False
    trusted: bool = False
    note: str | None = None


class AuthorMemory:
    """Per-author long-term memory: block list, trusted accounts, and request counts per window.

    ``author#{platform}#{author}`` / ``profile`` holds the flags; ``rate#{platform}#{author}`` / ``w#{start}``
    is an atomic counter for one window, expiring a day after the window ends.
    """

    def __init__(self, table_name: str, dynamodb: Any = None) -> None:
        self.table_name = table_name
        self._dynamodb = dynamodb

    dynamodb = LazyClient("dynamodb")

    @staticmethod
    def profile_key(platform: str, author: str) -> dict[str, Any]:
        return {"pk": {"S": f"author#{platform}#{author}"}, "sk": {"S": "profile"}}

    def profile(self, platform: str, author: str) -> AuthorProfile:
        item = self.dynamodb.get_item(TableName=self.table_name, Key=self.profile_key(platform, author)).get(
            "Item"
        )
        if not item:
            return AuthorProfile()
        return AuthorProfile(
            blocked=item.get("blocked", {}).get("BOOL", False),
            trusted=item.get("trusted", {}).get("BOOL", False),
            note=item.get("note", {}).get("S"),
        )

    def set_flags(self, platform: str, author: str, *, blocked: bool, trusted: bool, note: str = "") -> None:
        self.dynamodb.put_item(
            TableName=self.table_name,
            Item={
                **self.profile_key(platform, author),
                "blocked": {"BOOL": blocked},
                "trusted": {"BOOL": trusted},
                "note": {"S": note},
                "updated_at": {"N": str(int(time.time()))},
            },
        )

    def count_request(self, platform: str, author: str, window_seconds: int, now: float | None = None) -> int:
        """Add one request to the author's current window; returns the count including this one."""
        now = time.time() if now is None else now
        start = int(now) // window_seconds * window_seconds
        response = self.dynamodb.update_item(
            TableName=self.table_name,
            Key={"pk": {"S": f"rate#{platform}#{author}"}, "sk": {"S": f"w#{start}"}},
            UpdateExpression="ADD #c :one SET expires_at = :ttl",
            ExpressionAttributeNames={"#c": "count"},
            ExpressionAttributeValues={":one": {"N": "1"}, ":ttl": {"N": str(start + window_seconds + DAY)}},
            ReturnValues="UPDATED_NEW",
        )
        return int(response["Attributes"]["count"]["N"])
