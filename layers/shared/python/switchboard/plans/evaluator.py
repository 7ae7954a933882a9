"""The evaluator: after each step, its output against the step's success criteria.

Deterministic criteria where they suffice (``found``: a lookup read something; ``nonempty``: a draft has
text; ``cites``: a draft names one of the references its dependencies read; ``sent``: an action passed the
gate and went to its queue; ``approved``: a person said yes). A ``judge: …`` criterion asks the cheap model
(the small tier, ``judge_step``), once per step, through the budgeted client. A failed criterion takes the
step's ``on_fail``: soft (log, go on), skip (leave it out, say what is missing), replan, halt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from switchboard.llm import BudgetedLlm, LedgerEntry
from switchboard.plans.model import OnFail, Step
from switchboard.prompts import _UNTRUSTED, encode

EVALUATOR_TIER = "small"

JUDGE_SYSTEM = (
    "You are Switchboard's evaluator. "
    + _UNTRUSTED
    + "Judge whether the step's output meets its success criterion; call judge_step once."
)

JUDGE_TOOL: dict[str, Any] = {
    "name": "judge_step",
    "description": "Whether the output meets the criterion, and why.",
    "input_schema": {
        "type": "object",
        "properties": {"passed": {"type": "boolean"}, "reason": {"type": "string", "maxLength": 300}},
        "required": ["passed", "reason"],
        "additionalProperties": False,
    },
}


@dataclass(frozen=True)
class Verdict:
    passed: bool
    level: str  # "ok" or the step's on_fail
    reason: str
    by: str  # "rules" or "model"

    def to_json(self) -> dict[str, Any]:
        return {"passed": self.passed, "level": self.level, "reason": self.reason, "by": self.by}


def deterministic(step: Step, output: dict[str, Any], cited: list[str]) -> str | None:
    """None when every deterministic criterion holds, else the first one that does not, and why."""
    for criterion in step.criteria:
        if criterion == "found" and not output.get("found"):
            return "found: the lookup read nothing"
        if criterion == "nonempty" and not str(output.get("text") or "").strip():
            return "nonempty: the draft is empty"
        if criterion == "cites":
            text = str(output.get("text") or "")
            if cited and not any(ref and ref in text for ref in cited):
                return f"cites: the draft names none of {cited[:3]}"
        if criterion == "sent" and not output.get("sent"):
            return f"sent: {output.get('reason') or 'the action was not sent'}"
        if criterion == "approved" and not output.get("approved"):
            return f"approved: {output.get('reason') or 'the person did not approve'}"
    return None


def judged(step: Step) -> list[str]:
    return [c.removeprefix("judge:").strip() for c in step.criteria if c.startswith("judge:")]


class Evaluator:
    def __init__(self, llm: BudgetedLlm | None, tier: str = EVALUATOR_TIER) -> None:
        self.llm = llm
        self.tier = tier

    def rules(self, step: Step, output: dict[str, Any], cited: list[str]) -> Verdict | None:
        """The deterministic verdict; None when it passes and a model must still judge."""
        if output.get("error"):
            return Verdict(False, step.on_fail.value, f"error: {output['error']}", "rules")
        failed = deterministic(step, output, cited)
        if failed is not None:
            return Verdict(False, step.on_fail.value, failed, "rules")
        if not judged(step) or self.llm is None:
            return Verdict(True, "ok", "criteria met", "rules")
        return None

    def judge(self, task_id: str, step: Step, output: dict[str, Any]) -> tuple[Verdict, list[LedgerEntry]]:
        """The cheap model on the ``judge:`` criteria (the output is framed as untrusted data)."""
        assert self.llm is not None
        criteria = "; ".join(judged(step))
        content = (
            f"<context>{encode({'criterion': criteria, 'step': step.id})}</context>\n"
            f"<user_message>{encode(str(output.get('text') or '')[:4_000])}</user_message>"
        )
        answer = self.llm.choose_tool(
            purpose="classify",
            task_id=task_id,
            tier=self.tier,
            system=JUDGE_SYSTEM,
            messages=[{"role": "user", "content": content}],
            tools=[JUDGE_TOOL],
            max_tokens=200,
        )
        call = answer.call
        if call is None or call.name != "judge_step" or not isinstance(call.input.get("passed"), bool):
            return Verdict(False, OnFail.SOFT.value, "the evaluator gave no verdict", "model"), answer.ledger
        reason = str(call.input.get("reason") or "")[:300]
        if call.input["passed"]:
            return Verdict(True, "ok", reason or "judged good", "model"), answer.ledger
        return Verdict(False, step.on_fail.value, reason or "judged not good", "model"), answer.ledger
