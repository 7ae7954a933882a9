"""Shared fixtures: the repo root, sample events, and the GitHub test secret."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

# What every function's template environment sets; the library's metrics need a namespace.
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "SwitchboardTests")

import pytest
from aws_lambda_powertools import Logger
from hypothesis import HealthCheck, settings

from tools.local import moto_credentials

# Property tests must hold on a loaded machine: no per-example deadline, no "too slow" health check (the
# examples' cost is bounded by their sizes, not by the clock). Tests that set their own settings keep them.
settings.register_profile("switchboard", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("switchboard")

# The library logs through Powertools child loggers; in Lambda the handler module creates their parent.
Logger()

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"


def load_event(relative: str) -> dict[str, Any]:
    return json.loads((EVENTS / relative).read_text())


@pytest.fixture
def label_bug_body() -> bytes:
    return (EVENTS / "github" / "issue_comment.label_bug.json").read_bytes()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A real moto server on loopback, speaking the AWS wire protocols, for the whole session."""
    import socket

    from moto.server import ThreadedMotoServer

    from tools.local import moto_fixes

    moto_fixes.fifo_dedup_outlives_delete()  # SQS's FIFO deduplication outlives the message, as on AWS
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def moto_clients(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Any]:
    """Point the environment the library's lazy clients read at the moto server; a boto3 client factory."""
    import boto3

    for key, value in moto_credentials.environment(moto_endpoint).items():
        monkeypatch.setenv(key, value)

    def make(service: str) -> Any:
        return boto3.client(service, endpoint_url=moto_endpoint, region_name="us-east-1")  # type: ignore[call-overload]

    return make


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Any]:
    """boto3 clients bound to the moto server (and the environment the library's lazy clients read)."""
    return moto_clients(moto_endpoint, monkeypatch)


def create_tables(dynamodb: Any, prefix: str = "") -> tuple[str, str]:
    """A fresh tasks table and memory table with the template's key schema (and its indexes)."""
    import uuid

    suffix = uuid.uuid4().hex[:8]
    tasks, memory = f"{prefix}tasks-{suffix}", f"{prefix}memory-{suffix}"
    dynamodb.create_table(
        TableName=tasks,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "attention", "AttributeType": "S"},
            {"AttributeName": "updated_at", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-attention",
                "KeySchema": [
                    {"AttributeName": "attention", "KeyType": "HASH"},
                    {"AttributeName": "updated_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
        ],
    )
    dynamodb.create_table(
        TableName=memory,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
    )
    return tasks, memory


@pytest.fixture
def tables(aws: Callable[[str], Any]) -> tuple[str, str]:
    """A fresh tasks table and memory table, per test."""
    return create_tables(aws("dynamodb"))


def standin_llm(
    dynamodb: Any,
    memory_table: str,
    base_url: str,
    *,
    tiers: dict[str, str] | None = None,
    token_cap: int = 20_000,
    usd_cap: str = "25",
) -> Any:
    """The real budgeted client, its ledger and cache in moto's memory table, talking to a Messages API
    stand-in at ``base_url``."""
    from decimal import Decimal

    from switchboard.dynamo import DynamoBudgetLedger, DynamoLlmCache
    from switchboard.llm import DEFAULT_TIERS, Budget, BudgetedLlm, LlmConfig, ResponseCache

    config = LlmConfig(tiers or DEFAULT_TIERS, token_cap, Decimal(usd_cap), 600)
    return BudgetedLlm(
        config,
        Budget(DynamoBudgetLedger(memory_table, dynamodb), config),
        ResponseCache(DynamoLlmCache(memory_table, dynamodb), 600),
        lambda: "stand-in-key",
        base_url,
    )


def cleared_calls(standin: Any) -> list[dict[str, Any]]:
    """A Messages API stand-in's call log, emptied, and its faults cleared: a test starts from nothing."""
    standin.state.calls.clear()
    standin.state.faults.clear()
    calls: list[dict[str, Any]] = standin.state.calls
    return calls
