"""A budget counter unleased (a plan's dollars; the day's with no ``lease_micro_usd``, as here), one
conditional write per model call: every settlement is carried into the same process's next reservation (the
day's leased counter: ``tests/integration/test_day_lease.py``). Whatever the interleaving of processes
(reservations in flight, settlements, a process that ends and loses its carry), the stored counter never
passes the cap, and what was really spent passes it only by the usage beyond a reservation whose correction
was never written (none while the reservation is the worst case); the counter overcounts by at most each
process's corrections not written.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import example, given, settings
from hypothesis import strategies as st

from switchboard.errors import BudgetExceeded
from tests.fakes.memory import FakeClock, MemoryBudgetLedger

DAY = "2026-11-22"
CAP = 50_000
PROCESSES = 4


@dataclass
class Process:
    ledger: MemoryBudgetLedger
    in_flight: list[int] = field(default_factory=list)  # reservations whose call has not settled


@dataclass
class World:
    clock: FakeClock = field(default_factory=FakeClock)
    tokens: dict[str, int] = field(default_factory=dict)
    micro_usd: dict[str, int] = field(default_factory=dict)
    processes: list[Process] = field(default_factory=list)
    settled_usage: int = 0
    lost_carries: int = 0  # corrections of ended processes, never written
    calls: int = 0
    refusals: set[str] = field(default_factory=set)

    def fresh(self) -> Process:
        return Process(MemoryBudgetLedger(self.clock, self.tokens, self.micro_usd))

    def carry(self, process: Process) -> int:
        return process.ledger.carry.peek(f"day#{DAY}")

    def stored(self) -> int:
        return self.micro_usd.get(DAY, 0)

    def committed(self) -> int:
        """What was really spent or may be: the settled calls' usage and the calls in flight, at worst."""
        return self.settled_usage + sum(sum(p.in_flight) for p in self.processes)


operation = st.one_of(
    # round amounts, so that sums land on the cap and just past it
    st.tuples(st.just("reserve"), st.integers(0, PROCESSES - 1), st.sampled_from([1, 5_000, 10_000, 20_000])),
    # the usage as a share of the reservation, up to 120 %: an estimate that came out short
    st.tuples(st.just("settle"), st.integers(0, PROCESSES - 1), st.sampled_from([0, 50, 99, 100, 110, 120])),
    st.tuples(st.just("end"), st.integers(0, PROCESSES - 1), st.just(0)),
)


def run(world: World, operations: list[tuple[str, int, int]]) -> None:
    world.processes = [world.fresh() for _ in range(PROCESSES)]
    for kind, n, amount in operations:
        process = world.processes[n]
        if kind == "reserve":
            world.calls += 1
            try:
                process.ledger.reserve(f"t{world.calls}", DAY, 0, amount, token_cap=1, micro_usd_cap=CAP)
            except BudgetExceeded as exc:
                world.refusals.add(exc.which)
            else:
                process.in_flight.append(amount)
        elif kind == "settle" and process.in_flight:
            reserved = process.in_flight.pop(0)
            used = reserved * amount // 100
            world.settled_usage += used
            process.ledger.settle("t", DAY, 0, used - reserved)
        elif kind == "end":  # its calls in flight settle at their reservation, its carry is lost
            world.settled_usage += sum(process.in_flight)
            world.lost_carries += world.carry(process)
            world.processes[n] = world.fresh()
        check(world)


def check(world: World) -> None:
    carries = [world.carry(p) for p in world.processes]
    assert world.refusals <= {"daily_usd"}
    assert world.stored() <= CAP  # every write is conditional
    # the stored counter is the real spend with every unwritten correction still to come
    assert world.stored() == world.committed() - sum(carries) - world.lost_carries
    # hence the bound: past the cap by no more than the positive corrections not written
    short = sum(c for c in carries if c > 0) + max(world.lost_carries, 0)
    assert world.committed() <= CAP + short


@settings(max_examples=300, deadline=None)
@given(st.lists(operation, max_size=60))
# a short estimate carried into a reservation that fits only without it
@example([("reserve", 0, 20_000), ("reserve", 0, 20_000), ("settle", 0, 120), ("reserve", 0, 10_000)])
def test_interleaved_reservers_stay_within_the_documented_bound(
    operations: list[tuple[str, int, int]],
) -> None:
    run(World(), operations)


@settings(max_examples=100, deadline=None)
@given(st.lists(operation, max_size=60))
def test_with_worst_case_reservations_the_cap_holds_and_only_unwritten_corrections_overcount(
    operations: list[tuple[str, int, int]],
) -> None:
    worst_case = [
        (kind, n, min(amount, 100) if kind == "settle" else amount) for kind, n, amount in operations
    ]
    world = World()
    run(world, worst_case)
    assert world.committed() <= CAP
    live_overcount = -sum(world.carry(p) for p in world.processes)
    assert 0 <= world.stored() - world.committed() == live_overcount - world.lost_carries


def test_a_refused_reservation_writes_nothing_and_keeps_the_carry() -> None:
    world = World()
    [process] = world.processes = [world.fresh()]
    process.ledger.reserve("t1", DAY, 0, 40_000, token_cap=1, micro_usd_cap=CAP)
    process.ledger.settle("t1", DAY, 0, -30_000)  # it used 10,000
    other = world.fresh()
    try:
        other.ledger.reserve("t2", DAY, 0, 20_000, token_cap=1, micro_usd_cap=CAP)  # 40,000 stored + 20,000
    except BudgetExceeded:
        pass
    else:
        raise AssertionError("another process sees the stored 40,000: refused early, never late")
    process.ledger.reserve("t3", DAY, 0, 20_000, token_cap=1, micro_usd_cap=CAP)  # 10,000 + 20,000: fits
    assert world.stored() == 30_000 and world.carry(process) == 0
