from __future__ import annotations

import base64
import json

import pytest

from switchboard.adapters.github import GitHubAdapter, sign
from switchboard.ingest import MAX_BODY_BYTES, Enqueuer, IngestService, split_secrets
from switchboard.models import InboundEvent, Platform
from tests.fakes import FakeDeliveryLog, FakeQueue, github_event

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
    [message] = queue.sent
    task_id = InboundEvent.model_validate_json(message.body).task_id
    assert (response.status, response.body) == (
        202,
        {"event_id": "d-1", "status": "accepted", "task_id": task_id},
    )
    assert message.queue_url == QUEUE
    assert message.group_id == "github:octo-org/switchboard-demo#42"
    assert message.dedup_id == "github:d-1"
    assert InboundEvent.model_validate_json(message.body).text == "/label bug"


def test_same_delivery_again_is_a_duplicate_and_not_enqueued(
    door: IngestService, queue: FakeQueue, label_bug_body: bytes
) -> None:
    first = door.handle(headers(label_bug_body), label_bug_body.decode(), False)
    again = door.handle(headers(label_bug_body), label_bug_body.decode(), False)
    assert again.body == {"event_id": "d-1", "status": "duplicate", "task_id": first.body["task_id"]}
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


def test_an_events_default_links_are_its_own() -> None:
    """`InboundEvent.links` defaults to a list literal (not a `default_factory`): each event has its own."""
    first, second = github_event(event_id="one"), github_event(event_id="two")
    assert first.links == second.links == []
    first.links.append("https://example.com")
    assert second.links == [] and InboundEvent.model_fields["links"].default == []


# -- the door's one conditional write: the mark before the send (``Enqueuer``) ------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def clocked(clock: Clock) -> tuple[Enqueuer, FakeQueue, FakeDeliveryLog]:
    """An Enqueuer whose queue (FIFO deduplication), seen log and door share one clock."""
    queue, log = FakeQueue(clock=clock), FakeDeliveryLog(clock=clock)
    return Enqueuer(queue, QUEUE, log, clock=clock), queue, log


def test_a_duplicate_inside_the_queue_window_is_sent_again_and_the_queue_keeps_one(
    clocked: tuple[Enqueuer, FakeQueue, FakeDeliveryLog], clock: Clock
) -> None:
    door, queue, _ = clocked
    event = github_event(event_id="d-1")
    assert door.enqueue(event) == "accepted"
    clock.now += 299
    assert door.enqueue(event) == "duplicate"
    assert len(queue.sent) == 1  # SQS dropped the second send: same MessageDeduplicationId, inside 5 min


def test_a_duplicate_after_the_window_of_a_claimed_event_is_not_sent(
    clocked: tuple[Enqueuer, FakeQueue, FakeDeliveryLog], clock: Clock
) -> None:
    door, queue, log = clocked
    event = github_event(event_id="d-1")
    door.enqueue(event)
    log.claims.add(event.task_id)  # the classifier took it
    clock.now += 3600
    assert door.enqueue(event) == "duplicate"
    assert len(queue.sent) == 1


def test_a_duplicate_after_the_window_of_a_claimed_logical_event_is_not_sent(
    clocked: tuple[Enqueuer, FakeQueue, FakeDeliveryLog], clock: Clock
) -> None:
    door, queue, log = clocked
    event = github_event(event_id="d-1", content_id="comment-1")
    door.enqueue(event)
    # another delivery of the same logical event got in first: its task is this event's
    log.claims.add(github_event(event_id="d-0", content_id="comment-1").task_id)
    clock.now += 3600
    assert door.enqueue(event) == "duplicate"
    assert len(queue.sent) == 1


def test_a_mark_left_by_a_send_that_never_happened_does_not_lose_the_event(
    clocked: tuple[Enqueuer, FakeQueue, FakeDeliveryLog], clock: Clock
) -> None:
    door, queue, log = clocked
    event = github_event(event_id="d-1")
    # the first delivery wrote its mark and died before it sent (a timeout): nothing is in the queue
    assert log.first_sight("github", "d-1") is None
    clock.now += 30
    assert door.enqueue(event) == "duplicate"  # the provider's retry, inside the window: sent again
    assert [m.dedup_id for m in queue.sent] == ["github:d-1"]


def test_an_old_mark_without_a_claim_is_sent_again(
    clocked: tuple[Enqueuer, FakeQueue, FakeDeliveryLog], clock: Clock
) -> None:
    door, queue, log = clocked
    assert log.first_sight("github", "d-1") is None  # a mark whose send never happened, an hour ago
    clock.now += 3600
    assert door.enqueue(github_event(event_id="d-1")) == "duplicate"
    assert len(queue.sent) == 1  # in the queue now; had the first copy been there, the claim drops one


def test_a_failed_send_removes_the_mark_so_a_retry_after_the_window_gets_through(
    clocked: tuple[Enqueuer, FakeQueue, FakeDeliveryLog], clock: Clock
) -> None:
    door, queue, log = clocked
    event = github_event(event_id="d-1")
    queue.fail_next = 1
    with pytest.raises(ConnectionError):
        door.enqueue(event)
    assert log.marks == {}
    clock.now += 3600
    assert door.enqueue(event) == "accepted"
    assert len(queue.sent) == 1


def test_a_mark_whose_removal_failed_is_covered_by_the_window(
    clocked: tuple[Enqueuer, FakeQueue, FakeDeliveryLog], clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from switchboard.errors import DependencyUnavailable

    door, queue, log = clocked
    event = github_event(event_id="d-1")

    def unavailable(platform: str, event_id: str) -> None:
        raise DependencyUnavailable("dynamodb", "DeleteItem", "ThrottlingException")

    monkeypatch.setattr(log, "forget", unavailable)
    queue.fail_next = 1
    with pytest.raises(ConnectionError):  # the send's error leaves, not the removal's
        door.enqueue(event)
    assert ("github", "d-1") in log.marks
    clock.now += 60
    assert door.enqueue(event) == "duplicate"
    assert len(queue.sent) == 1


def test_a_retry_of_a_failed_resend_keeps_the_earlier_mark(
    clocked: tuple[Enqueuer, FakeQueue, FakeDeliveryLog], clock: Clock
) -> None:
    door, queue, log = clocked
    event = github_event(event_id="d-1")
    assert log.first_sight("github", "d-1") is None  # a mark whose send never happened
    queue.fail_next = 1
    clock.now += 10
    with pytest.raises(ConnectionError):
        door.enqueue(event)
    # not this delivery's to remove: the mark (its time, and the expiry the TTL gives it) stays
    assert {key: at for key, (at, _) in log.marks.items()} == {("github", "d-1"): 1_000.0}
    clock.now += 10
    door.enqueue(event)
    assert len(queue.sent) == 1


def test_racing_deliveries_enqueue_one_message() -> None:
    import threading

    queue, log = FakeQueue(), FakeDeliveryLog()
    lock = threading.Lock()

    class Atomic:  # DynamoDB's conditional put and SQS's deduplication are atomic; so are these
        def __init__(self, inner: object) -> None:
            self.inner = inner

        def __getattr__(self, name: str) -> object:
            method = getattr(self.inner, name)

            def locked(*args: object, **kwargs: object) -> object:
                with lock:
                    return method(*args, **kwargs)

            return locked

    door = Enqueuer(Atomic(queue), QUEUE, Atomic(log))  # type: ignore[arg-type]
    event = github_event(event_id="d-1")
    barrier = threading.Barrier(8)
    answers: list[str] = []

    def deliver() -> None:
        barrier.wait()
        answers.append(door.enqueue(event))

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == ["accepted"] + ["duplicate"] * 7
    assert len(queue.sent) == 1


def test_a_mark_older_than_the_recheck_is_a_duplicate_on_its_own_before_its_claim_expires(
    clocked: tuple[Enqueuer, FakeQueue, FakeDeliveryLog], clock: Clock
) -> None:
    from switchboard.ingest import CLAIM_RECHECK_SECONDS
    from switchboard.settings import AgentSettings

    door, queue, log = clocked
    assert log.first_sight("feed", "item-1") is None  # a polled item's mark (they live 30 days)
    clock.now += CLAIM_RECHECK_SECONDS
    assert (
        door.enqueue(github_event(event_id="item-1").model_copy(update={"platform": Platform.FEED}))
        == "duplicate"
    )
    assert queue.sent == []  # its claim may be gone: only the mark is asked
    # the recheck stays inside the claims' life (a claim is its task), so a mark it trusts a missing claim
    # for has a live claim
    claims_live = AgentSettings.model_fields["task_ttl_days"].default * 86_400
    assert claims_live > CLAIM_RECHECK_SECONDS
