"""``Leases``, the day counter's lease bookkeeping, over a plain conditional counter: usage beyond a
reservation is paid with the next lease, a write whose outcome is unknown leaves the headroom as it was
(the counter can only end high), and a lease retired while a write was in flight loses no unpaid usage."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from switchboard.dynamo.llm import Carry, Leases
from switchboard.errors import DependencyUnavailable

DAY, NEXT_DAY = "day#2026-11-22", "day#2026-11-23"
CAP = 100_000


@dataclass
class Counter:
    """A stored counter with DynamoDB's conditional ADD; ``fail`` raises before (or after) applying one."""

    value: int = 0
    sizes: list[int] = field(default_factory=list)
    fail: str | None = None  # "before" or "after" the write is applied

    def add(self, size: int) -> int | None:
        self.sizes.append(size)
        if self.fail == "before":
            raise DependencyUnavailable("dynamodb", "UpdateItem", "ReadTimeout")
        if self.value + size > CAP:
            return self.value
        self.value += size
        if self.fail == "after":
            raise DependencyUnavailable("dynamodb", "UpdateItem", "ReadTimeout")
        return None


def test_usage_beyond_a_reservation_is_paid_with_the_next_lease() -> None:
    leases, carry, counter = Leases(), Carry(), Counter()
    assert leases.reserve(DAY, 1_000, 5_000, CAP, carry, counter.add)
    assert leases.keep(DAY, -4_500)  # the call used 5,500 of its 1,000: 500 beyond the lease
    assert leases.peek(DAY) == -500
    assert leases.reserve(DAY, 1_000, 5_000, CAP, carry, counter.add)
    assert counter.sizes == [5_000, 5_500]  # the next lease pays the 500 first
    assert counter.value == 10_500 and leases.peek(DAY) == 4_000  # 1,000 + 5,500 spent, 4,000 unspent


@pytest.mark.parametrize("fail", ["before", "after"])
def test_a_write_of_unknown_outcome_leaves_the_headroom_as_it_was(fail: str) -> None:
    leases, carry, counter = Leases(), Carry(), Counter()
    leases.reserve(DAY, 4_000, 5_000, CAP, carry, counter.add)  # 1,000 left
    counter.fail = fail
    with pytest.raises(DependencyUnavailable):
        leases.reserve(DAY, 2_000, 5_000, CAP, carry, counter.add)
    assert leases.peek(DAY) == 1_000  # not the lease that may have been added: stranded if it was
    assert counter.value - leases.peek(DAY) >= 4_000  # the counter never shows less than was reserved


def test_a_lease_retired_while_its_renewal_was_in_flight_keeps_the_unpaid_usage() -> None:
    leases, carry, counter = Leases(), Carry(), Counter()
    leases.reserve(DAY, 1_000, 1_000, CAP, carry, counter.add)
    leases.keep(DAY, -700)  # the call used 700 more than it reserved
    other_day = Counter()

    def renewal_refused_after_midnight(size: int) -> int | None:
        leases.reserve(NEXT_DAY, 10, 1_000, CAP, carry, other_day.add)  # another thread, on the next day
        return CAP  # and this one's lease does not fit

    assert not leases.reserve(DAY, 1_000, 1_000, CAP, carry, renewal_refused_after_midnight)
    assert leases.peek(DAY) == 0 and carry.peek(DAY) == 700  # kept, as an unleased counter keeps it
