"""A plan's budget over the carried ledger: its dollars are checked on each reservation like the day's, its
settlements ride on the next reservation, and a plan refusal gives the task's and the day's back."""

from __future__ import annotations

import pytest

from switchboard.errors import BudgetExceeded
from switchboard.plans.budget import PlanLedger
from tests.fakes.memory import MemoryBudgetLedger

DAY = "2026-11-22"
CAPS = {"token_cap": 20_000, "micro_usd_cap": 1_000_000}


def test_a_plan_call_takes_three_conditional_writes_and_no_settlement_write() -> None:
    inner = MemoryBudgetLedger()
    plan = PlanLedger(inner, micro_usd_cap=10_000)
    plan.reserve("t1", DAY, 1_000, 4_000, **CAPS)
    assert inner.writes == 3  # the task's tokens, the day's and the plan's dollars (no token-free counter)
    plan.settle("t1", DAY, -500, -3_000)
    assert inner.writes == 3
    assert (plan.spent_tokens("t1"), plan.spent_micro_usd(DAY), plan.plan_spent_micro_usd("t1")) == (
        500,
        1_000,
        1_000,
    )


def test_the_plan_cap_refuses_as_the_plan_stands_settled_and_gives_the_rest_back() -> None:
    inner = MemoryBudgetLedger()
    plan = PlanLedger(inner, micro_usd_cap=10_000)
    plan.reserve("t1", DAY, 1_000, 4_000, **CAPS)
    plan.settle("t1", DAY, -500, -3_000)  # spent 1,000 µ$ of the plan's 10,000
    with pytest.raises(BudgetExceeded) as refused:
        plan.reserve("t1", DAY, 1_000, 9_001, **CAPS)
    assert refused.value.which == "plan_usd"
    # the task's and the day's reservations were given back
    assert (plan.spent_tokens("t1"), plan.spent_micro_usd(DAY), plan.plan_spent_micro_usd("t1")) == (
        500,
        1_000,
        1_000,
    )
    plan.reserve("t1", DAY, 1_000, 9_000, **CAPS)  # exactly the plan's cap
    assert plan.plan_spent_micro_usd("t1") == 10_000 == inner.micro_usd["plan#t1"]
