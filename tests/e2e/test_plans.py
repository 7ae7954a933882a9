"""Plans end to end on the local runtime, through signed webhooks: the plan function runs as a Lambda
durable execution (checkpoints, a parallel block, a callback), its lookups read the recording sink's seeded
records, its model calls go to the Messages API stand-in, and its actions go through the act workers.

The examples are the issue's: the Slack question in its own words, a new GitHub issue that reports a bug
another issue already tracks (no "duplicate" in it: the route plans every new bug report, since only a search
can tell), a new bug report that duplicates nothing (the plan's other path triages it as the direct action
would), and a request to close the issue that waits for a person."""

from __future__ import annotations

import contextlib
import io
import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EVENTS
from tests.e2e.test_action_layer_e2e import sink, trace
from tools import cli as switchboard


def send(tmp_path: Path, platform: str, name: str, payload: Any) -> str:
    path = tmp_path / f"{uuid.uuid4().hex[:8]}.{name}"
    path.write_text(json.dumps(payload))
    delivery = str(uuid.uuid4())
    argv = ["send", platform, str(path), "--delivery-id", delivery, "--event", name.split(".")[0]]
    with contextlib.redirect_stdout(io.StringIO()) as out:
        code = switchboard.main(argv)
    assert code == 0, out.getvalue()
    return delivery


def wait_for(capsys: pytest.CaptureFixture[str], event_id: str, done: Any, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    task = None
    while time.monotonic() < deadline:
        task = trace(capsys, event_id)
        if task and done(task):
            return task
        time.sleep(0.5)
    pytest.fail(f"{event_id} did not get there: {json.dumps(task, indent=1)[:3000] if task else None}")


def ended(*statuses: str) -> Any:
    return lambda task: task["status"] in statuses


def posted(local_stack: dict[str, Any], service: str, path_part: str) -> list[dict[str, Any]]:
    calls = sink(local_stack, "GET", f"/_outbox?service={service}")
    return [c for c in calls if c["method"] in ("POST", "PATCH") and path_part in c["path"]]


@dataclass
class Sent:
    slack_event_id: str
    slack_ts: str
    duplicate: str
    duplicate_number: int
    review: str
    review_number: int
    fresh: str
    fresh_number: int


@pytest.fixture(scope="module")
def sent(local_stack: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Sent:
    """The three examples, sent together so that they run at the same time (the local runtime's workers are
    independent): a Slack question, a GitHub duplicate and a GitHub request that needs a person."""
    import tools.cli

    state_file = Path(local_stack["state_dir"]) / "local.json"
    saved, tools.cli.STATE_FILE = tools.cli.STATE_FILE, state_file
    tmp_path = tmp_path_factory.mktemp("plans")
    try:
        slack = json.loads((EVENTS / "slack" / "event_callback.message.json").read_text())
        event_id = f"Ev{uuid.uuid4().hex[:10].upper()}"
        ts = f"{int(time.time())}.000{uuid.uuid4().int % 900 + 100}"
        slack["event_id"] = event_id
        slack["event"] |= {
            "text": "What's the status of the ticket about the login timeouts?",
            "ts": ts,
            "event_ts": ts,
        }
        send(tmp_path, "slack", "event_callback.message.json", slack)

        opened = json.loads((EVENTS / "github" / "issues.opened.json").read_text())
        number = 9_000 + uuid.uuid4().int % 900
        opened["repository"] |= {"full_name": "octo-org/demo", "name": "demo"}
        opened["repository"]["owner"]["login"] = "octo-org"
        opened["issue"] |= {
            "number": number,
            "id": uuid.uuid4().int >> 80,
            "title": "Uploading files over 2 GB crashes the app",
            "body": "The upload dialog closes and the app quits with an out-of-memory error.",
        }
        duplicate = send(tmp_path, "github", "issues.opened.json", opened)
        fresh_number = number + 1
        opened["issue"] |= {
            "number": fresh_number,
            "id": uuid.uuid4().int >> 80,
            "title": "The dashboard shows a blank screen after login in Firefox",
            "body": "Console: TypeError: Cannot read properties of undefined (reading 'map').",
        }
        fresh = send(tmp_path, "github", "issues.opened.json", opened)

        comment = json.loads((EVENTS / "github" / "issue_comment.question.json").read_text())
        review_number = 9_900 + uuid.uuid4().int % 99
        comment["issue"]["number"] = review_number
        comment["comment"] |= {
            "id": uuid.uuid4().int >> 80,
            "body": "Please close this issue, it is obsolete.",
        }
        review = send(tmp_path, "github", "issue_comment.question.json", comment)
    finally:
        tools.cli.STATE_FILE = saved
    return Sent(event_id, ts, duplicate, number, review, review_number, fresh, fresh_number)


def test_a_slack_status_question_is_answered_from_the_ticket_it_looked_up(
    local_stack: dict[str, Any], sent: Sent, cli: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    task = wait_for(capsys, sent.slack_event_id, ended("DONE", "NEEDS_HUMAN", "FAILED", "DROPPED"))
    assert task["status"] == "DONE", json.dumps(task["history"], indent=1)[:4000]
    [plan] = task["plan"]
    assert [s["id"] for s in plan["steps"]] == ["search", "read", "draft", "reply"]
    assert all(s["status"] == "done" for s in plan["steps"])
    assert plan["steps"][2]["verdict"]["by"] == "model"  # the cheap evaluator judged the draft
    thread = [
        c
        for c in posted(local_stack, "slack", "chat.postMessage")
        if c["body"].get("thread_ts") == sent.slack_ts
    ]
    [reply] = thread
    assert "TCK-42" in reply["body"]["text"] and "in progress" in reply["body"]["text"]
    reads = sink(local_stack, "GET", "/_outbox?service=tickets")
    assert any(c["path"] == "/tickets" and c["query"].get("q") for c in reads)
    assert any(c["path"] == "/tickets/TCK-42" for c in reads)


def test_a_github_duplicate_is_linked_and_labelled_through_the_policy_gate(
    local_stack: dict[str, Any], sent: Sent, cli: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    task = wait_for(capsys, sent.duplicate, ended("DONE", "NEEDS_HUMAN", "FAILED", "DROPPED"))
    assert task["status"] == "DONE", json.dumps(task["history"], indent=1)[:4000]
    [comment] = posted(local_stack, "github", f"/issues/{sent.duplicate_number}/comments")
    assert "https://github.com/octo-org/demo/issues/900" in comment["body"]["body"]
    [label] = posted(local_stack, "github", f"/issues/{sent.duplicate_number}/labels")
    assert label["body"]["labels"] == ["duplicate"]
    steps = task["plan"][0]["steps"]
    policy = [s["output"]["policy"] for s in steps if s.get("kind") == "action" and s["status"] == "done"]
    assert len(policy) == 2 and all(verdict["allowed"] for verdict in policy)  # the comment and the label
    assert [s["status"] for s in steps if s["id"] == "triage"] == ["skipped"]  # the other path: not needed


def test_a_new_bug_report_that_duplicates_nothing_is_triaged_as_without_a_plan_and_says_why(
    local_stack: dict[str, Any], sent: Sent, cli: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    task = wait_for(capsys, sent.fresh, ended("DONE", "NEEDS_HUMAN", "FAILED", "DROPPED"))
    assert task["status"] == "DONE", json.dumps(task["history"], indent=1)[:4000]
    [label] = posted(local_stack, "github", f"/issues/{sent.fresh_number}/labels")
    assert label["body"]["labels"] == ["bug", "needs-triage"]
    assert not posted(local_stack, "github", f"/issues/{sent.fresh_number}/comments")
    [triage] = [s for s in task["plan"][0]["steps"] if s["id"] == "triage"]
    assert triage["status"] == "done"
    notes = [e["detail"]["plan_step"] for e in task["history"] if "plan_step" in (e.get("detail") or {})]
    [why] = [n["output"]["because"] for n in notes if n["step"] == "triage"]
    assert why.startswith("search: found: the lookup read nothing"), why


def test_a_plan_that_needs_a_person_waits_for_tasks_resolve_then_goes_on(
    local_stack: dict[str, Any], sent: Sent, cli: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def waiting(task: dict[str, Any]) -> bool:  # the review is asked, then the task is a person's
        asked = any(s.get("status") == "waiting" for p in task.get("plan") or [] for s in p["steps"])
        return asked and task["status"] == "NEEDS_HUMAN"

    task = wait_for(capsys, sent.review, waiting)
    assert task["status"] == "NEEDS_HUMAN"  # a person's while the review waits
    assert (
        switchboard.main(["tasks", "resolve", task["task_id"], "--by", "maintainer", "--approve", "--json"])
        == 0
    )
    capsys.readouterr()
    task = wait_for(capsys, sent.review, ended("DONE", "FAILED", "DROPPED"))  # it was NEEDS_HUMAN until now
    assert task["status"] == "DONE", json.dumps(task["history"], indent=1)[:4000]
    patched = [
        c for c in posted(local_stack, "github", f"/issues/{sent.review_number}") if c["method"] == "PATCH"
    ]
    [close] = patched
    assert close["body"]["state"] == "closed"
    assert switchboard.main(["trace", sent.review]) == 0
    rendered = capsys.readouterr().out
    assert "plan 0:" in rendered and "approve" in rendered and "verdict:" in rendered
