"""What the small model answers, and the policy (in code) for what each answer leads to.

The model returns an intent from a fixed enum plus a confidence. Code decides the rest: which intents are
dropped, which are simple enough for a direct action, and which need reasoning (the decide step, with a
stronger model). A low confidence asks the next tier to classify again: escalation is explicit, never a
default.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from switchboard.fields import fit
from switchboard.models import InboundEvent, Platform
from switchboard.rules import PlannedAction, planned


class Intent(StrEnum):
    BUG_REPORT = "bug_report"
    QUESTION = "question"
    FEATURE_REQUEST = "feature_request"
    SUPPORT_REQUEST = "support_request"
    FEEDBACK = "feedback"
    SPAM = "spam"
    ABUSE = "abuse"
    OTHER = "other"


class Classification(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    intent: Intent
    confidence: float = Field(ge=0, le=1)


CLASSIFY_TOOL: dict[str, Any] = {
    "name": "classify_intent",
    "description": "Record the intent of the message and your confidence in it.",
    "input_schema": {
        "type": "object",
        "properties": {
            "intent": {"type": "string", "enum": [intent.value for intent in Intent]},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        },
        "required": ["intent", "confidence"],
        "additionalProperties": False,
    },
}


def parse_classification(tool_input: dict[str, Any]) -> Classification:
    """Raises pydantic's ``ValidationError`` off the schema (the caller repairs once, then escalates)."""
    return Classification.model_validate(tool_input)


@dataclass(frozen=True)
class Policy:
    """Routing policy, configured in code: thresholds and the lists that send an intent somewhere."""

    confidence_threshold: float = 0.7
    drop: frozenset[Intent] = frozenset({Intent.SPAM, Intent.ABUSE})
    needs_reasoning: frozenset[Intent] = frozenset(
        {Intent.QUESTION, Intent.FEATURE_REQUEST, Intent.SUPPORT_REQUEST, Intent.OTHER}
    )


def direct_actions(event: InboundEvent, intent: Intent) -> tuple[PlannedAction, ...] | None:
    """The simple intents' actions, per platform. None: nothing to do here (the task is dropped, with why)."""
    if intent is Intent.BUG_REPORT:
        if event.platform is Platform.GITHUB:
            return (planned(event, "github.add_labels", {"labels": ["bug", "needs-triage"]}),)
        title = (event.text.split("\n", 1)[0] or "Bug report")[:120]
        title = title if len(title) >= 3 else "Bug report"
        # an event's text may be twice as long as a ticket's body: cut, and say so in the body
        return (planned(event, "tickets.create", {"title": title, "body": fit(event.text or title)}),)
    if intent is Intent.FEEDBACK and event.platform is Platform.GITHUB:
        return (planned(event, "github.add_labels", {"labels": ["feedback"]}),)
    return None
