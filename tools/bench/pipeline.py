"""Sections 3 and 5, on the local runtime (`switchboard local` in a subprocess: tests/local_process.py).

3. AWS requests per event: moto's request recorder is on while the corpus's GitHub messages (each a signed
   `issue_comment` webhook on its own issue) go through the whole pipeline to a terminal state. The functions
   run with `AWS_SDK_UA_APP_ID=sbfn` and this process with `bench`, so each recorded request belongs to the
   functions, to the runtime's SQS pollers (the event source mappings) or to the benchmark's own polling,
   which is left out. Lambda invocations and durations come from the REPORT lines in the function logs.
   The counts become dollars per million events with AWS_PRICES, beside a naive design that calls the large
   model inline in the webhook handler.
5. Throughput: `/label` webhooks from 8 client threads, each its own issue (message group) and author, all
   at once; latency is accept (the 202) → the terminal transition's time stamp, so under that load it
   includes the wait behind the backlog; then 20 events one at a time, for the latency of an idle path.
   Beside them, the raw ceiling of the same moto server: SendMessage + ReceiveMessage + DeleteMessage per
   message on a FIFO queue, no work.

`tools/bench/requests.py` breaks section 3's requests down by request type and item kind for the rules path
(`/label` from a trusted author) and the corpus mix, beside the figures measured before the lean-event work.
What profiling found (PROFILE_NOTES) is printed under section 5.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import tempfile
import threading
import time
import urllib.request
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tests.local_process import LocalProcess, batch_get
from tools.bench.common import EVENTS, median, percentile, table

TERMINAL = {"DONE", "DROPPED", "NEEDS_HUMAN", "FAILED"}

# Public AWS list prices, us-east-1, USD, first paid tier of each, free tiers ignored. Checked on
# AWS_PRICES_DATE against published summaries of aws.amazon.com/{lambda,sqs,api-gateway,secrets-manager,sns}
# /pricing and /dynamodb/pricing/on-demand (this machine has no internet, so not against AWS's own pages
# on that day; re-check them before quoting a figure). DynamoDB's units, as billed: "Amazon DynamoDB
# On-Demand Pricing", https://aws.amazon.com/dynamodb/pricing/on-demand/ ("a standard write request unit can
# write an item up to 1 KB", "a transactional write requires two write request units", a strongly
# consistent read of up to 4 KB one read request unit), and "DynamoDB item sizes and formats",
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html (how an
# item's size is counted), both read 2026-12-02 from a stored copy.
AWS_PRICES_DATE = "2026-11-22"
AWS_PRICES = {
    "lambda_arm64_gb_second": 0.0000133334,
    "lambda_request": 0.20 / 1e6,
    "sqs_fifo_request": 0.50 / 1e6,  # per 64 KB chunk of a request
    "sqs_standard_request": 0.40 / 1e6,
    "dynamodb_write_request_unit": 0.625 / 1e6,  # since the November 2024 on-demand price cut
    "dynamodb_read_request_unit": 0.125 / 1e6,
    "http_api_request": 1.00 / 1e6,  # first 300 million a month, per 512 KB
    "secrets_manager_api_call": 0.05 / 1e4,
    "sns_publish": 0.50 / 1e6,
    "ssm_get_parameter": 0.0,  # standard parameters, standard throughput
}
#: py-spy (0.4.3, `py-spy record -r 50 -f raw`) on the runtime process (it hosts moto server and the SQS
#: pollers) and on the workers, during the corpus mix, 2026-12-02, before the lean-event cuts.
PROFILE_NOTES = (
    "Profiled with py-spy (50 Hz, 25 s, during the corpus mix): the runtime process, which hosts moto and"
    " the SQS pollers, is the bottleneck; the workers mostly wait on it. Of its samples, 72 % are moto's"
    " request threads: 34 % DynamoDB's handlers, 17 % moto's response serializer walking the whole task"
    " items that every transition returns (ReturnValues=ALL_NEW: the history, attribute by attribute),"
    " 8 % TransactWriteItems (with the runtime's snapshot fix), 11 % socket writes; the pollers take 11 %."
    " So the pipeline's speed follows the number of requests per event and the size of what they return,"
    " which is what the lean-event cuts reduce: fewer task writes (moves written together, a completion"
    " that finishes its task), one profile read per event, a closed breaker read once a second."
)
# The naive design: one 256 MB Lambda behind the HTTP API that verifies the webhook, calls the large model
# and acts, inline. The stand-in answers in milliseconds, so its latency is no guide: the Lambda is billed for
# an assumed NAIVE_MODEL_SECONDS of waiting on a large-model answer of this size (an assumption, stated).
NAIVE_MODEL_SECONDS = 5.0
NAIVE_MEMORY_MB = 256


class Runtime:
    """The local runtime with moto's recorder armed, and this process's clients (user agent `bench`)."""

    def __init__(self) -> None:
        from botocore.config import Config

        self.state_dir = Path(tempfile.mkdtemp(prefix="switchboard-bench-"))
        self.recording = self.state_dir / "moto_recording.jsonl"
        self.process = LocalProcess(
            self.state_dir,
            settings={"AWS_SDK_UA_APP_ID": "sbfn"},
            environ={"MOTO_RECORDER_FILEPATH": str(self.recording)},
            startup_timeout=120,
        )
        self.info = self.process.state
        config = Config(user_agent_appid="bench", retries={"max_attempts": 2})  # type: ignore[call-arg]
        self.dynamodb = self.process.client("dynamodb", config=config)
        self.sqs = self.process.client("sqs", config=config)
        self.tasks_table = str(self.info["outputs"]["TasksTableName"])
        self._secret: str | None = None
        self._comments = itertools.count(1)
        self.task_of: dict[str, str] = {}  # delivery id → the task the door's answer named

    def stop(self) -> None:
        """Stop the runtime and remove its state directory (the request recording alone is megabytes)."""
        self.process.stop()
        shutil.rmtree(self.state_dir, ignore_errors=True)

    def moto_api(self, path: str) -> None:
        request = urllib.request.Request(self.info["aws_endpoint_url"] + path, data=b"", method="POST")
        with urllib.request.urlopen(request, timeout=30):
            pass

    def send(self, issue: int, text: str, author: str) -> tuple[str, float]:
        """One signed GitHub `issue_comment`; the delivery id and the time of the 202."""
        from tools.cli import Target, post, signed_headers, webhook_secret

        if self._secret is None:  # read once, as `switchboard send` finds it (the runtime's Secrets Manager)
            self._secret = webhook_secret("github", Target.from_state(self.info))
        document = json.loads((EVENTS / "github" / "issue_comment.label_bug.json").read_text())
        document["comment"]["body"] = text
        # Each event its own comment: one signed body sent again is the same logical event (a duplicate).
        document["comment"]["id"] = 900_000_000 + next(self._comments)
        document["comment"]["user"]["login"] = author
        document["issue"]["user"]["login"] = author  # the issue's author may use the commands
        document["issue"]["number"] = issue  # its own issue: its own message group
        body = json.dumps(document).encode()
        delivery = str(uuid.uuid4())
        headers = signed_headers("github", body, "issue_comment", delivery, self._secret)
        status, answer = post(self.info["api_url"].rstrip("/") + "/webhooks/github", body, headers)
        accepted = time.time()
        if status != 202 or not isinstance(answer, dict) or answer.get("status") != "accepted":
            raise RuntimeError(f"webhook not accepted: {status} {answer}")
        self.task_of[delivery] = str(answer["task_id"])
        return delivery, accepted

    def wait_terminal(self, deliveries: list[str], timeout: float) -> dict[str, dict[str, Any]]:
        """Poll the tasks still pending until all are terminal (bounded): delivery → its status and time."""
        pending = {f"task#{self.task_of[d]}": d for d in deliveries}
        found: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            keys = [{"pk": {"S": key}} for key in pending]
            for item in batch_get(self.dynamodb, self.tasks_table, keys, ("pk", "status", "updated_at")):
                status = item.get("status", {}).get("S")
                if status in TERMINAL:
                    delivery = pending.pop(item["pk"]["S"])
                    found[delivery] = {"status": status, "updated_at": item["updated_at"]["S"]}
            if pending:
                time.sleep(0.5)
        return found


def _parse_iso(value: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _log_offsets(logs: Path) -> dict[Path, int]:
    return {path: path.stat().st_size for path in logs.glob("*.log")}


def _reports(logs: Path, offsets: dict[Path, int]) -> dict[str, list[float]]:
    durations: dict[str, list[float]] = defaultdict(list)
    for path in logs.glob("*.log"):
        with path.open("rb") as handle:
            handle.seek(offsets.get(path, 0))
            text = handle.read().decode(errors="replace")
        for match in re.finditer(r"REPORT RequestId: \S+\s+Duration: ([\d.]+) ms", text):
            durations[path.stem].append(float(match.group(1)))
    return durations


def corpus_messages() -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in (EVENTS / "corpus" / "messages.jsonl").read_text().splitlines()]
    return [row for row in rows if row["platform"] == "github" and row.get("text")]


def requests_per_event(runtime: Runtime) -> dict[str, Any]:
    """The corpus mix (section 3's figures) and the rules path, counted by ``tools.bench.requests``."""
    from tools.bench import requests as by_type

    by_type.trusted(runtime, "bench-trusted")
    warm = [
        runtime.send(1, "/label warm-up", "bench-trusted")[0],
        runtime.send(2, "Is there a dark mode?", "bw")[0],
    ]
    runtime.wait_terminal(warm, timeout=60)  # every worker on the common paths started, outside the window
    time.sleep(2)
    rules = by_type.operation_counts(
        runtime, [(f"/label bench-r{n}", "bench-trusted") for n in range(16)], 40_000
    )
    rows = corpus_messages()
    corpus = by_type.operation_counts(runtime, [(row["text"], row["author"]) for row in rows], 300)
    item_kb = by_type.item_kb_by_kind(runtime)
    units = by_type.item_write_units_by_kind(runtime)
    return corpus | {
        "source": "events/corpus/messages.jsonl, GitHub rows, as issue_comment webhooks",
        "item_kb": item_kb,
        "item_write_units": units,
        "rules": rules | {"usd_per_million": by_type.dollars(rules, item_kb, units)},
    }


def cost_per_million(requests: dict[str, Any], llm_usd_per_event: float) -> dict[str, float]:
    """Dollars per million events for the measured pipeline (``tools.bench.requests.dollars``: every
    assumption is stated there), plus the model's spend."""
    from tools.bench import requests as by_type

    per_million = by_type.dollars(requests, requests["item_kb"], requests.get("item_write_units"))
    per_million["llm"] = 1e6 * llm_usd_per_event
    per_million["total"] = per_million["aws_total"] + per_million["llm"]
    return per_million


def naive_cost_per_million(large_usd_per_event: float) -> dict[str, float]:
    p = AWS_PRICES
    lambda_usd = (
        p["lambda_request"] + NAIVE_MODEL_SECONDS * NAIVE_MEMORY_MB / 1024 * p["lambda_arm64_gb_second"]
    )
    per_million = {"http_api": 1e6 * p["http_api_request"], "lambda": 1e6 * lambda_usd}
    per_million["aws_total"] = sum(per_million.values())
    per_million["llm"] = 1e6 * large_usd_per_event
    per_million["total"] = per_million["aws_total"] + per_million["llm"]
    return per_million


def throughput(runtime: Runtime, events: int, clients: int = 8) -> dict[str, Any]:
    sent: list[tuple[str, float]] = []
    lock = threading.Lock()
    tag = uuid.uuid4().hex[:6]

    def one(ordinal: int) -> None:
        result = runtime.send(10_000 + ordinal, f"/label bench-{tag}-{ordinal}", f"bench-user-{ordinal}")
        with lock:
            sent.append(result)

    started = time.time()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(events)))
    terminal = runtime.wait_terminal([d for d, _ in sent], timeout=600)
    latencies, ends = [], []
    for delivery, accepted in sent:
        if delivery in terminal:
            end = _parse_iso(terminal[delivery]["updated_at"])
            ends.append(end)
            latencies.append(end - accepted)
    elapsed = (max(ends) - started) if ends else float("nan")
    return {
        "events": events,
        "clients": clients,
        "terminal": dict(Counter(t["status"] for t in terminal.values())),
        "missing": events - len(terminal),
        "seconds": elapsed,
        "events_per_s": len(ends) / elapsed if ends else 0.0,
        "latency_s_p50": median(latencies),
        "latency_s_p99": percentile(latencies, 99),
    }


def one_at_a_time(runtime: Runtime, events: int) -> dict[str, Any]:
    """Accept → terminal with nothing else in flight: each event sent once the one before it is done."""
    latencies = []
    tag = uuid.uuid4().hex[:6]
    for ordinal in range(events):
        delivery, accepted = runtime.send(20_000 + ordinal, f"/label idle-{tag}-{ordinal}", f"idle-{ordinal}")
        done = runtime.wait_terminal([delivery], timeout=60).get(delivery)
        if done is not None:
            latencies.append(_parse_iso(done["updated_at"]) - accepted)
    return {
        "events": events,
        "terminal": len(latencies),
        "latency_s_p50": median(latencies),
        "latency_s_max": max(latencies) if latencies else float("nan"),
    }


def raw_ceiling(runtime: Runtime, messages: int) -> dict[str, Any]:
    url = runtime.sqs.create_queue(
        QueueName=f"bench-raw-{uuid.uuid4().hex[:8]}.fifo", Attributes={"FifoQueue": "true"}
    )["QueueUrl"]
    started = time.perf_counter()
    for ordinal in range(messages):
        runtime.sqs.send_message(
            QueueUrl=url, MessageBody="{}", MessageGroupId=f"g{ordinal}", MessageDeduplicationId=f"d{ordinal}"
        )
        received = runtime.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"]
        runtime.sqs.delete_message(QueueUrl=url, ReceiptHandle=received[0]["ReceiptHandle"])
    elapsed = time.perf_counter() - started
    runtime.sqs.delete_queue(QueueUrl=url)
    return {
        "messages": messages,
        "messages_per_s": messages / elapsed,
        "ms_per_message": 1000 * elapsed / messages,
    }


def run(throughput_events: int = 300, raw_messages: int = 500) -> dict[str, Any]:
    runtime = Runtime()
    try:
        requests = requests_per_event(runtime)
        pipeline = throughput(runtime, throughput_events)
        pipeline["one_at_a_time"] = one_at_a_time(runtime, 20)
        pipeline["raw_ceiling"] = raw_ceiling(runtime, raw_messages)
    finally:
        runtime.stop()
    pipeline["ratio_raw_to_pipeline"] = pipeline["raw_ceiling"]["messages_per_s"] / pipeline["events_per_s"]
    return {"requests": requests, "pipeline": pipeline}


def markdown_requests(requests: dict[str, Any], ours: dict[str, float], naive: dict[str, float]) -> str:
    from tools.bench import requests as by_type

    rows = [
        (f"Lambda invocations: {spec['function']}", f"{spec['invocations_per_event']:.2f}")
        for spec in requests["lambda"].values()
    ]
    lines = ["http_api", "lambda", "sqs", "dynamodb", "secrets_manager", "sns", "aws_total", "llm", "total"]
    costs = [(line, f"{ours.get(line, 0.0):,.2f}", f"{naive.get(line, 0.0):,.2f}") for line in lines]
    return (
        "### 3. AWS requests per event\n\n"
        f"{requests['events']} messages ({requests['source']}), all through the local runtime:"
        f" {json.dumps(requests['terminal'])}, {requests['missing']} not terminal.\n\n"
        + by_type.markdown("Corpus mix", requests, by_type.BASELINE["corpus"])
        + "\n\n"
        + by_type.markdown(
            "Rules path (`/label` from a trusted author)", requests["rules"], by_type.BASELINE["rules"]
        )
        + "\n\nBefore: measured on the layer before the lean-event work (`tools/bench/requests.py`,"
        " `BASELINE`); after: this run. The rules path's AWS cost: "
        f"{requests['rules']['usd_per_million']['aws_total']:,.2f} USD per million events, DynamoDB"
        f" {requests['rules']['usd_per_million']['dynamodb']:,.2f}.\n\n"
        + table(["Lambda invocations per event", "count"], rows)
        + "\n\nUSD per million events, AWS list prices dated "
        f"{AWS_PRICES_DATE} (`tools/bench/pipeline.py`):\n\n"
        + table(["cost line", "Switchboard", "naive: large model inline in the webhook"], costs)
        + "\n\nAssumptions: Lambda durations are this machine's (not Graviton's), billed at each function's"
        " configured memory, one invocation per batch; a poller's DeleteMessageBatch stands for one receive"
        " and one delete (empty long polls are a fixed cost per queue, left out); DynamoDB units exact for"
        " a PutItem or a transaction of Puts (the items they carry), else from each item kind's items'"
        " sizes (the mean of each item's own units)"
        " (an update is billed on the larger of the item before and after it), reads counted strongly"
        " consistent, a transaction's item 2 units per KB, the tasks table's index writes added (one per"
        " task that ends needing a person, into the sparse by-attention index, the template's only one; not"
        " in the before column); Switchboard's LLM line is section 4's"
        " routed cost, the naive line prices every event at the large model; the naive Lambda"
        f" ({NAIVE_MEMORY_MB} MB) waits an assumed {NAIVE_MODEL_SECONDS:.0f} s for the model and makes no"
        " AWS request at all (no dedup, no retry, no record)."
    )


def markdown_pipeline(pipeline: dict[str, Any]) -> str:
    from tools.bench.requests import BASELINE

    raw, idle, before = pipeline["raw_ceiling"], pipeline["one_at_a_time"], BASELINE["throughput"]
    rows = [
        ("events: `/label`, own issue and author each", pipeline["events"], f"{pipeline['clients']} clients"),
        ("terminal", json.dumps(pipeline["terminal"]), f"{pipeline['missing']} missing"),
        ("events per second, accept → terminal", f"{pipeline['events_per_s']:.1f}", ""),
        ("latency p50, accept → terminal", f"{pipeline['latency_s_p50']:.2f} s", ""),
        ("latency p99", f"{pipeline['latency_s_p99']:.2f} s", "all sent at once: includes the backlog"),
        ("latency p50, one event at a time", f"{idle['latency_s_p50']:.2f} s",
         f"{idle['terminal']} of {idle['events']} events, max {idle['latency_s_max']:.2f} s"),
        ("raw moto ceiling: send + receive + delete", f"{raw['messages_per_s']:.0f} msg/s",
         f"{raw['ms_per_message']:.1f} ms per message, one client"),
        ("ratio raw ceiling / pipeline", f"{pipeline['ratio_raw_to_pipeline']:.1f}x", ""),
        ("pipeline / raw ceiling", f"{1 / pipeline['ratio_raw_to_pipeline']:.2f}",
         f"before the lean-event work: {before['ratio']:.2f} ({before['events_per_s']:.1f} events/s,"
         f" raw {before['raw_messages_per_s']:.0f} msg/s; 100 events, `tools/bench/requests.py`)"),
    ]  # fmt: skip
    return (
        "### 5. Pipeline on the local runtime\n\n"
        + table(["figure", "value", "note"], rows)
        + "\n\nEach event is three function invocations (ingest, classify, act-github), two queues, a claim"
        " transaction and its transitions in DynamoDB and one call to the recording sink, in worker processes"
        " on the same two cores as moto; the ratio"
        " says how much of the raw queue speed the whole agent keeps, on this machine, not what AWS would do."
        "\n\n" + PROFILE_NOTES
    )
