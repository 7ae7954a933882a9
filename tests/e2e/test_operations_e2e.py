"""Operations end to end on the local runtime: a poisoned action lands in its DLQ (and the alarm's metric
crosses its threshold), triage categorizes it from the task's history, and after the fault is fixed a redrive
completes the tasks in their message group's order, with no duplicate call to the external API."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EVENTS, ROOT
from tests.e2e.test_action_layer_e2e import sink, trace
from tools import cli

COMMENT = json.loads((EVENTS / "github" / "issue_comment.label_bug.json").read_text())
LABELS_PATH = "/repos/octo-org/switchboard-demo/issues/42/labels"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code = cli.main([*argv, "--json"])
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out)


def send_label(capsys: pytest.CaptureFixture[str], tmp_path: Path, label: str) -> str:
    payload = json.loads(json.dumps(COMMENT))
    payload["comment"]["body"] = f"/label {label}"
    payload["comment"]["id"] = uuid.uuid4().int >> 80  # a new comment: its own logical event
    path = tmp_path / f"issue_comment.{label}.json"
    path.write_text(json.dumps(payload))
    delivery = str(uuid.uuid4())
    assert cli.main(["send", "github", str(path), "--delivery-id", delivery]) == 0
    capsys.readouterr()
    return delivery


def wait_for(
    capsys: pytest.CaptureFixture[str], delivery: str, statuses: set[str], timeout: float = 90
) -> dict:
    deadline = time.monotonic() + timeout
    task = None
    while time.monotonic() < deadline:
        task = trace(capsys, delivery)
        if task and task["status"] in statuses:
            return task
        time.sleep(0.5)
    pytest.fail(f"{delivery} did not reach {statuses}: {task}")


def dlq_alarm_threshold() -> float:
    template = json.loads((ROOT / "cdk.out" / "Switchboard.template.json").read_text())
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::CloudWatch::Alarm" and "act-github dead-letter" in props.get(
            "AlarmDescription", ""
        ):
            assert props["ComparisonOperator"] == "GreaterThanThreshold"
            return float(props["Threshold"])
    pytest.fail("the template has no alarm on the act-github DLQ")


def test_poisoned_actions_reach_the_dlq_are_triaged_and_redriven_in_order(
    local_stack: dict[str, Any], cli: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    sink(local_stack, "DELETE", "/_outbox")
    sink(local_stack, "POST", "/_faults", {"service": "github", "status": 503, "times": 1000})
    try:
        first = send_label(capsys, tmp_path, "bug")
        second = send_label(capsys, tmp_path, "documentation")  # same issue: the same message group
        for delivery in (first, second):
            failed = wait_for(capsys, delivery, {"FAILED", "DONE"})
            assert failed["status"] == "FAILED"

        # the task is FAILED on its last attempt; SQS moves the message on the receive after that
        deadline = time.monotonic() + 30
        while (depth := run(capsys, "dlq", "list")["act-github"]) < 2 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert depth == 2
        assert depth > dlq_alarm_threshold()  # the DLQ alarm's metric crosses its threshold

        report = run(capsys, "dlq", "triage")
        mine = [m for m in report["messages"] if m["queue"] == "act-github"]
        assert [m["category"] for m in mine] == ["act-github:transient:http_503"] * 2
        assert {m["task_id"] for m in mine} == {failed["task_id"], trace(capsys, first)["task_id"]}  # type: ignore[index]
        assert run(capsys, "dlq", "list")["act-github"] == 2  # triage removed nothing
    finally:
        sink(local_stack, "DELETE", "/_faults")  # the fault is fixed

    dry = run(capsys, "dlq", "redrive", "act-github", "--dry-run")
    assert (dry["moved"], run(capsys, "dlq", "list")["act-github"]) == (2, 2)
    moved = run(capsys, "dlq", "redrive", "act-github", "--category", "act-github:transient")
    assert (moved["moved"], moved["kept"]) == (2, 0)

    done = [wait_for(capsys, delivery, {"DONE"}) for delivery in (first, second)]
    assert all(task["status"] == "DONE" for task in done)
    successes = [
        call["body"]["labels"]
        for call in sink(local_stack, "GET", "/_outbox?service=github")
        if call["path"] == LABELS_PATH and call["status"] == 200
    ]
    assert successes == [["bug"], ["documentation"]]  # one call each, in the group's order
    assert run(capsys, "dlq", "list")["act-github"] == 0
    history = [entry.get("status") for entry in done[0]["history"] if "status" in entry]
    assert history[-3:] == ["FAILED", "DISPATCHED", "DONE"]
