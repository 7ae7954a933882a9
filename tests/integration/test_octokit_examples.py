"""Every payload in ``@octokit/webhooks-examples`` (real GitHub deliveries collected by the Octokit project,
for github.com and GitHub Enterprise Server), signed and sent through the GitHub door.

None of them was written here, so they catch the payload shapes our own samples do not have. Each must be
answered 200 (ping), 202 accepted (the events we act on) or 202 ignored; a body over the limit gets 413 by
design. No other 4xx, and no exception.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest

from switchboard.adapters.github import GitHubAdapter, sign
from switchboard.ingest import MAX_BODY_BYTES, Enqueuer, HttpResponse, IngestService
from switchboard.metrics import metrics
from switchboard.models import InboundEvent
from switchboard.sanitize import is_nullish
from tests.conftest import ROOT
from tests.fakes import FakeDeliveryLog, FakeQueue

PACKAGE = ROOT / "node_modules" / "@octokit" / "webhooks-examples"
MAIN_VARIANT = "api.github.com"
SECRET = "octokit-examples-secret"
QUEUE = "https://sqs.local/ingest.fifo"

# What the issue asks the agent to act on: new issue comments, issues, PR review comments and discussions
# (and discussion comments). Every other event and action is answered 202 ignored.
ACTED_ON = {
    ("issue_comment", "created"),
    ("issues", "opened"),
    ("pull_request_review_comment", "created"),
    ("discussion", "created"),
    ("discussion_comment", "created"),
}


@dataclass(frozen=True)
class Example:
    id: str  # "issue_comment.created-0", or "ghes-35/issue_comment.created-0" for an Enterprise Server one
    event: str  # the X-GitHub-Event header GitHub sends with it
    payload: dict[str, Any]

    @property
    def action(self) -> str | None:
        action = self.payload.get("action")
        return action if isinstance(action, str) else None

    @property
    def body(self) -> bytes:
        return json.dumps(self.payload).encode()


def load_examples() -> list[Example]:
    """Every variant's examples: ``<variant>/index.json`` is a list of ``{name, examples}`` definitions."""
    examples: list[Example] = []
    for index in sorted(PACKAGE.glob("*/index.json"), key=lambda path: path.parent.name != MAIN_VARIANT):
        variant = index.parent.name
        seen: Counter[str] = Counter()
        for definition in json.loads(index.read_text()):
            for payload in definition["examples"]:
                key = definition["name"] + (f".{payload['action']}" if "action" in payload else "")
                prefix = "" if variant == MAIN_VARIANT else f"{variant}/"
                examples.append(Example(f"{prefix}{key}-{seen[key]}", definition["name"], payload))
                seen[key] += 1
    return examples


EXAMPLES = load_examples()
MISSING = f"{PACKAGE.relative_to(ROOT)} is not installed (run `make dev`, which runs `npm ci`)"

if not EXAMPLES and not os.environ.get("CI"):
    pytest.skip(MISSING, allow_module_level=True)


def send(example: Example, door: IngestService) -> HttpResponse:
    body = example.body
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": example.event,
        "X-GitHub-Delivery": f"octokit-{example.id}",
        "X-Hub-Signature-256": sign(SECRET, body),
        "User-Agent": "GitHub-Hookshot/044aadd",
    }
    metrics.clear_metrics()
    try:
        return door.handle(headers, body.decode(), False)
    finally:
        metrics.clear_metrics()  # what the handler's log_metrics does after every invocation


def new_door() -> tuple[IngestService, FakeQueue]:
    queue = FakeQueue()
    return IngestService(GitHubAdapter(), lambda: [SECRET], Enqueuer(queue, QUEUE, FakeDeliveryLog())), queue


def expected_kind(example: Example) -> str:
    if example.event.startswith("discussion"):
        return "discussion"
    if example.event == "pull_request_review_comment":
        return "pull_request"
    return "pull_request" if isinstance(example.payload["issue"].get("pull_request"), dict) else "issue"


def test_the_examples_package_is_installed() -> None:
    """In CI a missing package is a failure, not a skip."""
    assert EXAMPLES, MISSING
    assert any(not example.id.startswith("ghes-") for example in EXAMPLES)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda example: example.id)
def test_every_example_gets_the_answer_the_contract_promises(example: Example) -> None:
    door, queue = new_door()
    response = send(example, door)
    if len(example.body) > MAX_BODY_BYTES:
        assert (response.status, response.body) == (413, {"error": "payload_too_large"})
    elif example.event == "ping":
        assert (response.status, response.body["status"]) == (200, "pong")
    elif (example.event, example.action) in ACTED_ON:
        assert (response.status, response.body["status"]) == (202, "accepted"), response.body
    else:
        assert (response.status, response.body["status"]) == (202, "ignored"), response.body
    assert len(queue.sent) == (1 if response.body.get("status") == "accepted" else 0)


ACCEPTED = [e for e in EXAMPLES if (e.event, e.action) in ACTED_ON and len(e.body) <= MAX_BODY_BYTES]


@pytest.mark.parametrize("example", ACCEPTED, ids=lambda example: example.id)
def test_accepted_examples_normalize_to_what_an_action_needs(example: Example) -> None:
    door, queue = new_door()
    send(example, door)
    [message] = queue.sent
    event = InboundEvent.model_validate_json(message.body)
    payload = example.payload
    item = payload.get("issue") or payload.get("pull_request") or payload["discussion"]
    written = payload.get("comment") or item
    repo = payload["repository"]["full_name"]
    thread = "discussion/" if example.event.startswith("discussion") else ""
    assert event.event_id == f"octokit-{example.id}"
    assert event.event_type == f"{example.event}.{example.action}"
    assert event.conversation == f"{repo}#{thread}{item['number']}"
    assert message.group_id == f"github:{event.conversation}"
    assert event.author == written["user"]["login"]
    assert event.raw_ref == written["html_url"]
    assert event.context["repo"] == repo
    assert event.context["number"] == str(item["number"])
    assert event.context["kind"] == expected_kind(example)
    assert event.text
    assert "<script" not in event.text.lower()
    for value in (event.author, event.conversation, event.raw_ref, *event.context.values()):
        assert value is None or not is_nullish(value)


def test_outcome_counts() -> None:
    """One door for all: the same delivery ids are never reused, and every example has exactly one outcome."""
    assert EXAMPLES, MISSING
    door, queue = new_door()
    outcomes = Counter(
        f"{response.status} {response.body.get('status') or response.body.get('error')}"
        for response in (send(example, door) for example in EXAMPLES)
    )
    too_large = sum(len(example.body) > MAX_BODY_BYTES for example in EXAMPLES)
    pings = sum(example.event == "ping" for example in EXAMPLES)
    print(f"\n{len(EXAMPLES)} octokit examples:", dict(sorted(outcomes.items())))
    assert sum(outcomes.values()) == len(EXAMPLES)
    assert outcomes["202 accepted"] == len(ACCEPTED) == len(queue.sent) > 0
    assert outcomes["200 pong"] == pings
    assert outcomes["413 payload_too_large"] == too_large
    assert outcomes["202 ignored"] == len(EXAMPLES) - len(ACCEPTED) - pings - too_large > 0
