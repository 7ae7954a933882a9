"""The planner: one model call with structured output (the ``submit_plan`` tool, whose input schema is the
plan's) that decomposes a request into a DAG of typed steps. It is shown what it may use: the lookups and
abilities allowed on the event's platform (each with its typed parameters, the event-bound ones left out) and,
for a replan, what failed and the plans tried before, so that it can choose a different path.

The request goes through the budgeted client (``switchboard.llm.BudgetedLlm``) and the per-model contract
(``switchboard.claude``): no code here builds a Messages API request.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from switchboard import lookups
from switchboard.abilities import allowed_on
from switchboard.llm import BudgetedLlm, LedgerEntry
from switchboard.models import InboundEvent
from switchboard.plans.model import Plan, plan_tool_schema
from switchboard.plans.validate import NOT_PLANNABLE, PlanRejected
from switchboard.prompts import _UNTRUSTED, user_turn

PLANNER_TIER = "medium"
PLAN_ANSWER_TOKENS = 2_048

PLAN_SYSTEM = (
    "You are Switchboard's planner. "
    + _UNTRUSTED
    + "Decompose the request into a small DAG of typed steps and submit it with submit_plan: lookup steps "
    "read with one of the context's lookups, model steps draft text from what their dependencies read, "
    "action steps use one of the context's abilities (text parameters may name an earlier step's output as "
    "{{step.field}}), review steps ask a person. A step with fallback true is the other path: it runs only "
    "when one of its deps did not complete (for example, triage a bug report as usual when no duplicate is "
    "found). Give each step its deps, timeout_s, retries, criteria, on_fail and a cost estimate. When the "
    "context holds a failure, plan a different approach."
)


def planner_facts(
    event: InboundEvent, intent: str, failure: dict[str, Any] | None, earlier: list[Plan]
) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "intent": intent,
        "lookups": [entry.schema() for entry in lookups.allowed_on(event.platform)],
        "abilities": [e.name for e in allowed_on(event.platform) if e.name not in NOT_PLANNABLE],
        "repo": event.context.get("repo", ""),
        "number": event.context.get("number", ""),
    }
    if failure is not None:
        facts["replan"] = failure
        facts["earlier_plans"] = [plan.model_dump(mode="json") for plan in earlier]
    return facts


class Planner:
    def __init__(self, llm: BudgetedLlm, tier: str = PLANNER_TIER) -> None:
        self.llm = llm
        self.tier = tier

    def plan(
        self,
        task_id: str,
        event: InboundEvent,
        intent: str,
        *,
        failure: dict[str, Any] | None = None,
        earlier: list[Plan] | None = None,
    ) -> tuple[Plan, list[LedgerEntry]]:
        """The model's plan (not yet validated: ``Validator``), and the ledger of the call."""
        answer = self.llm.choose_tool(
            purpose="decide",
            task_id=task_id,
            tier=self.tier,
            system=PLAN_SYSTEM,
            messages=user_turn(event, planner_facts(event, intent, failure, earlier or [])),
            tools=[plan_tool_schema()],
            max_tokens=PLAN_ANSWER_TOKENS,
            use_cache=failure is None,
        )
        if answer.call is None or answer.call.name != "submit_plan":
            raise PlanRejected("the planner submitted no plan")
        try:
            return Plan.model_validate(answer.call.input), answer.ledger
        except ValidationError as exc:
            raise PlanRejected(
                f"the plan is not valid: {exc.error_count()} errors, first: {exc.errors()[0]['msg']}"
            ) from None
