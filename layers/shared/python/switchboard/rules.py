"""The rules chain: ordered, first match wins. Deterministic rules decide everything they can.

A rule answers ``None`` (not mine, ask the next rule) or one of three results: ``Act`` (a direct action, no
LLM at all), ``Drop`` (with a reason), or ``NeedsClassification`` (only this reaches the small model).
The chain is configured in one place: ``default_chain()``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from switchboard.abilities import InvalidParams, ability
from switchboard.models import InboundEvent, Platform


@dataclass(frozen=True)
class PlannedAction:
    ability: str
    params: dict[str, Any]


@dataclass(frozen=True)
class Act:
    rule: str
    actions: tuple[PlannedAction, ...]


@dataclass(frozen=True)
class Drop:
    rule: str
    reason: str


@dataclass(frozen=True)
class NeedsClassification:
    rule: str = "fallthrough"
    hints: dict[str, Any] = field(default_factory=dict)


RuleResult = Act | Drop | NeedsClassification


class Rule(Protocol):
    name: ClassVar[str]

    def evaluate(self, event: InboundEvent) -> RuleResult | None: ...


def planned(ability_name: str, params: dict[str, Any]) -> PlannedAction:
    """A planned action whose parameters already passed the ability's model."""
    return PlannedAction(ability_name, ability(ability_name).validate(params))


class BotLoopGuard:
    """Never answer a bot, including ourselves: that is how agents talk to each other forever."""

    name: ClassVar[str] = "loop_guard"

    def evaluate(self, event: InboundEvent) -> RuleResult | None:
        return Drop(self.name, "author_is_bot") if event.author_is_bot else None


class LabelCommand:
    """``/label bug`` or ``/label bug, needs-triage`` on a GitHub issue or PR."""

    name: ClassVar[str] = "command_label"
    pattern: ClassVar[re.Pattern[str]] = re.compile(r"^/label[ \t]+(?P<labels>[^\n]+)$", re.MULTILINE)

    def evaluate(self, event: InboundEvent) -> RuleResult | None:
        if event.platform is not Platform.GITHUB:
            return None
        match = self.pattern.search(event.text)
        if not match:
            return None
        labels = [label.strip() for label in re.split(r"[,\s]+", match["labels"]) if label.strip()]
        try:
            action = planned(
                "github.add_labels",
                {"repo": event.context.get("repo"), "number": event.context.get("number"), "labels": labels},
            )
        except InvalidParams as exc:
            return Drop(self.name, f"invalid_command:{exc.errors[0]['loc'][0] if exc.errors else 'params'}")
        return Act(self.name, (action,))


class RuleChain:
    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = tuple(rules)

    def evaluate(self, event: InboundEvent) -> RuleResult:
        for rule in self.rules:
            result = rule.evaluate(event)
            if result is not None:
                return result
        return NeedsClassification()


def default_chain() -> RuleChain:
    """The one place the chain is configured. Order matters: the first match wins."""
    return RuleChain([BotLoopGuard(), LabelCommand()])
