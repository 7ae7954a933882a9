"""Section 2, warm cost per event: CPU time (time.process_time) of one handler call, after warm-up.

Runs in a child process per handler (`python -m tools.bench.warm ingest|classify OUT.json`), with the
function's template environment and its stdout (Powertools logs and EMF metrics, as in Lambda) sent to
/dev/null. AWS is stubbed at botocore's HTTP layer: `URLLib3Session.send` answers each request with a
canned response for its operation, so serialization, signing and parsing all run, and nothing leaves the
process.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.bench.common import EVENTS, ROOT, median, percentile

SECRET = "bench-webhook-secret"


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, *args: Any, **kwargs: Any) -> Any:
        yield self._body


ITEMS: dict[tuple[str, str], dict[str, Any]] = {}


def _key(document: dict[str, Any]) -> tuple[str, str]:
    return document["TableName"], json.dumps(document["Key"], sort_keys=True)


def _item_key(table: str, item: dict[str, Any]) -> tuple[str, str]:
    return table, json.dumps({name: item[name] for name in ("pk", "sk") if name in item}, sort_keys=True)


def _operand(token: str, item: dict[str, Any], names: dict[str, str], values: dict[str, Any]) -> Any:
    token = token.strip()
    if token.startswith("if_not_exists(") and token.endswith(")"):
        path, fallback = token[len("if_not_exists(") : -1].split(",")
        found = _operand(path, item, names, values)
        return found if found is not None else _operand(fallback, item, names, values)
    if token.startswith(":"):
        return values[token]
    return item.get(names.get(token, token))


def update(document: dict[str, Any]) -> dict[str, Any]:
    """Just enough of UpdateExpression (SET a = b, a = a + b, list_append, if_not_exists; ADD; REMOVE) for the
    rules path."""
    table, key = _key(document)
    item = ITEMS.setdefault((table, key), dict(document["Key"]))
    names = document.get("ExpressionAttributeNames", {})
    values = document.get("ExpressionAttributeValues", {})
    clauses = re.split(r"\b(SET|ADD|REMOVE)\b", document["UpdateExpression"])
    for verb, body in zip(clauses[1::2], clauses[2::2], strict=True):
        for part in re.split(r",(?![^()]*\))", body):
            part = part.strip()
            if not part:
                continue
            if verb == "REMOVE":
                item.pop(names.get(part, part), None)
            elif verb == "ADD":
                target, operand = part.split()
                name, value = names.get(target, target), values[operand]
                if "N" in value:
                    current = float(item.get(name, {"N": "0"})["N"])
                    item[name] = {"N": f"{current + float(value['N']):g}"}
                else:
                    item[name] = {"SS": sorted(set(item.get(name, {"SS": []})["SS"]) | set(value["SS"]))}
            else:
                target, expression = (side.strip() for side in part.split("=", 1))
                name = names.get(target, target)
                if expression.startswith("list_append("):
                    left, right = expression[len("list_append(") : -1].split(",")
                    head = _operand(left, item, names, values) or {"L": []}
                    item[name] = {"L": head["L"] + _operand(right, item, names, values)["L"]}
                elif "+" in expression:
                    left, right = expression.split("+")
                    total = float(_operand(left, item, names, values)["N"]) + float(
                        _operand(right, item, names, values)["N"]
                    )
                    item[name] = {"N": f"{total:g}"}
                else:
                    item[name] = _operand(expression, item, names, values)
    return {"Attributes": dict(item)} if document.get("ReturnValues", "NONE") != "NONE" else {}


def canned(operation: str, request_body: dict[str, Any]) -> dict[str, Any]:
    if operation == "AmazonSQS.SendMessage":
        digest = hashlib.md5(request_body["MessageBody"].encode()).hexdigest()  # noqa: S324 (SQS's own check)
        return {"MessageId": str(uuid.uuid4()), "MD5OfMessageBody": digest, "SequenceNumber": "1"}
    if operation == "secretsmanager.GetSecretValue":
        return {
            "ARN": "arn:bench",
            "Name": request_body["SecretId"],
            "SecretString": SECRET,
            "VersionId": "v1",
        }
    if operation == "DynamoDB_20120810.GetItem":
        item = ITEMS.get(_key(request_body))
        return {"Item": item} if item else {}
    if operation == "DynamoDB_20120810.PutItem":
        ITEMS[_item_key(request_body["TableName"], request_body["Item"])] = request_body["Item"]
        return {}
    if operation == "DynamoDB_20120810.UpdateItem":
        return update(request_body)
    if operation == "DynamoDB_20120810.Query":
        return {"Items": [], "Count": 0, "ScannedCount": 0}
    if operation == "DynamoDB_20120810.TransactWriteItems":
        for entry in request_body["TransactItems"]:
            if "Put" in entry:
                put = entry["Put"]
                ITEMS[_item_key(put["TableName"], put["Item"])] = put["Item"]
        return {}
    if operation == "AmazonSSM.GetParameter":
        name = request_body["Name"]
        return {"Parameter": {"Name": name, "Type": "String", "Value": "", "Version": 1}}
    if operation == "AmazonSSM.GetParameters":  # the kill switches, both in one request
        found = [
            {"Name": name, "Type": "String", "Value": "", "Version": 1} for name in request_body["Names"]
        ]
        return {"Parameters": found, "InvalidParameters": []}
    raise RuntimeError(f"no canned response for {operation}")


def install_stub(calls: Counter[str]) -> None:
    from botocore.awsrequest import AWSResponse
    from botocore.httpsession import URLLib3Session

    def send(self: Any, request: Any) -> AWSResponse:
        operation = request.headers.get("X-Amz-Target", b"")
        operation = operation.decode() if isinstance(operation, bytes) else str(operation)
        body = request.body or b"{}"
        document = json.loads(body.decode() if isinstance(body, bytes) else body)
        calls[operation] += 1
        answer = json.dumps(canned(operation, document)).encode()
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": str(uuid.uuid4())}
        return AWSResponse(request.url, 200, headers, _Raw(answer))  # type: ignore[arg-type]

    URLLib3Session.send = send  # type: ignore[method-assign]


@dataclass
class Context:
    function_name: str = "bench"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id: str = "bench"
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/bench"
    log_stream_name: str = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def ingest_events(count: int) -> list[dict[str, Any]]:
    from switchboard.adapters.github import sign

    body = (EVENTS / "github" / "issue_comment.label_bug.json").read_bytes()
    events = []
    for _ in range(count):
        delivery = str(uuid.uuid4())
        headers = {
            "content-type": "application/json",
            "x-github-event": "issue_comment",
            "x-github-delivery": delivery,
            "x-hub-signature-256": sign(SECRET, body),
            "user-agent": "GitHub-Hookshot/bench",
        }
        events.append(
            {
                "version": "2.0",
                "routeKey": "POST /webhooks/github",
                "rawPath": "/webhooks/github",
                "rawQueryString": "",
                "headers": headers,
                "requestContext": {
                    "http": {"method": "POST", "path": "/webhooks/github", "sourceIp": "127.0.0.1"},
                    "requestId": delivery,
                    "routeKey": "POST /webhooks/github",
                    "stage": "$default",
                },
                "pathParameters": {"platform": "github"},
                "body": base64.b64encode(body).decode(),
                "isBase64Encoded": True,
            }
        )
    return events


def classify_events(count: int) -> list[dict[str, Any]]:
    from datetime import UTC, datetime

    from switchboard.models import InboundEvent, Platform

    events = []
    for ordinal in range(count):
        inbound = InboundEvent(
            platform=Platform.GITHUB,
            event_id=str(uuid.uuid4()),
            event_type="issue_comment.created",
            author=f"user{ordinal}",  # one author each: the per-author rate limit must not decide
            conversation="octo-org/demo#7",
            text="/label bug",
            received_at=datetime.now(UTC),
            context={"repo": "octo-org/demo", "number": "7", "kind": "issue", "issue_author": "mona"},
        )
        message_id = str(uuid.uuid4())
        record = {
            "messageId": message_id,
            "receiptHandle": f"rh-{message_id}",
            "body": inbound.model_dump_json(),
            "attributes": {
                "ApproximateReceiveCount": "1",
                "SentTimestamp": str(int(time.time() * 1000)),
                "SequenceNumber": str(ordinal + 1),
                "MessageGroupId": inbound.conversation,
                "SenderId": "bench",
                "MessageDeduplicationId": inbound.event_id,
                "ApproximateFirstReceiveTimestamp": str(int(time.time() * 1000)),
            },
            "messageAttributes": {},
            "md5OfBody": hashlib.md5(inbound.model_dump_json().encode()).hexdigest(),  # noqa: S324
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:ingest.fifo",
            "awsRegion": "us-east-1",
        }
        events.append({"Records": [record]})
    return events


def child(which: str, out: Path, warmup: int, requests: int) -> None:
    sys.path[:0] = [str(ROOT / "functions" / which), str(ROOT / "layers" / "shared" / "python")]
    calls: Counter[str] = Counter()
    install_stub(calls)
    import handler

    events = ingest_events(warmup + requests) if which == "ingest" else classify_events(warmup + requests)
    context = Context(function_name=f"bench-{which}")
    samples: list[float] = []
    walls: list[float] = []
    for index, event in enumerate(events):
        if index == warmup:
            calls.clear()
        cpu, wall = time.process_time(), time.perf_counter()
        answer = handler.handler(event, context)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        if index == 0:
            check(which, answer)
        if index >= warmup:
            samples.append(cpu)
            walls.append(wall)
    check(which, answer)
    if calls["AmazonSQS.SendMessage"] != requests:
        raise RuntimeError(f"{which}: expected one SendMessage per request, got {dict(calls)}")
    result = {
        "handler": which,
        "requests": requests,
        "warmup": warmup,
        "cpu_us_median": 1e6 * median(samples),
        "cpu_us_p99": 1e6 * percentile(samples, 99),
        "wall_us_median": 1e6 * median(walls),
        "aws_calls_per_request": {op: n / requests for op, n in sorted(calls.items())},
    }
    out.write_text(json.dumps(result))


def check(which: str, answer: Any) -> None:
    if which == "ingest":
        if answer.get("statusCode") != 202:
            raise RuntimeError(f"ingest did not accept the event: {answer}")
    elif answer.get("batchItemFailures"):
        raise RuntimeError(f"classify failed the record: {answer}")


def run(requests: int = 1000, warmup: int = 100) -> dict[str, Any]:
    from tools.bench.coldstart import environment_for

    results: dict[str, Any] = {"stub": "botocore URLLib3Session.send → canned response per operation"}
    for which in ("ingest", "classify"):
        out = ROOT / "build" / f"bench-warm-{which}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        environment = environment_for(which)
        environment.update({"WEBHOOK_SECRET_ID": "bench-secret", "PYTHONPATH": str(ROOT)})
        completed = subprocess.run(
            [sys.executable, "-m", "tools.bench.warm", which, str(out), str(warmup), str(requests)],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            timeout=600,
            check=False,
        )
        if completed.returncode != 0:
            raise RuntimeError(f"warm benchmark {which} failed:\n{completed.stderr[-3000:]}")
        results[which] = json.loads(out.read_text())
        out.unlink()
    return results


def markdown(result: dict[str, Any]) -> str:
    from tools.bench.common import table

    rows = []
    for which, label in (
        ("ingest", "ingest (GitHub, signed /label bug)"),
        ("classify", "classify (rules path)"),
    ):
        r = result[which]
        calls = ", ".join(f"{op.split('.')[-1]} {n:g}" for op, n in r["aws_calls_per_request"].items())
        rows.append(
            (
                label,
                r["requests"],
                f"{r['cpu_us_median']:.0f}",
                f"{r['cpu_us_p99']:.0f}",
                f"{r['wall_us_median']:.0f}",
                calls,
            )
        )
    headers = [
        "handler",
        "requests",
        "CPU µs (median)",
        "CPU µs (p99)",
        "wall µs (median)",
        "stubbed AWS calls/request",
    ]
    return (
        "### 2. Warm cost per event (AWS stubbed at botocore's HTTP layer)\n\n"
        + table(headers, rows)
        + "\n\nHandler output (Powertools logs, EMF metrics) goes to /dev/null,"
        " as it would go to CloudWatch Logs."
    )


if __name__ == "__main__":
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Switchboard")
    child(sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
