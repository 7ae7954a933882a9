"""The defect classes of a hostile sender, each pinned by its examples and, where it fits, by generated
members: events lost after the claim, nothing answered with something, commands outside prose."""

from __future__ import annotations

import json
import os
import re
import time
from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.adapters.base import Accepted, WebhookRequest
from switchboard.adapters.github import GitHubAdapter
from switchboard.adapters.slack import SlackAdapter
from switchboard.classify import ClassifyService
from switchboard.decide import DecideService
from switchboard.errors import InvalidParams, MalformedPayload
from switchboard.fields import ACTION_TEXT_LIMIT, fit
from switchboard.llm import LlmAnswer, ToolCall
from switchboard.models import DecideRequest, InboundEvent, Platform, TaskStatus
from switchboard.rules import NeedsClassification, RuleChain, RulesConfig, default_chain, prose
from tests.fakes import FakeAuthorMemory, act_queue_url, github_event
from tests.fakes.tasks import InMemoryQueue, InMemoryTaskRepository

DECIDE_URL = "https://sqs.local/decide.fifo"


def slack_event(text: str, **context: str) -> InboundEvent:
    return InboundEvent(
        platform=Platform.SLACK,
        event_id="Ev1",
        event_type="message",
        author="U1",
        conversation="T1:C1:1.1",
        text=text,
        received_at=datetime.now(UTC),
        context={"team": "T1", "channel": "C1", "thread_ts": "1.1", "ts": "1.1", **context},
    )


class Sure:
    """A model that classifies every message as ``intent`` with confidence 0.9."""

    deadline: Any = None

    def __init__(self, intent: str) -> None:
        self.intent = intent
        self.calls = 0

    def choose_tool(self, **_: Any) -> LlmAnswer:
        self.calls += 1
        return LlmAnswer(ToolCall("classify_intent", {"intent": self.intent, "confidence": 0.9}), [])


def classify(tasks: InMemoryTaskRepository, queue: InMemoryQueue, **kwargs: Any) -> ClassifyService:
    chain = kwargs.pop("chain", None) or default_chain(kwargs.pop("memory", None))
    return ClassifyService(tasks, queue, act_queue_url, DECIDE_URL, chain, **kwargs)


# ---- never lose an accepted event --------------------------------------------------------------------------


def test_a_slack_bug_report_longer_than_a_ticket_is_cut_with_a_marker() -> None:
    tasks, queue = InMemoryTaskRepository(), InMemoryQueue()
    event = slack_event("It crashes. " * 600)  # 7,200 characters
    assert classify(tasks, queue, llm=Sure("bug_report")).process(event, "m-1") is TaskStatus.DISPATCHED
    [ticket] = queue.actions(act_queue_url("tickets"))
    assert len(ticket.params["body"]) <= ACTION_TEXT_LIMIT
    assert ticket.params["body"].endswith("[truncated: the original has 7,200 characters]")


@given(st.text(max_size=9_000), st.integers(200, 5_000))
def test_fit_keeps_short_text_and_marks_a_cut(text: str, limit: int) -> None:
    fitted = fit(text, limit)
    assert len(fitted) <= limit
    assert fitted == text if len(text) <= limit else "[truncated" in fitted


@pytest.mark.parametrize(("note", "length"), [("x", 1), ("ok", 2), ("y" * 1_500, 1_500)])
def test_a_trusted_escalate_with_a_note_out_of_bounds_is_answered_with_why(note: str, length: int) -> None:
    tasks, queue = InMemoryTaskRepository(), InMemoryQueue()
    memory = FakeAuthorMemory(trusted={"mona"})
    event = github_event(f"/escalate {note}")
    assert classify(tasks, queue, memory=memory, llm=None).process(event, "m-1") is TaskStatus.DISPATCHED
    [answer] = queue.actions()
    assert answer.ability == "github.comment"
    assert (
        f"(yours has {length:,})" in answer.params["body"]
        and "Nothing was escalated" in answer.params["body"]
    )


def test_a_trusted_escalate_with_a_short_note_and_no_reply_channel_is_dropped_with_a_reason() -> None:
    tasks, queue = InMemoryTaskRepository(), InMemoryQueue()
    event = github_event("/escalate x").model_copy(update={"platform": Platform.STANDARD})
    memory = FakeAuthorMemory(trusted={"mona"})
    assert classify(tasks, queue, memory=memory, llm=None).process(event, "m-1") is TaskStatus.DROPPED
    assert tasks.get(event.task_id).reason == "invalid_command:note_length"


def github_request(repo: str, text: str = "help") -> tuple[WebhookRequest, dict[str, Any]]:
    payload = {
        "action": "created",
        "repository": {"full_name": repo},
        "issue": {"number": 7, "user": {"login": "mona"}},
        "comment": {"body": text, "user": {"login": "mona"}},
    }
    headers = {"x-github-event": "issue_comment", "x-github-delivery": "d-1"}
    return WebhookRequest(headers, json.dumps(payload).encode(), datetime.now(UTC)), payload


@pytest.mark.parametrize("repo", ["../..", "a/..", "./b", "a b/c", "a/b/c", "x" * 101 + "/y", "a/b;rm"])
def test_a_repository_no_ability_can_act_on_is_refused_at_the_door(repo: str) -> None:
    request, payload = github_request(repo)
    with pytest.raises(MalformedPayload) as refused:
        GitHubAdapter().interpret(request, payload)
    assert refused.value.reason == "invalid_repository"


@given(
    st.from_regex(r"\A[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}\Z"),
    st.sampled_from(["help", "/label bug", "/assign me", "/close", "hello"]),
)
@settings(max_examples=200, deadline=None)
def test_help_from_any_repository_the_door_accepts_ends_without_an_error(repo: str, text: str) -> None:
    request, payload = github_request(repo, text)
    try:
        accepted = GitHubAdapter().interpret(request, payload)
    except MalformedPayload:
        return  # refused at the door, with a reason
    assert isinstance(accepted, Accepted)
    tasks, queue = InMemoryTaskRepository(), InMemoryQueue()
    status = classify(tasks, queue, llm=None).process(accepted.event, "m-1")
    assert status in {TaskStatus.DISPATCHED, TaskStatus.DROPPED, TaskStatus.NEEDS_HUMAN}


class Planner:
    """A rule that plans an action whose parameters fail validation (a bug, or a pattern mismatch)."""

    name: ClassVar[str] = "planner"

    def evaluate(self, event: InboundEvent, context: Any) -> Any:
        raise InvalidParams.because("github.comment", "body: too long")


def test_an_invalid_action_after_the_claim_ends_the_task_failed_with_its_reason_and_is_consumed() -> None:
    tasks, queue = InMemoryTaskRepository(), InMemoryQueue()
    chain = RuleChain([Planner()], None, RulesConfig())
    event = github_event("anything")
    assert classify(tasks, queue, chain=chain, llm=None).process(event, "m-1") is TaskStatus.FAILED
    task = tasks.get(event.task_id)
    assert task.reason == "InvalidParams: github.comment: input: body: too long"
    assert queue.sent == []
    # a redelivery (the message was consumed, but SQS may deliver twice) changes nothing
    assert classify(tasks, queue, chain=chain, llm=None).process(event, "m-1") is TaskStatus.FAILED


class Broken:
    deadline: Any = None

    def choose_tool(self, **_: Any) -> LlmAnswer:
        raise KeyError("content")  # a bug that this event meets


def test_a_bug_that_an_event_meets_in_decide_ends_its_task_failed() -> None:
    tasks, queue = InMemoryTaskRepository(), InMemoryQueue()
    event = github_event("How do I configure it?")
    task = tasks.claim_and_open(event, owner="m-1", actor="classify").task
    assert task is not None
    from switchboard.lifecycle import Lifecycle

    Lifecycle(tasks).classify(task, "classify", {"intent": "question", "confidence": 0.9}, route="decide")
    request = DecideRequest(task_id=event.task_id, event=event, intent="question", confidence=0.9)
    decide = DecideService(tasks, queue, act_queue_url, llm=Broken())  # type: ignore[arg-type]
    assert decide.process(request) is TaskStatus.FAILED
    assert tasks.get(event.task_id).reason == "KeyError: 'content'"


def test_an_outage_of_our_own_still_goes_round_to_the_queue() -> None:
    tasks, queue = InMemoryTaskRepository(), InMemoryQueue(fail_next=1)
    with pytest.raises(ConnectionError):
        classify(tasks, queue, llm=None).process(github_event("/label bug"), "m-1")


# ---- say nothing to nothing --------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", " ", "null", "undefined", "<b></b>", "<script>x</script>", "&nbsp;"])
def test_text_that_is_empty_once_sanitized_is_dropped_without_a_model_call(text: str) -> None:
    from switchboard.sanitize import clean_text

    tasks, queue, model = InMemoryTaskRepository(), InMemoryQueue(), Sure("question")
    event = slack_event(clean_text(text))
    assert classify(tasks, queue, llm=model).process(event, "m-1") is TaskStatus.DROPPED
    assert (model.calls, queue.sent, tasks.get(event.task_id).reason) == (0, [], "empty_text")


@pytest.mark.parametrize(
    "subtype", ["channel_topic", "message_replied", "channel_purpose", "pinned_item", "x"]
)
def test_slack_system_messages_are_dropped_with_their_subtype(subtype: str) -> None:
    tasks, queue, model = InMemoryTaskRepository(), InMemoryQueue(), Sure("question")
    event = slack_event("set the channel topic: hello", subtype=subtype)
    assert classify(tasks, queue, llm=model).process(event, "m-1") is TaskStatus.DROPPED
    assert (model.calls, queue.sent, tasks.get(event.task_id).reason) == (0, [], f"system_message:{subtype}")


@pytest.mark.parametrize("subtype", ["me_message", "thread_broadcast", "file_share"])
def test_slack_subtypes_that_carry_what_a_person_wrote_are_read(subtype: str) -> None:
    result = default_chain().evaluate(slack_event("How do I configure it?", subtype=subtype))
    assert isinstance(result, NeedsClassification)


def slack_payload(text: str, *, bot: str = "UBOT1", subtype: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {"type": "app_mention", "channel": "C1", "user": "U2", "ts": "1.1", "text": text}
    if subtype:
        event["subtype"] = subtype
    return {
        "type": "event_callback",
        "team_id": "T1",
        "event_id": "Ev1",
        "event": event,
        "authorizations": [{"team_id": "T1", "user_id": bot, "is_bot": True}],
    }


def interpret_slack(payload: dict[str, Any]) -> InboundEvent:
    stamp = str(int(time.time()))
    accepted = SlackAdapter().interpret(
        WebhookRequest({"x-slack-request-timestamp": stamp}, b"{}", datetime.now(UTC)), payload
    )
    assert isinstance(accepted, Accepted)
    return accepted.event


@pytest.mark.parametrize(
    ("text", "seen"),
    [
        ("<@UBOT1> help", "help"),
        ("<@UBOT1|switchboard>: help", "help"),
        ("  <@UBOT1>,help", "help"),
        ("<@UBOT1>", ""),
        ("<@UOTHER> help", "<@UOTHER> help"),
        ("help <@UBOT1>", "help <@UBOT1>"),
        ("<@UBOT1> ask <@UOTHER> please", "ask <@UOTHER> please"),
    ],
)
def test_a_leading_mention_of_the_bot_itself_is_addressing_not_text(text: str, seen: str) -> None:
    assert interpret_slack(slack_payload(text)).text == seen


def test_help_addressed_to_the_bot_by_mention_is_the_help_command() -> None:
    tasks, queue = InMemoryTaskRepository(), InMemoryQueue()
    event = interpret_slack(slack_payload("<@UBOT1> help"))
    assert classify(tasks, queue, llm=None).process(event, "m-1") is TaskStatus.DISPATCHED
    assert tasks.get(event.task_id).history[1]["detail"]["rule"] == "command_help"


def test_a_mention_of_a_user_who_is_not_our_bot_is_not_stripped() -> None:
    assert interpret_slack(slack_payload("<@UBOT1> help", bot="UBOT2")).text == "<@UBOT1> help"


def test_a_slack_channel_no_reply_can_go_to_is_refused_at_the_door() -> None:
    payload = slack_payload("help")
    payload["event"]["channel"] = "c-lower"
    with pytest.raises(MalformedPayload) as refused:
        interpret_slack(payload)
    assert refused.value.reason == "invalid_channel"


# ---- commands only in prose --------------------------------------------------------------------------------

markdown_it = pytest.importorskip("markdown_it")

BLOCKS = st.sampled_from(
    [
        "{cmd}",  # prose
        "text before\n{cmd}",  # prose, a paragraph's second line
        "- item\n{cmd}",  # prose: a lazy continuation of the list item's paragraph
        "```\n{cmd}\n```",
        "````\n```\n{cmd}\n````",
        "~~~ python\n{cmd}\n~~~",
        "```\n{cmd}",  # a fence that is never closed runs to the end
        "    {cmd}",
        "> {cmd}",
        "> quoted\n{cmd}",  # a lazy continuation of the quote
        "`{cmd}`",
        "`` a\n{cmd} ``",  # a code span over two lines
        "x `y` z\n{cmd}",
        "plain words",
        "",
    ]
)


def commands_in_prose_by_commonmark(document: str) -> set[str]:
    """The oracle: the commands at the start of a line of a paragraph outside any block quote, as a
    CommonMark parser reads the document."""
    found: set[str] = set()
    quotes = 0
    for token in markdown_it.MarkdownIt("commonmark").parse(document):
        quotes += {"blockquote_open": 1, "blockquote_close": -1}.get(token.type, 0)
        if token.type != "inline" or quotes:
            continue
        at_line_start = True
        for child in token.children or []:
            if at_line_start and child.type == "text":
                match = re.match(r"/label (bug\d+)", child.content)
                if match:
                    found.add(match[1])
            at_line_start = child.type in ("softbreak", "hardbreak")
    return found


def commands_in_prose(document: str) -> set[str]:
    return set(re.findall(r"^/label (bug\d+)", prose(document), re.MULTILINE))


@given(st.lists(BLOCKS, min_size=1, max_size=6), st.lists(st.sampled_from(["\n", "\n\n"]), min_size=6))
@settings(max_examples=int(os.environ.get("PROSE_EXAMPLES", "300")), deadline=None)
def test_commands_count_only_in_prose_as_commonmark_reads_it(blocks: list[str], joins: list[str]) -> None:
    document = ""
    for index, block in enumerate(blocks):
        document += (joins[index] if index else "") + block.format(cmd=f"/label bug{index}")
    ours, commonmark = commands_in_prose(document), commands_in_prose_by_commonmark(document)
    assert ours <= commonmark, document  # never a command that a reader sees as code or as a quote
    if not any(
        block.startswith("- item") for block in blocks
    ):  # list items' own indentation is not modelled: such lines are not commands
        assert ours == commonmark, document


@pytest.mark.parametrize(
    "text",
    ["```\n/label security\n```", "~~~\n/close\n~~~", "> /close", "`/close`", "    /close", "> hi\n/close"],
)
def test_a_command_in_code_or_in_a_quote_is_not_executed(text: str) -> None:
    memory = FakeAuthorMemory(trusted={"mona"})
    result = default_chain(memory).evaluate(github_event(text))
    assert isinstance(result, NeedsClassification), result
