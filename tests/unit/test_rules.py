from __future__ import annotations

from datetime import UTC, datetime

import pytest

from switchboard.models import InboundEvent, Platform
from switchboard.rules import (
    Act,
    Drop,
    NeedsClassification,
    PlannedAction,
    RuleChain,
    RulesConfig,
    default_chain,
)
from tests.fakes import FakeAuthorMemory


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
    result = default_chain().evaluate(event("/label " + "abcdefghij" * 6))
    assert isinstance(result, Drop)
    assert result.reason == "invalid_command:labels"


def test_label_command_only_applies_on_github() -> None:
    assert isinstance(
        default_chain().evaluate(event("/label bug", platform=Platform.SLACK)), NeedsClassification
    )


def test_free_text_needs_classification() -> None:
    assert isinstance(default_chain().evaluate(event("Does this also fail with JSON?")), NeedsClassification)


def chain_with(memory: FakeAuthorMemory, limit: int = 20) -> RuleChain:
    return default_chain(memory, RulesConfig(rate_limit=limit))


def test_blocked_authors_are_dropped_before_anything_answers_or_counts_them() -> None:
    assert chain_with(FakeAuthorMemory(blocked={"mona"})).evaluate(event("/label bug")) == Drop(
        "block_list", "author_blocked"
    )


def test_our_own_account_is_never_answered() -> None:
    ours = event("/label bug").model_copy(update={"author": "switchboard[bot]"})
    assert default_chain().evaluate(ours) == Drop("loop_guard", "author_is_bot")


def test_rate_limit_replies_once_then_drops() -> None:
    memory = FakeAuthorMemory()
    chain = chain_with(memory, limit=2)
    results = [chain.evaluate(event("/label bug")) for _ in range(4)]
    assert [type(r).__name__ for r in results] == ["Act", "Act", "Act", "Drop"]
    polite = results[2]
    assert isinstance(polite, Act)
    assert polite.rule == "rate_limit"
    assert polite.actions[0].ability == "github.comment"
    assert results[3] == Drop("rate_limit", "rate_limited")


def test_trusted_accounts_skip_the_rate_limit_and_spam_filters() -> None:
    memory = FakeAuthorMemory(trusted={"mona"})
    chain = chain_with(memory, limit=1)
    for _ in range(3):
        assert isinstance(chain.evaluate(event("/label bug")), Act)
    assert isinstance(chain.evaluate(event("buy cheap followers at https://x.example")), NeedsClassification)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Buy cheap followers now https://spam.example", "spam"),
        ("Double your bitcoin today!", "spam"),
        (" ".join(f"https://l{i}.example" for i in range(8)), "spam"),
        ("you stupid bot, fuck you", "abuse"),
    ],
)
def test_spam_and_abuse_are_dropped(text: str, reason: str) -> None:
    assert default_chain().evaluate(event(text)) == Drop("spam_abuse", reason)


def test_assign_command_assigns_people_and_me() -> None:
    result = default_chain().evaluate(event("/assign @hubot me"))
    assert isinstance(result, Act)
    assert result.actions[0] == PlannedAction(
        "github.assign", {"repo": "octo-org/demo", "number": 7, "assignees": ["hubot", "mona"]}
    )


def test_close_needs_a_trusted_account_or_the_issue_author() -> None:
    assert default_chain().evaluate(event("/close")) == Drop("command_close", "not_permitted")
    mine = event("/close not planned").model_copy(
        update={"context": {**event("").context, "issue_author": "mona"}}
    )
    result = default_chain().evaluate(mine)
    assert isinstance(result, Act)
    assert result.actions[0].params["reason"] == "not_planned"


def test_help_replies_on_the_platform() -> None:
    result = default_chain().evaluate(event("help"))
    assert isinstance(result, Act)
    assert result.actions[0].ability == "github.comment"
    assert "/label" in result.actions[0].params["body"]


def test_trusted_escalate_goes_straight_to_a_person() -> None:
    result = chain_with(FakeAuthorMemory(trusted={"mona"})).evaluate(event("/escalate legal question"))
    assert isinstance(result, Act)
    assert result.actions[0].ability == "escalate.human"
    assert result.actions[0].params["decision_needed"] == "legal question"


def test_untrusted_escalate_is_just_text_for_the_model() -> None:
    assert isinstance(default_chain().evaluate(event("/escalate legal question")), NeedsClassification)


def test_a_command_cannot_retarget_another_repository() -> None:
    result = default_chain().evaluate(event("/label bug repo=evil/repo"))
    assert isinstance(result, Act)
    assert result.actions[0].params["repo"] == "octo-org/demo"
