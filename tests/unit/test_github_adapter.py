from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from switchboard.adapters import Accepted, Ignored, Reply, WebhookRequest
from switchboard.adapters.github import GitHubAdapter, sign
from switchboard.errors import BadSignature, MalformedPayload

# The test vector published in GitHub's "Validating webhook deliveries" documentation.
DOC_SECRET = "It's a Secret to Everybody"
DOC_PAYLOAD = b"Hello, World!"
DOC_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"

SECRET = "test-secret"


def request(body: bytes, event: str = "issue_comment", signature: str | None = None) -> WebhookRequest:
    headers = {
        "content-type": "application/json",
        "x-github-event": event,
        "x-github-delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        "x-hub-signature-256": signature if signature is not None else sign(SECRET, body),
    }
    return WebhookRequest(headers=headers, body=body, received_at=datetime.now(UTC))


def test_sign_matches_githubs_published_test_vector() -> None:
    assert sign(DOC_SECRET, DOC_PAYLOAD) == DOC_SIGNATURE


def test_verify_accepts_githubs_published_test_vector() -> None:
    GitHubAdapter().verify(request(DOC_PAYLOAD, signature=DOC_SIGNATURE), [DOC_SECRET])


@pytest.mark.parametrize(
    ("signature", "reason"),
    [
        ("", "missing_signature"),
        ("sha1=757107ea0eb2509fc211221cce984b8a37570b6d", "unsupported_signature_scheme"),
        (DOC_SIGNATURE[:-1] + "0", "signature_mismatch"),
    ],
)
def test_verify_rejects_bad_signatures(signature: str, reason: str) -> None:
    with pytest.raises(BadSignature) as raised:
        GitHubAdapter().verify(request(DOC_PAYLOAD, signature=signature), [DOC_SECRET])
    assert raised.value.reason == reason


def test_verify_rejects_one_tampered_byte(label_bug_body: bytes) -> None:
    signed = request(label_bug_body)
    tampered = WebhookRequest(
        headers=signed.headers, body=label_bug_body.replace(b"bug", b"bog", 1), received_at=signed.received_at
    )
    with pytest.raises(BadSignature):
        GitHubAdapter().verify(tampered, [SECRET])


def test_verify_rejects_wrong_secret_and_accepts_any_active_secret(label_bug_body: bytes) -> None:
    signed = request(label_bug_body)
    with pytest.raises(BadSignature):
        GitHubAdapter().verify(signed, ["another-secret"])
    GitHubAdapter().verify(signed, ["new-secret", SECRET])


def test_label_comment_normalizes_to_an_inbound_event(label_bug_body: bytes) -> None:
    req = request(label_bug_body)
    outcome = GitHubAdapter().interpret(req, req.json())
    assert isinstance(outcome, Accepted)
    event = outcome.event
    assert event.event_id == "72d3162e-cc78-11e3-81ab-4c9367dc0958"
    assert event.event_type == "issue_comment.created"
    assert event.text == "/label bug"
    assert event.author == "hubot-maintainer"
    assert event.conversation == "octo-org/switchboard-demo#42"
    assert event.context == {
        "repo": "octo-org/switchboard-demo",
        "number": "42",
        "kind": "issue",
        "issue_author": "mona",
    }
    assert not event.author_is_bot


def test_ping_is_answered() -> None:
    req = request(b'{"zen": "Keep it logically awesome.", "hook_id": 1}', event="ping")
    outcome = GitHubAdapter().interpret(req, req.json())
    assert outcome == Reply(200, {"event_id": "72d3162e-cc78-11e3-81ab-4c9367dc0958", "status": "pong"})


def test_unhandled_event_type_is_ignored() -> None:
    req = request(b'{"action": "completed", "check_run": {}}', event="check_run")
    outcome = GitHubAdapter().interpret(req, req.json())
    assert isinstance(outcome, Ignored)
    assert outcome.reason == "event_not_handled:check_run.completed"


def test_edited_comment_is_ignored(label_bug_body: bytes) -> None:
    payload = json.loads(label_bug_body) | {"action": "edited"}
    req = request(json.dumps(payload).encode())
    assert isinstance(GitHubAdapter().interpret(req, req.json()), Ignored)


def test_bot_author_is_flagged(label_bug_body: bytes) -> None:
    payload = json.loads(label_bug_body)
    payload["comment"]["user"] |= {"login": "switchboard[bot]", "type": "Bot"}
    req = request(json.dumps(payload).encode())
    outcome = GitHubAdapter().interpret(req, req.json())
    assert isinstance(outcome, Accepted)
    assert outcome.event.author_is_bot


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda p: p.pop("repository"), "missing_repository"),
        (lambda p: p.pop("issue"), "missing_issue_or_discussion"),
        (lambda p: p["repository"].update(full_name="null"), "missing_repository"),
        (lambda p: p["repository"].update(full_name="o/" + "r" * 200), "missing_repository"),
        (lambda p: p["issue"].update(number="null"), "missing_number"),
        (lambda p: p["issue"].update(number=True), "missing_number"),
        (lambda p: p["issue"].update(number=10**400), "missing_number"),
    ],
)
def test_payloads_missing_what_we_act_on_are_malformed(label_bug_body: bytes, mutate, reason: str) -> None:
    payload = json.loads(label_bug_body)
    mutate(payload)
    req = request(json.dumps(payload).encode())
    with pytest.raises(MalformedPayload) as raised:
        GitHubAdapter().interpret(req, req.json())
    assert raised.value.reason == reason


def test_pull_request_review_comment_is_a_pull_request_conversation(label_bug_body: bytes) -> None:
    """Review comments carry the PR under ``pull_request``, without ``merged`` (as @octokit/webhooks-examples
    shows); the adapter used to call them issues."""
    payload = json.loads(label_bug_body)
    payload["pull_request"] = payload.pop("issue") | {
        "html_url": "https://github.com/octo-org/switchboard-demo/pull/42"
    }
    req = request(json.dumps(payload).encode(), event="pull_request_review_comment")
    outcome = GitHubAdapter().interpret(req, req.json())
    assert isinstance(outcome, Accepted)
    assert outcome.event.conversation == "octo-org/switchboard-demo#42"
    assert outcome.event.context["kind"] == "pull_request"


def test_comment_on_a_pull_requests_conversation_is_a_pull_request(label_bug_body: bytes) -> None:
    payload = json.loads(label_bug_body)
    payload["issue"]["pull_request"] = {
        "url": "https://api.github.com/repos/octo-org/switchboard-demo/pulls/42"
    }
    req = request(json.dumps(payload).encode())
    outcome = GitHubAdapter().interpret(req, req.json())
    assert isinstance(outcome, Accepted)
    assert outcome.event.context["kind"] == "pull_request"


@pytest.mark.parametrize("action", [["created"], {"a": 1}, "x" * 10_000])
def test_an_action_that_is_not_a_short_string_is_ignored_not_a_crash(label_bug_body: bytes, action) -> None:
    payload = json.loads(label_bug_body) | {"action": action}
    req = request(json.dumps(payload).encode())
    outcome = GitHubAdapter().interpret(req, req.json())
    assert isinstance(outcome, Ignored)
    assert len(outcome.reason) < 128


def test_a_long_title_and_body_are_capped_together(label_bug_body: bytes) -> None:
    payload = json.loads(label_bug_body)
    payload["issue"] |= {"title": "t" * 600, "body": "b" * 9_000}
    del payload["comment"]
    req = request(json.dumps(payload | {"action": "opened"}).encode(), event="issues")
    outcome = GitHubAdapter().interpret(req, req.json())
    assert isinstance(outcome, Accepted)
    assert outcome.event.text == "t" * 512 + "\n\n" + "b" * (8_000 - 514)
