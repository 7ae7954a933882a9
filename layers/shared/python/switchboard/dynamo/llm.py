"""The budgeted LLM client's storage: two kinds of atomic budget counter and the response cache."""

from __future__ import annotations

import json
import time
from typing import Any, Final

from switchboard.aws import ConditionFailed
from switchboard.dynamo.keys import Key, Keys
from switchboard.dynamo.table import Table
from switchboard.errors import BudgetExceeded
from switchboard.memory import DAY
from switchboard.ports import Clock

TASK_BUDGET_TTL: Final = 30 * DAY
DAY_BUDGET_TTL: Final = 3 * DAY


class DynamoBudgetLedger:
    """``BudgetLedger``: tokens per task (``budget#task#…``) and micro-dollars per UTC day (``budget#day#…``).

    A reservation adds to a counter with a condition that it stays under the cap (one conditional write each),
    so concurrent workers can never overspend together; when the day's cap refuses, the task's reservation is
    taken back. Corrections (``settle``) are unconditional.
    """

    def __init__(self, table_name: str, dynamodb: Any = None, clock: Clock = time.time) -> None:
        self.table = Table(table_name, dynamodb)
        self.clock = clock

    def reserve(
        self, task_id: str, day: str, tokens: int, micro_usd: int, *, token_cap: int, micro_usd_cap: int
    ) -> None:
        if not self._add(Keys.task_budget(task_id), "tokens", tokens, token_cap, TASK_BUDGET_TTL):
            raise BudgetExceeded("task_tokens")
        if not self._add(Keys.day_budget(day), "micro_usd", micro_usd, micro_usd_cap, DAY_BUDGET_TTL):
            self._add(Keys.task_budget(task_id), "tokens", -tokens, None, TASK_BUDGET_TTL)
            raise BudgetExceeded("daily_usd")

    def settle(self, task_id: str, day: str, tokens: int, micro_usd: int) -> None:
        if tokens:
            self._add(Keys.task_budget(task_id), "tokens", tokens, None, TASK_BUDGET_TTL)
        if micro_usd:
            self._add(Keys.day_budget(day), "micro_usd", micro_usd, None, DAY_BUDGET_TTL)

    def spent_micro_usd(self, day: str) -> int:
        item = self.table.get(Keys.day_budget(day), consistent=False) or {}
        return int(item.get("micro_usd", {}).get("N", "0"))

    def _add(self, key: Key, attribute: str, amount: int, cap: int | None, ttl: int) -> bool:
        """Add ``amount``; False (nothing written) when that would pass ``cap``."""
        values = {":amount": {"N": str(amount)}, ":ttl": {"N": str(int(self.clock()) + ttl)}}
        condition: dict[str, str] = {}
        if cap is not None:
            if amount > cap:  # a first write would pass attribute_not_exists: refuse before writing
                return False
            values[":room"] = {"N": str(cap - amount)}
            condition["ConditionExpression"] = "attribute_not_exists(#n) OR #n <= :room"
        try:
            self.table.update(
                key,
                "ADD #n :amount SET expires_at = if_not_exists(expires_at, :ttl)",
                ExpressionAttributeNames={"#n": attribute},
                ExpressionAttributeValues=values,
                **condition,
            )
        except ConditionFailed:
            return False
        return True


class DynamoLlmCache:
    """``LlmCache``: one tool call per request hash, until ``expires_at`` (checked on read, as DynamoDB's TTL
    deletes late)."""

    def __init__(self, table_name: str, dynamodb: Any = None, clock: Clock = time.time) -> None:
        self.table = Table(table_name, dynamodb)
        self.clock = clock

    def get(self, key: str) -> dict[str, Any] | None:
        item = self.table.get(Keys.llm_cache(key), consistent=False)
        if not item or int(item["expires_at"]["N"]) < self.clock():
            return None
        value: dict[str, Any] = json.loads(item["call"]["S"])
        return value

    def put(self, key: str, value: dict[str, Any], ttl_seconds: int) -> None:
        self.table.put(
            {
                **Keys.llm_cache(key),
                "call": {"S": json.dumps(value)},
                "expires_at": {"N": str(int(self.clock()) + ttl_seconds)},
            }
        )
