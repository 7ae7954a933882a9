"""AWS requests per event by request type, for two mixes, on the local runtime with moto's recorder armed.

- the rules path: `/label` from a trusted author (marked trusted in the author directory before the window),
  each on its own issue: the shortest path through the whole pipeline (ingest → classify → act-github);
- the corpus mix: the corpus's GitHub messages (`events/corpus/messages.jsonl`), as section 3 sends them.

Each recorded request is the functions' (user agent app id `sbfn`), the runtime's SQS pollers' (the event
source mappings) or this process's (`bench`, left out). `BASELINE` holds the figures measured before the
lean-event work (commit 80db1e3, 2026-12-02: 16 rules-path events and the whole corpus, 128 GitHub
messages), for the "before" column; the "after" column is this run.

Run alone (after `make synth`: the local runtime runs the staged assets):
`python -m tools.bench.requests --rules 16 --corpus 1000`.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import re
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from tools.bench.common import table

#: Measured before the lean-event work (the layer and functions of commit 80db1e3, this module's counting
#: and pricing), 2026-12-02, `python -m tools.bench.requests --rules 16 --corpus 1000 --throughput 100`, per
#: event, functions and event source mappings together (the pollers' receives left out, as section 3 prices
#: them: a delete stands for its receive).
BASELINE: dict[str, dict[str, float]] = {
    "rules": {
        "dynamodb GetItem author": 2.0,
        "dynamodb GetItem breaker": 1.0,
        "dynamodb GetItem seen": 1.0,
        "dynamodb PutItem idempotency": 1.0,
        "dynamodb PutItem seen": 1.0,
        "dynamodb TransactWriteItems processed+content+task": 1.0,
        "dynamodb UpdateItem idempotency": 1.0,
        "dynamodb UpdateItem task": 4.0,
        "secretsmanager GetSecretValue": 0.06,
        "sqs DeleteMessageBatch ActGithub.fifo (event source mappings)": 0.44,
        "sqs DeleteMessageBatch Ingest.fifo (event source mappings)": 0.62,
        "sqs SendMessage ActGithub.fifo": 1.0,
        "sqs SendMessage Ingest.fifo": 1.0,
        "ssm GetParameter": 0.12,
    },
    "rules_usd": {
        "http_api": 1.0,
        "dynamodb": 13.63,
        "secrets_manager": 0.31,
        "sqs": 2.06,
        "lambda": 2.82,
        "aws_total": 19.82,
    },
    "corpus": {
        "dynamodb GetItem author": 2.44,
        "dynamodb GetItem breaker": 0.81,
        "dynamodb GetItem llmcache": 1.3,
        "dynamodb GetItem seen": 1.0,
        "dynamodb GetItem task": 0.38,
        "dynamodb PutItem idempotency": 0.83,
        "dynamodb PutItem llmcache": 1.3,
        "dynamodb PutItem seen": 1.0,
        "dynamodb TransactWriteItems processed+content+task": 1.0,
        "dynamodb UpdateItem budget#day": 2.8,
        "dynamodb UpdateItem budget#task": 2.8,
        "dynamodb UpdateItem idempotency": 0.83,
        "dynamodb UpdateItem rate": 1.41,
        "dynamodb UpdateItem task": 4.08,
        "secretsmanager GetSecretValue": 0.05,
        "sqs DeleteMessageBatch ActEscalate.fifo (event source mappings)": 0.09,
        "sqs DeleteMessageBatch ActGithub.fifo (event source mappings)": 0.69,
        "sqs DeleteMessageBatch ActTickets.fifo (event source mappings)": 0.02,
        "sqs DeleteMessageBatch Decide.fifo (event source mappings)": 0.29,
        "sqs DeleteMessageBatch Followups (event source mappings)": 0.02,
        "sqs DeleteMessageBatch Ingest.fifo (event source mappings)": 0.18,
        "sqs SendMessage ActEscalate.fifo": 0.09,
        "sqs SendMessage ActGithub.fifo": 0.7,
        "sqs SendMessage ActTickets.fifo": 0.02,
        "sqs SendMessage Decide.fifo": 0.38,
        "sqs SendMessage Followups": 0.02,
        "sqs SendMessage Ingest.fifo": 1.0,
        "ssm GetParameter": 0.08,
    },
    "corpus_usd": {
        "http_api": 1.0,
        "sqs": 2.38,
        "dynamodb": 19.6,
        "secrets_manager": 0.23,
        "lambda": 6.83,
        "aws_total": 30.05,
    },
    "throughput": {"events_per_s": 4.4, "raw_messages_per_s": 39.3, "ratio": 0.112},
}


KINDS = frozenset(
    {
        "task",
        "seen",
        "processed",
        "content",
        "author",
        "rate",
        "llmcache",
        "breaker",
        "cursor",
        "triage",
        "heartbeat",
    }
)


def _kind_of_key(document: dict[str, Any]) -> str:
    """The item kind a DynamoDB request touches: the part of its ``pk`` before the first ``#`` (``task``,
    ``seen``, ``processed``, ``author``, ``rate``, ``budget#task``, ...); Powertools' idempotency records
    (``pk`` = function name + ``#`` + hash) as ``idempotency``."""
    key = document.get("Key") or document.get("Item") or {}
    pk = str(key.get("pk", {}).get("S", ""))
    if not pk:
        return ""
    head, _, rest = pk.partition("#")
    if head == "budget":
        return "budget#" + rest.partition("#")[0]
    return head if head in KINDS else "idempotency"


def _queue(name: str) -> str:
    """QueuesActGithubQueue9BBBD6F8.fifo → ActGithub.fifo"""
    return re.sub(r"^Queues|Queue[0-9A-F]{8}(?=(\.fifo)?$)", "", name)


def _request(entry: dict[str, Any]) -> tuple[str, str, str, list[str]]:
    """(service, operation, what it touches, the item kinds of a transaction) of one recorded request."""
    headers = {k.lower(): v for k, v in entry["headers"].items()}
    match = re.search(r"Credential=[^/]+/\d+/[^/]+/([^/]+)/", headers.get("authorization", ""))
    service = match.group(1) if match else "?"
    body = entry.get("body") or ""
    if entry.get("body_encoded"):
        body = base64.b64decode(body).decode(errors="replace")
    target = headers.get("x-amz-target")
    if not target:  # the SQS query protocol
        query = parse_qs(body)
        queue = query.get("QueueUrl", [""])[0].rsplit("/", 1)[-1]
        return service, query.get("Action", ["?"])[0], _queue(queue), []
    operation = target.split(".")[-1]
    try:
        document = json.loads(body) if body else {}
    except ValueError:
        document = {}
    if service == "sqs":
        return service, operation, _queue(str(document.get("QueueUrl", "")).rsplit("/", 1)[-1]), []
    if operation == "TransactWriteItems":
        kinds = [_kind_of_key(next(iter(item.values()))) for item in document.get("TransactItems", [])]
        return service, operation, "+".join(kinds), kinds
    if operation == "BatchGetItem":
        keys = [key for table in document.get("RequestItems", {}).values() for key in table.get("Keys", [])]
        return service, operation, "+".join(sorted({_kind_of_key({"Key": key}) for key in keys})), []
    return service, operation, _kind_of_key(document) or str(document.get("TableName", "")), []


def _put_units(entry: dict[str, Any], operation: str) -> int | None:
    """The write units of a PutItem, or of a transaction made of Puts only, from the items it carries
    (1 WRU per KB of an item, 2 in a transaction); None when the request does not carry them all."""
    if operation not in ("PutItem", "TransactWriteItems"):
        return None
    body = entry.get("body") or ""
    if entry.get("body_encoded"):
        body = base64.b64decode(body).decode(errors="replace")
    try:
        document = json.loads(body)
    except ValueError:
        return None
    if operation == "PutItem":
        return math.ceil(item_bytes(document["Item"]) / 1024)
    items = document.get("TransactItems", [])
    if not items or any("Put" not in item for item in items):
        return None
    return sum(2 * math.ceil(item_bytes(item["Put"]["Item"]) / 1024) for item in items)


def operation_counts(
    runtime: Any, sends: list[tuple[str, str]], first_issue: int, timeout: float = 300
) -> dict[str, Any]:
    """Send ``sends`` (text, author) with the recorder on; the requests per event by who and type, and the
    Lambda invocations and durations of the window (the functions' REPORT lines)."""
    from tools.bench.common import median, template_functions
    from tools.bench.pipeline import _log_offsets, _reports

    logs = Path(runtime.info["logs_dir"])
    offsets = _log_offsets(logs)
    runtime.recording.unlink(missing_ok=True)
    runtime.moto_api("/moto-api/recorder/start-recording")
    started = time.monotonic()
    deliveries = [runtime.send(first_issue + n, text, author)[0] for n, (text, author) in enumerate(sends)]
    terminal = runtime.wait_terminal(deliveries, timeout=timeout)
    window = time.monotonic() - started
    time.sleep(3)  # the act workers' last writes and the pollers' deletes
    runtime.moto_api("/moto-api/recorder/stop-recording")
    counts: dict[str, Counter[tuple[str, str, str]]] = defaultdict(Counter)
    transacted: Counter[str] = Counter()
    put_units: Counter[str] = Counter()  # write units of the requests that carry their whole items
    for line in runtime.recording.read_text().splitlines():
        entry = json.loads(line)
        agent = next((v for k, v in entry["headers"].items() if k.lower() == "user-agent"), "")
        who = "functions" if "app/sbfn" in agent else "bench" if "app/bench" in agent else "pollers"
        service, operation, resource, kinds = _request(entry)
        counts[who][(service, operation, resource)] += 1
        if who == "functions":
            transacted.update(kinds)
            units = _put_units(entry, operation)
            if units is not None:
                put_units[f"{service}:{operation}:{resource}"] += units
    events = len(deliveries)
    per = max(events, 1)  # an empty mix (`--rules 0`, `--corpus 0`): its bare counts, no division by zero
    from tests.local_process import batch_get

    keys = [{"pk": {"S": f"task#{runtime.task_of[delivery]}"}} for delivery in deliveries]
    tasks = batch_get(runtime.dynamodb, runtime.tasks_table, keys)
    functions = template_functions()
    lambdas = {}
    for logical_id, durations in sorted(_reports(logs, offsets).items()):
        spec = functions.get(logical_id, {"name": logical_id, "memory_mb": 128})
        lambdas[logical_id] = {
            "function": re.sub(r"^Functions|[0-9A-F]{8}$", "", logical_id),
            "memory_mb": spec["memory_mb"],
            "invocations_per_event": len(durations) / per,
            "duration_ms_p50": median(durations),
            "duration_ms_mean": sum(durations) / len(durations),
        }
    return {
        "events": events,
        "terminal": dict(Counter(t["status"] for t in terminal.values())),
        "missing": events - len(terminal),
        "window_s": window,
        "calls_per_event": {
            who: {f"{s}:{op}:{res}": n / per for (s, op, res), n in sorted(counter.items())}
            for who, counter in counts.items()
            if who != "bench"
        },
        "transaction_items_per_event": {kind: n / per for kind, n in transacted.items()},
        "put_write_units_per_event": {key: n / per for key, n in put_units.items()},
        "lambda": lambdas,
        # this mix's own tasks, as they ended (its writes are priced by it, not by the table's mean)
        "task_kb": sum(item_bytes(item) for item in tasks) / len(tasks) / 1024 if tasks else 1.0,
        "task_write_units": write_units([item_bytes(item) for item in tasks]),
        "response_cache": response_cache(tasks),
    }


def response_cache(tasks: list[dict[str, Any]]) -> dict[str, Any]:
    """The response cache's hits among the LLM ledger entries of the tasks' histories, as section 4 counts
    them: hits / (hits + model calls)."""
    from switchboard.state import Task

    hits = calls = 0
    for item in tasks:
        for entry in Task.from_item(item).history:
            for call in (entry.get("detail") or {}).get("llm", []):
                if isinstance(call, dict):
                    hits, calls = hits + bool(call.get("cached")), calls + (not call.get("cached"))
    return {"hits": hits, "model_calls": calls, "hit_rate": hits / max(1, hits + calls)}


def by_type(calls_per_event: dict[str, dict[str, float]]) -> dict[str, float]:
    """``service Operation item kind`` → requests per event; the pollers' receives left out (a delete
    stands for its receive, as section 3 prices them)."""
    rows: defaultdict[str, float] = defaultdict(float)
    for who, per_event in calls_per_event.items():
        for key, n in per_event.items():
            service, op, resource = key.split(":", 2)
            if who == "pollers" and op == "ReceiveMessage":
                continue
            by = " (event source mappings)" if who == "pollers" else ""
            rows[f"{service} {op}{' ' + resource if resource else ''}{by}"] += n
    return dict(rows)


def markdown(name: str, measured: dict[str, Any], before: dict[str, float] | None = None) -> str:
    after = by_type(measured["calls_per_event"])
    before = before or {}
    rows = []
    for key in sorted(set(after) | set(before)):
        rows.append((key, f"{before[key]:.2f}" if key in before else "", f"{after.get(key, 0.0):.2f}"))
    total_before = f"{sum(before.values()):.2f}" if before else ""
    rows.append(("all AWS requests", total_before, f"{sum(after.values()):.2f}"))
    cache = measured.get("response_cache") or {}
    hit_rate = (
        f"\n\nResponse cache: {cache['hits']} hits, {cache['model_calls']} model calls,"
        f" hit rate {cache['hit_rate']:.1%}."
        if cache.get("hits", 0) + cache.get("model_calls", 0)
        else ""
    )
    return (
        f"#### {name}: {measured['events']} events, {json.dumps(measured['terminal'])},"
        f" {measured['missing']} not terminal\n\n"
        + table(["requests per event", "before", "after"], rows)
        + hit_rate
    )


def item_bytes(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB bills it ("DynamoDB item sizes and formats",
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html, read
    2026-12-02): names + values; strings and binaries by their bytes, a number 1 byte per two significant
    digits + 1, a boolean or null 1, a list or map 3 + 1 per element + its elements."""

    def value(attribute: dict[str, Any]) -> int:
        kind, inner = next(iter(attribute.items()))
        if kind == "S":
            return len(str(inner).encode())
        if kind == "B":
            return len(base64.b64decode(inner)) if isinstance(inner, str) else len(inner)
        if kind == "N":
            return (len(str(inner).strip("-").replace(".", "").strip("0")) + 1) // 2 + 1
        if kind in ("BOOL", "NULL"):
            return 1
        if kind in ("SS", "NS", "BS"):
            return sum(value({kind[0]: each}) for each in inner)
        if kind == "L":
            return 3 + sum(1 + value(each) for each in inner)
        return 3 + sum(1 + len(name.encode()) + value(each) for name, each in inner.items())  # M

    return sum(len(name.encode()) + value(attribute) for name, attribute in item.items())


def _sizes_by_kind(runtime: Any) -> dict[str, list[int]]:
    sizes: dict[str, list[int]] = defaultdict(list)
    for name in runtime.dynamodb.list_tables()["TableNames"]:
        for page in runtime.dynamodb.get_paginator("scan").paginate(TableName=name):
            for item in page["Items"]:
                sizes[_kind_of_key({"Key": item}) or name].append(item_bytes(item))
    return sizes


def item_kb_by_kind(runtime: Any) -> dict[str, float]:
    """Mean billed size in KB of each item kind, over both tables (a write is billed on the larger of the
    item before and after it: the final size is an upper bound for the earlier writes of an item)."""
    return {kind: sum(values) / len(values) / 1024 for kind, values in _sizes_by_kind(runtime).items()}


def write_units(sizes: list[int]) -> float:
    """The mean write units of items of these sizes: each item's own KB started (1 WRU per KB, "DynamoDB item
    sizes and formats", https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/
    CapacityUnitCalculations.html), so a kind whose mean is just under 1 KB is not priced as if every item
    were."""
    return sum(max(1, math.ceil(size / 1024)) for size in sizes) / len(sizes) if sizes else 1.0


def item_write_units_by_kind(runtime: Any) -> dict[str, float]:
    return {kind: write_units(values) for kind, values in _sizes_by_kind(runtime).items()}


def index_write_units(
    measured: dict[str, Any], task_units: float, indexes: list[dict[str, Any]] | None = None
) -> float:
    """The tasks table's index writes per event ("Global secondary indexes", Write capacity units,
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.Writes, read 2026-12-02: a
    table write that puts an item into an index costs a write there too, sized by the index entry; one
    that leaves the index's keys and projected attributes as they were costs none there), for each index
    the template declares (``indexes``; default: ``tools.bench.common.tasks_table_indexes``): the sparse
    ``attention`` index (every attribute) at least once per task that ends NEEDS_HUMAN or FAILED, at the
    task's size; any other index once per task born (its key is set at birth), 1 unit if keys only, else
    the task's size."""
    if indexes is None:
        from tools.bench.common import tasks_table_indexes

        indexes = tasks_table_indexes()
    # a task is born in one conditional PutItem (before 2026-12-03: in the claim's transaction)
    born = measured.get("transaction_items_per_event", {}).get("task", 0.0) + measured.get(
        "calls_per_event", {}
    ).get("functions", {}).get("dynamodb:PutItem:task", 0.0)
    events = max(int(measured.get("events", 0)), 1)
    attention = sum(
        n for status, n in measured.get("terminal", {}).items() if status in ("NEEDS_HUMAN", "FAILED")
    )
    units = 0.0
    for index in indexes:
        if index["KeySchema"][0]["AttributeName"] == "attention":
            units += attention / events * task_units
        else:
            units += born * (1 if index["Projection"]["ProjectionType"] == "KEYS_ONLY" else task_units)
    return units


def dollars(
    measured: dict[str, Any], item_kb: dict[str, float], units: dict[str, float] | None = None
) -> dict[str, float]:
    """USD per million events of one mix, AWS only (the model's spend is section 4's), at
    ``tools.bench.pipeline.AWS_PRICES``: DynamoDB by request units from each item kind's size (a write 1
    WRU per KB, a transaction's item 2 WRU per KB, a read 1 RRU per 4 KB, counted strongly consistent),
    SQS per request (a poller's delete stands for its receive too), Lambda per invocation and GB-second.
    A PutItem, or a transaction of Puts, is priced by the items it carries (exactly)."""
    from tools.bench.pipeline import AWS_PRICES as p

    def wru(kind: str) -> float:  # an item kind's mean write units: per item where measured, else by its mean
        if units is not None and kind in units:
            return units[kind]
        return math.ceil(item_kb.get(kind, 1.0))

    usd: dict[str, float] = defaultdict(float)
    usd["http_api"] = p["http_api_request"]
    for who, per_event in measured["calls_per_event"].items():
        for key, n in per_event.items():
            service, op, resource = key.split(":", 2)
            if service == "sqs":
                if who == "pollers" and op == "ReceiveMessage":
                    continue
                price = p["sqs_fifo_request"] if resource.endswith(".fifo") else p["sqs_standard_request"]
                usd["sqs"] += n * price * (2 if who == "pollers" else 1)
            elif service == "dynamodb":
                exact = measured.get("put_write_units_per_event", {}).get(key)
                if exact is not None and who == "functions":
                    usd["dynamodb"] += exact * p["dynamodb_write_request_unit"]
                elif op == "TransactWriteItems":
                    kinds = resource.split("+")
                    charged = sum(2 * wru(kind) for kind in kinds)
                    usd["dynamodb"] += n * charged * p["dynamodb_write_request_unit"]
                elif op in ("PutItem", "UpdateItem", "DeleteItem"):
                    usd["dynamodb"] += n * wru(resource) * p["dynamodb_write_request_unit"]
                else:
                    kinds = resource.split("+")
                    reads = sum(math.ceil(item_kb.get(kind, 1.0) / 4) for kind in kinds)
                    usd["dynamodb"] += n * reads * p["dynamodb_read_request_unit"]
            elif service == "secretsmanager":
                usd["secrets_manager"] += n * p["secrets_manager_api_call"]
            elif service == "sns":
                usd["sns"] += n * p["sns_publish"]
    usd["dynamodb"] += index_write_units(measured, wru("task")) * p["dynamodb_write_request_unit"]
    for spec in measured["lambda"].values():
        billed_s = math.ceil(spec["duration_ms_mean"]) / 1000
        usd["lambda"] += spec["invocations_per_event"] * (
            p["lambda_request"] + billed_s * spec["memory_mb"] / 1024 * p["lambda_arm64_gb_second"]
        )
    per_million = {key: 1e6 * value for key, value in usd.items()}
    per_million["aws_total"] = sum(per_million.values())
    return per_million


def markdown_dollars(results: dict[str, Any]) -> str:
    from tools.bench.pipeline import AWS_PRICES_DATE

    lines = ["http_api", "lambda", "sqs", "dynamodb", "secrets_manager", "sns", "aws_total"]
    rows = []
    for line in lines:
        row: list[str] = [line]
        for mix in ("rules", "corpus"):
            before = BASELINE.get(f"{mix}_usd", {})
            row += [
                f"{before[line]:,.2f}" if line in before else "",
                f"{results[mix]['usd_per_million'].get(line, 0.0):,.2f}",
            ]
        rows.append(row)
    for line in ("dynamodb", "aws_total"):
        by_own = [results[mix]["usd_per_million_own_tasks"][line] for mix in ("rules", "corpus")]
        rows.append([f"{line}, by the mix's own task size", "", f"{by_own[0]:,.2f}", "", f"{by_own[1]:,.2f}"])
    sizes = ", ".join(f"{kind} {kb:.2f}" for kind, kb in sorted(results["item_kb"].items()))
    own = ", ".join(f"{mix} {results[mix]['task_kb']:.2f}" for mix in ("rules", "corpus"))
    return (
        f"USD per million events, AWS list prices dated {AWS_PRICES_DATE} (`tools.bench.pipeline`):\n\n"
        + table(["cost line", "rules before", "rules after", "corpus before", "corpus after"], rows)
        + f"\n\nMean item sizes (KB, billed) over both tables: {sizes}; each mix's own tasks as they"
        f" ended: {own} (the last rows price its task writes by that, an upper bound for the earlier ones)."
    )


def trusted(runtime: Any, author: str) -> None:
    """Mark ``author`` trusted in the author directory (written by this process: outside the counts)."""
    from switchboard.dynamo import Keys

    memory = str(runtime.info["outputs"]["MemoryTableName"])
    runtime.dynamodb.put_item(
        TableName=memory,
        Item={**Keys.profile("github", author), "blocked": {"BOOL": False}, "trusted": {"BOOL": True}},
    )


def run(rules: int = 16, corpus: int = 40, throughput: int = 0, raw: int = 200) -> dict[str, Any]:
    """The two mixes; with ``throughput``, section 5's `/label` load of that many events and the raw moto
    ceiling (``raw`` messages) in the same run."""
    from tools.bench import pipeline
    from tools.bench.pipeline import Runtime, corpus_messages

    runtime = Runtime()
    try:
        trusted(runtime, "bench-trusted")
        warm = [
            runtime.send(1, "/label warm-up", "bench-trusted")[0],
            runtime.send(2, "Is there a dark mode?", "bw")[0],
        ]
        runtime.wait_terminal(warm, timeout=60)
        time.sleep(2)
        results = {
            "rules": operation_counts(
                runtime, [(f"/label bench-r{n}", "bench-trusted") for n in range(rules)], 40_000
            ),
            "corpus": operation_counts(
                runtime, [(row["text"], row["author"]) for row in corpus_messages()[:corpus]], 41_000
            ),
        }
        results["item_kb"] = item_kb_by_kind(runtime)
        results["item_write_units"] = item_write_units_by_kind(runtime)
        if throughput:
            load = pipeline.throughput(runtime, throughput)
            load["raw_ceiling"] = pipeline.raw_ceiling(runtime, raw)
            load["ratio_to_raw"] = load["events_per_s"] / load["raw_ceiling"]["messages_per_s"]
            results["throughput"] = load
    finally:
        runtime.stop()
    for mix in (
        "rules",
        "corpus",
    ):  # by the tables' mean sizes (as the "before" column), and by its own tasks
        units = results["item_write_units"]
        results[mix]["usd_per_million"] = dollars(results[mix], results["item_kb"], units)
        own = dollars(
            results[mix],
            results["item_kb"] | {"task": results[mix]["task_kb"]},
            units | {"task": results[mix]["task_write_units"]},
        )
        results[mix]["usd_per_million_own_tasks"] = {
            "dynamodb": own.get("dynamodb", 0.0),  # an empty mix may make no DynamoDB request
            "aws_total": own["aws_total"],
        }
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench.requests")
    parser.add_argument("--rules", type=int, default=16)
    parser.add_argument("--corpus", type=int, default=40)
    parser.add_argument("--throughput", type=int, default=0, help="events of the /label load (0: none)")
    parser.add_argument("--raw", type=int, default=200, help="messages of the raw moto ceiling")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    results = run(args.rules, args.corpus, args.throughput, args.raw)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(markdown("Rules path (/label from a trusted author)", results["rules"], BASELINE.get("rules")))
    print()
    print(markdown("Corpus mix", results["corpus"], BASELINE.get("corpus")))
    print()
    print(markdown_dollars(results))
    if "throughput" in results:
        load, before = results["throughput"], BASELINE["throughput"]
        print(
            f"\nBefore: {before['events_per_s']:.1f} events/s, raw {before['raw_messages_per_s']:.0f} msg/s,"
            f" ratio {before['ratio']:.2f}."
        )
        print(
            f"\nThroughput: {load['events']} `/label` events from {load['clients']} clients,"
            f" {load['events_per_s']:.1f} events/s accept → terminal ({json.dumps(load['terminal'])},"
            f" {load['missing']} missing);"
            f" latency p50 {load['latency_s_p50']:.2f} s, p99 {load['latency_s_p99']:.2f} s;"
            f" raw moto ceiling {load['raw_ceiling']['messages_per_s']:.0f} msg/s;"
            f" ratio {load['ratio_to_raw']:.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
