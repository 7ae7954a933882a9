"""Pull, for platforms without webhooks: Atom/RSS feeds and a JSON "mentions since cursor" API.

Each feed keeps its cursor in a ``CursorStore`` (the memory table in AWS). Items already seen are filtered
through the same seen marks the webhook door writes, and new items enter through the same ``Enqueuer``. A
failing feed is logged, counted and reported, and never stops the others.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET  # expat ≥ 2.4 refuses entity-expansion bombs
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger

from switchboard import ports
from switchboard.errors import FeedError
from switchboard.ingest import Enqueuer
from switchboard.models import FeedKind, FeedSpec, InboundEvent, Platform
from switchboard.sanitize import clean_field, clean_text, extract_links

logger = Logger(child=True)

ATOM = "{http://www.w3.org/2005/Atom}"
MAX_FEED_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class FeedItem:
    item_id: str
    author: str | None
    text: str
    url: str | None
    conversation: str | None


@dataclass(frozen=True)
class Page:
    items: list[FeedItem]
    cursor: str | None


Fetch = Callable[[str, float], bytes]


def fetch(url: str, timeout: float) -> bytes:
    if not url.startswith(("https://", "http://")):
        raise FeedError(f"not an http(s) URL: {url}")
    request = urllib.request.Request(url, headers={"User-Agent": "switchboard-poll"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310  # scheme checked
            data: bytes = response.read(MAX_FEED_BYTES + 1)
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        raise FeedError(f"fetch failed: {exc}") from None
    if len(data) > MAX_FEED_BYTES:
        raise FeedError("feed larger than 2 MiB")
    return data


def parse_xml_feed(data: bytes) -> list[FeedItem]:
    try:
        root = ET.fromstring(data)  # noqa: S314
    except ET.ParseError as exc:
        raise FeedError(f"malformed XML: {exc}") from None
    items: list[FeedItem] = []
    if root.tag == f"{ATOM}feed":
        for entry in root.iter(f"{ATOM}entry"):
            link = entry.find(f"{ATOM}link")
            body = _text(entry, f"{ATOM}content") or _text(entry, f"{ATOM}summary")
            items.append(
                FeedItem(
                    item_id=_text(entry, f"{ATOM}id") or "",
                    author=_text(entry, f"{ATOM}author/{ATOM}name"),
                    text=_joined(_text(entry, f"{ATOM}title"), body),
                    url=link.get("href") if link is not None else None,
                    conversation=None,
                )
            )
    elif root.tag == "rss":
        for entry in root.iter("item"):
            items.append(
                FeedItem(
                    item_id=_text(entry, "guid") or _text(entry, "link") or "",
                    author=_text(entry, "author"),
                    text=_joined(_text(entry, "title"), _text(entry, "description")),
                    url=_text(entry, "link"),
                    conversation=None,
                )
            )
    else:
        raise FeedError(f"not an Atom or RSS document: <{root.tag}>")
    return [item for item in items if item.item_id]


def parse_mentions(data: bytes) -> Page:
    """``{"items": [{"id", "author", "text", "url", "conversation"}], "next_cursor": "…"}``."""
    try:
        payload = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FeedError(f"malformed JSON: {exc}") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("items"), list):
        raise FeedError("mentions response has no items list")
    items = []
    for raw in payload["items"]:
        if not isinstance(raw, dict):
            continue
        item_id = clean_field(raw.get("id"))
        if item_id:
            items.append(
                FeedItem(
                    item_id=item_id,
                    author=clean_field(raw.get("author")),
                    text=clean_text(raw.get("text")),
                    url=clean_field(raw.get("url"), limit=1_024),
                    conversation=clean_field(raw.get("conversation")),
                )
            )
    return Page(items, clean_field(payload.get("next_cursor")))


def _joined(title: str | None, body: str | None) -> str:
    return clean_text("\n\n".join(part for part in (title, body) if part))


def _text(element: ET.Element, path: str) -> str | None:
    found = element.find(path)
    return clean_field(found.text, limit=8_000) if found is not None and found.text else None


class Poller:
    def __init__(
        self,
        feeds: Iterable[FeedSpec],
        door: Enqueuer,
        cursors: ports.CursorStore,
        fetcher: Fetch = fetch,
        timeout: float = 8,
    ) -> None:
        self.feeds = list(feeds)
        self.door = door
        self.cursors = cursors
        self.fetch = fetcher
        self.timeout = timeout

    def run(self) -> dict[str, Any]:
        report: dict[str, Any] = {"feeds": len(self.feeds), "accepted": 0, "duplicate": 0, "failed": {}}
        for feed in self.feeds:
            try:
                counts = self.poll(feed)
            except FeedError as exc:
                logger.error("feed failed", feed=feed.name, reason=str(exc))
                report["failed"][feed.name] = str(exc)
                continue
            report["accepted"] += counts["accepted"]
            report["duplicate"] += counts["duplicate"]
        logger.info("poll finished", **report)
        return report

    def poll(self, feed: FeedSpec) -> dict[str, int]:
        cursor = self.cursors.get(feed.name)
        url = feed.url
        if feed.kind is FeedKind.MENTIONS:
            if cursor:
                url += ("&" if "?" in url else "?") + urllib.parse.urlencode({"since": cursor})
            page = parse_mentions(self.fetch(url, self.timeout))
        else:
            page = Page(parse_xml_feed(self.fetch(url, self.timeout)), None)
        counts = {"accepted": 0, "duplicate": 0}
        for item in page.items:
            status = self.door.enqueue(self.to_event(feed, item))
            counts[status] += 1
        if page.cursor and page.cursor != cursor:
            self.cursors.put(feed.name, page.cursor)  # only after every item is in the queue
        return counts

    @staticmethod
    def to_event(feed: FeedSpec, item: FeedItem) -> InboundEvent:
        return InboundEvent(
            platform=Platform.FEED,
            event_id=f"{feed.name}:{item.item_id}"[:256],
            event_type=f"{feed.kind.value}.item",
            author=item.author,
            conversation=f"{feed.name}:{item.conversation or item.item_id}"[:256],
            text=item.text,
            links=extract_links(item.text),
            received_at=datetime.now(UTC),
            raw_ref=item.url,
            context={"feed": feed.name},
        )
