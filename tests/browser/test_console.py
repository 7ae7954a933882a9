"""The console in a real browser, on one local runtime: the page loads; an event sent through the webhook
path appears without a reload; its timeline shows the route and the action; a DLQ redrive from the page ends
the task DONE; a NEEDS_HUMAN task is resolved from the page; a replay of a DONE event does not act twice.
Event text with hostile markup is shown as text (no script runs, no element is injected)."""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from switchboard.state import Task, TaskStore
from tests.conftest import EVENTS
from tools import cli

COMMENT = json.loads((EVENTS / "github" / "issue_comment.label_bug.json").read_text())
SLACK = json.loads((EVENTS / "slack" / "event_callback.message.json").read_text())
LABELS_PATH = "/repos/octo-org/switchboard-demo/issues/42/labels"
HOSTILE = "Why? <img src=x onerror=alert(1)> <script>alert(2)</script> \"'><svg onload=alert(3)> &lt;b&gt;"


@pytest.fixture(scope="module", autouse=True)
def cli_state(console_stack: dict[str, Any]) -> Iterator[None]:
    """Point the in-process CLI (`switchboard send`) at the module's runtime."""
    saved = cli.STATE_FILE
    cli.STATE_FILE = Path(console_stack["state_dir"]) / "local.json"
    yield
    cli.STATE_FILE = saved


def sink(stack: dict[str, Any], method: str, path: str, document: Any = None) -> Any:
    data = None if document is None else json.dumps(document).encode()
    request = urllib.request.Request(
        stack["sink_url"] + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


def send_comment(tmp_path: Path, body: str, issue: int = 42) -> str:
    payload = json.loads(json.dumps(COMMENT))
    payload["comment"]["body"] = body
    payload["issue"]["number"] = issue
    payload["comment"]["id"] = uuid.uuid4().int >> 80  # a new comment: its own logical event
    path = tmp_path / f"issue_comment.{uuid.uuid4().hex[:8]}.json"
    path.write_text(json.dumps(payload))
    delivery = str(uuid.uuid4())
    assert cli.main(["send", "github", str(path), "--delivery-id", delivery]) == 0
    return delivery


def send_slack(tmp_path: Path, text: str) -> str:
    """A Slack message: its action is a ticket, nothing reaches GitHub (where the tests inject faults)."""
    payload = json.loads(json.dumps(SLACK))
    event_id = "Ev" + uuid.uuid4().hex[:10].upper()
    ts = f"{time.time():.6f}"
    payload["event"] |= {"text": text, "ts": ts, "event_ts": ts}
    payload["event_id"] = event_id
    path = tmp_path / "event_callback.hostile.json"
    path.write_text(json.dumps(payload))
    assert cli.main(["send", "slack", str(path)]) == 0
    return event_id


def store(stack: dict[str, Any]) -> TaskStore:
    outputs = stack["outputs"]
    return TaskStore(
        outputs["TasksTableName"], outputs["MemoryTableName"], dynamodb=stack["runtime"].client("dynamodb")
    )


def wait_task(stack: dict[str, Any], delivery: str, statuses: set[str], timeout: float = 60) -> Task:
    deadline = time.monotonic() + timeout
    found: list[Task] = []
    while time.monotonic() < deadline:
        found = store(stack).find_by_event(delivery)
        if found and found[0].status.value in statuses:
            return found[0]
        time.sleep(0.3)
    pytest.fail(f"{delivery} did not reach {statuses}: {found and found[0].to_json()}")


def label_calls(stack: dict[str, Any], label: str) -> list[dict[str, Any]]:
    return [
        call
        for call in sink(stack, "GET", "/_outbox?service=github")
        if call["path"] == LABELS_PATH and call["status"] == 200 and call["body"].get("labels") == [label]
    ]


def test_the_console_loads_with_htmx_and_its_sections(console_stack: dict[str, Any], page: Any) -> None:
    response = page.goto(console_stack["console_url"])
    assert response.status == 200
    assert page.title() == "Events and tasks · Switchboard console"
    assert page.evaluate("typeof window.htmx") == "object"  # served from node_modules, not a CDN
    for section in ("Tasks", "Needs a person", "Dead letters", "Replay", "Costs", "Health", "Send a sample"):
        assert page.get_by_role("link", name=section).count() == 1
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    page.get_by_role("link", name="Health").click()
    assert "200" in page.locator("main p").first.inner_text()  # the API's GET /health, nothing stuck
    stages = page.locator("tr[data-stage]").evaluate_all("rows => rows.map(r => r.dataset.stage)")
    assert stages[:3] == ["ingest", "classify", "decide"] and "act-github" in stages and stages[-1] == "poll"


def test_an_event_appears_without_a_reload_and_its_timeline_shows_route_and_action(
    console_stack: dict[str, Any], page: Any, tmp_path: Path, shots: Path
) -> None:
    page.goto(console_stack["console_url"])
    page.evaluate("window.__not_reloaded = true")
    hostile = send_slack(tmp_path, HOSTILE)
    delivery = send_comment(tmp_path, "/label bug")
    row = page.locator(f'tr[data-event="{delivery}"]')
    row.wait_for(timeout=30_000)  # the list refreshes itself every 2 s
    page.locator(f'tr[data-event="{hostile}"]').wait_for(timeout=30_000)
    assert page.evaluate("window.__not_reloaded") is True  # it came in without a page load
    assert page.locator("main img, main script, main svg").count() == 0  # the markup is text, not elements
    wait_task(console_stack, delivery, {"DONE"})
    page.locator(f'tr[data-event="{delivery}"] .status-DONE').wait_for()  # refreshed in place
    page.screenshot(path=str(shots / "console-tasks.png"), full_page=False)

    row.get_by_role("link").click()
    page.wait_for_url("**/tasks/*")
    assert page.locator(".facts").inner_text().count("DONE") == 1
    assert "rule" in page.locator(".facts tr", has_text="route").inner_text()
    timeline = page.locator("ol.timeline")
    assert '"rule": "command_label"' in timeline.inner_text()
    action = timeline.locator("li.kind-action")
    assert action.count() == 1 and "github.add_labels" in action.inner_text()
    assert "allowed: github.add_labels (chosen by rule)" in timeline.inner_text()
    page.screenshot(path=str(shots / "console-timeline.png"), full_page=True)

    page.goto(
        console_stack["console_url"] + f"/tasks/{store(console_stack).find_by_event(hostile)[0].task_id}"
    )
    assert page.locator("pre.event-text").inner_text().startswith("Why?")  # shown as text
    assert page.locator("main img, main script, main svg").count() == 0


def test_a_dead_letter_redriven_from_the_page_ends_done(
    console_stack: dict[str, Any], page: Any, tmp_path: Path
) -> None:
    sink(console_stack, "POST", "/_faults", {"service": "github", "status": 503, "times": 1000})
    try:
        delivery = send_comment(tmp_path, "/label documentation")
        failed = wait_task(console_stack, delivery, {"FAILED", "DONE"}, timeout=90)
        assert failed.status.value == "FAILED"
        page.goto(console_stack["console_url"] + "/dlq")
        depth = page.locator('tr[data-queue="act-github"] td.depth')
        deadline = time.monotonic() + 30
        while depth.inner_text() == "0" and time.monotonic() < deadline:
            time.sleep(0.5)
            page.reload()
        assert depth.inner_text() == "1"
    finally:
        sink(console_stack, "DELETE", "/_faults")  # the fault is fixed

    page.locator('tr[data-queue="act-github"]').get_by_role("button", name="Redrive (dry run first)…").click()
    assert "Dry run: would move 1 message(s) back to act-github" in page.locator("main").inner_text()
    assert page.locator('tr[data-queue="act-github"]').count() == 0  # nothing moved yet
    page.get_by_role("button", name="Confirm").first.click()
    assert "Moved 1 message(s) back to act-github" in page.locator("main").inner_text()

    done = wait_task(console_stack, delivery, {"DONE"})
    assert [entry.get("status") for entry in done.history if "status" in entry][-2:] == ["DISPATCHED", "DONE"]
    assert any((entry.get("detail") or {}).get("redrive") == "act-github" for entry in done.history)
    assert len(label_calls(console_stack, "documentation")) == 1


def test_a_task_that_needs_a_person_is_resolved_from_the_page(
    console_stack: dict[str, Any], page: Any, tmp_path: Path
) -> None:
    sink(console_stack, "POST", "/_faults", {"service": "github", "status": 401, "times": 1})
    try:
        delivery = send_comment(tmp_path, "/label question")
        task = wait_task(console_stack, delivery, {"NEEDS_HUMAN", "DONE", "FAILED"})
    finally:
        sink(console_stack, "DELETE", "/_faults")
    assert task.status.value == "NEEDS_HUMAN"

    page.goto(console_stack["console_url"] + "/attention")
    page.get_by_role("link", name=task.task_id).click()
    offered = page.locator("select[name=ability] option").all_inner_texts()
    assert "github.comment" in offered and "slack.reply" not in offered  # only what the policy allows here
    page.select_option("select[name=ability]", "github.comment")
    page.fill("input[name=params]", json.dumps({"body": "Fixed in <b>1.2</b>"}))
    page.fill("input[name=note]", "answered by hand")
    page.fill("input[name=by]", "ada")
    page.get_by_role("button", name="Resolve…").click()
    assert "github.comment" in page.locator("main").inner_text()  # the confirmation says what it will do
    page.get_by_role("button", name="Confirm: resolve").click()
    assert "Resolved by ada with github.comment" in page.locator("main").inner_text()

    done = wait_task(console_stack, delivery, {"DONE"})
    resolution = next(e for e in done.history if (e.get("detail") or {}).get("resolution") == "action")
    assert resolution["actor"] == "human:ada" and resolution["detail"]["note"] == "answered by hand"


def test_a_replay_of_a_done_event_does_not_act_twice(
    console_stack: dict[str, Any], page: Any, tmp_path: Path
) -> None:
    delivery = send_comment(tmp_path, "/label enhancement")
    task = wait_task(console_stack, delivery, {"DONE"})
    assert len(label_calls(console_stack, "enhancement")) == 1

    page.goto(console_stack["console_url"] + f"/tasks/{task.task_id}")
    page.get_by_role("button", name="Replay…").click()
    outcome = page.locator(f'tr.replay-outcome[data-task="{task.task_id}"]')
    assert "skip" in outcome.inner_text() and "already ran" in outcome.inner_text()
    assert page.get_by_role("button", name="Confirm").count() == 0  # nothing to replay
    page.wait_for_timeout(2_000)
    assert len(label_calls(console_stack, "enhancement")) == 1
    assert not [t for t in store(console_stack).recent() if t.event_id.endswith(f"~{delivery}")]

    # a fresh replay is the operator's explicit choice: a new delivery, marked, that acts again
    page.goto(console_stack["console_url"] + f"/tasks/{task.task_id}")
    page.check("input[name=fresh]")
    page.get_by_role("button", name="Replay…").click()
    page.get_by_role("button", name="Confirm: replay 1 event(s)").click()
    replayed = wait_task(console_stack, f"replay1~{delivery}", {"DONE"})
    assert replayed.inbound_event().raw_ref == f"replay-of:{task.task_id}"
    assert len(label_calls(console_stack, "enhancement")) == 2
    history = store(console_stack).get(task.task_id).history
    # the dry run wrote nothing; the confirmed replay is noted, with who asked
    [noted] = [e for e in history if "replay" in (e.get("detail") or {})]
    assert noted["detail"]["replay"] == "injected" and noted["actor"].startswith("human:")


def test_health_shows_when_each_stage_last_finished_work(console_stack: dict[str, Any], page: Any) -> None:
    page.goto(console_stack["console_url"] + "/health")
    assert "→ 200 ok" in page.locator("main p").first.inner_text()
    for stage in ("ingest", "classify", "act-github"):  # they all worked in the tests above
        finished = page.locator(f'tr[data-stage="{stage}"] td').nth(2).inner_text()
        assert finished.startswith("20"), (stage, finished)
    assert page.locator('tr[data-stage="decide"] td').nth(3).inner_text() == "0"  # nothing waits
