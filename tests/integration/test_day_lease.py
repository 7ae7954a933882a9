"""The day's budget counter, leased (``DynamoBudgetLedger`` on moto server, through the real boto3 client):
a process adds a block of the day's budget at once and takes its calls from it without a write, renews it
when it cannot cover the next call, cuts it to the call's own need at the cap (so a call is refused exactly
when it does not fit), and starts a new one on a new UTC day. Whatever the interleaving of two processes on
one table, the stored counter never passes the cap and what they committed never passes the counter."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from switchboard.dynamo import DynamoBudgetLedger
from switchboard.dynamo.keys import Keys
from switchboard.errors import BudgetExceeded
from switchboard.llm import Budget, LlmConfig
from tests.fakes.memory import FakeClock

TOKENS = {"token_cap": 10**9}


@dataclass
class Table:
    """The memory table on moto, its client and the UpdateItem requests sent to each budget counter."""

    name: str
    dynamodb: Any
    clock: FakeClock = field(default_factory=FakeClock)
    updates: list[str] = field(default_factory=list)  # the pk of each UpdateItem sent

    def ledger(self) -> DynamoBudgetLedger:
        """Another process's ledger on the same table."""
        return DynamoBudgetLedger(self.name, self.dynamodb, self.clock)

    def day_writes(self, day: str) -> int:
        return self.updates.count(str(Keys.day_budget(day)["pk"]["S"]))

    def stored(self, day: str) -> int:
        item = self.dynamodb.get_item(TableName=self.name, Key=Keys.day_budget(day), ConsistentRead=True)
        return int(item.get("Item", {}).get("micro_usd", {}).get("N", "0"))


@pytest.fixture
def table(aws: Callable[[str], Any], tables: tuple[str, str]) -> Table:
    dynamodb = aws("dynamodb")
    kept = Table(tables[1], dynamodb)

    def count(params: dict[str, Any], **_: Any) -> None:
        kept.updates.append(params["Key"]["pk"]["S"])

    dynamodb.meta.events.register("provide-client-params.dynamodb.UpdateItem", count)
    return kept


def a_day() -> str:
    """A day of its own (each counter starts at zero), in the ledger's key format."""
    return f"2026-11-{uuid.uuid4().hex[:6]}"


def test_a_second_call_inside_the_lease_makes_no_write(table: Table) -> None:
    day, ledger = a_day(), table.ledger()
    caps = {**TOKENS, "micro_usd_cap": 1_000_000, "lease_micro_usd": 50_000}
    ledger.reserve("t1", day, 10, 1_000, **caps)
    assert table.day_writes(day) == 1 and table.stored(day) == 50_000  # the lease, not the call
    ledger.reserve("t2", day, 10, 1_000, **caps)
    ledger.settle("t2", day, 0, -400)  # it used 600: the rest stays in the lease
    assert table.day_writes(day) == 1 and table.stored(day) == 50_000
    assert len(table.updates) == 3  # the tasks' counters are written per call, as before
    assert ledger.spent_micro_usd(day) == 1_600  # this process's own view: its unspent lease taken off
    assert table.ledger().spent_micro_usd(day) == 50_000  # another's: reserved, not spent


def test_the_lease_renews_when_it_cannot_cover_the_next_call(table: Table) -> None:
    day, ledger = a_day(), table.ledger()
    caps = {**TOKENS, "micro_usd_cap": 1_000_000, "lease_micro_usd": 5_000}
    writes = []
    for n in range(5):
        ledger.reserve(f"t{n}", day, 0, 2_000, **caps)
        writes.append(table.day_writes(day))
    # 5,000 covers two calls of 2,000; the third tops the 1,000 left up to a full lease again
    assert writes == [1, 1, 2, 2, 3]
    assert table.stored(day) == 5_000 + 4_000 + 4_000
    assert ledger.spent_micro_usd(day) == 10_000

    ledger.settle("t4", day, 0, -2_000)  # the last call used nothing: its 2,000 go back into the lease
    ledger.reserve("t5", day, 0, 2_000, **caps)
    ledger.reserve("t6", day, 0, 2_000, **caps)
    assert table.day_writes(day) == 3  # 3,000 + 2,000 in the lease covered both


def test_a_call_bigger_than_the_lease_leases_its_own_worst_case(table: Table) -> None:
    day, ledger = a_day(), table.ledger()
    ledger.reserve("t1", day, 0, 80_000, **TOKENS, micro_usd_cap=1_000_000, lease_micro_usd=50_000)
    assert table.stored(day) == 80_000 and ledger.spent_micro_usd(day) == 80_000


def test_at_the_cap_a_call_that_fits_exactly_is_allowed_and_one_that_does_not_is_refused(
    table: Table,
) -> None:
    day, a, b = a_day(), table.ledger(), table.ledger()
    caps = {**TOKENS, "micro_usd_cap": 10_000, "lease_micro_usd": 4_000}
    a.reserve("a1", day, 0, 3_000, **caps)  # a leases 4,000 and keeps 1,000
    b.reserve("b1", day, 0, 5_000, **caps)  # bigger than a lease: b leases its own 5,000
    assert table.stored(day) == 9_000
    a.reserve("a2", day, 0, 2_000, **caps)  # a full lease (3,000 more) does not fit; the 1,000 it needs does
    assert table.stored(day) == 10_000 == a.spent_micro_usd(day)  # neither holds any of it unspent
    writes = len(table.updates)
    for name, ledger in (("a3", a), ("b2", b)):
        with pytest.raises(BudgetExceeded) as refused:
            ledger.reserve(name, day, 7, 1, **caps)
        assert refused.value.which == "daily_usd"
        assert ledger.spent_tokens(name) == 0  # the refusal gave its 7 tokens back (carried, as before)
    assert table.stored(day) == 10_000
    # each: the task's write and one refused lease (the counter it returns shows the call cannot fit either)
    assert len(table.updates) == writes + 2 * 2
    with pytest.raises(BudgetExceeded):
        a.reserve("huge", day, 0, 10_001, **caps)  # more than the cap: refused before any write of the day's
    assert table.day_writes(day) == 6  # a1, b1, a2's two tries, the two refused


def test_a_leased_and_an_unleased_counter_refuse_the_same_calls(table: Table) -> None:
    """Leases change when the day's counter is written, not which calls it allows: on one process the same
    calls, settled at half their reservation, are allowed and refused alike with and without a lease."""
    sizes = [3_000, 2_500, 4_000, 1_000, 3_500, 2_000, 1_500, 500, 2_000, 1_000]

    def outcomes(lease: int) -> list[bool]:
        day, ledger, allowed = a_day(), table.ledger(), []
        for n, size in enumerate(sizes):
            try:
                ledger.reserve(f"t{n}", day, 0, size, **TOKENS, micro_usd_cap=10_000, lease_micro_usd=lease)
            except BudgetExceeded:
                allowed.append(False)
            else:
                allowed.append(True)
                ledger.settle(f"t{n}", day, 0, -size // 2)
        return allowed

    assert outcomes(0) == outcomes(4_000)
    assert False in outcomes(4_000)  # the sizes do reach the cap


def test_a_new_utc_day_starts_a_new_lease(table: Table) -> None:
    config = LlmConfig(tiers={}, task_token_cap=10**9, daily_usd_cap=Decimal("25"), cache_ttl_seconds=60)
    budget = Budget(table.ledger(), config, table.clock)
    first = budget.day()
    budget.reserve("t1", 0, 1_000)
    budget.reserve("t2", 0, 1_000)
    assert (table.day_writes(first), table.stored(first)) == (1, 50_000)  # 0.2 % of $25
    table.clock.now += 86_400
    second = budget.day()
    budget.reserve("t3", 0, 1_000)
    assert (table.day_writes(second), table.stored(second)) == (1, 50_000)
    # the first day's unspent lease is left behind: counted as reserved, by this process too
    assert budget.ledger.spent_micro_usd(first) == 50_000
    assert budget.ledger.spent_micro_usd(second) == 1_000


def test_threads_sharing_one_leased_ledger_never_overdraw_it(table: Table) -> None:
    """Four threads of one process, each call settled at half its reservation: the lease is never spent
    twice, so what they committed plus the one unspent lease is exactly what is stored, within the cap."""
    day, ledger, cap = a_day(), table.ledger(), 30_000
    accepted: list[int] = []
    refused: list[str] = []

    def worker(n: int) -> None:
        for call in range(10):
            try:
                ledger.reserve(
                    f"t{n}-{call}", day, 0, 1_500, **TOKENS, micro_usd_cap=cap, lease_micro_usd=4_000
                )
            except BudgetExceeded as exc:
                refused.append(exc.which)
                continue
            ledger.settle(f"t{n}-{call}", day, 0, -750)
            accepted.append(750)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stored, unspent = table.stored(day), ledger.leases.peek(str(Keys.day_budget(day)["pk"]["S"]))
    assert stored <= cap
    assert stored == sum(accepted) + unspent
    assert (
        accepted and refused and set(refused) == {"daily_usd"}
    )  # 40 calls of 750 pass the cap: some refused
    assert table.day_writes(day) < len(accepted) + len(refused)  # and most calls were taken from a lease


CAP = 20_000
LEASE = 3_000

operation = st.one_of(
    # round sizes, below and above the lease, so that sums land on the cap and just past it
    st.tuples(st.just("reserve"), st.integers(0, 1), st.sampled_from([1, 500, 1_000, 2_999, 3_000, 7_000])),
    # the usage as a share of the reservation: worst-case reservations, the usage at most the reservation
    st.tuples(st.just("settle"), st.integers(0, 1), st.sampled_from([0, 50, 100])),
    # the process ends (a container recycled): its calls in flight settle in full, its lease is stranded
    st.tuples(st.just("end"), st.integers(0, 1), st.just(0)),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(operation, max_size=30))
@example([("reserve", 0, 2_999), ("reserve", 1, 7_000)] * 3 + [("reserve", 0, 1), ("reserve", 1, 1)])
def test_two_processes_leasing_one_day_never_pass_the_cap(
    table: Table, operations: list[tuple[str, int, int]]
) -> None:
    day = a_day()
    processes = [table.ledger(), table.ledger()]
    in_flight: list[list[int]] = [[], []]
    stranded = settled = granted = 0
    for kind, n, amount in operations:
        ledger = processes[n]
        if kind == "reserve":
            try:
                ledger.reserve("t", day, 0, amount, **TOKENS, micro_usd_cap=CAP, lease_micro_usd=LEASE)
            except BudgetExceeded:
                pass
            else:
                in_flight[n].append(amount)
                granted += amount
        elif kind == "settle" and in_flight[n]:
            reserved = in_flight[n].pop(0)
            used = reserved * amount // 100
            settled += used
            ledger.settle("t", day, 0, used - reserved)
        elif kind == "end":
            settled += sum(in_flight[n])
            stranded += ledger.leases.peek(str(Keys.day_budget(day)["pk"]["S"]))
            processes[n], in_flight[n] = table.ledger(), []
        stored = table.stored(day)
        committed = settled + sum(map(sum, in_flight))  # spent, or reserved by a call not settled yet
        unspent = sum(p.leases.peek(str(Keys.day_budget(day)["pk"]["S"])) for p in processes)
        assert stored <= CAP
        assert committed <= stored
        assert stored == committed + unspent + stranded  # the overcount is the leases' unspent rest
        if not settled:  # nothing given back yet: every grant is still held
            assert granted <= CAP
