"""The poller against a loopback feed server, moto's queue and table, and the real Enqueuer."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from switchboard.dynamo import DynamoCursorStore, DynamoSeenLog
from switchboard.feeds import Poller
from switchboard.ingest import Enqueuer
from switchboard.models import FeedSpec, InboundEvent
from switchboard.sqs import SqsQueueSender
from tests.conftest import EVENTS


class FeedServer(BaseHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self) -> None:
        FeedServer.requests.append(self.path)
        files = {"/atom": "atom.xml", "/rss": "rss.xml", "/mentions": "mentions.json"}
        name = files.get(self.path.split("?")[0])
        if self.path.startswith("/broken"):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"<html><body>not a feed")
            return
        if name is None:
            self.send_response(503)
            self.end_headers()
            return
        data = (EVENTS / "feed" / name).read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def feed_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FeedServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FeedServer.requests = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def queue_url(aws: Callable[[str], Any]) -> str:
    import uuid

    name = f"ingest-{uuid.uuid4().hex[:8]}.fifo"
    return str(aws("sqs").create_queue(QueueName=name, Attributes={"FifoQueue": "true"})["QueueUrl"])


def received(aws: Callable[[str], Any], queue_url: str) -> list[InboundEvent]:
    events: list[InboundEvent] = []
    while True:
        messages = aws("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return events
        for message in messages:
            events.append(InboundEvent.model_validate_json(message["Body"]))
            aws("sqs").delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def make_poller(
    aws: Callable[[str], Any], tables: tuple[str, str], queue_url: str, feeds: list[dict]
) -> Poller:
    memory = tables[1]
    door = Enqueuer(
        SqsQueueSender(aws("sqs")),
        queue_url,
        DynamoSeenLog(memory, 7, aws("dynamodb"), tasks_table=tables[0]),
    )
    return Poller(
        [FeedSpec.model_validate(f) for f in feeds],
        door,
        DynamoCursorStore(memory, aws("dynamodb")),
        timeout=2,
    )


def test_feeds_are_enqueued_once_and_a_failing_feed_does_not_stop_the_others(
    aws: Callable[[str], Any], tables: tuple[str, str], queue_url: str, feed_url: str
) -> None:
    feeds = [
        {"name": "down", "kind": "atom", "url": f"{feed_url}/down"},
        {"name": "status", "kind": "atom", "url": f"{feed_url}/atom"},
        {"name": "broken", "kind": "rss", "url": f"{feed_url}/broken"},
        {"name": "forum", "kind": "rss", "url": f"{feed_url}/rss"},
        {"name": "social", "kind": "mentions", "url": f"{feed_url}/mentions"},
    ]
    poller = make_poller(aws, tables, queue_url, feeds)

    first = poller.run()
    assert first["accepted"] == 5
    assert set(first["failed"]) == {"down", "broken"}
    events = {event.event_id: event for event in received(aws, queue_url)}
    assert len(events) == 5

    atom = events["status:urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a"]
    assert (
        atom.text == "Degraded performance on the invoices API\n\nWe are investigating elevated error rates."
    )
    assert atom.raw_ref == "https://status.example.com/incidents/9912"
    nullish = events["social:m-88130"]
    assert (nullish.author, nullish.raw_ref, nullish.text) == (None, None, "hello")

    second = poller.run()
    assert (second["accepted"], second["duplicate"]) == (0, 5)
    assert received(aws, queue_url) == []
    assert "/mentions?since=2026-11-21T08%3A10%3A00Z" in FeedServer.requests
