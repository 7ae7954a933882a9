"""The budgeted LLM client's storage: two kinds of atomic budget counter and the response cache."""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from typing import Any, Final

from switchboard.aws import ConditionFailed
from switchboard.dynamo.keys import Key, Keys
from switchboard.dynamo.table import Table
from switchboard.errors import BudgetExceeded
from switchboard.memory import DAY
from switchboard.ports import Clock

TASK_BUDGET_TTL: Final = 30 * DAY
DAY_BUDGET_TTL: Final = 3 * DAY
#: Counters whose corrections one process keeps at most (the least recently used are dropped: a dropped
#: correction of an over-reservation only leaves its counter high, on the safe side).
MAX_CARRIES: Final = 1_024


class Carry:
    """One process's corrections not written yet, by counter: the ``used - reserved`` of its settled calls,
    each added to the same counter's next reservation instead of a write of its own.

    Thread-safe: ``take`` removes what a write is about to carry, ``put_back`` returns it when the write did
    not happen (a refused condition), ``lost`` settles it when the write's outcome is unknown (an error after
    the request may have been applied): a correction that gives back is dropped and one that adds is kept, so
    either way the counter can only end up high, never low."""

    def __init__(self, limit: int = MAX_CARRIES) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._amounts: OrderedDict[str, int] = OrderedDict()

    def add(self, counter: str, amount: int) -> None:
        if not amount:
            return
        with self._lock:
            total = self._amounts.pop(counter, 0) + amount
            if total:
                self._amounts[counter] = total
            while len(self._amounts) > self.limit:
                self._amounts.popitem(last=False)

    def take(self, counter: str) -> int:
        with self._lock:
            return self._amounts.pop(counter, 0)

    def put_back(self, counter: str, amount: int) -> None:
        self.add(counter, amount)

    def lost(self, counter: str, amount: int) -> None:
        if amount > 0:
            self.add(counter, amount)

    def peek(self, counter: str) -> int:
        with self._lock:
            return self._amounts.get(counter, 0)


class DynamoBudgetLedger:
    """``BudgetLedger``: tokens per task (``budget#task#…``) and micro-dollars per UTC day (``budget#day#…``),
    one conditional ``ADD`` on each per model call (it was four writes: a reservation and a settlement each).

    A reservation adds the call's worst case to a counter with a condition that it stays under the cap, so
    concurrent workers can never overspend together. There is no settlement write: the correction of a
    settled call (``used - reserved``, nearly always negative, as the reservation is the worst case) is kept
    in this process (``Carry``) and added to the same counter's next reservation, which is then checked
    against the cap as the counter would stand settled. A carry that is never written (the process ended,
    or the task's next call is made by another function) leaves the counter above the real spend by that
    call's over-reservation: the cap then refuses early, never late.

    Bounds, per counter: the stored counter never passes its cap
    (every write is conditional); the real spend is the stored counter minus the carries not yet written, so
    it stays under the cap by the pending over-reservations, and could pass it only by the usage beyond a
    reservation of calls not yet followed by another reservation in their process (none while reservations
    are the worst case); the counter overcounts by at most the over-reservations each process settled since
    its last reservation on that counter (one call, for a process that makes its calls one at a time).

    The task counter keeps its own write rather than riding on the task's lifecycle writes: a redelivered
    task (a new process after a crash between the call and the task's next move) must see what it spent,
    and only a write made before the call records that.
    """

    def __init__(self, table_name: str, dynamodb: Any = None, clock: Clock = time.time) -> None:
        self.table = Table(table_name, dynamodb)
        self.clock = clock
        self.carry = Carry()

    def reserve(
        self, task_id: str, day: str, tokens: int, micro_usd: int, *, token_cap: int, micro_usd_cap: int
    ) -> None:
        if not self._reserve(Keys.task_budget(task_id), "tokens", tokens, token_cap, TASK_BUDGET_TTL):
            raise BudgetExceeded("task_tokens")
        if not self._reserve(Keys.day_budget(day), "micro_usd", micro_usd, micro_usd_cap, DAY_BUDGET_TTL):
            self.carry.add(_name(Keys.task_budget(task_id)), -tokens)  # given back with its next reservation
            raise BudgetExceeded("daily_usd")

    def settle(self, task_id: str, day: str, tokens: int, micro_usd: int) -> None:
        """No write: the corrections ride on each counter's next reservation from this process."""
        self.carry.add(_name(Keys.task_budget(task_id)), tokens)
        self.carry.add(_name(Keys.day_budget(day)), micro_usd)

    def spent_micro_usd(self, day: str) -> int:
        """The day's counter as this process sees it: as stored, with its own corrections not written yet."""
        return self._read(Keys.day_budget(day), "micro_usd")

    def spent_tokens(self, task_id: str) -> int:
        return self._read(Keys.task_budget(task_id), "tokens")

    def _read(self, key: Key, attribute: str) -> int:
        item = self.table.get(key, consistent=False) or {}
        return int(item.get(attribute, {}).get("N", "0")) + self.carry.peek(_name(key))

    def _reserve(self, key: Key, attribute: str, amount: int, cap: int, ttl: int) -> bool:
        """Add ``amount`` and this process's carry for the counter; False (nothing written, the carry kept)
        when the counter, settled, would pass ``cap``."""
        name = _name(key)
        carried = self.carry.take(name)
        total = amount + carried
        if total > cap:  # a first write would pass attribute_not_exists: refuse before writing
            self.carry.put_back(name, carried)
            return False
        if not amount and not carried:
            return True  # nothing to add (a plan's token-free counter): nothing to write
        values = {
            ":amount": {"N": str(total)},
            ":room": {"N": str(cap - total)},
            ":ttl": {"N": str(int(self.clock()) + ttl)},
        }
        try:
            self.table.update(
                key,
                "ADD #n :amount SET expires_at = if_not_exists(expires_at, :ttl)",
                ConditionExpression="attribute_not_exists(#n) OR #n <= :room",
                ExpressionAttributeNames={"#n": attribute},
                ExpressionAttributeValues=values,
            )
        except ConditionFailed:
            self.carry.put_back(name, carried)
            return False
        except BaseException:
            self.carry.lost(name, carried)
            raise
        return True


def _name(key: Key) -> str:
    return str(key["pk"]["S"])


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
