from __future__ import annotations

from datetime import UTC, datetime

import pytest

from switchboard.models import InboundEvent, Platform
from switchboard.rules import Act, Drop, NeedsClassification, PlannedAction, default_chain


def event(text: str, platform: Platform = Platform.GITHUB, bot: bool = False) -> InboundEvent:
    return InboundEvent(
        platform=platform,
        event_id="e-1",
        event_type="issue_comment.created",
        author="mona",
        author_is_bot=bot,
        conversation="octo-org/demo#7",
        text=text,
        received_at=datetime.now(UTC),
        context={"repo": "octo-org/demo", "number": "7", "kind": "issue"},
    )


@pytest.mark.parametrize(
    ("text", "labels"),
    [
        ("/label bug", ["bug"]),
        ("/label bug, needs-triage", ["bug", "needs-triage"]),
        ("Thanks!\n/label documentation", ["documentation"]),
    ],
)
def test_label_command_becomes_a_direct_action(text: str, labels: list[str]) -> None:
    result = default_chain().evaluate(event(text))
    assert result == Act(
        "command_label",
        (PlannedAction("github.add_labels", {"repo": "octo-org/demo", "number": 7, "labels": labels}),),
    )


def test_bot_authors_are_dropped_before_any_command() -> None:
    assert default_chain().evaluate(event("/label bug", bot=True)) == Drop("loop_guard", "author_is_bot")


def test_label_command_with_an_invalid_label_is_dropped_with_a_reason() -> None:
    result = default_chain().evaluate(event("/label " + "x" * 60))
    assert isinstance(result, Drop)
    assert result.reason == "invalid_command:labels"


def test_label_command_only_applies_on_github() -> None:
    assert isinstance(
        default_chain().evaluate(event("/label bug", platform=Platform.SLACK)), NeedsClassification
    )


def test_free_text_needs_classification() -> None:
    assert isinstance(default_chain().evaluate(event("Does this also fail with JSON?")), NeedsClassification)
