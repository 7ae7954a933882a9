"""Section 1, cold start: how long one function's deployed artifact takes to import `handler`, in a fresh
interpreter per run, against bare `import boto3` on the same import path, in the same run.

Each probe is a `python -S -P` process (no site-packages, no script folder), as `tools/local/worker.py`
runs a function, with a PYTHONPATH of exactly what Lambda loads: the function's code asset from `cdk.out`,
its layers' contents (the last one first) and the runtime's libraries (`tools.local.artifact`; the template
decides the asset and the layers, `tools.local.model.AssetLocator` finds them). Nothing comes from the source
tree: a probe fails if `handler` is not the asset's. The baselines (an interpreter that imports nothing,
`import boto3`, `import anthropic`) use the ingest function's import path, so boto3 comes from the same
runtime folder the functions import it from.

Import time is `perf_counter` around the import (wall) and `process_time` (CPU: steadier than wall time on
a shared machine), peak RSS is VmHWM, all read inside the probe. The environment is the function's template
environment (Refs as dummy strings), with `POWERTOOLS_TRACE_DISABLED=1` as the local runtime sets it.
Bytecode is cached under `build/bench-pycache` (`PYTHONPYCACHEPREFIX`, so nothing is written into the
assets): one discarded warm-up import per subject compiles it, then every measured run reads it, the same for
boto3 as for the functions.

`python -m tools.bench.coldstart [runs]` runs this section alone; `python -m tools.bench.coldstart
--importtime ingest` prints the `-X importtime` tree's heaviest top-level imports of one function.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

from tools.bench.common import BUILD, ROOT, TEMPLATE, median, template_functions
from tools.local import moto_credentials

FUNCTIONS = ("ingest", "health", "classify", "decide", "act", "poll", "triage", "batch", "plan")
BASELINE_PATH_OF = "ingest"
PYCACHE = BUILD / "bench-pycache"

PROBE = r"""
import json, sys, time, importlib
target = sys.argv[1]
started, cpu = time.perf_counter(), time.process_time()
if target != "-":
    importlib.import_module(target)
elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
hwm = 0
with open("/proc/self/status") as status:
    for line in status:
        if line.startswith("VmHWM:"):
            hwm = int(line.split()[1])
print(json.dumps({"import_s": elapsed, "cpu_s": cpu, "vmhwm_kib": hwm,
                  "anthropic": "anthropic" in sys.modules, "boto3": "boto3" in sys.modules,
                  "modules": len(sys.modules),
                  "origin": getattr(sys.modules.get(target), "__file__", None)}))
"""


def dummy(key: str) -> str:
    if key.endswith("QUEUE_URL") or key.endswith("_URLS"):
        return f"https://sqs.us-east-1.amazonaws.com/123456789012/bench-{key.lower()}.fifo"
    if key.endswith("_ARN"):
        return f"arn:aws:sns:us-east-1:123456789012:bench-{key.lower()}"
    return f"bench-{key.lower()}"


@lru_cache(maxsize=1)
def artifact_paths() -> dict[str, tuple[Path, ...]]:
    """Function name (`SWITCHBOARD_FUNCTION`) → the import path of its deployed artifact (the first function
    of that name in the template: the ingest and act functions share one code asset and one set of layers)."""
    from tools.local.model import AssetLocator, register_runtime_resources
    from tools.local.template import Resolver, Template

    if not TEMPLATE.exists():
        raise SystemExit(f"{TEMPLATE} is missing: run `make synth` first (make bench does)")
    template = Template.load(TEMPLATE)
    resolver = Resolver(template)
    register_runtime_resources(template, resolver, "http://127.0.0.1:9")  # the layers' ARNs
    assets = AssetLocator(ROOT)
    paths: dict[str, tuple[Path, ...]] = {}
    for resource in template.of_type("AWS::Lambda::Function"):
        variables = (resource.properties.get("Environment") or {}).get("Variables") or {}
        name = variables.get("SWITCHBOARD_FUNCTION")
        if isinstance(name, str) and name not in paths:
            paths[name] = assets.python_path(template, resolver, resource)
    return paths


def environment_for(name: str | None) -> dict[str, str]:
    """The environment of a probe for function `name` (its template environment, Refs as dummy strings),
    or of a baseline (None), with PYTHONPATH = the deployed artifact's import path."""
    base = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    base |= {
        **moto_credentials.environment(),
        "POWERTOOLS_TRACE_DISABLED": "1",
        "PYTHONPYCACHEPREFIX": str(PYCACHE),
        "PYTHONPATH": os.pathsep.join(str(path) for path in artifact_paths()[name or BASELINE_PATH_OF]),
    }
    if name is None:
        return base
    spec = next(spec for spec in template_functions().values() if spec["name"] == name)
    for key, value in spec["environment"].items():
        base[key] = dummy(key) if value.startswith("dummy-") else value
    base["AWS_LAMBDA_FUNCTION_NAME"] = f"bench-{name}"
    base["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = str(spec["memory_mb"])
    return base


def _command(target: str, *flags: str) -> list[str]:
    # -S: no site-packages (the venv stays out), -P: not the working folder either, as the local worker runs.
    return [sys.executable, "-S", "-P", *flags, "-c", PROBE, target]


def probe(target: str, name: str | None) -> dict[str, Any]:
    environment = environment_for(name)
    completed = subprocess.run(
        _command(target),
        cwd=environment["PYTHONPATH"].split(os.pathsep)[0],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"cold-start probe {target} ({name}) failed:\n{completed.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    origin, expected = result.get("origin") or "", ROOT / ("cdk.out" if name else "build")
    if target != "-" and not origin.startswith(str(expected)):
        raise RuntimeError(f"`import {target}` ({name}) came from {origin}, not from under {expected}")
    return result


def run(runs: int = 5) -> dict[str, Any]:
    subjects: list[tuple[str, str, str | None]] = [
        ("(bare interpreter)", "-", None),
        ("import boto3", "boto3", None),
        ("import anthropic", "anthropic", None),
        *((name, "handler", name) for name in FUNCTIONS),
    ]
    for _, target, name in subjects:  # warm-up: compiles the bytecode into PYCACHE; not measured
        probe(target, name)
    samples: dict[str, list[dict[str, Any]]] = {label: [] for label, _, _ in subjects}
    for _ in range(runs):  # interleaved, so that drift on the machine touches every subject alike
        for label, target, name in subjects:
            samples[label].append(probe(target, name))
    rows = []
    for label, _, name in subjects:
        runs_ = samples[label]
        rows.append(
            {
                "subject": label,
                "function": name,
                "runs": len(runs_),
                "import_ms_median": 1000 * median([r["import_s"] for r in runs_]),
                "import_ms_min": 1000 * min(r["import_s"] for r in runs_),
                "import_ms_max": 1000 * max(r["import_s"] for r in runs_),
                "cpu_ms_median": 1000 * median([r["cpu_s"] for r in runs_]),
                "peak_rss_mib_median": median([r["vmhwm_kib"] for r in runs_]) / 1024,
                "imports_anthropic": any(r["anthropic"] for r in runs_),
                "modules": int(median([r["modules"] for r in runs_])),
            }
        )
    boto3 = next(row for row in rows if row["subject"] == "import boto3")
    for row in rows:
        row["vs_boto3_x"] = row["import_ms_median"] / boto3["import_ms_median"]
        row["cpu_vs_boto3_x"] = row["cpu_ms_median"] / boto3["cpu_ms_median"]
    return {
        "runs": runs,
        "note": (
            "each probe imports the deployed artifact (cdk.out code asset + layers + runtime libraries, "
            "`python -S -P`, as the local worker does); the baselines use the ingest function's import path; "
            "bytecode cached after one discarded warm-up per subject; POWERTOOLS_TRACE_DISABLED=1 (as in the "
            "local runtime); Refs resolved to dummy strings"
        ),
        "rows": rows,
        "functions_importing_anthropic": [
            r["function"] for r in rows if r["function"] and r["imports_anthropic"]
        ],
    }


_IMPORTTIME = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def importtime(name: str, top: int = 25) -> list[tuple[int, int, str]]:
    """The heaviest imports of one function's handler (`python -X importtime`, bytecode cached): (cumulative
    µs, self µs, module) for every module imported at the top two levels of the tree, heaviest first."""
    environment = environment_for(name)
    probe("handler", name)  # compiles the bytecode first
    completed = subprocess.run(
        _command("handler", "-X", "importtime"),
        cwd=environment["PYTHONPATH"].split(os.pathsep)[0],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    rows = []
    for line in completed.stderr.splitlines():
        match = _IMPORTTIME.match(line)
        if match and len(match.group(3)) <= 3:
            rows.append((int(match.group(2)), int(match.group(1)), match.group(4)))
    return sorted(rows, reverse=True)[:top]


def markdown(result: dict[str, Any]) -> str:
    from tools.bench.common import table

    rows = [
        (
            row["subject"],
            f"{row['import_ms_median']:.0f}",
            f"{row['import_ms_min']:.0f}-{row['import_ms_max']:.0f}",
            f"{row['vs_boto3_x']:.2f}x",
            f"{row['cpu_ms_median']:.0f}",
            f"{row['cpu_vs_boto3_x']:.2f}x",
            f"{row['peak_rss_mib_median']:.1f}",
            "yes" if row["imports_anthropic"] else "no",
        )
        for row in result["rows"]
    ]
    headers = [
        "subject",
        "import ms (median)",
        "min-max",
        "vs boto3",
        "CPU ms (median)",
        "CPU vs boto3",
        "peak RSS MiB",
        "anthropic loaded",
    ]
    importing = ", ".join(result["functions_importing_anthropic"]) or "none"
    return (
        f"### 1. Cold start (median of {result['runs']} fresh interpreters)\n\n"
        + table(headers, rows)
        + f"\n\nFunctions that import `anthropic` at import time: **{importing}**. {result['note']}."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="the cold-start section of make bench, alone")
    parser.add_argument("runs", nargs="?", type=int, default=5, help="fresh interpreters per subject")
    parser.add_argument("--importtime", metavar="FUNCTION", help="the heaviest imports of one function")
    args = parser.parse_args(argv)
    if args.importtime:
        for cumulative, own, module in importtime(args.importtime):
            print(f"{cumulative / 1000:8.1f} ms cumulative {own / 1000:7.1f} ms self  {module}")
        return 0
    print(markdown(run(args.runs)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
