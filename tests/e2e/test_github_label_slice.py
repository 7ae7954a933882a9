"""The walking skeleton end to end: a signed GitHub `/label bug` comment travels ingest → queue → classify →
act-github → one recorded call to the GitHub API shape, and the task ends DONE."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EVENTS
from tools import cli

LABEL_BUG = EVENTS / "github" / "issue_comment.label_bug.json"
LABELS_PATH = "/repos/octo-org/switchboard-demo/issues/42/labels"


def http(
    method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def send(capsys: pytest.CaptureFixture[str], path: Path, *extra: str) -> dict[str, Any]:
    code = cli.main(["send", "github", str(path), *extra])
    output = json.loads(capsys.readouterr().out)
    assert code == (0 if 200 <= output["status"] < 300 else 1)
    return output


def trace(capsys: pytest.CaptureFixture[str], event_id: str) -> dict[str, Any] | None:
    code = cli.main(["trace", event_id, "--json"])
    captured = capsys.readouterr()
    return json.loads(captured.out) if code == 0 else None


def wait_for_status(
    capsys: pytest.CaptureFixture[str], event_id: str, status: str, timeout: float = 60
) -> dict:
    deadline = time.monotonic() + timeout
    task = None
    while time.monotonic() < deadline:
        task = trace(capsys, event_id)
        if task and task["status"] == status:
            return task
        time.sleep(0.3)
    pytest.fail(f"task for {event_id} did not reach {status}: {task}")


def fresh_comment(tmp_path: Path) -> Path:
    """The `/label bug` sample as a new comment (its own id): a logical event of its own, whatever was sent
    before (the claim's content identity is the comment id and its `updated_at`)."""
    payload = json.loads(LABEL_BUG.read_text())
    payload["comment"]["id"] = uuid.uuid4().int >> 80
    path = tmp_path / LABEL_BUG.name
    path.write_text(json.dumps(payload))
    return path


def github_calls(local_stack: dict[str, Any]) -> list[dict[str, Any]]:
    status, calls = http("GET", local_stack["sink_url"] + "/_outbox")
    assert status == 200
    return [call for call in calls if call["service"] == "github"]


def test_health_answers(local_stack: dict[str, Any]) -> None:
    status, body = http("GET", local_stack["api_url"] + "/health")
    assert status == 200
    assert body["status"] == "ok"


def test_unknown_platform_is_404(local_stack: dict[str, Any]) -> None:
    status, _ = http(
        "POST", local_stack["api_url"] + "/webhooks/myspace", b"{}", {"Content-Type": "application/json"}
    )
    assert status == 404


def test_bad_signature_is_401_and_opens_no_task(
    local_stack: dict[str, Any], cli: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    delivery = str(uuid.uuid4())
    status, body = http(
        "POST",
        local_stack["api_url"] + "/webhooks/github",
        LABEL_BUG.read_bytes(),
        {
            "Content-Type": "application/json",
            "X-GitHub-Event": "issue_comment",
            "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": "sha256=" + "0" * 64,
        },
    )
    assert (status, body) == (401, {"error": "signature_mismatch"})
    time.sleep(1.5)  # long enough for the classifier to have opened a task, had anything been enqueued
    assert trace(capsys, delivery) is None


def test_label_command_ends_done_with_exactly_one_github_call(
    local_stack: dict[str, Any], cli: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert http("DELETE", local_stack["sink_url"] + "/_outbox")[0] in (200, 204)
    delivery = str(uuid.uuid4())
    comment = fresh_comment(tmp_path)

    sent = send(capsys, comment, "--delivery-id", delivery)
    assert sent["status"] == 202
    assert {k: v for k, v in sent["response"].items() if k != "task_id"} == {
        "event_id": delivery,
        "status": "accepted",
    }

    task = wait_for_status(capsys, delivery, "DONE")
    assert task["task_id"] == sent["response"]["task_id"]  # the answer names the task it opens
    assert [entry.get("status") for entry in task["history"] if "status" in entry] == [
        "RECEIVED",
        "CLASSIFIED",
        "DISPATCHED",
        "DONE",
    ]
    assert task["history"][1]["detail"]["rule"] == "command_label"

    [call] = github_calls(local_stack)
    assert (call["method"], call["path"], call["body"]) == ("POST", LABELS_PATH, {"labels": ["bug"]})
    headers = {key.lower(): value for key, value in call["headers"].items()}
    assert headers["x-github-api-version"] == "2022-11-28"
    assert headers["authorization"] != "Bearer local-dev-token"  # the sink keeps a fingerprint, not the token

    again = send(capsys, comment, "--delivery-id", delivery)
    assert (again["status"], again["response"]["status"]) == (202, "duplicate")
    # The same signed body under a new delivery id (GitHub does not sign X-GitHub-Delivery) passes the door
    # but is the same logical event: no second task, no second call.
    replayed = str(uuid.uuid4())
    assert send(capsys, comment, "--delivery-id", replayed)["response"]["status"] == "accepted"
    time.sleep(2)  # time for a second call to show, had either duplicate gone through
    assert len(github_calls(local_stack)) == 1
    assert trace(capsys, replayed) is None
    final = trace(capsys, delivery)
    assert final is not None
    assert final["status"] == "DONE"
