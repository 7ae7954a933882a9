"""The action layer end to end on the local runtime: GitHub answers one 503, the act worker retries the action
alone (not the decision), and the task ends DONE with the failed attempt in its history."""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EVENTS
from tools import cli

LABEL_BUG = EVENTS / "github" / "issue_comment.label_bug.json"
LABELS_PATH = "/repos/octo-org/switchboard-demo/issues/42/labels"


def sink(local_stack: dict[str, Any], method: str, path: str, document: Any = None) -> Any:
    data = None if document is None else json.dumps(document).encode()
    request = urllib.request.Request(
        local_stack["sink_url"] + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


def trace(capsys: pytest.CaptureFixture[str], event_id: str) -> dict[str, Any] | None:
    code = cli.main(["trace", event_id, "--json"])
    captured = capsys.readouterr()
    return json.loads(captured.out) if code == 0 else None


def test_a_transient_github_503_is_retried_once_and_the_task_ends_done(
    local_stack: dict[str, Any], cli: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    sink(local_stack, "DELETE", "/_outbox")
    sink(local_stack, "POST", "/_faults", {"service": "github", "status": 503, "times": 1})
    delivery = str(uuid.uuid4())
    try:
        assert cli_send(capsys, delivery, tmp_path)["status"] == 202
        task = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            task = trace(capsys, delivery)
            if task and task["status"] in ("DONE", "FAILED", "NEEDS_HUMAN"):
                break
            time.sleep(0.5)
    finally:
        sink(local_stack, "DELETE", "/_faults")

    assert task is not None and task["status"] == "DONE", task
    outbox = sink(local_stack, "GET", "/_outbox?service=github")
    calls = [call for call in outbox if call["path"] == LABELS_PATH]
    assert [call["status"] for call in calls] == [503, 200]  # exactly one successful call
    [attempt] = [entry["detail"] for entry in task["history"] if "attempt" in entry.get("detail", {})]
    assert (attempt["attempt"], attempt["kind"], attempt["status"]) == (1, "transient", 503)
    assert attempt["reason"] == f"HTTP 503 from POST {LABELS_PATH}"
    assert attempt["retry_in_s"] >= 1
    moves = [entry["status"] for entry in task["history"] if "status" in entry]
    assert moves == ["RECEIVED", "CLASSIFIED", "DISPATCHED", "DONE"]  # classify ran once: no re-deciding


def cli_send(capsys: pytest.CaptureFixture[str], delivery: str, tmp_path: Path) -> dict[str, Any]:
    """Send the `/label bug` sample as a new comment (its own id, so its own logical event)."""
    payload = json.loads(LABEL_BUG.read_text())
    payload["comment"]["id"] = uuid.uuid4().int >> 80
    path = tmp_path / LABEL_BUG.name
    path.write_text(json.dumps(payload))
    cli.main(["send", "github", str(path), "--delivery-id", delivery])
    output: dict[str, Any] = json.loads(capsys.readouterr().out)
    return output
