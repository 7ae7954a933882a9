"""Budgets per plan, enforced below the prompt by the budgeted client.

A plan's model calls go through a ``BudgetedLlm`` whose ``Budget`` caps the task's tokens at the plan's
token budget, over a ``PlanLedger``: the same atomic ledger, plus one more counter, the plan's micro-dollars
(kept under the key ``plan#<task id>`` in the ledger's day counters, so it is as atomic as the daily cap).
Like the inner ledger's, its corrections ride on its next reservation: a plan's call costs two conditional
writes (task, plan), a third for the day's counter only when the process's lease of it runs out, and no
settlement write; the plan's token-free task counter is never written.
A call that would pass either is not made (``BudgetExceeded``): the executor then stops the plan and hands
what it found to a person. ``switchboard.llm`` is used as it is.
"""

from __future__ import annotations

from dataclasses import replace

from switchboard.errors import BudgetExceeded
from switchboard.llm import Budget, BudgetedLlm, LlmConfig
from switchboard.plans.validate import Limits
from switchboard.ports import BudgetLedger

NO_CAP = 2**62


def plan_key(task_id: str) -> str:
    return f"plan#{task_id}"


class PlanLedger:
    """``BudgetLedger`` with the plan's dollars counted too (both or neither, like the inner ledger: a plan
    refusal gives the task's and the day's reservation back as corrections, carried, not written)."""

    def __init__(self, inner: BudgetLedger, micro_usd_cap: int) -> None:
        self.inner = inner
        self.micro_usd_cap = micro_usd_cap

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
        """The day's counter is leased as for any call; the plan's own counter is not (one write a call)."""
        self.inner.reserve(
            task_id,
            day,
            tokens,
            micro_usd,
            token_cap=token_cap,
            micro_usd_cap=micro_usd_cap,
            lease_micro_usd=lease_micro_usd,
        )
        try:
            self.inner.reserve(
                plan_key(task_id),
                plan_key(task_id),
                0,
                micro_usd,
                token_cap=NO_CAP,
                micro_usd_cap=self.micro_usd_cap,
            )
        except BudgetExceeded:
            self.inner.settle(task_id, day, -tokens, -micro_usd)
            raise BudgetExceeded("plan_usd") from None

    def settle(self, task_id: str, day: str, tokens: int, micro_usd: int) -> None:
        self.inner.settle(task_id, day, tokens, micro_usd)
        self.inner.settle(plan_key(task_id), plan_key(task_id), 0, micro_usd)

    def spent_micro_usd(self, day: str) -> int:
        return self.inner.spent_micro_usd(day)

    def spent_tokens(self, task_id: str) -> int:
        return self.inner.spent_tokens(task_id)

    def plan_spent_micro_usd(self, task_id: str) -> int:
        return self.inner.spent_micro_usd(plan_key(task_id))


def budgeted_for_plan(llm: BudgetedLlm, limits: Limits) -> BudgetedLlm:
    """The same client (key, cache, tiers, daily cap) with the plan's token and dollar budgets."""
    config: LlmConfig = replace(llm.config, task_token_cap=limits.max_tokens)
    ledger = PlanLedger(llm.budget.ledger, int(limits.max_usd * 1_000_000))
    budget = Budget(ledger, config, llm.budget.clock)
    client = BudgetedLlm(config, budget, llm.cache, llm.api_key, llm.base_url, llm._sdk)
    client.deadline = llm.deadline
    return client
