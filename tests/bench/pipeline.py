"""Sections 3 and 5 on the local runtime (`python -m infra.cli local` in a subprocess, as the e2e tests
run it). Unfinished: it does not complete yet (see the note on issue 7), so `make bench` leaves it out
unless `--with-pipeline` is given.

3. AWS requests per event: moto's request recorder is on while N signed `/label` webhooks (unique delivery
   ids, labels and issues) go through to DONE. The functions run with `AWS_SDK_UA_APP_ID=sbfn` and this
   process with `bench`, so each recorded request is attributed to the functions, to the runtime's SQS
   pollers (the event source mappings) or to the benchmark's own polling (left out). Lambda invocations and
   durations come from the REPORT lines in the function logs.
5. Throughput: M webhooks from 8 client threads, accept (202) → terminal state (the history's time stamp);
   and the raw ceiling of the same moto server: SendMessage + ReceiveMessage + DeleteMessage per message on
   a FIFO queue.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from tests.bench.common import EVENTS, ROOT, TEMPLATE, median, percentile, template_functions

TERMINAL = {"DONE", "DROPPED", "NEEDS_HUMAN", "FAILED"}

# Public AWS list prices, us-east-1, USD. Sources: aws.amazon.com/lambda/pricing, /sqs/pricing,
# /dynamodb/pricing/on-demand, /api-gateway/pricing, /secrets-manager/pricing, /sns/pricing, /systems-
# manager/pricing.
# As published on AWS_PRICES_DATE (first tier of each; free tiers ignored). Not re-read on the day of the run.
AWS_PRICES_DATE = "2025-06-01"
AWS_PRICES = {
    "lambda_arm64_gb_second": 0.0000133334,
    "lambda_request": 0.20 / 1e6,
    "sqs_fifo_request": 0.50 / 1e6,  # per 64 KB chunk of a request
    "sqs_standard_request": 0.40 / 1e6,
    "dynamodb_write_request_unit": 0.625 / 1e6,
    "dynamodb_read_request_unit": 0.125 / 1e6,
    "http_api_request": 1.00 / 1e6,
    "secrets_manager_api_call": 0.05 / 1e4,
    "sns_publish": 0.50 / 1e6,
    "ssm_standard_parameter_api_call": 0.0,  # standard throughput
}
# The naive design's Lambda waits for the large model inline; the stand-in answers in milliseconds, so its
# latency
# means nothing here. Assumed p50 latency of a large-model call of ~300 tokens in, ~25 out (an assumption).
NAIVE_MODEL_SECONDS = 5.0
NAIVE_MEMORY_MB = 256


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Runtime:
    def __init__(self) -> None:
        self.state_dir = Path(tempfile.mkdtemp(prefix="switchboard-bench-"))
        self.recording = self.state_dir / "moto_recording.jsonl"
        env = {
            **os.environ,
            "SWITCHBOARD_STATE_DIR": str(self.state_dir),
            "MOTO_RECORDER_FILEPATH": str(self.recording),
        }
        for key in [k for k in env if k.startswith("SWITCHBOARD_") and k.endswith(("_SECRET", "_TOKEN"))]:
            del env[key]
        env.pop("AWS_SDK_UA_APP_ID", None)
        command = [
            sys.executable,
            "-m",
            "infra.cli",
            "local",
            "--template",
            str(TEMPLATE),
            "--port",
            str(free_port()),
        ]
        command += [
            "--state-dir",
            str(self.state_dir),
            "--no-schedules",
            "--set-env",
            "AWS_SDK_UA_APP_ID=sbfn",
        ]
        self.log = (self.state_dir / "runtime.out").open("w")
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        state_file = self.state_dir / "local.json"
        deadline = time.monotonic() + 120
        while not state_file.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    "the local runtime did not start:\n"
                    + (self.state_dir / "runtime.out").read_text()[-3000:]
                )
            time.sleep(0.2)
        self.info = json.loads(state_file.read_text())
        import boto3
        from botocore.config import Config

        config = Config(user_agent_appid="bench", retries={"max_attempts": 2})  # type: ignore[call-arg]
        self.dynamodb = boto3.client(
            "dynamodb", endpoint_url=self.info["aws_endpoint_url"], region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing", config=config,
        )  # fmt: skip
        self.sqs = boto3.client(
            "sqs", endpoint_url=self.info["aws_endpoint_url"], region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing", config=config,
        )  # fmt: skip
        self.tasks_table = next(t for t in self.dynamodb.list_tables()["TableNames"] if "task" in t.lower())

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()

    def moto_api(self, path: str) -> bytes:
        request = urllib.request.Request(self.info["aws_endpoint_url"] + path, data=b"", method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            return bytes(response.read())

    def send(self, ordinal: int, tag: str) -> tuple[str, float]:
        from infra.cli import signed_headers, webhook_secret

        document = json.loads((EVENTS / "github" / "issue_comment.label_bug.json").read_text())
        document["comment"]["body"] = f"/label bench-{tag}-{ordinal}"
        document["issue"]["number"] = 100_000 + ordinal  # its own issue: its own message group
        body = json.dumps(document).encode()
        delivery = str(uuid.uuid4())
        headers = signed_headers("github", body, "issue_comment", delivery, webhook_secret("github"))
        request = urllib.request.Request(
            self.info["api_url"].rstrip("/") + "/webhooks/github", data=body, method="POST", headers=headers
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read())
            accepted = time.time()
            if response.status != 202 or answer.get("status") != "accepted":
                raise RuntimeError(f"webhook not accepted: {response.status} {answer}")
        return delivery, accepted

    def wait_terminal(self, deliveries: list[str], timeout: float) -> dict[str, dict[str, Any]]:
        """Scan the tasks table until every delivery's task is terminal (bounded); task id → {status, at}."""
        from switchboard.models import task_id_for

        wanted = {task_id_for("github", delivery) for delivery in deliveries}
        found: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            paginator = self.dynamodb.get_paginator("scan")
            pages = paginator.paginate(
                TableName=self.tasks_table,
                ProjectionExpression="pk, #s, updated_at",
                ExpressionAttributeNames={"#s": "status"},
            )
            for page in pages:
                for item in page["Items"]:
                    pk, status = item["pk"]["S"], item.get("status", {}).get("S")
                    if pk in wanted and status in TERMINAL and pk not in found:
                        found[pk] = {"status": status, "updated_at": item.get("updated_at", {}).get("S")}
            if len(found) == len(wanted):
                break
            time.sleep(0.25)
        return found


def _parse_iso(value: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _operation(entry: dict[str, Any]) -> tuple[str, str]:
    headers = {k.lower(): v for k, v in entry["headers"].items()}
    match = re.search(r"Credential=[^/]+/\d+/[^/]+/([^/]+)/", headers.get("authorization", ""))
    service = match.group(1) if match else "?"
    target = headers.get("x-amz-target")
    if target:
        return service, target.split(".")[-1]
    body = entry.get("body") or ""
    action = parse_qs(body).get("Action", ["?"])[0] if isinstance(body, str) else "?"
    return service, action


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


def requests_per_event(runtime: Runtime, events: int) -> dict[str, Any]:
    functions = template_functions()
    logs = Path(runtime.info["logs_dir"])
    runtime.send(0, "warm")  # warm every worker on the path once, outside the window
    runtime.wait_terminal([], 0)
    time.sleep(3)
    runtime.recording.unlink(missing_ok=True)
    offsets = _log_offsets(logs)
    runtime.moto_api("/moto-api/recorder/start-recording")
    started = time.monotonic()
    deliveries = [runtime.send(i, "count")[0] for i in range(1, events + 1)]
    terminal = runtime.wait_terminal(deliveries, timeout=180)
    window = time.monotonic() - started
    runtime.moto_api("/moto-api/recorder/stop-recording")
    time.sleep(1)
    reports = _reports(logs, offsets)
    counts: dict[str, Counter[tuple[str, str]]] = {
        "functions": Counter(),
        "pollers": Counter(),
        "bench": Counter(),
    }
    if runtime.recording.exists():
        for line in runtime.recording.read_text().splitlines():
            entry = json.loads(line)
            agent = next((v for k, v in entry["headers"].items() if k.lower() == "user-agent"), "")
            who = "functions" if "app/sbfn" in agent else "bench" if "app/bench" in agent else "pollers"
            counts[who][_operation(entry)] += 1
    statuses = Counter(t["status"] for t in terminal.values())
    lambdas = {}
    for logical_id, durations in sorted(reports.items()):
        spec = functions.get(logical_id, {"name": logical_id, "memory_mb": 128})
        lambdas[logical_id] = {
            "function": spec["name"],
            "memory_mb": spec["memory_mb"],
            "invocations_per_event": len(durations) / events,
            "duration_ms_p50": median(durations),
            "duration_ms_mean": sum(durations) / len(durations),
        }
    per_event = {
        who: {f"{service}:{op}": n / events for (service, op), n in sorted(counter.items())}
        for who, counter in counts.items()
    }
    return {
        "events": events,
        "terminal": dict(statuses),
        "window_s": window,
        "calls_per_event": per_event,
        "lambda": lambdas,
        "cost": cost_per_million(per_event, lambdas, events),
    }


def cost_per_million(
    per_event: dict[str, dict[str, float]], lambdas: dict[str, Any], events: int
) -> dict[str, Any]:
    p = AWS_PRICES
    usd: dict[str, float] = defaultdict(float)
    usd["http_api"] = p["http_api_request"]
    for key, n in per_event["functions"].items():
        service, op = key.split(":")
        if service == "sqs":
            usd["sqs"] += n * p["sqs_fifo_request"]
        elif service == "dynamodb":
            # assumptions: items ≤ 1 KB per write unit and ≤ 4 KB per read; transactions cost double;
            # reads strongly consistent where the code asks, counted at 1 RRU (upper bound).
            if op in ("PutItem", "UpdateItem", "DeleteItem"):
                usd["dynamodb"] += n * p["dynamodb_write_request_unit"]
            elif op == "TransactWriteItems":
                usd["dynamodb"] += (
                    n * 2 * 2 * p["dynamodb_write_request_unit"]
                )  # assumed 2 items per transaction
            else:
                usd["dynamodb"] += n * p["dynamodb_read_request_unit"]
        elif service == "secretsmanager":
            usd["secrets_manager"] += n * p["secrets_manager_api_call"]
        elif service == "sns":
            usd["sns"] += n * p["sns_publish"]
        elif service == "ssm":
            usd["ssm"] += n * p["ssm_standard_parameter_api_call"]
        else:
            usd[f"other:{service}"] += 0.0
    # Event source mappings: each message the functions send is received and deleted once (batch of 1 at
    # worst);
    # the pollers' empty long polls are a fixed cost per queue, not per event, and are left out.
    sends = sum(n for key, n in per_event["functions"].items() if key.startswith("sqs:Send"))
    usd["sqs"] += 2 * sends * p["sqs_fifo_request"]
    for spec in lambdas.values():
        billed_s = math.ceil(spec["duration_ms_mean"]) / 1000
        usd["lambda"] += spec["invocations_per_event"] * (
            p["lambda_request"] + billed_s * spec["memory_mb"] / 1024 * p["lambda_arm64_gb_second"]
        )
    per_million = {key: 1e6 * value for key, value in usd.items()}
    per_million["total"] = sum(per_million.values())
    return per_million


def naive_cost_per_million(prompt_tokens: float, answer_tokens: float) -> dict[str, float]:
    from switchboard.llm import DEFAULT_TIERS, cost_usd

    p = AWS_PRICES
    model = float(cost_usd(DEFAULT_TIERS["large"], round(prompt_tokens), round(answer_tokens)))
    lambda_usd = (
        p["lambda_request"] + NAIVE_MODEL_SECONDS * NAIVE_MEMORY_MB / 1024 * p["lambda_arm64_gb_second"]
    )
    per_million = {"http_api": 1e6 * p["http_api_request"], "lambda": 1e6 * lambda_usd, "llm": 1e6 * model}
    per_million["total"] = sum(per_million.values())
    return per_million


def throughput(runtime: Runtime, events: int, clients: int = 8) -> dict[str, Any]:
    sent: list[tuple[str, float]] = []
    lock = threading.Lock()

    def one(ordinal: int) -> None:
        result = runtime.send(ordinal, "tput")
        with lock:
            sent.append(result)

    started = time.time()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(1, events + 1)))
    terminal = runtime.wait_terminal([d for d, _ in sent], timeout=300)
    from switchboard.models import task_id_for

    latencies, ends = [], []
    for delivery, accepted in sent:
        task = terminal.get(task_id_for("github", delivery))
        if task and task["updated_at"]:
            end = _parse_iso(task["updated_at"])
            ends.append(end)
            latencies.append(end - accepted)
    elapsed = (max(ends) - started) if ends else float("nan")
    return {
        "events": events,
        "clients": clients,
        "terminal": dict(Counter(t["status"] for t in terminal.values())),
        "missing": events - len(terminal),
        "events_per_s": len(ends) / elapsed if ends else 0.0,
        "latency_s_p50": median(latencies),
        "latency_s_p99": percentile(latencies, 99),
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


def run(events: int = 50, throughput_events: int = 200, raw_messages: int = 300) -> dict[str, Any]:
    runtime = Runtime()
    try:
        requests = requests_per_event(runtime, events)
        pipeline = throughput(runtime, throughput_events)
        ceiling = raw_ceiling(runtime, raw_messages)
    finally:
        runtime.stop()
    pipeline["raw_ceiling"] = ceiling
    pipeline["ratio_pipeline_to_raw"] = pipeline["events_per_s"] / ceiling["messages_per_s"]
    return {"requests": requests, "pipeline": pipeline}
