"""The request builder and the answer reader of switchboard.claude, without sockets."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchboard.claude import (
    CONTRACTS,
    PURPOSES,
    SAMPLING,
    STRICTEST,
    THINKING_HEADROOM,
    build_request,
    contract,
    estimate_tokens,
    read_answer,
    violations,
)

MODELS = sorted(CONTRACTS)
TOOL = {"name": "classify_intent", "description": "d", "input_schema": {"type": "object", "properties": {}}}

text = st.text(max_size=200)
block = st.one_of(
    st.builds(lambda t: {"type": "text", "text": t}, text),
    st.builds(lambda t: {"type": "tool_result", "tool_use_id": "toolu_1", "content": t}, text),
)
content = st.one_of(text, st.lists(block, min_size=1, max_size=3))


@st.composite
def conversations(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Any alternating conversation that ends with a user turn (what classify and decide send)."""
    turns = draw(st.integers(min_value=0, max_value=3))
    messages: list[dict[str, Any]] = []
    for _ in range(turns):
        messages.append({"role": "user", "content": draw(content)})
        messages.append({"role": "assistant", "content": draw(content)})
    messages.append({"role": "user", "content": draw(content)})
    return messages


@given(
    model=st.sampled_from([*MODELS, "claude-some-future-model"]),
    purpose=st.sampled_from(PURPOSES),
    system=text,
    messages=conversations(),
    answer_tokens=st.integers(min_value=1, max_value=8_192),
)
def test_a_built_request_never_breaks_a_rule_of_its_model(
    model: str, purpose: str, system: str, messages: list[dict[str, Any]], answer_tokens: int
) -> None:
    request = build_request(model, purpose, system, messages, [TOOL], answer_tokens)
    assert violations(request) == []
    rules = contract(model)
    assert request["tool_choice"]["type"] in rules.tool_choices
    assert not set(SAMPLING) & set(request)
    sent = rules.thinking_sent.get(purpose)
    assert request.get("thinking") == ({"type": sent} if sent else None)
    assert sent is None or sent in rules.thinking_types
    assert request["messages"][-1]["role"] == "user"
    headroom = (
        THINKING_HEADROOM["low"] // 4 if sent == "between_tools" else THINKING_HEADROOM[rules.effort[purpose]]
    )
    assert request["max_tokens"] == answer_tokens + headroom
    assert request["output_config"] == {"effort": rules.effort[purpose]}
    assert all(tool["strict"] is True for tool in request["tools"])


def test_an_assistant_prefill_is_refused_before_any_call() -> None:
    with pytest.raises(ValueError, match="prefill"):
        build_request(
            MODELS[0],
            "classify",
            "s",
            [{"role": "user", "content": "x"}, {"role": "assistant", "content": "{"}],
            [TOOL],
            200,
        )
    with pytest.raises(ValueError, match="purpose"):
        build_request(MODELS[0], "chat", "s", [{"role": "user", "content": "x"}], [TOOL], 200)


@given(
    model=st.sampled_from(["claude-sonnet-5-5", "claude-opus-5-5", "claude-unknown"]),
    choice=st.sampled_from([{"type": "any"}, {"type": "tool", "name": "classify_intent"}]),
)
def test_forced_tool_use_is_a_violation_where_the_docs_say_so(model: str, choice: dict[str, Any]) -> None:
    request = build_request(model, "decide", "s", [{"role": "user", "content": "x"}], [TOOL], 512)
    assert [v.param for v in violations(request | {"tool_choice": choice})] == ["tool_choice"]


@pytest.mark.parametrize(
    ("model", "change", "param"),
    [
        ("claude-opus-5-5", {"thinking": {"type": "disabled"}}, "thinking"),
        ("claude-opus-5-5", {"thinking": {"type": "enabled", "budget_tokens": 2048}}, "thinking"),
        ("claude-sonnet-5-5", {"thinking": {"type": "disabled"}}, "thinking"),
        (
            "claude-sonnet-5-5",
            {"thinking": {"type": "between_tools"}, "output_config": {"effort": "max"}},
            "thinking",
        ),
        ("claude-haiku-5-5", {"thinking": {"type": "enabled", "budget_tokens": 2048}}, "thinking"),
        ("claude-haiku-5-5", {"temperature": 0.0}, "temperature"),
        ("claude-haiku-5-5", {"top_p": 0.5}, "top_p"),
        ("claude-haiku-5-5", {"top_k": 5}, "top_k"),
        ("claude-haiku-5-5", {"output_config": {"effort": "extreme"}}, "output_config.effort"),
    ],
)
def test_each_documented_rule_is_a_violation(model: str, change: dict[str, Any], param: str) -> None:
    request = build_request(model, "classify", "s", [{"role": "user", "content": "x"}], [TOOL], 200)
    assert [v.param for v in violations(request | change)] == [param]


def test_what_the_docs_allow_is_not_a_violation() -> None:
    base = build_request("claude-haiku-5-5", "classify", "s", [{"role": "user", "content": "x"}], [TOOL], 200)
    assert violations(base | {"tool_choice": {"type": "any"}}) == []  # not a Haiku 5.5 breaking change
    assert violations(base | {"temperature": 1}) == []  # the default value is not "non-default"
    sonnet = base | {"model": "claude-sonnet-5-5", "thinking": {"type": "between_tools"}}
    assert violations(sonnet) == []
    prefill = [{"role": "user", "content": "x"}, {"role": "assistant", "content": "{"}]
    assert [v.param for v in violations(base | {"messages": prefill})] == ["messages"]
    assert contract("claude-not-in-the-table") is STRICTEST


def test_thinking_blocks_are_skipped_and_the_tool_call_is_taken() -> None:
    response = {
        "stop_reason": "tool_use",
        "content": [
            {"type": "thinking", "thinking": "", "signature": "sig"},
            {"type": "redacted_thinking", "data": "x"},
            {"type": "text", "text": "Let me label it."},
            {
                "type": "tool_use",
                "id": "toolu_1",
                "name": "classify_intent",
                "input": {"intent": "bug_report"},
            },
        ],
    }
    answer = read_answer(response)
    assert answer.tool == ("classify_intent", {"intent": "bug_report"})
    assert (answer.declined, answer.thinking_blocks) == (None, 2)


def test_sdk_objects_are_read_like_dicts() -> None:
    response = SimpleNamespace(
        stop_reason="tool_use",
        content=[
            SimpleNamespace(type="thinking"),
            SimpleNamespace(type="tool_use", name="t", input={"a": 1}),
        ],
    )
    assert read_answer(response).tool == ("t", {"a": 1})


def test_a_refusal_and_a_cut_off_answer_are_declined_with_a_reason() -> None:
    refusal = read_answer({"stop_reason": "refusal", "content": [], "stop_details": {"category": "cyber"}})
    assert (
        refusal.tool is None
        and refusal.declined == "the model declined to answer (stop_reason refusal, cyber)"
    )
    cut = read_answer(
        {"stop_reason": "max_tokens", "content": [{"type": "thinking"}], "usage": {"output_tokens": 200}}
    )
    assert cut.declined == (
        "the answer was cut off at max_tokens before any tool call (200 output tokens, 1 thinking block(s))"
    )
    text_only = read_answer({"stop_reason": "end_turn", "content": [{"type": "text", "text": "hi"}]})
    assert (text_only.tool, text_only.declined) == (
        None,
        None,
    )  # "no tool call", which callers already handle


def test_the_estimate_applies_the_documented_tokenizer_factor() -> None:
    text = "x" * 3_000
    assert estimate_tokens(text, model="claude-haiku-5-5") == int(3_002 * 1.3) // 3 + 16
    assert estimate_tokens(text) == estimate_tokens(text, model="claude-opus-5-5")  # the largest factor
    assert estimate_tokens(text) > 3_002 // 3 + 16  # more than the old tokenizer's estimate
