"""Shared helpers: statistics, the machine, the template's functions, markdown tables."""

from __future__ import annotations

import json
import os
import platform
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "cdk.out" / "Switchboard.template.json"
EVENTS = ROOT / "events"
BUILD = ROOT / "build"


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return float(ordered[rank - 1])


def machine() -> dict[str, Any]:
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                cpu = line.split(":", 1)[1].strip()
                break
    ram_gib = float("nan")
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gib = int(line.split()[1]) / 1024 / 1024
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gib": round(ram_gib, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(value: Any) -> str:
        if isinstance(value, float):
            if value != value:  # NaN
                return "n/a"
            return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
        return str(value)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def template() -> dict[str, Any]:
    if not TEMPLATE.exists():
        raise SystemExit(f"{TEMPLATE} is missing: run `make synth` first (make bench does)")
    document: dict[str, Any] = json.loads(TEMPLATE.read_text())
    return document


def tasks_table_indexes() -> list[dict[str, Any]]:
    """The tasks table's global secondary indexes, as the template declares them (the one table keyed by
    ``pk`` alone)."""
    for resource in template()["Resources"].values():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::DynamoDB::Table" and [
            k["AttributeName"] for k in properties["KeySchema"]
        ] == ["pk"]:
            indexes: list[dict[str, Any]] = properties.get("GlobalSecondaryIndexes", [])
            return indexes
    raise SystemExit("the template has no tasks table (a table keyed by pk alone)")


def template_functions() -> dict[str, dict[str, Any]]:
    """Logical id → {name (SWITCHBOARD_FUNCTION), memory, timeout, environment with Refs as dummy strings}."""
    functions = {}
    for logical_id, resource in template()["Resources"].items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        properties = resource["Properties"]
        variables = (properties.get("Environment") or {}).get("Variables") or {}
        environment = {
            key: value if isinstance(value, str) else f"dummy-{key.lower()}"
            for key, value in variables.items()
        }
        functions[logical_id] = {
            "name": environment.get("SWITCHBOARD_FUNCTION", logical_id),
            "memory_mb": int(properties.get("MemorySize", 128)),
            "timeout_s": int(properties.get("Timeout", 3)),
            "environment": environment,
        }
    return functions
