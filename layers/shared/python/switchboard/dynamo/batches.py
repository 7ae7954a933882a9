"""The Message Batches state in the memory table (``switchboard.batches``): requests waiting for the next
batch, the batches in flight, and each request's answer until the task that asked picks it up.

Key formats (memory table, ``pk`` / ``sk``), in the style of ``switchboard.dynamo.keys``:

=====================================  ==================  ===================================================
``batch#pending``                      ``{custom_id}``     a request waiting for the next submit
``batch#open``                         ``{batch_id}``      a submitted batch not yet collected
``batch#{batch_id}``                   ``{custom_id}``     a submitted request (to resume its task)
``batchanswer#{custom_id}``            ``batchanswer``     its result, until the task picks it up
=====================================  ==================  ===================================================

``custom_id`` is the request's response-cache key (a SHA-256 in hex: 64 characters, as the API allows). Every
item expires (``expires_at``, the table's TTL attribute) after the API's own horizon: 29 days for results.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Final

from switchboard.aws import ConditionFailed, translated
from switchboard.dynamo.table import Table
from switchboard.memory import DAY
from switchboard.ports import Clock

PENDING: Final = "batch#pending"
OPEN: Final = "batch#open"
BATCH_ITEM_TTL: Final = 29 * DAY  # [BATCH]: results stay available for 29 days after creation


@dataclass(frozen=True)
class BatchItem:
    """One deferred request: what to send, who pays, and the message that resumes its task."""

    custom_id: str
    params: dict[str, Any]
    task_id: str
    tier: str
    reserved_tokens: int
    reserved_micro_usd: int
    resume: dict[str, Any]  # QueueSender.send's keyword arguments

    def to_json(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> BatchItem:
        return cls(**json.loads(text))


class DynamoBatchStore:
    """The batch state over the memory table. Writes are single puts and deletes: a request is in one of
    pending, a batch, or answered, and a repeat of any step (a retried invocation) writes the same item."""

    def __init__(self, table_name: str, dynamodb: Any = None, clock: Clock = time.time) -> None:
        self.table = Table(table_name, dynamodb)
        self.clock = clock

    def _delete(self, pk: str, sk: str) -> None:
        with translated("dynamodb", "DeleteItem"):
            self.table.dynamodb.delete_item(TableName=self.table.name, Key={"pk": {"S": pk}, "sk": {"S": sk}})

    def _expiry(self) -> dict[str, str]:
        return {"N": str(int(self.clock()) + BATCH_ITEM_TTL)}

    # the task side (BudgetedLlm)

    def defer(self, item: BatchItem) -> bool:
        """Queue the request for the next batch; False when it is already waiting (nothing written)."""
        try:
            self.table.put(
                {
                    "pk": {"S": PENDING},
                    "sk": {"S": item.custom_id},
                    "item": {"S": item.to_json()},
                    "expires_at": self._expiry(),
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ConditionFailed:
            return False
        return True

    def answer(self, custom_id: str) -> dict[str, Any] | None:
        """The request's result (``{"result": ..., "item": ...}``), once its batch was collected."""
        row = self.table.get({"pk": {"S": f"batchanswer#{custom_id}"}, "sk": {"S": "batchanswer"}})
        return json.loads(row["answer"]["S"]) if row else None

    def waiting(self, custom_id: str) -> bool:
        """Whether the request is still pending or in a batch (its answer not in yet)."""
        return self.table.get({"pk": {"S": PENDING}, "sk": {"S": custom_id}}) is not None

    def picked_up(self, custom_id: str) -> None:
        self._delete(f"batchanswer#{custom_id}", "batchanswer")

    # the runner side (switchboard.batches)

    def pending(self, limit: int) -> list[BatchItem]:
        rows = self.table.query(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": PENDING}},
            ConsistentRead=True,
            Limit=limit,
        )
        return [BatchItem.from_json(row["item"]["S"]) for row in rows]

    def submitted(self, batch_id: str, items: list[BatchItem]) -> None:
        """The batch exists: record it and each request in it, then take them off the pending list."""
        self.table.put({"pk": {"S": OPEN}, "sk": {"S": batch_id}, "expires_at": self._expiry()})
        for item in items:
            self.table.put(
                {
                    "pk": {"S": f"batch#{batch_id}"},
                    "sk": {"S": item.custom_id},
                    "item": {"S": item.to_json()},
                    "expires_at": self._expiry(),
                }
            )
        for item in items:
            self._delete(PENDING, item.custom_id)

    def open_batches(self) -> list[str]:
        rows = self.table.query_all(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": OPEN}},
            ConsistentRead=True,
        )
        return [row["sk"]["S"] for row in rows]

    def item(self, batch_id: str, custom_id: str) -> BatchItem | None:
        row = self.table.get({"pk": {"S": f"batch#{batch_id}"}, "sk": {"S": custom_id}})
        return BatchItem.from_json(row["item"]["S"]) if row else None

    def answered(self, item: BatchItem, result: dict[str, Any]) -> None:
        self.table.put(
            {
                "pk": {"S": f"batchanswer#{item.custom_id}"},
                "sk": {"S": "batchanswer"},
                "answer": {"S": json.dumps({"result": result, "item": json.loads(item.to_json())})},
                "expires_at": self._expiry(),
            }
        )

    def collected(self, batch_id: str) -> None:
        self._delete(OPEN, batch_id)
