"""A plan is checked in code before anything runs; what does not pass is simplified or rejected with a reason.

The rules: unique step ids, dependencies that exist, no cycle, at most ``Limits.max_steps`` steps, only the
lookups allowed on the event's platform (``switchboard.lookups.check``: their targets bound from the event),
only the abilities allowed there (``switchboard.abilities``: their targets bound too), every action admissible
by the policy gate for this event's author (``switchboard.policy``; an action that a review step comes before
is judged as a person's choice, since a person approves it first), deterministic criteria from the known
list or ``judge: …``, total estimated cost within the plan's budget, and, for a replan, a plan that differs
from every earlier one (replanning is not retrying). Too many steps or too high an estimate: the optional
(``on_fail: skip``) leaf steps are dropped, last first, until it fits; if it still does not, rejected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from switchboard import action_ids, lookups
from switchboard.abilities import ability, allowed_on
from switchboard.errors import InvalidParams, PlanRejected, UnknownAbility
from switchboard.models import ActionRequest, InboundEvent
from switchboard.plans.model import CRITERIA, OnFail, Plan, Step, StepKind
from switchboard.policy import Chooser, PolicyGate

#: ``{{step.field}}``: an earlier step's output, resolved at run time.
TEMPLATE = re.compile(r"\{\{([a-z][a-z0-9_]{0,23})\.([a-z_]{1,32})\}\}")
#: What a plan may never do itself: it hands a task to a person by halting, never by choosing to.
NOT_PLANNABLE = frozenset({"escalate.human"})


@dataclass(frozen=True)
class Limits:
    max_steps: int = 8
    max_usd: float = 0.25
    max_tokens: int = 60_000


def references(value: Any) -> set[str]:
    """The step ids that ``value`` (a parameter, possibly nested) names in templates."""
    if isinstance(value, str):
        return {match.group(1) for match in TEMPLATE.finditer(value)}
    if isinstance(value, list):
        return set().union(*(references(item) for item in value)) if value else set()
    if isinstance(value, dict):
        return set().union(*(references(item) for item in value.values())) if value else set()
    return set()


def placeholder(value: Any) -> Any:
    """``value`` with each template replaced by a stand-in text, to validate its shape before run time."""
    if isinstance(value, str):
        return TEMPLATE.sub(lambda m: f"(from {m.group(1)})", value)
    if isinstance(value, list):
        return [placeholder(item) for item in value]
    if isinstance(value, dict):
        return {key: placeholder(item) for key, item in value.items()}
    return value


def ancestors(plan: Plan, step: Step) -> set[str]:
    seen: set[str] = set()
    todo = list(step.deps)
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(plan.step(current).deps)
    return seen


def reviewed(plan: Plan, step: Step) -> bool:
    """A review step comes before ``step``: a person approves it before it runs."""
    return any(plan.step(other).kind is StepKind.REVIEW for other in ancestors(plan, step))


def action_for(
    event: InboundEvent, step: Step, params: dict[str, Any], plan_no: int, position: int
) -> ActionRequest:
    spec = ability(step.ability or "")
    bound = spec.bound_params(event, params)
    return ActionRequest.for_task(
        event, action_ids.plan_step(plan_no, position), spec.name, spec.service, bound
    )


class Validator:
    def __init__(self, gate: PolicyGate, limits: Limits | None = None) -> None:
        self.gate = gate
        self.limits = limits or Limits()

    def validate(
        self, plan: Plan, event: InboundEvent, *, plan_no: int = 0, earlier: list[Plan] | None = None
    ) -> tuple[Plan, list[str]]:
        """The plan to run (maybe simplified) and the notes on what was changed; or ``PlanRejected``."""
        notes: list[str] = []
        self._shape(plan)
        for step in plan.steps:
            self._step(plan, step, event, plan_no)
        for number, before in enumerate(earlier or []):
            if plan.signature() == before.signature():
                raise PlanRejected(f"the new plan repeats plan {number}: replanning must change the approach")
        plan = self._fit(plan, notes)
        return plan, notes

    def _shape(self, plan: Plan) -> None:
        ids = [step.id for step in plan.steps]
        if len(set(ids)) != len(ids):
            raise PlanRejected("step ids are not unique")
        for step in plan.steps:
            missing = [dep for dep in step.deps if dep not in ids]
            if missing:
                raise PlanRejected(f"step {step.id} depends on unknown steps {missing}")
            if step.id in step.deps:
                raise PlanRejected(f"step {step.id} depends on itself")
        try:
            plan.waves()
        except ValueError:
            raise PlanRejected("the plan has a cycle") from None

    def _step(self, plan: Plan, step: Step, event: InboundEvent, plan_no: int) -> None:
        for criterion in step.criteria:
            if criterion not in CRITERIA and not criterion.startswith("judge:"):
                raise PlanRejected(f"step {step.id}: unknown criterion {criterion!r}")
        if step.fallback and not step.deps:
            raise PlanRejected(f"step {step.id}: a fallback step needs the steps it stands in for")
        unknown = references(step.params) - ancestors(plan, step)
        if unknown:
            raise PlanRejected(
                f"step {step.id} uses outputs of {sorted(unknown)}, which it does not depend on"
            )
        try:
            if step.kind is StepKind.LOOKUP:
                lookups.check(step.tool or "", event, placeholder_lookup(step.params))
            elif step.kind is StepKind.ACTION:
                self._action(plan, step, event, plan_no)
            elif step.kind is StepKind.MODEL and (not step.instruction or not step.deps):
                raise PlanRejected(f"step {step.id}: a model step needs an instruction and what it reads")
            elif step.kind is StepKind.REVIEW and not step.question:
                raise PlanRejected(f"step {step.id}: a review step needs the question a person must decide")
        except (UnknownAbility, InvalidParams) as exc:
            raise PlanRejected(f"step {step.id}: {exc}") from None

    def _action(self, plan: Plan, step: Step, event: InboundEvent, plan_no: int) -> None:
        name = step.ability or ""
        if name in NOT_PLANNABLE:
            raise PlanRejected(f"step {step.id}: a plan may not choose {name}; it halts instead")
        if name not in {entry.name for entry in allowed_on(event.platform)}:
            raise PlanRejected(
                f"step {step.id}: {name or 'no ability'} is not allowed on {event.platform.value}"
            )
        action = action_for(event, step, placeholder(step.params), plan_no, plan.steps.index(step))
        chooser = Chooser.PERSON if reviewed(plan, step) else Chooser.MODEL
        verdict = self.gate.check(action, event, chooser, count_rate=False)
        if not verdict.allowed:
            raise PlanRejected(f"step {step.id}: refused by policy: {verdict.reason}")

    def _fit(self, plan: Plan, notes: list[str]) -> Plan:
        limits = self.limits

        def over(candidate: Plan) -> str | None:
            if len(candidate.steps) > limits.max_steps:
                return f"{len(candidate.steps)} steps, at most {limits.max_steps}"
            if candidate.estimate_usd() > limits.max_usd:
                return f"estimated ${candidate.estimate_usd():.4f}, the budget is ${limits.max_usd:.4f}"
            if candidate.estimate_tokens() > limits.max_tokens:
                return f"estimated {candidate.estimate_tokens()} tokens, the budget is {limits.max_tokens}"
            return None

        while (why := over(plan)) is not None:
            needed = {dep for step in plan.steps for dep in step.deps}
            optional = [s for s in plan.steps if s.on_fail is OnFail.SKIP and s.id not in needed]
            if not optional:
                raise PlanRejected(f"over the plan's limits ({why}) and nothing optional to leave out")
            dropped = optional[-1]
            notes.append(f"simplified: left out optional step {dropped.id} ({why})")
            plan = plan.model_copy(update={"steps": [s for s in plan.steps if s.id != dropped.id]})
        return plan


def placeholder_lookup(params: dict[str, Any]) -> dict[str, Any]:
    """A lookup's parameters with templates replaced by valid stand-ins of their field's type."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, str) and TEMPLATE.fullmatch(value):
            out[key] = {"number": 1, "id": "TCK-1"}.get(key, "placeholder")
        else:
            out[key] = value
    return out
