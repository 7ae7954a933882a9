"""The reliability suite's harness: a local runtime per scenario group, signed webhooks through the real HTTP
API, direct queue access for what a provider or a crash would do, and THE invariant checker."""

from __future__ import annotations

import hashlib
import json
import re
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from switchboard.dynamo import Keys
from switchboard.models import task_id_for
from tests.conftest import EVENTS
from tests.local_process import LocalProcess, batch_get
from tools.cli import Target, post, signed_headers, webhook_secret
from tools.local.crashpoints import ALWAYS, marker_name
from tools.local.crashpoints import POINTS as CRASH_POINTS

COMMENT: dict[str, Any] = json.loads((EVENTS / "github" / "issue_comment.label_bug.json").read_text())
REPO = COMMENT["repository"]["full_name"]
TERMINAL = {"DONE", "DROPPED", "NEEDS_HUMAN", "FAILED"}


class Stack:
    """One `switchboard local` process, started as tests/e2e/conftest.py does, plus clients for it."""

    def __init__(self, state_dir: Path, *, visibility_cap: int, env: dict[str, str]) -> None:
        self.state_dir = state_dir
        self.crash_dir = state_dir / "crash"
        for point in CRASH_POINTS:
            (self.crash_dir / "targets" / point).mkdir(parents=True, exist_ok=True)
        settings = {
            "RETRY_BASE_SECONDS": "1",
            "BREAKER_FAILURE_THRESHOLD": "1000",
            "SWITCHBOARD_CRASHPOINT": ",".join(CRASH_POINTS),
            "SWITCHBOARD_CRASH_DIR": str(self.crash_dir),
            **env,
        }
        self.runtime = LocalProcess(state_dir, settings=settings, visibility_cap=visibility_cap)
        self.startup_s = self.runtime.startup_s
        self.state: dict[str, Any] = self.runtime.state
        self.outputs: dict[str, Any] = self.state["outputs"]
        self.target = Target.from_state(self.state)
        self._secrets: dict[str, str] = {}
        self.sqs = self.runtime.client("sqs")
        self.dynamodb = self.runtime.client("dynamodb")

    def secret(self, platform: str) -> str:
        """The platform's webhook secret, as ``switchboard send`` finds it (the runtime's Secrets Manager)."""
        if platform not in self._secrets:
            self._secrets[platform] = webhook_secret(platform, self.target)
        return self._secrets[platform]

    def stop(self) -> None:
        self.runtime.stop()

    # -- queues ----------------------------------------------------------------------------------------------

    def queue_url(self, name: str, *, dlq: bool = False) -> str:
        urls = self.outputs["DlqUrls" if dlq else "QueueUrls"]
        urls = json.loads(urls) if isinstance(urls, str) else urls
        return str(urls[name])

    def depth(self, url: str) -> int:
        attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )

    def dlq_depths(self) -> dict[str, int]:
        urls = self.outputs["DlqUrls"]
        urls = json.loads(urls) if isinstance(urls, str) else urls
        return {name: self.depth(url) for name, url in urls.items()}

    def peek_dlqs(self) -> dict[str, list[dict[str, Any]]]:
        """Every DLQ message (body parsed where it is JSON), left in its queue."""
        found: dict[str, list[dict[str, Any]]] = {}
        urls = self.outputs["DlqUrls"]
        urls = json.loads(urls) if isinstance(urls, str) else urls
        for name, url in urls.items():
            seen: dict[str, dict[str, Any]] = {}
            handles = []
            for _ in range(50):
                got = self.sqs.receive_message(
                    QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30, AttributeNames=["All"]
                ).get("Messages", [])
                if not got:
                    break
                for message in got:
                    handles.append(message["ReceiptHandle"])
                    try:
                        body = json.loads(message["Body"])
                    except ValueError:
                        body = {"raw": message["Body"]}
                    seen[message["MessageId"]] = body if isinstance(body, dict) else {"raw": body}
            for handle in handles:
                self.sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
            found[name] = list(seen.values())
        return found

    def send_raw(self, queue: str, body: str, group: str, dedup: str | None = None) -> None:
        self.sqs.send_message(
            QueueUrl=self.queue_url(queue),
            MessageBody=body,
            MessageGroupId=group[:128],
            MessageDeduplicationId=(dedup or str(uuid.uuid4()))[:128],
        )

    # -- tasks -----------------------------------------------------------------------------------------------

    def tasks(self, task_ids: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
        """task_id → {status, reason, event_id, actions, completed, …}: the given tasks (BatchGetItem), or
        every task (a consistent scan: only where a test must see tasks it did not create)."""
        table = self.outputs["TasksTableName"]
        if task_ids is None:
            paginator = self.dynamodb.get_paginator("scan")
            pages = paginator.paginate(TableName=table, ConsistentRead=True)
            items = [item for page in pages for item in page["Items"]]
        else:
            items = batch_get(self.dynamodb, table, ({"pk": {"S": f"task#{t}"}} for t in task_ids))
        from switchboard.dynamo import to_value
        from switchboard.state import Task

        found: dict[str, dict[str, Any]] = {}
        for item in items:
            if "event_id" not in item or "status" not in item:
                continue
            task = Task.from_item(item)  # the stored form read back (the event deflated, the actions slim)
            found[task.task_id] = {
                "status": item["status"]["S"],
                "reason": item.get("reason", {}).get("S"),
                "event_id": item.get("event_id", {}).get("S"),
                "event": task.event_json,
                "actions": len(item.get("actions", {}).get("L", [])),
                "action_list": [to_value(action) for action in task.actions],
                "completed": len(task.completed_actions),
                "history": task.history,
            }
        return found

    def statuses(self, task_ids: Iterable[str]) -> dict[str, str]:
        """task_id → status, for polling: only the two attributes."""
        keys = ({"pk": {"S": f"task#{t}"}} for t in task_ids)
        items = batch_get(self.dynamodb, self.outputs["TasksTableName"], keys, ("pk", "status"))
        return {Keys.task_id_of(item["pk"]["S"]): item["status"]["S"] for item in items if "status" in item}

    def arm(self, point: str, key: str, *, always: bool = False) -> None:
        """Crash ``key`` at ``point`` once (the retry passes), or every time (``always``)."""
        target = self.crash_dir / "targets" / point / marker_name(key)
        target.touch()
        if always:
            target.write_text(ALWAYS)

    def fired(self, point: str) -> int:
        folder = self.crash_dir / "fired"
        return len(list(folder.glob(f"{point}--*"))) if folder.is_dir() else 0

    # -- HTTP ------------------------------------------------------------------------------------------------

    def sink(self, method: str, path: str, document: Any = None, base: str | None = None) -> Any:
        data = None if document is None else json.dumps(document).encode()
        request = urllib.request.Request(
            (base or self.state["sink_url"]) + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # loopback
            return json.loads(response.read() or b"null")

    def llm(self, method: str, path: str, document: Any = None) -> Any:
        return self.sink(method, path, document, base=self.state["llm_url"])

    def webhook(self, platform: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        status, answer = post(f"{self.state['api_url'].rstrip('/')}/webhooks/{platform}", body, headers)
        if isinstance(answer, dict) and answer.get("task_id"):
            TASK_OF[(platform, str(answer["event_id"]))] = str(answer["task_id"])
        return status, answer


#: (platform, delivery id) → the task the door's answer named (a task is named by its logical event, so a
#: delivery id alone does not name it): filled by ``Stack.webhook``.
TASK_OF: dict[tuple[str, str], str] = {}


def task_of(delivery: str, platform: str = "github") -> str:
    """The task of an answered delivery; one never answered (a message put straight onto a queue) by its
    delivery id, as an event without a content identity is named."""
    return TASK_OF.get((platform, delivery)) or task_id_for(platform, delivery)


def comment_payload(n: int, text: str, *, issue: int, author: str | None = None) -> bytes:
    payload = json.loads(json.dumps(COMMENT))
    login = author or f"chaos-user-{n}"
    payload["comment"]["body"] = text
    payload["comment"]["user"]["login"] = login
    # One comment per distinct (n, text, issue, author): the claim's content identity is the comment id (with
    # its updated_at), so scenarios that reuse n with other text must not share an id.
    digest = hashlib.sha256(f"{n}|{text}|{issue}|{login}".encode()).hexdigest()
    payload["comment"]["id"] = 900_000 + int(digest[:12], 16)
    payload["issue"]["user"]["login"] = login  # the issue's author may use the commands
    payload["issue"]["number"] = issue
    return json.dumps(payload).encode()


def event_task(platform: str, body: bytes, headers: dict[str, str] | None = None) -> str:
    """The task an event will open, known before it is sent (to arm a crash for it): the door's own adapter
    reads the event from the body (and ``headers``, the platform's event type and delivery id), and a task
    is named by its logical event."""
    from switchboard.adapters import Accepted, adapter_for
    from switchboard.ingest import request_from

    request = request_from(headers or {}, body.decode(), False)
    outcome = adapter_for(platform).interpret(request, request.json())
    assert isinstance(outcome, Accepted), outcome
    return outcome.event.task_id


def comment_task(body: bytes, delivery: str) -> str:
    """The task a comment event (``comment_payload``) will open."""
    return event_task("github", body, {"X-GitHub-Event": "issue_comment", "X-GitHub-Delivery": delivery})


def send_github(stack: Stack, body: bytes, delivery: str) -> tuple[int, str]:
    headers = signed_headers("github", body, "issue_comment", delivery, stack.secret("github"))
    status, answer = stack.webhook("github", body, headers)
    return status, answer.get("status", "") if isinstance(answer, dict) else str(answer)


def parallel(jobs: Iterable[Callable[[], Any]], workers: int = 12) -> list[Any]:
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda job: job(), list(jobs)))


@dataclass
class Scenario:
    """What one scenario sent, and what the invariant needs to know about it."""

    name: str
    sent: int = 0
    answers: Counter[str] = field(default_factory=Counter)
    accepted: set[str] = field(default_factory=set)  # delivery ids that got `accepted` (github unless below)
    platform_of: dict[str, str] = field(default_factory=dict)  # delivery id → its platform, when not github
    injected: int = 0  # messages put straight onto a queue (duplicates after the window, copies, poison)
    effects: dict[str, str] = field(default_factory=dict)  # delivery id → its effect's key (effects_seen)
    expect_dlq: dict[str, int] = field(default_factory=dict)  # DLQ name → messages that must be there
    started: float = field(default_factory=time.monotonic)

    def task_id(self, delivery: str) -> str:
        return task_of(delivery, self.platform_of.get(delivery, "github"))

    def task_ids(self) -> dict[str, str]:
        return {self.task_id(delivery): delivery for delivery in self.accepted}


MARKER = re.compile(r"<!-- switchboard:action (\S+) -->")


def effects_seen(calls: Iterable[tuple[str, str, int, Any]]) -> tuple[Counter[str], Counter[str]]:
    """The side effects the provider shows, and the successful calls behind them, from its (method, path,
    status, body) calls; both keyed by the scenario's effect keys.

    A label on an issue is a set member: a repeated add changes nothing, so each (issue, label) is one effect,
    keyed by the label (each scenario's labels are unique), however many calls added it. A comment is a new
    comment every time: each call is an effect, keyed by the action id in the comment's invisible marker.
    """
    effects: Counter[str] = Counter()
    made: Counter[str] = Counter()
    labelled: set[tuple[str, str]] = set()
    for method, path, status, body in calls:
        if method != "POST" or not 200 <= status < 300 or not isinstance(body, dict):
            continue
        if path.endswith("/labels"):
            for name in map(str, body.get("labels", [])):
                made[name] += 1
                if (path, name) not in labelled:
                    labelled.add((path, name))
                    effects[name] += 1
        elif path.endswith("/comments"):
            found = MARKER.search(str(body.get("body", "")))
            if found:
                made[found.group(1)] += 1
                effects[found.group(1)] += 1
    return effects, made


def sink_effects(stack: Stack) -> tuple[Counter[str], Counter[str]]:
    calls = stack.sink("GET", "/_outbox?service=github")
    return effects_seen((c["method"], c["path"], c["status"], c.get("body")) for c in calls)


def dlq_task_ids(dlqs: dict[str, list[dict[str, Any]]]) -> dict[str, str]:
    """task id → the DLQ its message is in: an action names its task, an ingest message is the event."""
    found: dict[str, str] = {}
    for name, bodies in dlqs.items():
        for body in bodies:
            if body.get("task_id"):
                found[str(body["task_id"])] = name
            elif body.get("platform") and body.get("event_id"):
                content = body.get("content_id")
                found[task_id_for(str(body["platform"]), str(body["event_id"]), content)] = name
    return found


def wait_terminal(stack: Stack, scenario: Scenario, timeout: float) -> dict[str, dict[str, Any]]:
    """Poll the scenario's tasks not yet terminal (bounded), then read all of them once. A task whose
    message went to a DLQ (a redelivery limit reached) waits there, for a redrive: it stops the polling."""
    deadline = time.monotonic() + timeout
    pending = set(scenario.task_ids())
    polls = 0
    while pending and time.monotonic() < deadline:
        pending -= {t for t, status in stack.statuses(pending).items() if status in TERMINAL}
        polls += 1
        if pending and polls % 5 == 0:
            pending -= set(dlq_task_ids(stack.peek_dlqs()))
        if pending:
            time.sleep(1.0)
    return stack.tasks(scenario.task_ids())


def check_invariant(
    stack: Stack,
    scenario: Scenario,
    *,
    timeout: float = 120,
    effects: Callable[[], tuple[Counter[str], Counter[str]]] | None = None,
    must_succeed: bool = True,
) -> dict[str, Any]:
    """THE invariant, after every scenario: every accepted event ends in exactly one terminal state (FAILED
    only with its message in a DLQ), every external effect happened at most once, nothing was lost.
    `effects` reads the provider's side effects (`effects_seen`); it is called once everything is terminal."""
    tasks = wait_terminal(stack, scenario, timeout)
    time.sleep(1.0)  # let a FAILED task's last receive move its message to the DLQ
    wanted = scenario.task_ids()
    lost = sorted(wanted[t] for t in wanted if t not in tasks)
    stuck = {
        wanted[t]: tasks[t]["status"] for t in wanted if t in tasks and tasks[t]["status"] not in TERMINAL
    }
    states = Counter(tasks[t]["status"] for t in wanted if t in tasks)
    unexplained_drops = [wanted[t] for t in wanted if t in tasks and tasks[t]["status"] == "DROPPED"
                         and not tasks[t]["reason"]]  # fmt: skip
    failed = {t for t in wanted if t in tasks and tasks[t]["status"] == "FAILED"}
    deadline = time.monotonic() + 60  # a message reaches its DLQ on the receive after its last attempt
    while True:
        depths = stack.dlq_depths()
        if (
            all(depths.get(name, 0) >= n for name, n in scenario.expect_dlq.items())
            or time.monotonic() > deadline
        ):
            break
        time.sleep(0.5)
    dlqs = stack.peek_dlqs()
    everywhere = dlq_task_ids(dlqs)
    in_dlq = {t: queue for t, queue in everywhere.items() if t in wanted}
    failed_not_in_dlq = sorted(wanted[t] for t in failed - set(in_dlq))
    lost = [d for d in lost if scenario.task_id(d) not in in_dlq]  # waiting in a DLQ: not lost
    stuck = {d: status for d, status in stuck.items() if scenario.task_id(d) not in in_dlq}
    counted, made = effects() if effects is not None else sink_effects(stack)
    twice = {key: n for key, n in counted.items() if n > 1 and key in scenario.effects.values()}
    done_without_effect = [
        d for d, key in scenario.effects.items()
        if tasks.get(scenario.task_id(d), {}).get("status") == "DONE" and counted[key] != 1
    ]  # fmt: skip
    report = {
        "scenario": scenario.name,
        "sent": scenario.sent,
        "answers": dict(scenario.answers),
        "accepted": len(scenario.accepted),
        "duplicates": scenario.answers.get("duplicate", 0),
        "injected_to_queues": scenario.injected,
        "states": dict(states),
        "external_effects": sum(counted[key] for key in scenario.effects.values()),
        "external_calls_ok": sum(made[key] for key in scenario.effects.values()),
        "dlq_depth": {name: len(bodies) for name, bodies in dlqs.items() if bodies},
        "scenario_in_dlq": len(in_dlq),
        "seconds": round(time.monotonic() - scenario.started, 1),
    }
    print(f"\nCHAOS {json.dumps(report)}")
    problems = {
        "lost": lost,
        "not_terminal": stuck,
        "dropped_without_reason": unexplained_drops,
        "failed_not_in_dlq": failed_not_in_dlq,
        "effect_more_than_once": twice,
        "done_without_its_effect": done_without_effect if must_succeed else [],
        "dlq_short": {
            name: (len(dlqs.get(name, [])), n) for name, n in scenario.expect_dlq.items()
            if len(dlqs.get(name, [])) < n
        },
    }  # fmt: skip
    problems = {key: value for key, value in problems.items() if value}
    assert not problems, f"{scenario.name}: invariant broken: {json.dumps(problems, default=str)[:3000]}"
    return {"tasks": tasks, "report": report, "dlqs": dlqs, "in_dlq": in_dlq}
