"""Section 4, LLM routing on the corpus: every message of `events/corpus/messages.jsonl` through the real
classify and decide services (moto server in this process, the Messages API stand-in, the real anthropic
SDK), exactly as `tests/integration/test_routing_corpus.py` runs it. Tokens and dollars come from each task's
LLM ledger; the large-for-all column from the stand-in's call log (see ``large_for_all``)."""

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
    from switchboard.llm import DEFAULT_TIERS
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
            agent = make_agent(aws, tables, standin, batched=True)
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
                    log = [dict(call) for call in standin.state.calls if "usage" in call]
                task = agent.store.get(event.task_id)
                every = ledger(task.history)
                entries = [e for e in every if not e["cached"]]
                dynamodb.delete_item(
                    TableName=tables[0], Key=agent.store.key(event.task_id)
                )  # see the corpus test
                per_event.append(
                    {
                        "route": actual_route(models, task.status),
                        "calls": len(entries),
                        "response_cache_hits": len(every) - len(entries),
                        "input_tokens": sum(e["input_tokens"] for e in entries),
                        "cache_write_tokens": sum(e.get("cache_write_tokens", 0) for e in entries),
                        "cache_read_tokens": sum(e.get("cache_read_tokens", 0) for e in entries),
                        "output_tokens": sum(e["output_tokens"] for e in entries),
                        "batch_calls": sum(bool(e.get("batch")) for e in entries),
                        "usd": sum(float(e["usd"]) for e in entries),
                        "large_usd": large_for_all(log),
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
    calls = [e for e in per_event if e["calls"]]
    prompts = [e["first_call"]["input_tokens"] for e in calls]
    outputs = [e["first_call"]["output_tokens"] for e in calls]
    mean_in, mean_out = statistics.mean(prompts), statistics.mean(outputs)
    # An event the rules settled has no prompt of its own: in the large-for-all column it is charged the mean
    # of the events that reached a model.
    mean_large = statistics.mean(e["large_usd"] for e in calls)
    large_usd = sum(e["large_usd"] if e["calls"] else mean_large for e in per_event)
    usd = sum(e["usd"] for e in per_event)
    routes = {route: sum(e["route"] == route for e in per_event) for route in ("rule", "small", "escalated")}
    latencies = [ms for e in per_event for ms in e["latency_ms"]]
    n_calls = sum(e["calls"] for e in per_event)
    hits = sum(e["response_cache_hits"] for e in per_event)
    uncached = sum(e["input_tokens"] for e in per_event)
    written = sum(e["cache_write_tokens"] for e in per_event)
    read = sum(e["cache_read_tokens"] for e in per_event)
    out = sum(e["output_tokens"] for e in per_event)
    return {
        "events": total,
        "share_no_llm": routes["rule"] / total,
        "share_small": routes["small"] / total,
        "share_escalated": routes["escalated"] / total,
        "llm_calls_per_event": n_calls / total,
        "tokens_per_event": (uncached + written + read + out) / total,
        "input_tokens_per_event": (uncached + written + read) / total,
        "output_tokens_per_event": out / total,
        "events_with_llm": len(calls),
        "mean_first_prompt_tokens": mean_in,
        "mean_first_answer_tokens": mean_out,
        "usd_per_1000_events": 1000 * usd / total,
        "large_for_every_event_usd_per_1000": 1000 * large_usd / total,
        "large_model": DEFAULT_TIERS["large"],
        "batch_share_of_calls": sum(e["batch_calls"] for e in per_event) / max(1, n_calls),
        "response_cache_hit_rate": hits / max(1, hits + n_calls),
        "prompt_cache_read_share": read / max(1, uncached + written + read),
        "prompt_cache_write_share": written / max(1, uncached + written + read),
        "standin_latency_ms_p50": median(latencies),
        "note": "token counts are the stand-in's (about 4 characters a token, times the tokenizer factor)",
    }


def large_for_all(log: list[dict[str, Any]]) -> float:
    """What this event's model calls would cost with the large model and none of the levers: every input
    token uncached, no batch discount, and the thinking the stand-in spends at the large model's default
    effort
    (no effort sent) in place of the thinking these calls spent."""
    from switchboard.claude import contract
    from switchboard.llm import DEFAULT_TIERS, cost_usd
    from tools.standin.messages_api import THINKING_TOKENS

    large = DEFAULT_TIERS["large"]
    default_thinking = THINKING_TOKENS[contract(large).default_effort or "medium"]
    total = 0.0
    for call in log:
        usage = call["usage"]
        kinds = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
        prompt = sum(int(usage.get(kind) or 0) for kind in kinds)
        answer = int(usage["output_tokens"]) - int(call.get("thinking_tokens") or 0)
        total += float(cost_usd(large, prompt, answer + default_thinking))
    return total


def markdown(result: dict[str, Any]) -> str:
    from switchboard.llm import PRICES_DATE
    from tools.bench.common import table

    rows = [
        ("events", result["events"], ""),
        ("settled with no LLM call", f"{result['share_no_llm']:.1%}", ""),
        ("small model alone", f"{result['share_small']:.1%}", ""),
        ("escalated (medium/large model or a person)", f"{result['share_escalated']:.1%}", ""),
        ("LLM calls per event", f"{result['llm_calls_per_event']:.2f}", ""),
        (
            "tokens per event (in + out)",
            f"{result['tokens_per_event']:.0f}",
            "input counts cache reads and writes",
        ),
        ("output tokens per event", f"{result['output_tokens_per_event']:.0f}", "thinking included"),
        (
            "calls answered through the Message Batches API",
            f"{result['batch_share_of_calls']:.1%}",
            "half price",
        ),
        (
            "response cache hit rate",
            f"{result['response_cache_hit_rate']:.1%}",
            "same model, prompt and tools",
        ),
        ("prompt cache: input tokens read from it", f"{result['prompt_cache_read_share']:.1%}", "0.1x price"),
        (
            "prompt cache: input tokens written to it",
            f"{result['prompt_cache_write_share']:.1%}",
            "1.25x price",
        ),
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
        + f"\n\nModel prices: `switchboard.llm.PRICES_PER_MTOK` dated {PRICES_DATE} (cache writes 1.25x,"
        f" reads 0.1x, batches 0.5x). {result['note']}. Large-for-all: each event's own calls at the large"
        " model with none of the levers (every input token uncached, no batch discount, the thinking of the"
        " large model's default effort instead of the effort we send); an event the rules settle is charged"
        " the mean of the others."
    )
