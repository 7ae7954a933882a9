"""Section 4, LLM routing on the corpus: every message of `events/corpus/messages.jsonl` through the real
classify and decide services (moto server in this process, the Messages API stand-in, the real anthropic
SDK), exactly as `tests/integration/test_routing_corpus.py` runs it. Tokens and dollars come from each task's
LLM ledger."""

from __future__ import annotations

import os
import socket
import statistics
from typing import Any

from tools.bench.common import median
from tools.local import moto_credentials


def run() -> dict[str, Any]:
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "SwitchboardBench")
    from aws_lambda_powertools import Logger

    Logger()  # the parent of the library's Powertools child loggers (in Lambda: the handler module's)
    import boto3
    from moto.server import ThreadedMotoServer

    from switchboard.dynamo import DynamoAuthorDirectory
    from switchboard.llm import DEFAULT_TIERS, cost_usd
    from tests.conftest import create_tables
    from tests.integration.test_agent_core import make_agent
    from tests.integration.test_routing_corpus import (
        actual_route,
        corpus_event,
        ledger,
        load_corpus,
        run_like_the_agent,
    )
    from tools.standin.messages_api import MessagesApiStandin

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    moto_environment = moto_credentials.environment(endpoint)
    saved = {k: os.environ.get(k) for k in moto_environment}
    os.environ.update(moto_environment)
    try:

        def aws(service: str) -> Any:
            return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1")  # type: ignore[call-overload]

        dynamodb = aws("dynamodb")
        tables = create_tables(dynamodb, prefix="bench-")
        rows = load_corpus()
        with MessagesApiStandin(slow_seconds=12) as standin:
            agent = make_agent(aws, tables, standin)
            memory = DynamoAuthorDirectory(tables[1], dynamodb)
            for row in rows:
                if row.get("trusted"):
                    memory.set_flags(
                        row["platform"], row["author"], blocked=False, trusted=True, note="corpus"
                    )
            per_event = []
            for ordinal, row in enumerate(rows, 1):
                event = corpus_event(row, ordinal)
                with standin.state.lock:
                    standin.state.calls.clear()
                    standin.state.faults.clear()
                run_like_the_agent(agent, event)
                with standin.state.lock:
                    models = [str(call["model"]) for call in standin.state.calls]
                task = agent.store.get(event.task_id)
                entries = [e for e in ledger(task.history) if not e["cached"]]
                dynamodb.delete_item(
                    TableName=tables[0], Key=agent.store.key(event.task_id)
                )  # see the corpus test
                per_event.append(
                    {
                        "route": actual_route(models, task.status),
                        "calls": len(entries),
                        "input_tokens": sum(e["input_tokens"] for e in entries),
                        "output_tokens": sum(e["output_tokens"] for e in entries),
                        "usd": sum(float(e["usd"]) for e in entries),
                        "latency_ms": [e["latency_ms"] for e in entries if e.get("latency_ms") is not None],
                        "first_call": entries[0] if entries else None,
                    }
                )
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    total = len(per_event)
    calls = [c for e in per_event for c in [e] if e["calls"]]
    prompts = [e["first_call"]["input_tokens"] for e in per_event if e["first_call"]]
    outputs = [e["first_call"]["output_tokens"] for e in per_event if e["first_call"]]
    mean_in, mean_out = statistics.mean(prompts), statistics.mean(outputs)
    large = DEFAULT_TIERS["large"]
    # "Large model for every event": each event's own calls repriced at the large tier; an event the rules
    # settled
    # (no prompt of its own) is charged one call of the average first-call prompt and answer.
    large_usd = sum(
        float(cost_usd(large, e["input_tokens"], e["output_tokens"]))
        if e["calls"]
        else float(cost_usd(large, round(mean_in), round(mean_out)))
        for e in per_event
    )
    usd = sum(e["usd"] for e in per_event)
    routes = {route: sum(e["route"] == route for e in per_event) for route in ("rule", "small", "escalated")}
    latencies = [ms for e in per_event for ms in e["latency_ms"]]
    return {
        "events": total,
        "share_no_llm": routes["rule"] / total,
        "share_small": routes["small"] / total,
        "share_escalated": routes["escalated"] / total,
        "llm_calls_per_event": sum(e["calls"] for e in per_event) / total,
        "tokens_per_event": sum(e["input_tokens"] + e["output_tokens"] for e in per_event) / total,
        "input_tokens_per_event": sum(e["input_tokens"] for e in per_event) / total,
        "events_with_llm": len(calls),
        "mean_first_prompt_tokens": mean_in,
        "mean_first_answer_tokens": mean_out,
        "usd_per_1000_events": 1000 * usd / total,
        "large_for_every_event_usd_per_1000": 1000 * large_usd / total,
        "large_model": large,
        "standin_latency_ms_p50": median(latencies),
        "note": "token counts are the stand-in's (about 4 characters a token), prices from switchboard.llm",
    }


def markdown(result: dict[str, Any]) -> str:
    from switchboard.llm import PRICES_DATE
    from tools.bench.common import table

    rows = [
        ("events", result["events"], ""),
        ("settled with no LLM call", f"{result['share_no_llm']:.1%}", ""),
        ("small model alone", f"{result['share_small']:.1%}", ""),
        ("escalated (medium/large model or a person)", f"{result['share_escalated']:.1%}", ""),
        ("LLM calls per event", f"{result['llm_calls_per_event']:.2f}", ""),
        ("tokens per event (in + out)", f"{result['tokens_per_event']:.0f}", ""),
        ("USD per 1,000 events", f"{result['usd_per_1000_events']:.4f}", "tiered routing"),
        (
            "USD per 1,000 events, large model for every event",
            f"{result['large_for_every_event_usd_per_1000']:.4f}",
            result["large_model"],
        ),
        (
            "ratio",
            f"{result['large_for_every_event_usd_per_1000'] / result['usd_per_1000_events']:.1f}x",
            "large-for-all / routed",
        ),
    ]
    return (
        "### 4. LLM routing on the corpus\n\n"
        + table(["figure", "value", "note"], rows)
        + f"\n\nModel prices: `switchboard.llm.PRICES_PER_MTOK` dated {PRICES_DATE}. {result['note']}."
        " Events the rules"
        " settle are charged, in the large-for-all column, one call of the average first prompt"
        f" ({result['mean_first_prompt_tokens']:.0f} tokens in,"
        f" {result['mean_first_answer_tokens']:.0f} out)."
    )
