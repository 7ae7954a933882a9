"""Bench section: plans. What share of the routing corpus the router sends to a plan (no model call decides
that), and, for each plan, its latency, steps, model calls and dollars, with the real engine, validator,
evaluator and budgeted client on in-memory ports; the model is the Messages API stand-in's logic in-process
(every request checked against the per-model contract), so the figures are the engine's own overhead plus
the stand-in's token counts priced at ``switchboard.llm.PRICES_PER_MTOK`` (not a real model's latency).

``python -m tools.bench.plans`` runs it alone."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

from switchboard.models import DecideRequest, InboundEvent, Platform
from switchboard.plans.start import wants_plan
from tools.bench.common import ROOT, median, table


def _event(message: dict[str, Any], index: int) -> InboundEvent:
    platform = Platform(message.get("platform", "github"))
    if platform is Platform.SLACK:
        context = {"channel": "C0BENCH", "thread_ts": f"1700000000.{index:06d}"}
        conversation = f"C0BENCH:1700000000.{index:06d}"
    else:
        platform = Platform.GITHUB
        context = {"repo": "octo-org/demo", "number": str(1_000 + index), "kind": "issue"}
        conversation = f"octo-org/demo#{1_000 + index}"
    return InboundEvent(
        platform=platform,
        event_id=f"bench-{index}",
        event_type="issue_comment.created" if platform is Platform.GITHUB else "app_mention",
        author=str(message.get("author") or "someone"),
        conversation=conversation,
        text=str(message["text"]),
        received_at=datetime.now(UTC),
        context=context,
    )


EXAMPLES = [
    {"platform": "slack", "text": "What's the status of the ticket about the login timeouts?"},
    {"platform": "slack", "text": "What's the status of the ticket about the sign-in timeouts?"},  # a replan
    {"platform": "github", "text": "Is this a known issue? Uploading files over 2 GB crashes the app."},
]


class _Approved(dict[str, str | BaseException]):
    """Every review approved at once: the bench measures the plan, not a person."""

    def __contains__(self, key: object) -> bool:
        return True

    def __getitem__(self, key: str) -> str:
        return json.dumps({"approved": True, "by": "bench"})


def run(repeats: int = 3) -> dict[str, Any]:
    from switchboard.plans.budget import plan_key
    from tests.unit.plans.conftest import MemoryRunner, make_harness

    corpus = [
        json.loads(line) for line in (ROOT / "events" / "corpus" / "messages.jsonl").read_text().splitlines()
    ]
    events = [_event(m, i) for i, m in enumerate(corpus) if m.get("platform") in ("github", "slack")]
    planned = [
        e
        for e in events
        if wants_plan(DecideRequest(task_id=e.task_id, event=e, intent="question", confidence=0.9))
    ]
    examples = [_event(m, 10_000 + i) for i, m in enumerate(EXAMPLES)]
    runs: list[dict[str, Any]] = []
    logging.disable(logging.WARNING)
    try:
        warm = make_harness()  # the first plan pays the imports (anthropic's among them): not measured
        with contextlib.redirect_stdout(io.StringIO()):
            warm.engine.run(warm.open(examples[0]), MemoryRunner())
        for _ in range(repeats):
            for event in [*examples, *planned]:
                h = make_harness()
                request = h.open(event)
                runner = MemoryRunner(answers=_Approved())  # a review is answered at once
                started = time.perf_counter()
                with contextlib.redirect_stdout(io.StringIO()):
                    summary = h.engine.run(request, runner)
                elapsed = (time.perf_counter() - started) * 1000
                steps = sum(1 for name in runner.ran if name.count(".") == 1)
                runs.append(
                    {
                        "outcome": summary["outcome"],
                        "status": summary["status"],
                        "ms": elapsed,
                        "steps": steps,
                        "model_calls": len(h.sdk.requests),
                        # as settled: the stored counter holds worst-case reservations, and the last
                        # call's correction rides on the next reservation (``BudgetLedger``)
                        "usd": h.ledger.spent_micro_usd(plan_key(request.task_id)) / 1_000_000,
                        "replanned": any(name.startswith("plan1") for name in runner.ran),
                    }
                )
    finally:
        logging.disable(logging.NOTSET)
    return {
        "events": len(events),
        "planned": len(planned),
        "share_planned": len(planned) / len(events) if events else 0.0,
        "plans": len(runs),
        "latency_ms_median": median([r["ms"] for r in runs]),
        "latency_ms_max": max(r["ms"] for r in runs),
        "steps_median": median([r["steps"] for r in runs]),
        "model_calls_median": median([r["model_calls"] for r in runs]),
        "model_calls_max": max(r["model_calls"] for r in runs),
        "usd_median": median([r["usd"] for r in runs]),
        "usd_max": max(r["usd"] for r in runs),
        "replanned": sum(r["replanned"] for r in runs),
        "outcomes": {o: sum(r["outcome"] == o for r in runs) for o in sorted({r["outcome"] for r in runs})},
    }


def markdown(results: dict[str, Any]) -> str:
    rows = [
        [
            "events of the routing corpus that plan",
            f"{results['planned']} of {results['events']} ({results['share_planned']:.1%})",
        ],
        ["plans run (the corpus's and the issue's examples)", results["plans"]],
        [
            "plan latency, median / max (engine + stand-in, in-process)",
            f"{results['latency_ms_median']:.1f} ms / {results['latency_ms_max']:.1f} ms",
        ],
        ["steps per plan, median", results["steps_median"]],
        [
            "model calls per plan, median / max",
            f"{results['model_calls_median']} / {results['model_calls_max']}",
        ],
        ["dollars per plan, median / max", f"${results['usd_median']:.4f} / ${results['usd_max']:.4f}"],
        ["plans that replanned", results["replanned"]],
        ["outcomes", ", ".join(f"{k}: {v}" for k, v in results["outcomes"].items())],
    ]
    return "### Plans\n\n" + table(["measure", "value"], rows)


if __name__ == "__main__":
    print(markdown(run(repeats=1)))
