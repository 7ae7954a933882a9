"""Long-term memory in the memory table: seen marks at the door and processed-id claims behind it.

Key layout (partition ``pk``, sort ``sk``):
- ``seen#{platform}#{event_id}`` / ``seen``: the door enqueued this delivery (written only after the enqueue).
- ``processed#{platform}#{event_id}`` / ``claim``: the classifier owns this event (conditional put).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from switchboard.aws import client

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

    @property
    def dynamodb(self) -> Any:
        if self._dynamodb is None:
            self._dynamodb = client("dynamodb")
        return self._dynamodb

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
