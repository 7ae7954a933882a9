"""A plan: a DAG of typed steps, as the planner returns it (structured output) and as the executor runs it.

Kinds of step:
- ``lookup``: one read-only tool (``switchboard.lookups``) with typed parameters;
- ``model``: one model call that drafts text from what its dependencies read (``instruction``);
- ``action``: one typed ability (``switchboard.abilities``), its text parameters possibly naming an earlier
  step's output as ``{{step.field}}``;
- ``review``: a person's decision (``question``), a durable callback with a timeout.

A ``fallback`` step is the plan's other path: it runs only when one of its dependencies did not complete
(failed or was skipped), and is skipped when they all did; it says why in its output (``because``).

Each step has its dependencies, a timeout, a retry policy (attempts on transient errors), success criteria
(deterministic names, or ``judge: …`` for the cheap evaluator model), what a failure means (``on_fail``:
``soft`` log and go on, ``skip`` leave it out and say what is missing, ``replan``, ``halt``) and a cost
estimate.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

StepId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,23}$")]
ShortText = Annotated[str, StringConstraints(max_length=500)]

#: The deterministic success criteria (anything else must start with ``judge:``).
CRITERIA = frozenset({"found", "nonempty", "cites", "sent", "approved"})


class StepKind(StrEnum):
    LOOKUP = "lookup"
    MODEL = "model"
    ACTION = "action"
    REVIEW = "review"


class OnFail(StrEnum):
    SOFT = "soft"  # usable but not good: log a warning, go on
    SKIP = "skip"  # not critical: leave it (and what needs it) out, the answer says what is missing
    REPLAN = "replan"  # the output is wrong: plan again with the failure context
    HALT = "halt"  # unexpected state: stop and hand it to a person with the full context


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: StepId
    kind: StepKind
    tool: str | None = Field(default=None, description="lookup steps: the lookup's name")
    ability: str | None = Field(default=None, description="action steps: the ability's name")
    params: dict[str, Any] = Field(default_factory=dict)
    instruction: ShortText = Field(default="", description="model steps: what to write")
    question: ShortText = Field(default="", description="review steps: what the person must decide")
    deps: list[StepId] = Field(default_factory=list, max_length=12)
    timeout_s: int = Field(default=60, ge=1, le=86_400 * 7)
    retries: int = Field(default=1, ge=0, le=3)
    criteria: list[ShortText] = Field(default_factory=list, max_length=5)
    on_fail: OnFail = OnFail.REPLAN
    fallback: bool = Field(
        default=False,
        description="the plan's other path: runs only when one of its deps did not complete (for example, "
        "triage a bug report as usual when the duplicate search found nothing), and is skipped when all did",
    )
    estimate_usd: float = Field(default=0.0, ge=0)
    estimate_tokens: int = Field(default=0, ge=0)

    def signature(self) -> tuple[Any, ...]:
        """What the step does, without its name: two plans that differ only in names are the same plan."""
        params = repr(sorted(self.params.items()))
        return (self.kind.value, self.tool, self.ability, params, self.instruction, self.fallback)


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    goal: ShortText
    steps: list[Step] = Field(min_length=1, max_length=50)

    def step(self, step_id: str) -> Step:
        return next(step for step in self.steps if step.id == step_id)

    def signature(self) -> frozenset[tuple[Any, ...]]:
        return frozenset(step.signature() for step in self.steps)

    def estimate_usd(self) -> float:
        return sum(step.estimate_usd for step in self.steps)

    def estimate_tokens(self) -> int:
        return sum(step.estimate_tokens for step in self.steps)

    def waves(self) -> list[list[Step]]:
        """The steps in topological layers: each wave's steps depend only on earlier waves (run in
        parallel); ordered by position within a wave, so every replay sees the same order. Assumes a
        validated (acyclic) plan."""
        done: set[str] = set()
        left = list(self.steps)
        waves: list[list[Step]] = []
        while left:
            wave = [step for step in left if set(step.deps) <= done]
            if not wave:
                raise ValueError("the plan has a cycle")
            waves.append(wave)
            done |= {step.id for step in wave}
            left = [step for step in left if step.id not in done]
        return waves


def plan_tool_schema() -> dict[str, Any]:
    """The planner's one tool: its input is the plan (structured output through a forced-by-prompt tool)."""
    schema = Plan.model_json_schema()
    return {
        "name": "submit_plan",
        "description": "Submit the plan: a DAG of typed steps that answers the request.",
        "input_schema": schema,
    }
