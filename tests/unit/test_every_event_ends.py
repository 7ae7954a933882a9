"""Every event the door accepts ends with a reason, or is dispatched with actions its abilities accept.

Generated events (random, huge, empty and markup-only texts; commands with odd arguments, in prose, in code
and in quotes; odd repository and channel ids; Slack subtypes and mentions of the bot; trusted and unknown
authors) go through the real path behind a webhook: ``IngestService`` with each platform's adapter, then
``ClassifyService`` and ``DecideService`` on the in-memory ports, the default rules, and a model whose every
answer is generated too (any intent and confidence, any tool with any input, or none). Whatever happens:

- the door answers from its contract, never a 5xx;
- no error escapes classify or decide (a retry would only block the conversation's FIFO group);
- the task ends DROPPED, NEEDS_HUMAN or FAILED with a reason, or DISPATCHED with actions that each validate
  against their ability, bound to the event's own target;
- and, because the door takes only what the abilities can act on, none ends FAILED.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from switchboard.abilities import REGISTRY, ability, ability_for_tool
from switchboard.adapters.github import GitHubAdapter
from switchboard.adapters.github import sign as github_sign
from switchboard.adapters.slack import SlackAdapter
from switchboard.adapters.slack import sign as slack_sign
from switchboard.adapters.standard import StandardWebhooksAdapter
from switchboard.adapters.standard import sign as standard_sign
from switchboard.classify import ClassifyService
from switchboard.decide import DecideService
from switchboard.ingest import MAX_BODY_BYTES, Enqueuer, IngestService
from switchboard.intents import CLASSIFY_TOOL, Intent
from switchboard.llm import LlmAnswer, ToolCall
from switchboard.models import DecideRequest, InboundEvent, TaskStatus
from switchboard.rules import default_chain
from tests.fakes import FakeDeliveryLog, act_queue_url
from tests.fakes.memory import MemoryAuthorDirectory
from tests.fakes.tasks import InMemoryQueue, InMemoryTaskRepository

SECRET = "prop-secret"
WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
INGEST_URL = "https://sqs.local/ingest.fifo"
DECIDE_URL = "https://sqs.local/decide.fifo"
BOT = "UBOT0001"
TRUSTED = "maintainer"
PROPERTY = settings(
    max_examples=int(os.environ.get("EVERY_EVENT_EXAMPLES", "400")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)


def mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``good`` four times in five, so that most events get past the door and the odd ones still come."""
    return st.integers(0, 4).flatmap(lambda roll: bad if roll == 4 else good)


# ---- what is said ------------------------------------------------------------------------------------------

COMMANDS = ["label", "assign", "close", "escalate", "help", "unknown"]
ODD_ARGS = st.one_of(
    st.sampled_from(
        ["", " ", "me", "bug", "bug, needs-triage", "@mona @hubot", "not planned", "x", "a" * 60, ",,,",
         "dependabot[bot]", "@" + "m" * 45, "security, approved", "\x00", "<b>x</b>", "null"]
    ),
    st.text(max_size=80),
    st.integers(0, 3_000).map(lambda n: "y" * n),
)  # fmt: skip
COMMAND = st.builds(lambda name, args: f"/{name} {args}".rstrip(), st.sampled_from(COMMANDS), ODD_ARGS)
WRAPPED_COMMAND = st.builds(
    lambda wrap, command: wrap.format(command),
    st.sampled_from(
        ["{}", "```\n{}\n```", "~~~\n{}\n~~~", "> {}", "`{}`", "    {}", "text\n{}", "{}\n\nmore"]
    ),
    COMMAND,
)
HUGE = st.builds(
    lambda unit, count: unit * count,
    st.sampled_from(["a", "<a ", "<!--", "&amp;", " ", "\n", "\u0316\u0301", "bug ", "/label x\n"]),
    st.integers(0, 22_000),
)
TEXTS = st.one_of(
    st.sampled_from(
        ["", " ", "null", "undefined", "None", "<b></b>", "<script>x</script>", "&nbsp;", "help", "HELP",
         "@switchboard help", "/help", "It crashes on start, please fix", "How do I configure the queue?",
         "Thanks for the great tool!", "buy cheap followers now"]
    ),
    st.text(max_size=300),
    WRAPPED_COMMAND,
    WRAPPED_COMMAND,
    COMMAND,
    HUGE,
    st.lists(st.one_of(WRAPPED_COMMAND, st.text(max_size=40)), max_size=4).map("\n".join),
)  # fmt: skip
AUTHORS = st.sampled_from([TRUSTED, TRUSTED, "mona", "octocat", "dependabot[bot]", "a" * 39, "x_y", None])
REPOS = mostly(st.sampled_from(["octo-org/demo", "a/b", "UPPER/Case_1.x", "o/.github"]), st.one_of(
    st.sampled_from(
        ["octo-org/demo", "a/b", "../..", "a/..", "./b", "a b/c", "a/b/c", "x" * 101 + "/y", "o/" + "r" * 100,
         "o/.github", "UPPER/Case_1.x", "null", ""]
    ),
    st.text(max_size=30),
))  # fmt: skip
SLACK_IDS = mostly(
    st.sampled_from(["C1", "C024BE91L", "G12345"]),
    st.one_of(
        st.sampled_from(["C1", "C024BE91L", "c1", "C", "C" * 40, "../x", "C-1", "G12345", "D0", "", "null"]),
        st.text(max_size=12),
    ),
)
SLACK_TS = mostly(
    st.sampled_from(["1700000000.000100", "1.1"]),
    st.one_of(
        st.sampled_from(["1700000000.000100", "1.1", "1700000000", "x.y", "", "1" * 13 + ".1"]),
        st.text(max_size=12),
    ),
)
SUBTYPES = st.one_of(
    st.none(),
    st.sampled_from(
        ["channel_topic", "message_replied", "channel_join", "bot_message", "thread_broadcast", "me_message",
         "file_share", "channel_purpose", "pinned_item", "message_changed", "reminder_add", "weird"]
    ),
)  # fmt: skip

# ---- how it arrives ----------------------------------------------------------------------------------------


@st.composite
def github_request(draw: st.DrawFn) -> tuple[Any, dict[str, str], bytes]:
    kind = draw(
        st.sampled_from(["issue_comment", "issues", "discussion_comment", "pull_request_review_comment"])
    )
    author = draw(AUTHORS)
    user = {"login": author, "type": draw(st.sampled_from(["User"] * 5 + ["Bot"]))}
    item = {"number": draw(mostly(st.just(7), st.integers(-2, 2**64))), "user": {"login": "mona"}}
    item["title"] = draw(st.one_of(st.none(), st.sampled_from(["Crash", ""]), st.text(max_size=20)))
    payload: dict[str, Any] = {
        "action": "opened" if kind == "issues" else "created",
        "repository": {"full_name": draw(REPOS)},
        "sender": user,
    }
    if kind == "issues":
        payload["issue"] = item | {"body": draw(TEXTS), "user": user}
    else:
        payload["discussion" if kind == "discussion_comment" else "issue"] = item
        payload["comment"] = {"body": draw(TEXTS), "user": user}
    body = json.dumps(payload).encode()
    headers = {
        "content-type": "application/json",
        "x-github-event": kind,
        "x-github-delivery": f"d-{draw(st.integers(0, 10**9))}",
        "x-hub-signature-256": github_sign(SECRET, body),
    }
    return GitHubAdapter(), headers, body


@st.composite
def slack_request(draw: st.DrawFn) -> tuple[Any, dict[str, str], bytes]:
    text = draw(TEXTS)
    if draw(st.booleans()):
        text = draw(st.sampled_from([f"<@{BOT}> ", f"<@{BOT}|switchboard>: ", "<@UOTHER1> "])) + text
    event: dict[str, Any] = {
        "type": draw(st.sampled_from(["message", "app_mention"])),
        "channel": draw(SLACK_IDS),
        "user": draw(AUTHORS),
        "ts": draw(SLACK_TS),
        "text": text if draw(st.integers(0, 9)) else None,
    }
    if (subtype := draw(SUBTYPES)) is not None:
        event["subtype"] = subtype
    if draw(st.booleans()):
        event["thread_ts"] = draw(SLACK_TS)
    payload = {
        "type": "event_callback",
        "team_id": "T1",
        "event_id": f"Ev{draw(st.integers(0, 10**9))}",
        "event": event,
        "authorizations": [{"team_id": "T1", "user_id": BOT, "is_bot": True}],
    }
    body = json.dumps(payload).encode()
    stamp = str(int(time.time()))
    headers = {
        "content-type": "application/json",
        "x-slack-request-timestamp": stamp,
        "x-slack-signature": slack_sign(SECRET, stamp, body),
    }
    return SlackAdapter(), headers, body


@st.composite
def standard_request(draw: st.DrawFn) -> tuple[Any, dict[str, str], bytes]:
    data = {"text": draw(TEXTS), "author": draw(AUTHORS), "conversation": draw(st.text(max_size=20))}
    body = json.dumps({"type": draw(st.sampled_from(["message.created", "x"])), "data": data}).encode()
    msg_id, stamp = f"msg_{draw(st.integers(0, 10**9))}", str(int(time.time()))
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": stamp,
        "webhook-signature": standard_sign(WHSEC, msg_id, stamp, body),
    }
    return StandardWebhooksAdapter(), headers, body


REQUESTS = st.one_of(github_request(), slack_request(), standard_request())

# ---- a model whose answers are generated too ---------------------------------------------------------------

ANY_INPUT = st.dictionaries(
    st.sampled_from(["body", "text", "labels", "assignees", "reason", "title", "summary", "decision_needed",
                     "repo", "number", "channel", "tried", "x"]),
    st.one_of(st.text(max_size=60), st.integers(-5, 5), st.lists(st.text(max_size=12), max_size=12),
              st.integers(0, 6_000).map(lambda n: "z" * n)),
    max_size=4,
)  # fmt: skip


class GeneratedModel:
    """``choose_tool`` answers with whatever hypothesis draws: a valid classification or garbage, any tool."""

    deadline: Any = None

    def __init__(self, data: st.DataObject) -> None:
        self.data = data
        self.calls = 0

    def choose_tool(self, *, purpose: str, tools: list[dict[str, Any]], **_: Any) -> LlmAnswer:
        self.calls += 1
        draw = self.data.draw
        if draw(st.integers(0, 9)) == 0:
            return LlmAnswer(None, [])
        if purpose == "classify":
            answer = draw(
                st.one_of(
                    st.fixed_dictionaries(
                        {"intent": st.sampled_from([i.value for i in Intent]), "confidence": st.floats(0, 1)}
                    ),
                    ANY_INPUT,
                )
            )
            return LlmAnswer(ToolCall(CLASSIFY_TOOL["name"], answer), [])
        names = [tool["name"] for tool in tools] + ["github__close", "nothing"]
        return LlmAnswer(ToolCall(draw(st.sampled_from(names)), draw(ANY_INPUT)), [])


# ---- the property ------------------------------------------------------------------------------------------


@PROPERTY
@given(request=REQUESTS, data=st.data())
def test_every_accepted_event_ends_with_a_reason_or_valid_actions(
    request: tuple[Any, dict[str, str], bytes], data: st.DataObject
) -> None:
    adapter, headers, body = request
    door_queue = InMemoryQueue()
    secret = WHSEC if isinstance(adapter, StandardWebhooksAdapter) else SECRET
    answer = IngestService(
        adapter, lambda: [secret], Enqueuer(door_queue, INGEST_URL, FakeDeliveryLog())
    ).handle(headers, body.decode(), False)
    if len(body) > MAX_BODY_BYTES:  # a huge text JSON-escaped can pass the door's limit: refused whole
        assert answer.status == 413, answer
        event("door: 413 over the body limit")
        return
    assert answer.status in {200, 202, 400}, answer
    if answer.status != 202 or answer.body["status"] != "accepted":
        event(f"door: {answer.status} {answer.body.get('error') or answer.body.get('reason', '')}"[:60])
        return
    inbound = InboundEvent.model_validate_json(door_queue.sent[0].body)

    tasks, queue = InMemoryTaskRepository(), InMemoryQueue()
    authors = MemoryAuthorDirectory()
    authors.set_flags(inbound.platform.value, TRUSTED, blocked=False, trusted=True)
    model = GeneratedModel(data)
    classify = ClassifyService(
        tasks,
        queue,
        act_queue_url,
        DECIDE_URL,
        default_chain(authors),
        llm=model,  # type: ignore[arg-type]
    )
    classify.process(inbound, "m-1")
    for message in [m for m in queue.sent if m.queue_url == DECIDE_URL]:
        DecideService(tasks, queue, act_queue_url, llm=model).process(  # type: ignore[arg-type]
            DecideRequest.model_validate_json(message.body)
        )

    task = tasks.get(inbound.task_id)
    event(f"{inbound.platform.value}: {task.status.value} {(task.reason or '')[:40]}")
    assert task.status is not TaskStatus.FAILED, task.reason
    if task.status in (TaskStatus.DROPPED, TaskStatus.NEEDS_HUMAN):
        assert task.reason, task.history
        return
    assert task.status is TaskStatus.DISPATCHED, (task.status, task.history)
    assert task.actions
    for action in task.actions:
        chosen = ability(action["ability"])
        assert chosen.validate(action["params"]) == action["params"]
        bound = chosen.bind(inbound) if chosen.bind else {}
        assert {key: action["params"][key] for key in bound if key in action["params"]} == {
            key: chosen.validate({**action["params"], **bound})[key] for key in bound
        }


def test_every_tool_the_model_may_call_is_an_ability() -> None:
    assert {ability_for_tool(entry.tool_schema()["name"]).name for entry in REGISTRY.values()} == set(
        REGISTRY
    )
