from __future__ import annotations

import base64
import json

import pytest

from switchboard.adapters.github import GitHubAdapter, sign
from switchboard.ingest import MAX_BODY_BYTES, Enqueuer, IngestService, split_secrets
from switchboard.models import InboundEvent
from tests.fakes import FakeDeliveryLog, FakeQueue

SECRET = "door-secret"
QUEUE = "https://sqs.local/ingest.fifo"


@pytest.fixture
def queue() -> FakeQueue:
    return FakeQueue()


@pytest.fixture
def log() -> FakeDeliveryLog:
    return FakeDeliveryLog()


@pytest.fixture
def door(queue: FakeQueue, log: FakeDeliveryLog) -> IngestService:
    return IngestService(GitHubAdapter(), lambda: [SECRET], Enqueuer(queue, QUEUE, log))


def headers(body: bytes, delivery: str = "d-1", event: str = "issue_comment", **extra: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": sign(SECRET, body),
        **extra,
    }


def test_accepted_event_is_enqueued_with_group_and_dedup_ids(
    door: IngestService, queue: FakeQueue, label_bug_body: bytes
) -> None:
    response = door.handle(headers(label_bug_body), label_bug_body.decode(), False)
    assert (response.status, response.body) == (202, {"event_id": "d-1", "status": "accepted"})
    [message] = queue.sent
    assert message.queue_url == QUEUE
    assert message.group_id == "github:octo-org/switchboard-demo#42"
    assert message.dedup_id == "github:d-1"
    assert InboundEvent.model_validate_json(message.body).text == "/label bug"


def test_same_delivery_again_is_a_duplicate_and_not_enqueued(
    door: IngestService, queue: FakeQueue, label_bug_body: bytes
) -> None:
    door.handle(headers(label_bug_body), label_bug_body.decode(), False)
    again = door.handle(headers(label_bug_body), label_bug_body.decode(), False)
    assert again.body == {"event_id": "d-1", "status": "duplicate"}
    assert len(queue.sent) == 1


def test_failed_enqueue_leaves_no_mark_so_the_providers_retry_gets_through(
    door: IngestService, queue: FakeQueue, log: FakeDeliveryLog, label_bug_body: bytes
) -> None:
    queue.fail_next = 1
    with pytest.raises(ConnectionError):
        door.handle(headers(label_bug_body), label_bug_body.decode(), False)
    assert log.marks == {}
    retry = door.handle(headers(label_bug_body), label_bug_body.decode(), False)
    assert retry.body["status"] == "accepted"
    assert len(queue.sent) == 1


def test_base64_body_is_decoded_before_verification(door: IngestService, label_bug_body: bytes) -> None:
    encoded = base64.b64encode(label_bug_body).decode()
    assert door.handle(headers(label_bug_body), encoded, True).status == 202


@pytest.mark.parametrize(
    ("status", "reason", "make"),
    [
        (
            413,
            "payload_too_large",
            lambda b: (headers(b"x" * (MAX_BODY_BYTES + 1)), "x" * (MAX_BODY_BYTES + 1)),
        ),
        (415, "unsupported_media_type", lambda b: (headers(b, **{"Content-Type": "text/plain"}), b.decode())),
        (401, "missing_signature", lambda b: ({"Content-Type": "application/json"}, b.decode())),
        (401, "signature_mismatch", lambda b: (headers(b), b.decode().replace("bug", "bog"))),
        (400, "malformed_json", lambda b: (headers(b"{not json"), "{not json")),
        (400, "json_not_an_object", lambda b: (headers(b"[1, 2]"), "[1, 2]")),
        (400, "missing_delivery_id", lambda b: (headers(b, delivery=""), b.decode())),
    ],
)
def test_client_mistakes_get_a_clear_4xx_and_nothing_is_enqueued(
    door: IngestService, queue: FakeQueue, label_bug_body: bytes, status: int, reason: str, make
) -> None:
    hdrs, body = make(label_bug_body)
    response = door.handle(hdrs, body, False)
    assert (response.status, response.body) == (status, {"error": reason})
    assert queue.sent == []


def test_ignored_event_answers_202_ignored_without_enqueueing(door: IngestService, queue: FakeQueue) -> None:
    body = json.dumps({"action": "created", "starred_at": "2026-11-21T00:00:00Z"}).encode()
    response = door.handle(headers(body, event="star"), body.decode(), False)
    assert response.status == 202
    assert response.body["status"] == "ignored"
    assert queue.sent == []


def test_api_gateway_response_shape(door: IngestService, label_bug_body: bytes) -> None:
    response = door.handle(headers(label_bug_body), label_bug_body.decode(), False).to_api_gateway()
    assert response["statusCode"] == 202
    assert response["headers"] == {"content-type": "application/json"}
    assert json.loads(response["body"])["status"] == "accepted"


def test_split_secrets_allows_rotation_and_refuses_empty() -> None:
    assert split_secrets('["old", "new"]', "github") == ["old", "new"]
    assert split_secrets("old new", "github") == ["old new"]  # one secret, verbatim
    with pytest.raises(RuntimeError):
        split_secrets("  ", "github")
