"""The budgeted LLM client's storage: two kinds of atomic budget counter and the response cache."""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
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


class Leases:
    """This process's headroom on each leased counter: micro-dollars already added to the stored counter (a
    lease) and not spent by its calls yet, less what its calls used beyond their reservations.

    Positive headroom is the unspent rest of a lease (a settled call that used less than it reserved gives
    its remainder back here); negative headroom is usage not yet added to the stored counter (an estimate
    that came out short), paid with the next lease. It is a ``Carry`` with the sign turned, kept apart so
    that only the counters that lease (the day's) stop writing once per call.

    Thread-safe: a call the headroom covers is checked and taken in one step; ``reserve`` takes the whole
    headroom out while it writes (another thread then sees none and leases for itself: more writes, never
    an overdraft) and gives back what is left once it knows the write's outcome."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._headroom: dict[str, int] = {}

    def peek(self, counter: str) -> int:
        with self._lock:
            return self._headroom.get(counter, 0)

    def keep(self, counter: str, amount: int) -> bool:
        """Add ``amount`` to a held lease's headroom (a settlement); False when no lease is held."""
        with self._lock:
            if counter not in self._headroom:
                return False
            self._headroom[counter] += amount
            return True

    def reserve(
        self,
        counter: str,
        amount: int,
        lease: int,
        cap: int,
        carry: Carry,
        write: Callable[[int], int | None],
    ) -> bool:
        """Cover ``amount`` from the headroom, else by ``write``: a conditional ``ADD`` of its argument that
        answers None when written and, when the counter would pass ``cap``, the counter as it stood (-1: not
        known). First a full lease (``lease``, at least the call, less the headroom), then, when that does
        not fit, only what the call needs. False: refused, nothing written, the headroom kept. A write whose
        outcome is unknown (it raised) leaves the headroom as it was: if it was applied, its lease is
        stranded (the counter high, never low)."""
        self._retire_all_but(counter, carry)
        if self._spend(counter, amount):
            return True
        with self._lock:
            held = self._headroom.get(counter, 0) - carry.take(counter)  # a carried correction is -headroom
            self._headroom[counter] = 0
        need = amount - held
        if need <= 0:  # a carried give-back covered it
            self._give_back(counter, held - amount, carry)
            return True
        full = max(lease, amount) - held
        for size in dict.fromkeys((full, need)):  # near the cap, only what the call needs
            if size > cap:  # a first write would pass attribute_not_exists: refuse before writing
                continue
            try:
                stood = write(size)
            except BaseException:
                self._give_back(counter, held, carry)
                raise
            if stood is None:
                self._give_back(counter, held + size - amount, carry)
                return True
            if stood >= 0 and stood + need > cap:  # the call itself does not fit: no second try
                break
        self._give_back(counter, held, carry)
        return False

    def _give_back(self, counter: str, headroom: int, carry: Carry) -> None:
        """Return what ``reserve`` took out; if another thread retired the lease meanwhile (a new day), its
        unpaid usage is kept as a carry, as ``_retire_all_but`` keeps it."""
        if not self.keep(counter, headroom) and headroom < 0:
            carry.add(counter, -headroom)

    def _spend(self, counter: str, amount: int) -> bool:
        with self._lock:
            headroom = self._headroom.get(counter)
            if headroom is None or amount > headroom:
                return False
            self._headroom[counter] = headroom - amount
            return True

    def _retire_all_but(self, counter: str, carry: Carry) -> None:
        """A new UTC day starts a new lease: the other days' leases are dropped (their unspent rest stays
        counted, on the safe side), their unpaid usage kept as a carry, as an unleased counter's would be."""
        with self._lock:
            others = [name for name in self._headroom if name != counter]
            retired = [(name, self._headroom.pop(name)) for name in others]
        for name, headroom in retired:
            if headroom < 0:
                carry.add(name, -headroom)


class DynamoBudgetLedger:
    """``BudgetLedger``: tokens per task (``budget#task#…``) and micro-dollars per UTC day (``budget#day#…``),
    each changed by a conditional ``ADD`` that keeps it under its cap, so concurrent workers can never
    overspend together. The task's counter takes one per model call; the day's, shared by every worker,
    takes one per lease (``lease_micro_usd``), a small fraction of the day's calls.

    Corrections (``settle``) are not written. A task counter's (``used - reserved``, nearly always negative,
    as the reservation is the worst case) is kept in this process (``Carry``) and added to the same counter's
    next reservation, which is then checked against the cap as the counter would stand settled. A carry that
    is never written (the process ended, or the task's next call is made by another function) leaves the
    counter above the real spend by that call's over-reservation: the cap then refuses early, never late.

    The day's counter is leased (``Leases``): a reservation that its process's lease cannot cover adds a
    block of the day's budget (the lease, at least the call's own worst case, with the process's unpaid
    corrections) under the same condition, and later calls are taken from that block without a write until
    it cannot cover the next one. A settled call's remainder goes back into the lease. Near the cap, when a
    full lease does not fit, only what the call needs is added: a call is refused exactly when it does not
    fit the counter as it would stand settled, as without leases.

    Bounds, per counter: the stored counter never passes its cap (every write is conditional); the real
    spend is the stored counter minus the corrections and unspent leases not written back, so it stays under
    the cap, and could pass it only by usage beyond a reservation not yet paid by a later write of its
    process (none while reservations are the worst case). The counter overcounts by at most the
    over-reservations each process settled since its last write on it and, for the day's, the unspent
    leases of every process that held one that day: a process that ends (a Lambda container recycled)
    strands its lease, so at 0.2 % of the cap a lease, 50 container lifetimes in a day strand at most 10 %
    of it, refused early, never late.

    The task counter keeps its own write rather than riding on the task's lifecycle writes: a redelivered
    task (a new process after a crash between the call and the task's next move) must see what it spent,
    and only a write made before the call records that.
    """

    def __init__(self, table_name: str, dynamodb: Any = None, clock: Clock = time.time) -> None:
        self.table = Table(table_name, dynamodb)
        self.clock = clock
        self.carry = Carry()
        self.leases = Leases()

    def reserve(
        self,
        task_id: str,
        day: str,
        tokens: int,
        micro_usd: int,
        *,
        token_cap: int,
        micro_usd_cap: int,
        lease_micro_usd: int = 0,
    ) -> None:
        if not self._reserve(Keys.task_budget(task_id), "tokens", tokens, token_cap, TASK_BUDGET_TTL):
            raise BudgetExceeded("task_tokens")
        key = Keys.day_budget(day)
        if lease_micro_usd > 0:
            reserved = self.leases.reserve(
                _name(key),
                micro_usd,
                lease_micro_usd,
                micro_usd_cap,
                self.carry,
                lambda size: self._lease(key, size, micro_usd_cap),
            )
        else:
            reserved = self._reserve(key, "micro_usd", micro_usd, micro_usd_cap, DAY_BUDGET_TTL)
        if not reserved:
            self.carry.add(_name(Keys.task_budget(task_id)), -tokens)  # given back with its next reservation
            raise BudgetExceeded("daily_usd")

    def settle(self, task_id: str, day: str, tokens: int, micro_usd: int) -> None:
        """No write: the corrections ride on each counter's next reservation from this process (or stay in
        the day's lease, where one is held)."""
        self.carry.add(_name(Keys.task_budget(task_id)), tokens)
        day_name = _name(Keys.day_budget(day))
        if not self.leases.keep(day_name, -micro_usd):
            self.carry.add(day_name, micro_usd)

    def spent_micro_usd(self, day: str) -> int:
        """The day's counter as this process sees it: as stored, with its own corrections not written yet
        and its own unspent lease taken off. Other processes' unspent leases are still in it: reserved, not
        spent (about one lease, or one call bigger than a lease, per process that held one that day)."""
        name = _name(Keys.day_budget(day))
        return self._read(Keys.day_budget(day), "micro_usd") - self.leases.peek(name)

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
        try:
            self._add(key, attribute, total, cap, ttl)
        except ConditionFailed:
            self.carry.put_back(name, carried)
            return False
        except BaseException:
            self.carry.lost(name, carried)
            raise
        return True

    def _lease(self, key: Key, size: int, cap: int) -> int | None:
        """``Leases.reserve``'s write: None when added, else the day's counter as it stood."""
        try:
            self._add(
                key, "micro_usd", size, cap, DAY_BUDGET_TTL, ReturnValuesOnConditionCheckFailure="ALL_OLD"
            )
        except ConditionFailed as refused:
            return int((refused.item or {}).get("micro_usd", {}).get("N", "-1"))
        return None

    def _add(self, key: Key, attribute: str, amount: int, cap: int, ttl: int, **request: Any) -> None:
        """One conditional ``ADD``: ``ConditionFailed``, nothing written, if the counter would pass cap."""
        values = {
            ":amount": {"N": str(amount)},
            ":room": {"N": str(cap - amount)},
            ":ttl": {"N": str(int(self.clock()) + ttl)},
        }
        self.table.update(
            key,
            "ADD #n :amount SET expires_at = if_not_exists(expires_at, :ttl)",
            ConditionExpression="attribute_not_exists(#n) OR #n <= :room",
            ExpressionAttributeNames={"#n": attribute},
            ExpressionAttributeValues=values,
            **request,
        )


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
