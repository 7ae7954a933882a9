"""Run every section, print one markdown table per section, write build/bench.json, optionally the README."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

from tools.bench import coldstart, corpus, hostile, pipeline, plans, warm
from tools.bench.common import BUILD, ROOT, machine

START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench")
    parser.add_argument("--update-readme", action="store_true")
    parser.add_argument(
        "--no-pipeline",
        dest="pipeline",
        action="store_false",
        help="skip sections 3 and 5 (the local runtime): a quicker run, and the README is left alone",
    )
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    started = time.monotonic()
    results: dict[str, Any] = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine()}
    sections: list[str] = []
    results["cold_start"] = coldstart.run(runs=5)
    sections.append(coldstart.markdown(results["cold_start"]))
    print(sections[-1] + "\n", flush=True)
    results["warm"] = warm.run(requests=1000, warmup=100)
    sections.append(warm.markdown(results["warm"]))
    print(sections[-1] + "\n", flush=True)
    results["hostile"] = hostile.run()
    sections.append(hostile.markdown(results["hostile"]))
    print(sections[-1] + "\n", flush=True)
    results["plans"] = plans.run()
    sections.append(plans.markdown(results["plans"]))
    print(sections[-1] + "\n", flush=True)
    with contextlib.redirect_stdout(io.StringIO()):
        results["corpus"] = corpus.run()
    corpus_md = corpus.markdown(results["corpus"])
    if args.pipeline:
        results["pipeline"] = pipeline.run()
        llm = results["corpus"]
        results["cost_per_million"] = {
            "switchboard": pipeline.cost_per_million(
                results["pipeline"]["requests"], llm["usd_per_1000_events"] / 1000
            ),
            "naive": pipeline.naive_cost_per_million(llm["large_for_every_event_usd_per_1000"] / 1000),
            "prices_date": pipeline.AWS_PRICES_DATE,
        }
        costs = results["cost_per_million"]
        sections.append(
            pipeline.markdown_requests(results["pipeline"]["requests"], costs["switchboard"], costs["naive"])
        )
    sections.append(corpus_md)
    if args.pipeline:
        sections.append(pipeline.markdown_pipeline(results["pipeline"]["pipeline"]))
    for section in sections[4:]:  # the first four were printed as they came
        print(section + "\n", flush=True)
    results["seconds"] = time.monotonic() - started
    BUILD.mkdir(exist_ok=True)
    (BUILD / "bench.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    m = results["machine"]
    header = (
        f"Measured by `make bench` on {results['date'][:10]}: {m['nproc']} CPUs ({m['cpu']}),"
        f" {m['ram_gib']} GiB RAM,"
        f" Python {m['python']}. Raw figures in `build/bench.json`."
    )
    if args.update_readme and args.pipeline:
        readme = ROOT / "README.md"
        text = readme.read_text()
        block = f"{START}\n## Performance\n\n{header}\n\n" + "\n\n".join(sections) + f"\n{END}\n\n"
        if START in text:
            text = text[: text.index(START)] + block + text[text.index(END) + len(END) :].lstrip("\n")
        else:
            text = text.replace("## Make targets", block + "## Make targets", 1)
        readme.write_text(text)
    print(f"bench: {results['seconds']:.0f} s, build/bench.json written", flush=True)
    return 0
