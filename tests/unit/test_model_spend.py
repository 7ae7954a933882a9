"""The model-spend levers that need no socket: the calibration of the one classification, and the cap on a
retry-after the API sends (issue 13: the SDK honoured it uncapped when no deadline was set)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import anthropic
import httpx2 as httpx  # the HTTP client this anthropic release is built on
import pytest

from switchboard import llm as llm_module
from switchboard.classify import Calibration
from switchboard.llm import MAX_RETRY_WAIT, Budget, BudgetedLlm, LlmConfig, ModelUnavailable, ResponseCache
from tests.fakes.memory import FakeClock, MemoryBudgetLedger, MemoryLlmCache


def test_the_default_calibration_takes_the_model_at_its_word() -> None:
    identity = Calibration()
    assert [identity(x) for x in (0.0, 0.3, 0.7, 1.0)] == [0.0, 0.3, 0.7, 1.0]
    assert identity(1.7) == 1.0 and identity(-1) == 0.0


def test_a_fitted_calibration_is_the_share_of_right_answers_and_never_decreases() -> None:
    answers = [(0.9, True)] * 6 + [(0.9, False)] * 4 + [(0.5, True)] * 7 + [(0.5, False)] * 3
    table = Calibration.fit(answers)
    # the model says 0.9 and is right 60 % of the time, says 0.5 and is right 70 %: monotone, so 0.9 -> 0.7
    assert table(0.5) == pytest.approx(0.7) and table(0.9) == pytest.approx(0.7)
    assert [(round(x, 6), round(y, 6)) for x, y in table.points] == [(0.5, 0.7), (0.9, 0.7)]
    assert Calibration.fit([(0.8, True)]) == Calibration()  # one bin is no table


class RateLimited:
    """``sdk.messages`` that answers 429 with a retry-after of an hour, every time."""

    def __init__(self) -> None:
        self.calls = 0

    def create(self, **_: Any) -> Any:
        self.calls += 1
        request = httpx.Request("POST", "https://api.anthropic.com/v1/messages")
        response = httpx.Response(429, headers={"retry-after": "3600"}, request=request)
        raise anthropic.RateLimitError("rate limited", response=response, body=None)


class Sdk:
    def __init__(self) -> None:
        self.messages = RateLimited()

    def with_options(self, **_: Any) -> Sdk:
        return self


def test_a_long_retry_after_is_cut_to_the_cap_even_without_a_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waits: list[float] = []
    monkeypatch.setattr(llm_module.time, "sleep", waits.append)
    clock = FakeClock()
    config = LlmConfig(
        tiers={"small": "claude-haiku-5-5", "medium": "claude-sonnet-5-5", "large": "claude-opus-5-5"},
        task_token_cap=10_000,
        daily_usd_cap=Decimal("1"),
        cache_ttl_seconds=60,
        max_retries=2,
    )
    sdk = Sdk()
    client = BudgetedLlm(
        config,
        Budget(MemoryBudgetLedger(clock), config, clock),
        ResponseCache(MemoryLlmCache(clock), 60),
        lambda: "key",
        "https://api.anthropic.com",
        sdk=sdk,
    )
    assert client.deadline is None
    with pytest.raises(ModelUnavailable, match="429"):
        client.choose_tool(
            task_id="t",
            tier="small",
            system="s",
            messages=[{"role": "user", "content": "x"}],
            tools=[{"name": "a", "description": "d", "input_schema": {"type": "object"}}],
            purpose="classify",
            fallback=False,
        )
    assert sdk.messages.calls == 3 and waits == [MAX_RETRY_WAIT, MAX_RETRY_WAIT]
