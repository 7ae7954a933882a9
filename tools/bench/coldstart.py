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

Import alone flatters a function that moves work to its first invocation (Lambda bills, and the caller
waits for, the init and the first request together), so a second fresh interpreter per run and subject
imports and then makes the first call: the handler once on a representative event (`first_event`), or for
the baseline `import boto3` and one SQS SendMessage. AWS is stubbed at botocore's HTTP layer with section 2's
canned answers (`probe_call`); the time spent waiting for an answer is not counted. That column is the
ratio the cold-start goal is held to.

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
import os, sys, time, importlib
target, mode = sys.argv[1], sys.argv[2]
stubbed = [0.0, 0.0]  # wall and CPU seconds inside the stubbed HTTP send: the network's share, not counted
if mode == "call":
    requests, answers = os.fdopen(int(sys.argv[3]), "w"), os.fdopen(int(sys.argv[4]), "r")

    def send(self, request):
        # The canned answer comes from the bench process (tools.bench.warm.canned), over a pipe: nothing is
        # imported here before the subject is, and the time spent waiting is taken out of the figures.
        wall, cpu = time.perf_counter(), time.process_time()
        from botocore.awsrequest import AWSResponse
        target_header = request.headers.get("X-Amz-Target", b"")
        body = request.body or b"{}"
        requests.write(json.dumps({
            "operation": target_header.decode() if isinstance(target_header, bytes) else str(target_header),
            "body": body.decode() if isinstance(body, bytes) else body,
        }) + "\n")
        requests.flush()
        answer = json.loads(answers.readline())
        response = AWSResponse(request.url, answer["status"], answer["headers"], Raw(answer["body"].encode()))
        stubbed[0] += time.perf_counter() - wall
        stubbed[1] += time.process_time() - cpu
        return response

    class Raw:
        def __init__(self, body):
            self.body = body

        def stream(self, *args, **kwargs):
            yield self.body

    class Hook:  # patches botocore's HTTP layer when botocore imports it, whoever imports it first
        def find_spec(self, name, path, target=None):
            if name != "botocore.httpsession":
                return None
            from importlib.machinery import PathFinder
            spec = PathFinder.find_spec(name, path)
            run = spec.loader.exec_module

            def exec_module(module):
                run(module)
                module.URLLib3Session.send = send

            spec.loader.exec_module = exec_module
            return spec

    sys.meta_path.insert(0, Hook())
    spec_line = answers.readline()  # the event, parsed once the import is timed (json is not loaded yet)
started, cpu = time.perf_counter(), time.process_time()
if target != "-":
    module = importlib.import_module(target)
elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
import json
outcome = None
if mode == "call":
    spec = json.loads(spec_line)
    call_started, call_cpu = time.perf_counter(), time.process_time()
    if target == "boto3":
        client = module.session.Session().client("sqs", region_name=os.environ["AWS_DEFAULT_REGION"])
        outcome = client.send_message(QueueUrl=spec["queue_url"], MessageBody="bench")["MessageId"]
    else:
        class Context:
            function_name, memory_limit_in_mb = spec["function_name"], spec["memory_mb"]
            invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:" + spec["function_name"]
            aws_request_id, function_version = "bench", "$LATEST"
            log_group_name, log_stream_name = "/aws/lambda/bench", "bench"

            def get_remaining_time_in_millis(self):
                return 30_000

        outcome = module.handler(spec["event"], Context())
    first_call = time.perf_counter() - call_started - stubbed[0]
    first_call_cpu = time.process_time() - call_cpu - stubbed[1]
hwm = 0
with open("/proc/self/status") as status:
    for line in status:
        if line.startswith("VmHWM:"):
            hwm = int(line.split()[1])
result = {"import_s": elapsed, "cpu_s": cpu, "vmhwm_kib": hwm,
          "anthropic": "anthropic" in sys.modules, "boto3": "boto3" in sys.modules,
          "modules": len(sys.modules),
          "origin": getattr(sys.modules.get(target), "__file__", None)}
if mode == "call":
    result |= {"first_call_s": first_call, "first_call_cpu_s": first_call_cpu, "outcome": outcome,
               "stubbed_s": stubbed[0]}
    requests.write(json.dumps({"result": result}, default=str) + "\n")
    requests.flush()
else:
    print(json.dumps(result))
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


def _command(target: str, mode: str, *args: str, flags: tuple[str, ...] = ()) -> list[str]:
    # -S: no site-packages (the venv stays out), -P: not the working folder either, as the local worker runs.
    return [sys.executable, "-S", "-P", *flags, "-c", PROBE, target, mode, *args]


def _checked(result: dict[str, Any], target: str, name: str | None) -> dict[str, Any]:
    origin, expected = result.get("origin") or "", ROOT / ("cdk.out" if name else "build")
    if target != "-" and not origin.startswith(str(expected)):
        raise RuntimeError(f"`import {target}` ({name}) came from {origin}, not from under {expected}")
    return result


def probe(target: str, name: str | None) -> dict[str, Any]:
    """One fresh interpreter that imports `target` and reports the import."""
    environment = environment_for(name)
    completed = subprocess.run(
        _command(target, "import"),
        cwd=environment["PYTHONPATH"].split(os.pathsep)[0],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"cold-start probe {target} ({name}) failed:\n{completed.stderr[-2000:]}")
    return _checked(json.loads(completed.stdout.strip().splitlines()[-1]), target, name)


def probe_call(target: str, name: str | None) -> dict[str, Any]:
    """One fresh interpreter that imports `target`, then makes the first call: the handler on its function's
    representative event (`first_event`), or for `boto3` one SQS SendMessage. AWS is stubbed at botocore's
    HTTP layer (`URLLib3Session.send`, patched when botocore imports it): each request comes here over a pipe
    and is answered by section 2's canned responses (`tools.bench.warm.canned`), so serialization, signing
    and parsing run in the probe, and the time spent waiting for an answer (the network's share) is not
    counted. The handler's output (logs, EMF metrics) goes to /dev/null."""
    from tools.bench import warm

    environment = environment_for(name)
    if name == "act":  # the act-github worker: its one external call goes to the loopback stand-in
        environment["SERVICE_API_URL"] = github_labels().url
    for key in ("QUEUE_URLS", "DLQ_URLS"):  # JSON maps in the template (health, triage): Refs inside
        if key in environment:
            environment[key] = json.dumps({"ingest": dummy(key)})
    requests_read, requests_write = os.pipe()
    answers_read, answers_write = os.pipe()
    spec = first_event(name)
    warm.ITEMS.clear()
    warm.ITEMS.update({(table, key): item for table, key, item in spec.pop("items", [])})
    with subprocess.Popen(
        _command(target, "call", str(requests_write), str(answers_read)),
        cwd=environment["PYTHONPATH"].split(os.pathsep)[0],
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        pass_fds=(requests_write, answers_read),
    ) as process:
        os.close(requests_write)
        os.close(answers_read)
        result: dict[str, Any] | None = None
        with os.fdopen(requests_read) as requests, os.fdopen(answers_write, "w") as answers:
            answers.write(json.dumps(spec) + "\n")
            answers.flush()
            for line in requests:
                message = json.loads(line)
                if "result" in message:
                    result = message["result"]
                    break
                answers.write(json.dumps(_answer(message["operation"], message["body"])) + "\n")
                answers.flush()
        assert process.stderr is not None
        stderr = process.stderr.read().decode(errors="replace")
    if process.returncode != 0 or result is None:
        raise RuntimeError(f"cold-start call probe {target} ({name}) failed:\n{stderr[-3000:]}")
    _check_outcome(name, result["outcome"])
    return _checked(result, target, name)


#: What health reads, which section 2 never asks: no heartbeat yet, empty queues.
EXTRA_ANSWERS: dict[str, dict[str, Any]] = {
    "DynamoDB_20120810.BatchGetItem": {"Responses": {}, "UnprocessedKeys": {}},
    "AmazonSQS.ReceiveMessage": {"Messages": []},
    "AmazonSQS.GetQueueAttributes": {
        "Attributes": {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}
    },
}


def _answer(operation: str, body: str) -> dict[str, Any]:
    import uuid

    from tools.bench import warm

    try:
        document = (
            EXTRA_ANSWERS[operation]
            if operation in EXTRA_ANSWERS
            else warm.canned(operation, json.loads(body))
        )
    except RuntimeError as exc:  # an operation section 2 has no answer for: the probe's call fails loudly
        return {
            "status": 400,
            "headers": {},
            "body": json.dumps({"__type": "BenchNoCannedAnswer", "message": str(exc)}),
        }
    headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": str(uuid.uuid4())}
    return {"status": 200, "headers": headers, "body": json.dumps(document)}


#: The functions whose first call the bench makes (a representative event each, `first_event`).
FIRST_CALL = ("ingest", "classify", "act", "health", "poll", "triage", "batch")


def first_event(name: str | None) -> dict[str, Any]:
    """What the probe's first call gets: the event (with the function's name and memory for the context),
    the items the stubbed DynamoDB holds beforehand, or for the baseline the queue it sends to."""
    from tools.bench import warm

    if name is None:
        return {"queue_url": dummy("INGEST_QUEUE_URL")}
    spec = next(spec for spec in template_functions().values() if spec["name"] == name)
    base: dict[str, Any] = {"function_name": f"bench-{name}", "memory_mb": spec["memory_mb"], "items": []}
    if name == "ingest":  # a signed GitHub `/label bug` comment: verify, validate, mark, enqueue
        return base | {"event": warm.ingest_events(1)[0]}
    if name == "classify":  # the same comment, on the rules path: claim, open, route, send to act
        return base | {"event": warm.classify_events(1)[0]}
    if name == "health":  # GET /health: read every stage's heartbeat and queue depth
        return base | {"event": _http_event("GET", "/health")}
    if name == "act":
        return base | _act_event()
    if name in ("poll", "triage", "batch"):  # a scheduled tick: the handlers read nothing from the event
        return base | {"event": {"source": "aws.scheduler", "detail-type": "Scheduled Event", "detail": {}}}
    raise ValueError(f"no representative first event for {name}")


def _http_event(method: str, path: str) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {},
        "requestContext": {"http": {"method": method, "path": path, "sourceIp": "127.0.0.1"}},
        "isBase64Encoded": False,
    }


def _act_event() -> dict[str, Any]:
    """The `/label bug` comment's action, `github.add_labels`, for a task classify dispatched: the worker
    reads its kill switches, claims the action (Powertools idempotency), passes the breaker, calls the GitHub
    API (a loopback stand-in, `_GitHubLabels`) and records the completion on the task."""
    from switchboard.dynamo.items import to_item
    from switchboard.dynamo.keys import Keys
    from switchboard.models import ActionRequest, InboundEvent, Service
    from tools.bench import warm

    inbound = warm.classify_events(1)[0]["Records"][0]
    event = InboundEvent.model_validate_json(inbound["body"])
    params = {"repo": "octo-org/demo", "number": 7, "labels": ["bug"]}
    action = ActionRequest.for_task(event, 0, "github.add_labels", Service.GITHUB, params)
    task_id = event.task_id
    task = {
        "task_id": task_id,
        "event_id": event.event_id,
        "platform": event.platform.value,
        "status": "DISPATCHED",
        "version": 3,
        "conversation": event.conversation,
        "history": [],
        "actions": [action.model_dump(mode="json")],
        "event": inbound["body"],
    }
    key = Keys.task(task_id)
    item = key | to_item(task)
    record = dict(
        inbound,
        body=action.model_dump_json(),
        eventSourceARN="arn:aws:sqs:us-east-1:123456789012:act-github.fifo",
    )
    table = dummy("TASKS_TABLE_NAME")
    return {"event": {"Records": [record]}, "items": [(table, json.dumps(key, sort_keys=True), item)]}


class _GitHubLabels:
    """The act probe's GitHub API on loopback: `POST /repos/{owner}/{repo}/issues/{number}/labels` answers
    200 with the issue's labels, as "Add labels to an issue" documents
    (https://docs.github.com/rest/issues/labels#add-labels-to-an-issue). Only the act probe's one call
    reaches it; its (loopback) round trip is counted, as a real call's would be."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                requested = json.loads(self.rfile.read(length) or b"{}").get("labels", [])
                ok = re.fullmatch(r"/repos/[^/]+/[^/]+/issues/\d+/labels", self.path) is not None
                body = json.dumps([{"name": name} for name in requested] if ok else {"message": "Not Found"})
                self.send_response(200 if ok else 404)
                self.send_header("content-type", "application/json; charset=utf-8")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@lru_cache(maxsize=1)
def github_labels() -> _GitHubLabels:
    return _GitHubLabels()


def _check_outcome(name: str | None, outcome: Any) -> None:
    if name is None:
        ok = bool(outcome)
    elif name in ("ingest", "health"):
        ok = isinstance(outcome, dict) and outcome.get("statusCode") in (
            (202,) if name == "ingest" else (200, 503)
        )
    else:
        ok = isinstance(outcome, dict) and not outcome.get("batchItemFailures")
    if not ok:
        raise RuntimeError(f"the first call of {name or 'boto3'} did not do its work: {outcome}")


def run(runs: int = 5) -> dict[str, Any]:
    subjects: list[tuple[str, str, str | None]] = [
        ("(bare interpreter)", "-", None),
        ("import boto3", "boto3", None),
        ("import anthropic", "anthropic", None),
        *((name, "handler", name) for name in FUNCTIONS),
    ]
    calls: list[tuple[str, str, str | None]] = [
        ("import boto3", "boto3", None),
        *((name, "handler", name) for name in FUNCTIONS if name in FIRST_CALL),
    ]
    for _, target, name in subjects:  # warm-up: compiles the bytecode into PYCACHE; not measured
        probe(target, name)
    for _, target, name in calls:
        probe_call(target, name)
    samples: dict[str, list[dict[str, Any]]] = {label: [] for label, _, _ in subjects}
    call_samples: dict[str, list[dict[str, Any]]] = {label: [] for label, _, _ in calls}
    for _ in range(runs):  # interleaved, so that drift on the machine touches every subject alike
        for label, target, name in subjects:
            samples[label].append(probe(target, name))
        for label, target, name in calls:
            call_samples[label].append(probe_call(target, name))
    rows = []
    for label, _, name in subjects:
        runs_ = samples[label]
        row: dict[str, Any] = {
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
        if label in call_samples:
            with_call = call_samples[label]
            row |= {
                "first_call_ms_median": 1000 * median([r["first_call_s"] for r in with_call]),
                "import_and_call_ms_median": 1000
                * median([r["import_s"] + r["first_call_s"] for r in with_call]),
                "import_and_call_cpu_ms_median": 1000
                * median([r["cpu_s"] + r["first_call_cpu_s"] for r in with_call]),
                "stubbed_ms_median": 1000 * median([r["stubbed_s"] for r in with_call]),
            }
        rows.append(row)
    boto3 = next(row for row in rows if row["subject"] == "import boto3")
    for row in rows:
        row["vs_boto3_x"] = row["import_ms_median"] / boto3["import_ms_median"]
        row["cpu_vs_boto3_x"] = row["cpu_ms_median"] / boto3["cpu_ms_median"]
        if "import_and_call_ms_median" in row:
            row["with_call_vs_boto3_x"] = (
                row["import_and_call_ms_median"] / boto3["import_and_call_ms_median"]
            )
            row["with_call_cpu_vs_boto3_x"] = (
                row["import_and_call_cpu_ms_median"] / boto3["import_and_call_cpu_ms_median"]
            )
    return {
        "runs": runs,
        "note": (
            "each probe imports the deployed artifact (cdk.out code asset + layers + runtime libraries, "
            "`python -S -P`, as the local worker does); the baselines use the ingest function's import path; "
            "bytecode cached after one discarded warm-up per subject; POWERTOOLS_TRACE_DISABLED=1 (as in the "
            "local runtime); Refs resolved to dummy strings. *Import + first call*: a second fresh "
            "interpreter imports, then calls the handler once on a representative event (ingest: a signed "
            "GitHub `/label bug` comment; classify: that comment on the rules path; act: its `add_labels` "
            "action, the GitHub API on loopback; health: GET /health; poll, triage, batch: a scheduled "
            "tick with nothing to do), against `import boto3` + one SQS "
            "SendMessage; AWS stubbed at botocore's HTTP layer with section 2's canned answers, the time "
            "spent waiting for them not counted; `-`: no representative event in the bench yet"
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
        _command("handler", "import", flags=("-X", "importtime")),
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

    def with_call(row: dict[str, Any], key: str, form: str) -> str:
        return form.format(row[key]) if key in row else "-"

    rows = [
        (
            row["subject"],
            f"{row['import_ms_median']:.0f}",
            f"{row['import_ms_min']:.0f}-{row['import_ms_max']:.0f}",
            f"{row['vs_boto3_x']:.2f}x",
            f"{row['cpu_ms_median']:.0f}",
            f"{row['cpu_vs_boto3_x']:.2f}x",
            with_call(row, "import_and_call_ms_median", "{:.0f}"),
            with_call(row, "with_call_vs_boto3_x", "{:.2f}x"),
            with_call(row, "with_call_cpu_vs_boto3_x", "{:.2f}x"),
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
        "import + first call ms (median)",
        "vs boto3 + one call",
        "CPU vs boto3 + one call",
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
