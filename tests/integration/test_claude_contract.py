"""The Claude Messages API contract, sent through the real anthropic SDK to the stand-in that enforces it.

(a) what llm.py builds for every tier and purpose is accepted, and its tool call is read behind the thinking
block; (b) each documented rule, broken with the raw SDK, is answered 400 in the API's error shape; (c) a
``max_tokens`` stop before any tool call and a ``refusal`` end as a typed outcome with a reason, not a crash.
The rules and their doc pages are in switchboard/claude.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anthropic
import pytest

from switchboard import claude
from switchboard.claude import CONTRACTS
from switchboard.intents import CLASSIFY_TOOL
from switchboard.llm import (
    DEFAULT_TIERS,
    BudgetedLlm,
    ModelDeclined,
    ModelRefused,
)
from switchboard.models import Platform, TaskStatus
from switchboard.prompts import CLASSIFY_SYSTEM, DECIDE_SYSTEM
from tests.conftest import standin_llm
from tests.integration.test_agent_core import inbound, make_agent
from tools.standin.messages_api import MessagesApiStandin

HAIKU, SONNET, OPUS = "claude-haiku-5-5", "claude-sonnet-5-5", "claude-opus-5-5"
TEXT = "The app crashes with a traceback when the config file is empty."
USER = [{"role": "user", "content": f"<user_message>\n{TEXT}\n</user_message>"}]
REPLY_TOOL = {
    "name": "github__comment",
    "description": "Comment on the issue.",
    "input_schema": {
        "type": "object",
        "properties": {"body": {"type": "string"}},
        "required": ["body"],
        "additionalProperties": False,
    },
}


#: the stand-in's slow fault sleeps this long (``tests/integration/conftest.py``)
STANDIN_SLOW_SECONDS = 1


@pytest.fixture
def llm(aws: Callable[[str], Any], tables: tuple[str, str], standin: MessagesApiStandin) -> BudgetedLlm:
    client: BudgetedLlm = standin_llm(aws("dynamodb"), tables[1], standin.url)
    return client


@pytest.fixture
def raw(standin: MessagesApiStandin) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="stand-in-key", base_url=standin.url, max_retries=0)


def valid(model: str, **changes: Any) -> dict[str, Any]:
    """A request every model accepts; each test breaks exactly one rule of it."""
    return {
        "model": model,
        "system": DECIDE_SYSTEM,
        "messages": USER,
        "tools": [REPLY_TOOL],
        "tool_choice": {"type": "auto"},
        "max_tokens": 4_096,
    } | changes


# (a) what llm.py really builds, per tier and purpose


@pytest.mark.parametrize("tier", ["small", "medium", "large"])
@pytest.mark.parametrize("purpose", ["classify", "decide"])
def test_what_llm_builds_is_accepted_and_the_tool_call_is_read_behind_the_thinking_block(
    llm: BudgetedLlm, calls: list[dict[str, Any]], tier: str, purpose: str
) -> None:
    system, tools = (
        (CLASSIFY_SYSTEM, [CLASSIFY_TOOL]) if purpose == "classify" else (DECIDE_SYSTEM, [REPLY_TOOL])
    )
    answer = llm.choose_tool(
        task_id=f"tsk_{tier}_{purpose}",
        tier=tier,
        system=system,
        messages=USER,
        tools=tools,
        max_tokens=200 if purpose == "classify" else 512,
        purpose=purpose,
        use_cache=False,
        fallback=False,
    )
    assert answer.call is not None and answer.call.name == tools[0]["name"]
    [call] = calls
    assert call["model"] == DEFAULT_TIERS[tier] and "rejected" not in call
    sent = CONTRACTS[call["model"]].thinking_sent[purpose]
    assert call["request"]["tool_choice"] == {"type": "auto"}
    assert call["request"]["output_config"] == {"effort": CONTRACTS[call["model"]].effort[purpose]}
    [entry] = answer.ledger
    if sent is None:  # adaptive: the documented default
        assert call["request"]["thinking"] is None
        assert call["content"] == ["thinking", "tool_use"] and call["stop_reason"] == "tool_use"
        assert entry.output_tokens > 100  # the thinking tokens are billed as output
    else:  # between_tools on Sonnet's decide: no up-front thinking before the one tool call
        assert call["request"]["thinking"] == {"type": sent} == {"type": "between_tools"}
        assert call["content"] == ["tool_use"] and call["stop_reason"] == "tool_use"
        assert entry.output_tokens < 100


@pytest.mark.parametrize(("max_tokens", "purpose"), [(200, "classify"), (512, "decide")])
def test_classify_and_decide_as_they_call_today_get_their_purpose_from_the_answer_budget(
    llm: BudgetedLlm, calls: list[dict[str, Any]], max_tokens: int, purpose: str
) -> None:
    # classify.py passes max_tokens=200 and decide.py leaves the default of 512, without a purpose yet.
    llm.choose_tool(
        task_id="tsk_today",
        tier="medium",
        system=DECIDE_SYSTEM,
        messages=USER,
        tools=[REPLY_TOOL],
        max_tokens=max_tokens,
    )
    [call] = calls
    assert call["request"]["output_config"] == {"effort": CONTRACTS[SONNET].effort[purpose]}
    assert call["request"]["max_tokens"] > max_tokens


def test_the_agent_routes_a_question_through_classify_and_decide_on_the_contract(
    aws: Callable[[str], Any],
    tables: tuple[str, str],
    standin: MessagesApiStandin,
    calls: list[dict[str, Any]],
) -> None:
    agent = make_agent(aws, tables, standin)
    event = agent.run("How do I configure the retry limit? The docs don't say.")
    [action] = agent.actions(event)
    assert action.ability == "github.comment"
    assert all("rejected" not in call for call in calls)
    # thinking first where the request leaves adaptive thinking on; Sonnet's decide sends between_tools
    assert all(
        call["content"][0] == ("tool_use" if call["request"]["thinking"] else "thinking") for call in calls
    )
    assert {call["model"] for call in calls} >= {HAIKU, SONNET}


# (b) every documented rule, broken with the raw SDK


def refused(raw: anthropic.Anthropic, request: dict[str, Any]) -> str:
    with pytest.raises(anthropic.BadRequestError) as caught:
        raw.messages.create(**request)
    error = caught.value
    assert error.status_code == 400
    assert error.response.headers["request-id"].startswith("req_")
    body = error.body
    assert isinstance(body, dict) and body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    return str(body["error"]["message"])


@pytest.mark.parametrize("model", [SONNET, OPUS])
@pytest.mark.parametrize("choice", [{"type": "any"}, {"type": "tool", "name": "github__comment"}])
def test_forced_tool_use_is_refused_on_sonnet_and_opus(
    raw: anthropic.Anthropic, model: str, choice: dict[str, Any]
) -> None:
    assert "forced tool use" in refused(raw, valid(model, tool_choice=choice))


def test_the_forced_tool_choice_llm_sent_before_is_refused_and_ends_as_model_refused_with_the_message(
    llm: BudgetedLlm, raw: anthropic.Anthropic, calls: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    for model in (SONNET, OPUS):  # the old request: forced tool use with the answer budget alone
        refused(raw, valid(model, tool_choice={"type": "any"}, max_tokens=512))
    build = claude.build_request
    monkeypatch.setattr(claude, "build_request", lambda *a: build(*a) | {"tool_choice": {"type": "any"}})
    with pytest.raises(ModelRefused, match=r"HTTP 400 BadRequestError: .*forced tool use"):
        llm.choose_tool(
            task_id="tsk_old", tier="medium", system=DECIDE_SYSTEM, messages=USER, tools=[REPLY_TOOL]
        )
    assert [call["rejected"] for call in calls] == [["tool_choice"]] * 3


def test_haiku_still_accepts_forced_tool_use_which_its_docs_do_not_list_as_breaking(
    raw: anthropic.Anthropic,
) -> None:
    response = raw.messages.create(**valid(HAIKU, tool_choice={"type": "any"}))
    assert response.stop_reason == "tool_use"


@pytest.mark.parametrize(
    ("thinking", "hint"),
    [
        ({"type": "disabled"}, "thinking.type.adaptive"),
        ({"type": "enabled", "budget_tokens": 1024}, "output_config"),
    ],
)
def test_thinking_cannot_be_disabled_or_budgeted_on_opus(
    raw: anthropic.Anthropic, thinking: dict[str, Any], hint: str
) -> None:
    message = refused(raw, valid(OPUS, thinking=thinking))
    assert (
        f'"thinking.type.{thinking["type"]}" is not supported for this model' in message and hint in message
    )


def test_sonnet_refuses_disabled_thinking_and_points_to_between_tools(raw: anthropic.Anthropic) -> None:
    assert "between_tools" in refused(raw, valid(SONNET, thinking={"type": "disabled"}))
    accepted = raw.messages.create(
        **valid(SONNET, thinking={"type": "between_tools"}, output_config={"effort": "low"})
    )
    assert accepted.stop_reason == "tool_use"
    refused(raw, valid(SONNET, thinking={"type": "between_tools"}, output_config={"effort": "xhigh"}))


def test_haiku_refuses_a_manual_thinking_budget(raw: anthropic.Anthropic) -> None:
    refused(raw, valid(HAIKU, thinking={"type": "enabled", "budget_tokens": 1024}))


@pytest.mark.parametrize(("name", "value"), [("temperature", 0.2), ("top_p", 0.9), ("top_k", 40)])
def test_haiku_refuses_non_default_sampling_parameters(
    raw: anthropic.Anthropic, name: str, value: float
) -> None:
    # The SDK no longer takes sampling parameters as arguments; a raw request body still can.
    assert name in refused(raw, valid(HAIKU, extra_body={name: value}))


def test_haiku_refuses_an_assistant_prefill(raw: anthropic.Anthropic) -> None:
    prefill = [*USER, {"role": "assistant", "content": "{"}]
    assert "Prefilling" in refused(raw, valid(HAIKU, messages=prefill))


# (c) a max_tokens stop before any tool call, and a refusal: typed outcomes with a reason


def test_the_old_answer_budgets_leave_no_room_for_thinking(raw: anthropic.Anthropic) -> None:
    # classify's 200 tokens on Haiku and decide's 512 on Sonnet (effort high by default) stop while thinking.
    for model, budget in ((HAIKU, 200), (SONNET, 512)):
        response = raw.messages.create(**valid(model, max_tokens=budget))
        assert response.stop_reason == "max_tokens"
        assert [block.type for block in response.content] == ["thinking"]
        assert response.usage.output_tokens == budget


def test_a_max_tokens_stop_without_a_tool_call_is_a_declined_answer_with_a_reason(
    llm: BudgetedLlm, standin: MessagesApiStandin, calls: list[dict[str, Any]]
) -> None:
    standin.state.faults.append("max_tokens")
    with pytest.raises(ModelDeclined) as caught:
        llm.choose_tool(
            task_id="tsk_cut",
            tier="small",
            system=CLASSIFY_SYSTEM,
            messages=USER,
            tools=[CLASSIFY_TOOL],
            max_tokens=200,
        )
    assert caught.value.stop_reason == "max_tokens"
    assert "cut off at max_tokens before any tool call" in caught.value.reason
    assert len(calls) == 1  # a truncated answer does not fall back: the same budget would truncate again


def test_a_refusal_falls_back_one_tier_as_the_docs_advise(
    llm: BudgetedLlm, standin: MessagesApiStandin, calls: list[dict[str, Any]]
) -> None:
    standin.state.faults.append("refusal")
    answer = llm.choose_tool(
        task_id="tsk_no",
        tier="small",
        system=CLASSIFY_SYSTEM,
        messages=USER,
        tools=[CLASSIFY_TOOL],
        max_tokens=200,
    )
    assert answer.call is not None
    assert [call["stop_reason"] for call in calls] == ["refusal", "tool_use"]
    assert [entry.tier for entry in answer.ledger] == ["small", "medium"]  # the refused call is paid for too


def test_refusals_on_both_tiers_end_the_task_with_a_human_and_the_reason(
    aws: Callable[[str], Any],
    tables: tuple[str, str],
    standin: MessagesApiStandin,
    calls: list[dict[str, Any]],
) -> None:
    agent = make_agent(aws, tables, standin)
    standin.state.faults.extend(["refusal", "refusal"])
    event = inbound(TEXT, Platform.GITHUB, None)
    agent.classify.process(event, f"msg-{event.event_id}")
    task = agent.store.get(event.task_id)
    assert task.status is TaskStatus.NEEDS_HUMAN
    assert task.reason is not None and "declined to answer (stop_reason refusal" in task.reason
    assert [call["stop_reason"] for call in calls] == ["refusal", "refusal"]
