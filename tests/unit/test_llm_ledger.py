from __future__ import annotations

import json
from decimal import Decimal

import pytest

from switchboard.llm import LedgerEntry, cost_usd, emit_ledger, estimate_tokens


def test_cost_comes_from_the_dated_price_table() -> None:
    assert cost_usd("claude-haiku-5-5", 1_000_000, 1_000_000) == Decimal("0.60")
    assert cost_usd("claude-sonnet-5-5", 1_000, 500) == Decimal("0.007")
    assert cost_usd("a-model-we-do-not-know", 1_000_000, 0) == Decimal("5")  # priced as the priciest


def test_the_reservation_estimate_is_generous() -> None:
    text = "x" * 3_000
    assert estimate_tokens(text) >= 1_000


def test_ledger_metrics_carry_tokens_and_dollars_per_tier(capsys: pytest.CaptureFixture[str]) -> None:
    emit_ledger(
        [
            LedgerEntry("small", "claude-haiku-5-5", 100, 20, 0.00002, cached=False, latency_ms=5),
            LedgerEntry("small", "claude-haiku-5-5", 0, 0, 0.0, cached=True, latency_ms=0),
            LedgerEntry("medium", "claude-sonnet-5-5", 300, 50, 0.0011, cached=False, latency_ms=9),
        ]
    )
    blobs = {blob["tier"]: blob for blob in map(json.loads, capsys.readouterr().out.splitlines())}
    assert set(blobs) == {"small", "medium"}
    assert (blobs["small"]["LlmCalls"], blobs["small"]["LlmCacheHits"]) == ([1.0], [1.0])
    assert blobs["small"]["LlmInputTokens"] == [100.0]
    assert blobs["medium"]["LlmCostUsd"] == [pytest.approx(0.0011)]
    names = {m["Name"] for m in blobs["medium"]["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert names == {"LlmCalls", "LlmCacheHits", "LlmInputTokens", "LlmOutputTokens", "LlmCostUsd"}
