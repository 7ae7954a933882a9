"""The model-spend levers against the Messages API stand-in, through the real anthropic SDK: strict tools,
thinking blocks sent back with a tool result, prompt caching and its documented minimum, the API's token
counting for the budget, and the Message Batches API. Each rule cites its page in switchboard/claude.py; a
request that breaks one is answered with the API's error shape (400 invalid_request_error, or an ``errored``
batch result)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import anthropic
import pytest

from switchboard import claude
from switchboard.abilities import allowed_on
from switchboard.intents import CLASSIFY_TOOL
from switchboard.llm import LedgerEntry, ModelRefused, cost_usd
from switchboard.models import Platform
from switchboard.prompts import CLASSIFY_SYSTEM, DECIDE_SYSTEM, repair_turns
from tests.conftest import standin_llm
from tools.standin.messages_api import MessagesApiStandin

HAIKU, SONNET, OPUS = "claude-haiku-5-5", "claude-sonnet-5-5", "claude-opus-5-5"
USER = [{"role": "user", "content": '<user_message>"The parser crashes on an empty file."</user_message>'}]
DECIDE_TOOLS = [entry.tool_schema() for entry in allowed_on(Platform.GITHUB)]


#: the stand-in's slow fault sleeps this long (``tests/integration/conftest.py``)
STANDIN_SLOW_SECONDS = 1


@pytest.fixture
def raw(standin: MessagesApiStandin) -> anthropic.Anthropic:
    with standin.state.lock:
        standin.state.calls.clear()
        standin.state.prompt_cache.clear()
    return anthropic.Anthropic(api_key="stand-in-key", base_url=standin.url, max_retries=0)


def refused(raw: anthropic.Anthropic, request: dict[str, Any]) -> str:
    with pytest.raises(anthropic.BadRequestError) as caught:
        raw.messages.create(**request)
    body = caught.value.body
    assert isinstance(body, dict) and body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    return str(body["error"]["message"])


# strict tools ([STRICT])


def test_a_strict_tool_with_unsupported_constraints_is_refused_and_the_built_one_is_accepted(
    raw: anthropic.Anthropic,
) -> None:
    tool = {**CLASSIFY_TOOL, "strict": True}  # confidence has minimum and maximum
    request = claude.build_request(HAIKU, "classify", CLASSIFY_SYSTEM, USER, [CLASSIFY_TOOL], 200)
    message = refused(raw, request | {"tools": [tool]})
    assert "'minimum' is not supported in strict mode" in message
    assert "'maximum' is not supported in strict mode" in message
    loose = {**tool, "input_schema": {"type": "object", "properties": {"x": {"type": "string"}}}}
    assert "additionalProperties" in refused(raw, request | {"tools": [loose]})
    built = raw.messages.create(**request)  # the constraints moved into the description
    assert built.stop_reason == "tool_use"
    schema = request["tools"][0]["input_schema"]["properties"]["confidence"]
    assert "minimum" not in schema and "minimum: 0" in schema["description"]


def test_every_decide_tool_passes_strict_mode_once_built(raw: anthropic.Anthropic) -> None:
    request = claude.build_request(SONNET, "decide", DECIDE_SYSTEM, USER, DECIDE_TOOLS, 512)
    assert claude.violations(request) == []
    assert raw.messages.create(**request).stop_reason == "tool_use"


# thinking blocks with a tool result ([THINK])


def first_answer(raw: anthropic.Anthropic, model: str) -> tuple[dict[str, Any], claude.Answer]:
    request = claude.build_request(model, "classify", CLASSIFY_SYSTEM, USER, [CLASSIFY_TOOL], 200)
    answer = claude.read_answer(raw.messages.create(**request))
    assert answer.blocks[0]["type"] == "thinking" and answer.tool is not None
    return request, answer


def repaired(
    model: str, request: dict[str, Any], answer: claude.Answer, blocks: tuple[dict[str, Any], ...]
) -> dict[str, Any]:
    assert answer.tool is not None
    turns = repair_turns(USER, *answer.tool, "confidence: too low", blocks, answer.tool_use_id)
    return claude.build_request(model, "classify", CLASSIFY_SYSTEM, turns, [CLASSIFY_TOOL], 200)


def test_a_tool_result_with_the_thinking_blocks_sent_back_unmodified_is_accepted(
    raw: anthropic.Anthropic,
) -> None:
    request, answer = first_answer(raw, HAIKU)
    assert raw.messages.create(**repaired(HAIKU, request, answer, answer.blocks)).stop_reason == "tool_use"


def test_a_tool_use_sent_back_without_its_thinking_block_is_refused(raw: anthropic.Anthropic) -> None:
    request, answer = first_answer(raw, HAIKU)
    without = tuple(block for block in answer.blocks if block["type"] != "thinking")
    message = refused(raw, repaired(HAIKU, request, answer, without))
    assert "Expected `thinking` or `redacted_thinking`, but found `tool_use`" in message


def test_a_modified_or_foreign_thinking_block_is_refused(raw: anthropic.Anthropic) -> None:
    request, answer = first_answer(raw, HAIKU)
    edited = ({**answer.blocks[0], "thinking": "I changed my mind."}, *answer.blocks[1:])
    assert "Invalid `signature`" in refused(raw, repaired(HAIKU, request, answer, edited))
    # [S55]: thinking blocks are tied to the model that wrote them
    assert "Invalid `signature`" in refused(raw, repaired(OPUS, request, answer, answer.blocks))


def test_the_repair_of_the_services_goes_back_to_the_model_that_answered(
    aws: Callable[[str], Any], tables: tuple[str, str], standin: MessagesApiStandin
) -> None:
    llm = standin_llm(aws("dynamodb"), tables[1], standin.url)
    first = llm.choose_tool(
        task_id="t-replay",
        tier="small",
        system=CLASSIFY_SYSTEM,
        messages=USER,
        tools=[CLASSIFY_TOOL],
        purpose="classify",
        use_cache=False,
    )
    call = first.call
    assert call is not None and call.model == HAIKU and call.blocks[0]["type"] == "thinking"
    turns = repair_turns(USER, call.name, call.input, "try again", call.blocks, call.tool_use_id)
    again = llm.choose_tool(
        task_id="t-replay",
        tier="medium",
        system=CLASSIFY_SYSTEM,
        messages=turns,
        tools=[CLASSIFY_TOOL],
        purpose="classify",
        use_cache=False,
        fallback=False,
        replay_of=call,
    )
    assert again.call is not None and again.ledger[0].model == HAIKU  # not the medium tier's model
    with pytest.raises(ModelRefused, match="signature"):
        llm.choose_tool(
            task_id="t-replay",
            tier="large",
            system=CLASSIFY_SYSTEM,
            messages=turns,
            tools=[CLASSIFY_TOOL],
            purpose="classify",
            use_cache=False,
            fallback=False,
        )


# prompt caching ([CACHE])


def test_a_prefix_past_the_minimum_is_written_once_then_read_and_priced_so(raw: anthropic.Anthropic) -> None:
    request = claude.build_request(SONNET, "decide", DECIDE_SYSTEM, USER, DECIDE_TOOLS, 512)
    assert "cache_control" in request["system"][0]
    assert claude.prefix_tokens(SONNET, request["tools"], request["system"][0]["text"]) >= 512
    first = raw.messages.create(**request).usage
    second = raw.messages.create(**request).usage
    assert first.cache_creation_input_tokens and not first.cache_read_input_tokens
    assert second.cache_read_input_tokens == first.cache_creation_input_tokens
    assert not second.cache_creation_input_tokens
    entry = LedgerEntry.from_usage("medium", SONNET, second, 0)
    plain = cost_usd(SONNET, entry.input_tokens + entry.cache_read_tokens, entry.output_tokens)
    assert entry.usd < float(plain)
    assert entry.usd == float(
        cost_usd(SONNET, entry.input_tokens, entry.output_tokens, cache_read=entry.cache_read_tokens)
    )


def test_a_prefix_under_the_models_minimum_is_not_cached_and_not_an_error(raw: anthropic.Anthropic) -> None:
    request = claude.build_request(HAIKU, "classify", CLASSIFY_SYSTEM, USER, [CLASSIFY_TOOL], 200)
    assert "cache_control" not in request["system"][0]  # Haiku 5.5: 4,096 tokens, far more than the prompt
    marked = request | {"system": [{**request["system"][0], "cache_control": {"type": "ephemeral"}}]}
    for _ in range(2):
        usage = raw.messages.create(**marked).usage
        assert not usage.cache_creation_input_tokens and not usage.cache_read_input_tokens


def test_the_cache_expires_five_minutes_after_its_last_use(
    raw: anthropic.Anthropic, standin: MessagesApiStandin
) -> None:
    request = claude.build_request(SONNET, "decide", DECIDE_SYSTEM, USER, DECIDE_TOOLS, 512)
    raw.messages.create(**request)
    with standin.state.lock:
        standin.state.clock_offset += 301
    assert raw.messages.create(**request).usage.cache_creation_input_tokens


def test_more_than_four_cache_breakpoints_are_refused(raw: anthropic.Anthropic) -> None:
    request = claude.build_request(SONNET, "decide", DECIDE_SYSTEM, USER, DECIDE_TOOLS, 512)
    marked = [{**tool, "cache_control": {"type": "ephemeral"}} for tool in request["tools"][:4]]
    message = refused(raw, request | {"tools": marked + request["tools"][4:]})
    assert "A maximum of 4 blocks with cache_control" in message


# the API's token counting for the budget (issue 13)


def test_the_budget_reserves_by_the_apis_token_count_where_configured(
    aws: Callable[[str], Any], tables: tuple[str, str], standin: MessagesApiStandin
) -> None:
    llm = standin_llm(aws("dynamodb"), tables[1], standin.url)
    llm.config = replace(llm.config, count_tokens=True)
    with standin.state.lock:
        standin.state.counted.clear()
    answer = llm.choose_tool(
        task_id="t-count",
        tier="small",
        system=CLASSIFY_SYSTEM,
        messages=USER,
        tools=[CLASSIFY_TOOL],
        purpose="classify",
        use_cache=False,
    )
    with standin.state.lock:
        counted = list(standin.state.counted)
    assert len(counted) == 1
    assert counted[0] == answer.ledger[0].input_tokens  # the count is the prompt the call was billed for


# the Message Batches API ([BATCH])


def batch_request(custom_id: str, model: str = SONNET, **changes: Any) -> Any:
    params = claude.build_request(model, "decide", DECIDE_SYSTEM, USER, DECIDE_TOOLS, 512) | changes
    return {"custom_id": custom_id, "params": params}


def results(raw: anthropic.Anthropic, batch_id: str) -> dict[str, Any]:
    return {line.custom_id: line.result for line in raw.messages.batches.results(batch_id)}


def test_a_batch_is_in_progress_then_ended_with_one_result_line_per_request(
    raw: anthropic.Anthropic, standin: MessagesApiStandin
) -> None:
    with standin.state.lock:
        standin.state.batch_seconds = 60
    try:
        batch = raw.messages.batches.create(
            requests=[batch_request("ok-1"), batch_request("forced-2", tool_choice={"type": "any"})]
        )
        assert batch.processing_status == "in_progress" and batch.results_url is None
        assert (batch.expires_at - batch.created_at).total_seconds() == 24 * 3600
        with pytest.raises(anthropic.AnthropicError, match="results_url"):  # the SDK checks it first
            list(raw.messages.batches.results(batch.id))
        with standin.state.lock:
            standin.state.clock_offset += 61
        ended = raw.messages.batches.retrieve(batch.id)
    finally:
        with standin.state.lock:
            standin.state.batch_seconds = 0
    assert ended.processing_status == "ended" and ended.results_url
    assert ended.request_counts.succeeded == 1 and ended.request_counts.errored == 1
    lines = results(raw, batch.id)
    assert lines["ok-1"].type == "succeeded" and lines["ok-1"].message.stop_reason == "tool_use"
    # an invalid request is validated when processed: errored with the Messages API's own error
    assert lines["forced-2"].type == "errored"
    assert lines["forced-2"].error.error.type == "invalid_request_error"
    assert "forced tool use" in lines["forced-2"].error.error.message


def test_a_batch_not_processed_within_24_hours_expires(
    raw: anthropic.Anthropic, standin: MessagesApiStandin
) -> None:
    with standin.state.lock:
        standin.state.batch_seconds = 10**6
    try:
        batch = raw.messages.batches.create(requests=[batch_request("late-1")])
        with standin.state.lock:
            standin.state.clock_offset += 24 * 3600
        ended = raw.messages.batches.retrieve(batch.id)
    finally:
        with standin.state.lock:
            standin.state.batch_seconds = 0
    assert ended.request_counts.expired == 1
    assert results(raw, batch.id)["late-1"].type == "expired"


def test_a_malformed_or_repeated_custom_id_is_refused_at_once(raw: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError, match="custom_id"):
        raw.messages.batches.create(requests=[batch_request("has space")])
    with pytest.raises(anthropic.BadRequestError, match="duplicate"):
        raw.messages.batches.create(requests=[batch_request("same"), batch_request("same")])


def test_a_batch_answer_is_priced_at_half() -> None:
    usage = {"input_tokens": 400, "output_tokens": 80, "cache_read_input_tokens": 600}
    live = LedgerEntry.from_usage("medium", SONNET, usage, 0)
    batched = LedgerEntry.from_usage("medium", SONNET, usage, 0, batch=True)
    assert batched.batch and batched.usd == pytest.approx(live.usd / 2)
    assert json.loads(json.dumps(batched.to_json()))["batch"] is True
