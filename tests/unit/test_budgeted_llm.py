"""The budgeted LLM client's budget and cache logic, against the in-memory ledger and cache and a scripted
SDK: the cache is asked first, the worst case is reserved before a call, the real usage is settled after it,
and a refused reservation makes no call. No sockets."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from switchboard.errors import BudgetExceeded
from switchboard.llm import Budget, BudgetedLlm, LlmConfig, ResponseCache, cost_usd
from tests.fakes.memory import FakeClock, MemoryBudgetLedger, MemoryLlmCache

TIERS = {"small": "claude-haiku-5-5", "medium": "claude-sonnet-5-5", "large": "claude-opus-5-5"}
TOOLS = [{"name": "classify", "description": "d", "input_schema": {"type": "object"}}]
MESSAGES = [{"role": "user", "content": "is this a bug?"}]
DAY = datetime.fromtimestamp(FakeClock().now, UTC).strftime("%Y-%m-%d")


@dataclass
class ScriptedMessages:
    """``sdk.messages``: answers every create with one tool call and the given usage (or raises)."""

    usage: tuple[int, int] = (120, 30)
    fail_with: BaseException | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)

    def create(self, **request: Any) -> Any:
        self.calls.append(request)
        if self.fail_with is not None:
            raise self.fail_with
        block = SimpleNamespace(type="tool_use", name="classify", input={"intent": "bug"})
        return SimpleNamespace(
            usage=SimpleNamespace(input_tokens=self.usage[0], output_tokens=self.usage[1]), content=[block]
        )


@dataclass
class ScriptedSdk:
    """The SDK client: ``messages`` and ``with_options`` (the client makes its own retries, with none of the
    SDK's)."""

    messages: ScriptedMessages

    def with_options(self, **options: Any) -> ScriptedSdk:
        assert options == {"max_retries": 0}
        return self


@dataclass
class Client:
    llm: BudgetedLlm
    ledger: MemoryBudgetLedger
    cache: MemoryLlmCache
    messages: ScriptedMessages
    clock: FakeClock


def client(token_cap: int = 5_000, usd_cap: str = "1", ttl: int = 600) -> Client:
    clock = FakeClock()
    config = LlmConfig(
        tiers=TIERS, task_token_cap=token_cap, daily_usd_cap=Decimal(usd_cap), cache_ttl_seconds=ttl
    )
    ledger, cache, messages = MemoryBudgetLedger(clock), MemoryLlmCache(clock), ScriptedMessages()
    llm = BudgetedLlm(
        config,
        Budget(ledger, config, clock),
        ResponseCache(cache, ttl),
        lambda: "key",
        "http://unused",
        sdk=ScriptedSdk(messages),
    )
    return Client(llm, ledger, cache, messages, clock)


def ask(c: Client, task_id: str = "t1", **options: Any) -> Any:
    return c.llm.choose_tool(
        task_id=task_id, tier="small", system="s", messages=MESSAGES, tools=TOOLS, max_tokens=64, **options
    )


def test_a_call_is_settled_to_its_real_usage() -> None:
    c = client()
    answer = ask(c)
    assert answer.call is not None and answer.call.name == "classify"
    [entry] = answer.ledger
    assert (entry.input_tokens, entry.output_tokens, entry.cached) == (120, 30, False)
    assert c.ledger.spent_tokens("t1") == 150  # the generous reservation was corrected to the usage
    expected = int(cost_usd("claude-haiku-5-5", 120, 30) * 1_000_000)
    assert c.ledger.spent_micro_usd(DAY) == expected
    assert c.llm.budget.spent_today_usd() == pytest.approx(expected / 1_000_000)
    assert c.ledger.writes == 2  # one conditional write per counter (the day's a lease): no correction yet
    reserved = c.ledger.tokens["t1"]
    assert reserved > 150  # stored: the worst case, until the next reservation carries the correction


def test_the_next_reservation_writes_the_correction_of_the_last_call() -> None:
    c = client()
    ask(c)
    first = c.ledger.tokens["t1"]
    ask(c, use_cache=False)
    # two calls: the task's counter written for each, the day's once (the second call fits the first's lease)
    assert c.ledger.writes == 3
    assert c.ledger.tokens["t1"] == 150 + first  # the first call settled, the second one reserved
    assert c.ledger.spent_tokens("t1") == 300
    expected = 2 * int(cost_usd("claude-haiku-5-5", 120, 30) * 1_000_000)
    assert c.ledger.spent_micro_usd(DAY) == expected


def test_the_cache_answers_the_same_request_without_a_call_or_a_reservation() -> None:
    c = client()
    ask(c)
    spent = dict(c.ledger.tokens), c.ledger.spent_micro_usd(DAY)
    again = ask(c)
    assert len(c.messages.calls) == 1
    assert [e.cached for e in again.ledger] == [True]
    assert again.call is not None and again.call.input == {"intent": "bug"}
    assert (dict(c.ledger.tokens), c.ledger.spent_micro_usd(DAY)) == spent

    c.clock.now += 601  # past the TTL: asked again
    ask(c)
    assert len(c.messages.calls) == 2
    ask(c, use_cache=False)
    assert len(c.messages.calls) == 3


def test_over_the_task_cap_no_call_is_made() -> None:
    c = client(token_cap=100)  # the reservation (prompt estimate + 64) is more than 100 tokens
    with pytest.raises(BudgetExceeded) as refused:
        ask(c)
    assert refused.value.which == "task_tokens"
    assert c.messages.calls == []
    assert c.ledger.spent_micro_usd(DAY) == 0


def test_over_the_day_cap_no_call_is_made_and_the_task_reservation_is_given_back() -> None:
    c = client(usd_cap="0.000001")
    with pytest.raises(BudgetExceeded) as refused:
        ask(c)
    assert refused.value.which == "daily_usd"
    assert c.messages.calls == []
    assert c.ledger.spent_tokens("t1") == 0


def test_a_failed_call_gives_its_whole_reservation_back() -> None:
    c = client()
    c.messages.fail_with = RuntimeError("the SDK blew up")
    with pytest.raises(RuntimeError):
        ask(c, fallback=False)
    assert c.ledger.spent_tokens("t1") == 0
    assert c.ledger.spent_micro_usd(DAY) == 0
    assert c.cache.entries == {}
