"""Hostile markup at the door (the section after warm cost): the worst case of sanitizing, at each
platform's maximum size.

Each kind of adversarial text (unclosed tags, comment and declaration floods, a ``<script`` without its end,
entity and attribute floods, runs of combining marks …) is built to fill the largest message the platform
sends: a GitHub comment body of 65,536 characters, a Slack message of 40,000 characters, a Standard Webhooks
body of 256 KiB. The figures are the CPU time (``time.process_time``, best of three) of ``clean_text`` on the
text, and of the whole door (``IngestService.handle``: signature, JSON, adapter, sanitizing, enqueue) on a
signed request carrying it. Figures only: ``tests/unit/test_sanitize_linear.py`` asserts the growth is
linear.

Limits: GitHub's REST API refuses a comment body over 65,536 characters ("body is too long (maximum is 65536
characters)"); Slack's ``chat.postMessage`` truncates ``text`` after 40,000 characters; API Gateway's payload
limit is 10 MB, and the door's own limit is 256 KiB (``switchboard.ingest.MAX_BODY_BYTES``).
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import logging
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from tools.bench.common import table

if TYPE_CHECKING:
    from switchboard.models import InboundEvent

GITHUB_COMMENT_CHARS = 65_536
SLACK_MESSAGE_CHARS = 40_000
STANDARD_BODY_BYTES = 256 * 1024

#: name → a unit of hostile text, repeated to fill the size (a prefix and a unit where it matters).
KINDS: dict[str, tuple[str, str]] = {
    "unclosed tags": ("", "<a "),
    "bare openers": ("", "<"),
    "unclosed end tags": ("", "</a"),
    "unclosed comments": ("", "<!--"),
    "nested comments": ("", "<!--<!-- -->"),
    "declarations": ("", "<!"),
    "processing instructions": ("", "<?"),
    "cdata openers": ("", "<![CDATA["),
    "script without end": ("<script>", "<a "),
    "script openers": ("", "<script"),
    "style openers": ("", "<style>"),
    "skipped elements": ("", "<template>"),
    "end tags of raw text": ("<script>", "</script"),
    "attribute flood": ("<a ", 'x="1" '),
    "unclosed quotes": ("", '<a x="'),
    "paragraph flood": ("", "<p>"),
    "entity flood": ("", "&amp;"),
    "unterminated entities": ("", "&ampx"),
    "numeric reference digits": ("&#", "9"),
    "hex reference digits": ("&#x", "f"),
    "ampersands": ("", "&"),
    "combining marks": ("a", "\u0316\u0301"),
    "marks split by zero-width joiners": ("a", "\u0316\u0301" * 15 + "\u200d"),
    "marks split by tags": ("a", "\u0316\u0301" * 15 + "<b>"),
    "expanding ligatures": ("", "\ufdfa"),
    "control characters": ("", "\x00\u200b\u202e"),
    "mixed": ("", "<a <!-- &#99999999999; <script \u0301\u0316 &amp;"),
    "code elements": ("", "<code></code>"),
    "quoted lines": ("<pre>", "a\n"),
    "command lines": ("", "/label bug\n"),
    "commands after forged fences": ("```\n", "```<b>\n/label x\n"),
}


def hostile(kind: str, size: int) -> str:
    """``size`` characters of the ``kind`` of hostile text."""
    prefix, unit = KINDS[kind]
    return (prefix + unit * (size // len(unit) + 1))[:size]


def cpu_seconds(work: Callable[[], Any], repeats: int = 3) -> float:
    """Best of ``repeats`` CPU times of ``work()``."""
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        work()
        best = min(best, time.process_time() - started)
    return best


def door_request(platform: str, text: str) -> Callable[[], Any]:
    """A signed request carrying ``text`` to ``IngestService.handle``, with in-memory queue and seen log."""
    from switchboard.adapters.github import GitHubAdapter
    from switchboard.adapters.github import sign as github_sign
    from switchboard.adapters.slack import SlackAdapter
    from switchboard.adapters.slack import sign as slack_sign
    from switchboard.adapters.standard import StandardWebhooksAdapter
    from switchboard.adapters.standard import sign as standard_sign
    from switchboard.ingest import Enqueuer, IngestService

    class Queue:
        def send(
            self, queue_url: str, body: str, group_id: str, dedup_id: str, attributes: Any = None
        ) -> str:
            return "m-1"

    class Seen:
        def first_sight(self, platform: str, event_id: str) -> float | None:
            return None

        def forget(self, platform: str, event_id: str) -> None:
            return None

        def claimed(self, event: InboundEvent) -> bool:
            return False

    # The Standard Webhooks secret is built, not written out: a bench-only value, not a credential.
    secret, whsec = "bench-secret", "whsec_" + base64.b64encode(b"switchboard-bench-hostile").decode()
    now = str(int(datetime.now(UTC).timestamp()))
    if platform == "github":
        payload: dict[str, Any] = {
            "action": "created",
            "repository": {"full_name": "octo-org/demo"},
            "issue": {"number": 7, "user": {"login": "mona"}},
            "comment": {"body": text, "user": {"login": "hubot", "type": "User"}},
        }
        body = json.dumps(payload, ensure_ascii=False).encode()  # as GitHub and Slack send it: UTF-8
        headers = {
            "content-type": "application/json",
            "x-github-event": "issue_comment",
            "x-github-delivery": "bench-1",
            "x-hub-signature-256": github_sign(secret, body),
        }
        adapter: Any = GitHubAdapter()
    elif platform == "slack":
        payload = {
            "type": "event_callback",
            "event_id": "EvBENCH1",
            "team_id": "T1",
            "event": {
                "type": "message",
                "channel": "C1",
                "ts": "1700000000.000100",
                "user": "U1",
                "text": text,
            },
        }
        body = json.dumps(payload, ensure_ascii=False).encode()  # as GitHub and Slack send it: UTF-8
        headers = {
            "content-type": "application/json",
            "x-slack-request-timestamp": now,
            "x-slack-signature": slack_sign(secret, now, body),
        }
        adapter = SlackAdapter()
    else:
        body = _standard_body(text)
        headers = {
            "content-type": "application/json",
            "webhook-id": "msg_bench",
            "webhook-timestamp": now,
            "webhook-signature": standard_sign(whsec, "msg_bench", now, body),
        }
        adapter, secret = StandardWebhooksAdapter(), whsec
    service = IngestService(adapter, lambda: [secret], Enqueuer(Queue(), "q", Seen()))
    return lambda: service.handle(headers, body.decode(), False)


def _standard_body(text: str) -> bytes:
    """As a sender would write it: UTF-8, non-ASCII characters unescaped (so the most characters fit)."""
    return json.dumps({"type": "message.created", "data": {"text": text}}, ensure_ascii=False).encode()


def standard_text(kind: str) -> str:
    """The longest text of ``kind`` whose Standard Webhooks body stays within 256 KiB (JSON escapes count)."""
    low, high = 0, STANDARD_BODY_BYTES
    while low < high:
        middle = (low + high + 1) // 2
        size = len(_standard_body(hostile(kind, middle)))
        low, high = (middle, high) if size <= STANDARD_BODY_BYTES else (low, middle - 1)
    return hostile(kind, low)


def run() -> dict[str, Any]:
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "SwitchboardBench")
    from aws_lambda_powertools import Logger

    from switchboard.metrics import metrics
    from switchboard.sanitize import clean_text

    # Another section may have imported the metrics façade before the namespace variable was set (it is read
    # when the façade is built); the door's metrics flush every 100 and need one.
    metrics.namespace = metrics.namespace or "SwitchboardBench"
    Logger()  # the library's child loggers need their parent, as in Lambda
    logging.disable(logging.CRITICAL)  # figures only: no log lines, no metric documents
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return _measure(clean_text)
    finally:
        logging.disable(logging.NOTSET)


def _measure(clean_text: Callable[[str], str]) -> dict[str, Any]:

    results: dict[str, Any] = {}
    for platform, limit in (
        ("github", GITHUB_COMMENT_CHARS),
        ("slack", SLACK_MESSAGE_CHARS),
        ("standard", 0),
    ):
        rows = []
        for kind in KINDS:
            text = standard_text(kind) if platform == "standard" else hostile(kind, limit)
            door = door_request(platform, text)
            status = door().status
            rows.append(
                {
                    "kind": kind,
                    "chars": len(text),
                    "clean_text_ms": cpu_seconds(partial(clean_text, text)) * 1000,
                    "door_ms": cpu_seconds(door) * 1000,
                    "status": status,
                }
            )
        worst = max(rows, key=lambda row: row["door_ms"])
        results[platform] = {"worst": worst, "kinds": rows}
    return results


def markdown(results: dict[str, Any]) -> str:
    sizes = {
        "github": "comment body, 65,536 characters",
        "slack": "message, 40,000 characters",
        "standard": "body, 256 KiB",
    }
    rows = [
        [
            platform,
            sizes[platform],
            found["worst"]["kind"],
            found["worst"]["clean_text_ms"],
            found["worst"]["door_ms"],
            found["worst"]["status"],
        ]
        for platform, found in results.items()
    ]
    return "### Hostile markup at the door (worst kind per platform, CPU ms, best of 3)\n\n" + table(
        ["platform", "largest message", "worst kind", "clean_text ms", "whole door ms", "answer"], rows
    )


if __name__ == "__main__":
    found = run()
    print(markdown(found))
    for platform, data in found.items():
        for row in sorted(data["kinds"], key=lambda row: -row["door_ms"])[:5]:
            print(platform, row)
