"""The poller's cursor handling against in-memory ports: the cursor asked for, and moved only after every
item of the page is in the queue."""

from __future__ import annotations

import json
from typing import Any

import pytest

from switchboard.feeds import Poller
from switchboard.ingest import Enqueuer
from switchboard.models import FeedSpec
from tests.fakes import FakeDeliveryLog, FakeQueue
from tests.fakes.memory import MemoryCursorStore

FEED = FeedSpec.model_validate({"name": "mentions", "kind": "mentions", "url": "https://feeds.example/m"})


class Pages:
    """Answers each fetch with the next page; remembers the URLs asked for."""

    def __init__(self, *pages: dict[str, Any]) -> None:
        self.pages = list(pages)
        self.urls: list[str] = []

    def __call__(self, url: str, timeout: float) -> bytes:
        self.urls.append(url)
        return json.dumps(self.pages.pop(0)).encode()


def page(cursor: str | None, *ids: str) -> dict[str, Any]:
    return {"items": [{"id": i, "author": "mona", "text": f"hello {i}"} for i in ids], "next_cursor": cursor}


def poller(fetch: Pages, queue: FakeQueue, cursors: MemoryCursorStore) -> Poller:
    return Poller([FEED], Enqueuer(queue, "https://sqs.local/ingest.fifo", FakeDeliveryLog()), cursors, fetch)


def test_the_cursor_moves_after_the_page_and_is_sent_next_time() -> None:
    fetch = Pages(page("c-1", "a", "b"), page("c-2", "c"))
    cursors, queue = MemoryCursorStore(), FakeQueue()
    run = poller(fetch, queue, cursors)

    assert run.poll(FEED) == {"accepted": 2, "duplicate": 0}
    assert cursors.get("mentions") == "c-1"
    assert run.poll(FEED) == {"accepted": 1, "duplicate": 0}
    assert fetch.urls == ["https://feeds.example/m", "https://feeds.example/m?since=c-1"]
    assert cursors.get("mentions") == "c-2"


def test_a_failed_enqueue_leaves_the_cursor_where_it_was() -> None:
    cursors, queue = MemoryCursorStore({"mentions": "c-1"}), FakeQueue(fail_next=1)
    run = poller(Pages(page("c-2", "a")), queue, cursors)
    with pytest.raises(ConnectionError):
        run.poll(FEED)
    assert cursors.get("mentions") == "c-1"  # the next poll asks for the same page again


def test_a_page_without_a_new_cursor_keeps_the_old_one() -> None:
    cursors = MemoryCursorStore({"mentions": "c-1"})
    run = poller(Pages(page(None, "a"), page("c-1")), FakeQueue(), cursors)
    run.poll(FEED)
    run.poll(FEED)
    assert cursors.get("mentions") == "c-1"
