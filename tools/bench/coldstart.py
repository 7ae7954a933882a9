"""Section 1, cold start: a fresh interpreter per run imports one function's `handler` with its template
environment; import time (perf_counter around the import) and peak RSS (VmHWM) are read inside that process.

Baselines in the same run: an interpreter that imports nothing, one that runs `import boto3`, and one that
runs `import anthropic`. `POWERTOOLS_TRACE_DISABLED=1` is set, as the local runtime sets it (no X-Ray daemon
here), so the X-Ray SDK's own import is not counted for the functions (the template enables active tracing).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from tools.bench.common import ROOT, median, template_functions
from tools.local import moto_credentials

FUNCTIONS = ("ingest", "health", "classify", "decide", "act", "poll", "triage")

PROBE = r"""
import json, sys, time, importlib
target = sys.argv[1]
started = time.perf_counter()
if target != "-":
    importlib.import_module(target)
elapsed = time.perf_counter() - started
hwm = 0
with open("/proc/self/status") as status:
    for line in status:
        if line.startswith("VmHWM:"):
            hwm = int(line.split()[1])
print(json.dumps({"import_s": elapsed, "vmhwm_kib": hwm, "anthropic": "anthropic" in sys.modules,
                  "boto3": "boto3" in sys.modules, "modules": len(sys.modules)}))
"""


def dummy(key: str) -> str:
    if key.endswith("QUEUE_URL") or key.endswith("_URLS"):
        return f"https://sqs.us-east-1.amazonaws.com/123456789012/bench-{key.lower()}.fifo"
    if key.endswith("_ARN"):
        return f"arn:aws:sns:us-east-1:123456789012:bench-{key.lower()}"
    return f"bench-{key.lower()}"


def environment_for(name: str | None) -> dict[str, str]:
    base = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    base |= {
        **moto_credentials.environment(),
        "POWERTOOLS_TRACE_DISABLED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    if name is None:
        return base
    spec = next(spec for spec in template_functions().values() if spec["name"] == name)
    for key, value in spec["environment"].items():
        base[key] = dummy(key) if value.startswith("dummy-") else value
    base["AWS_LAMBDA_FUNCTION_NAME"] = f"bench-{name}"
    base["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = str(spec["memory_mb"])
    base["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "functions" / name), str(ROOT / "layers" / "shared" / "python")]
    )
    return base


def probe(target: str, name: str | None) -> dict[str, Any]:
    cwd = ROOT / "functions" / name if name else ROOT
    completed = subprocess.run(
        [sys.executable, "-c", PROBE, target],
        cwd=cwd,
        env=environment_for(name),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"cold-start probe {target} ({name}) failed:\n{completed.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def run(runs: int = 5) -> dict[str, Any]:
    subjects: list[tuple[str, str, str | None]] = [
        ("(bare interpreter)", "-", None),
        ("import boto3", "boto3", None),
        ("import anthropic", "anthropic", None),
        *((name, "handler", name) for name in FUNCTIONS),
    ]
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
                "peak_rss_mib_median": median([r["vmhwm_kib"] for r in runs_]) / 1024,
                "imports_anthropic": any(r["anthropic"] for r in runs_),
                "modules": int(median([r["modules"] for r in runs_])),
            }
        )
    boto3 = next(row for row in rows if row["subject"] == "import boto3")
    for row in rows:
        row["vs_boto3_x"] = row["import_ms_median"] / boto3["import_ms_median"]
    return {
        "runs": runs,
        "note": "POWERTOOLS_TRACE_DISABLED=1 (as in the local runtime); Refs resolved to dummy strings",
        "rows": rows,
        "functions_importing_anthropic": [
            r["function"] for r in rows if r["function"] and r["imports_anthropic"]
        ],
    }


def markdown(result: dict[str, Any]) -> str:
    from tools.bench.common import table

    rows = [
        (
            row["subject"],
            f"{row['import_ms_median']:.0f}",
            f"{row['import_ms_min']:.0f}-{row['import_ms_max']:.0f}",
            f"{row['vs_boto3_x']:.2f}x",
            f"{row['peak_rss_mib_median']:.1f}",
            "yes" if row["imports_anthropic"] else "no",
        )
        for row in result["rows"]
    ]
    headers = ["subject", "import ms (median)", "min-max", "vs boto3", "peak RSS MiB", "anthropic loaded"]
    importing = ", ".join(result["functions_importing_anthropic"]) or "none"
    return (
        f"### 1. Cold start (median of {result['runs']} fresh interpreters)\n\n"
        + table(headers, rows)
        + f"\n\nFunctions that import `anthropic` at import time: **{importing}**. {result['note']}."
    )
