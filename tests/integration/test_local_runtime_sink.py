"""The recording sink on its own: it answers like GitHub, Slack and the tickets API, and records each call."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tools.standin.sink import RecordingSink, fingerprint

TOKEN = "ghp_local_example"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def sink() -> Iterator[RecordingSink]:
    with RecordingSink() as running:
        yield running


def call(
    sink: RecordingSink,
    method: str,
    path: str,
    document: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    data = None if document is None else json.dumps(document).encode()
    request = urllib.request.Request(
        sink.url + path,
        data=data,
        method=method,
        headers={"Content-Type": "application/json", **(headers if headers is not None else AUTH)},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_github_labels_comments_assignees_and_issue_updates(sink: RecordingSink) -> None:
    issue = "/github/repos/acme/app/issues/7"

    labels = call(sink, "POST", f"{issue}/labels", {"labels": ["bug", "triage"]})
    comment = call(sink, "POST", f"{issue}/comments", {"body": "Thanks!"})
    assigned = call(sink, "POST", f"{issue}/assignees", {"assignees": ["octo"]})
    closed = call(sink, "PATCH", issue, {"state": "closed", "state_reason": "completed"})

    assert labels[0] == 200
    assert [label["name"] for label in labels[1]] == ["bug", "triage"]
    assert set(labels[1][0]) == {"id", "node_id", "url", "name", "color", "default", "description"}
    assert comment[0] == 201
    assert comment[1]["body"] == "Thanks!"
    assert comment[1]["html_url"].startswith("https://github.com/acme/app/issues/7#issuecomment-")
    assert assigned[0] == 201
    assert [user["login"] for user in assigned[1]["assignees"]] == ["octo"]
    assert closed[0] == 200
    assert (closed[1]["number"], closed[1]["state"], closed[1]["state_reason"]) == (7, "closed", "completed")
    assert [label["name"] for label in closed[1]["labels"]] == ["bug", "triage"]


def test_github_refuses_what_github_refuses(sink: RecordingSink) -> None:
    assert (
        call(sink, "POST", "/github/repos/acme/app/issues/7/labels", {"labels": ["x"]}, headers={})[0] == 401
    )
    assert call(sink, "POST", "/github/repos/acme/app/issues/7/comments", {"text": "no body"})[0] == 422
    assert call(sink, "GET", "/github/user")[0] == 404


def test_slack_post_message_answers_like_slack(sink: RecordingSink) -> None:
    status, posted = call(
        sink, "POST", "/slack/chat.postMessage", {"channel": "C1", "text": "hi", "thread_ts": "1.2"}
    )
    escalated = call(sink, "POST", "/escalate/chat.postMessage", {"channel": "C9", "text": "help"})
    unauthenticated = call(
        sink, "POST", "/slack/chat.postMessage", {"channel": "C1", "text": "hi"}, headers={}
    )
    no_channel = call(sink, "POST", "/slack/chat.postMessage", {"text": "hi"})

    assert status == 200
    assert posted["ok"] is True
    assert posted["channel"] == "C1"
    assert posted["message"]["text"] == "hi"
    assert posted["message"]["thread_ts"] == "1.2"
    assert posted["ts"] == posted["message"]["ts"]
    assert escalated[1]["ok"] is True
    assert unauthenticated == (200, {"ok": False, "error": "not_authed"})
    assert no_channel == (200, {"ok": False, "error": "channel_not_found"})


def test_tickets_are_created_once_per_idempotency_key_and_get_a_url_later(sink: RecordingSink) -> None:
    headers = {**AUTH, "Idempotency-Key": "task-1#0"}

    created = call(sink, "POST", "/tickets/tickets", {"title": "Printer on fire"}, headers=headers)
    replayed = call(sink, "POST", "/tickets/tickets", {"title": "Printer on fire"}, headers=headers)
    fetched = call(sink, "GET", f"/tickets/tickets/{created[1]['id']}")

    assert created[0] == 201
    assert created[1] == {"id": created[1]["id"], "status": "open", "url": None}
    assert replayed == created
    assert fetched[0] == 200
    assert fetched[1]["id"] == created[1]["id"]
    assert fetched[1]["url"].startswith(sink.url)
    assert call(sink, "GET", "/tickets/tickets/TCK-0")[0] == 404


def test_unknown_services_and_paths_are_404_json(sink: RecordingSink) -> None:
    assert call(sink, "POST", "/nowhere/x", {})[0] == 404
    assert call(sink, "POST", "/slack/chat.unknown", {}) == (404, {"ok": False, "error": "unknown_method"})


def test_the_outbox_records_every_call_with_the_credential_fingerprinted(sink: RecordingSink) -> None:
    call(sink, "POST", "/github/repos/acme/app/issues/7/labels?per_page=1", {"labels": ["bug"]})
    call(sink, "POST", "/slack/chat.postMessage", {"channel": "C1", "text": "hi"})

    with urllib.request.urlopen(f"{sink.url}/_outbox") as response:
        outbox = json.loads(response.read())
    with urllib.request.urlopen(f"{sink.url}/_outbox?service=slack") as response:
        only_slack = json.loads(response.read())
    cleared = urllib.request.urlopen(urllib.request.Request(f"{sink.url}/_outbox", method="DELETE"))

    first = outbox[0]
    assert [entry["service"] for entry in outbox] == ["github", "slack"]
    assert (first["method"], first["path"], first["query"]) == (
        "POST",
        "/repos/acme/app/issues/7/labels",
        {"per_page": "1"},
    )
    assert first["body"] == {"labels": ["bug"]}
    assert first["status"] == 200
    assert first["headers"]["authorization"] == f"Bearer {fingerprint(TOKEN)}"
    assert TOKEN not in json.dumps(outbox)
    assert first["at"].endswith("Z")
    assert [entry["service"] for entry in only_slack] == ["slack"]
    assert json.loads(cleared.read()) == {"cleared": 2}
    assert sink.calls() == []


def test_injected_faults_answer_the_next_calls_then_stop(sink: RecordingSink) -> None:
    sink.inject_fault("github", 503, times=2, headers={"Retry-After": "1"})
    path = "/github/repos/acme/app/issues/7/comments"

    statuses = [call(sink, "POST", path, {"body": "x"})[0] for _ in range(3)]

    assert statuses == [503, 503, 201]
    assert [entry["status"] for entry in sink.calls("github")] == [503, 503, 201]
