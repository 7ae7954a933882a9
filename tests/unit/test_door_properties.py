"""Properties of the door under hostile input, for every adapter, and of the sanitizer behind it.

Whatever arrives (any headers, any body, base64 or not), ``IngestService.handle`` answers with a status
from the contract, never raises, and enqueues nothing on a 4xx. What it does enqueue from a correctly signed
request is clean: no markup, no control characters, and no field we act on that is the literal "null",
"undefined" or "None".
"""

from __future__ import annotations

import base64
import copy
import json
import time
import unicodedata
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from switchboard.adapters import PlatformAdapter
from switchboard.adapters.github import GitHubAdapter
from switchboard.adapters.github import sign as github_sign
from switchboard.adapters.slack import SlackAdapter
from switchboard.adapters.slack import sign as slack_sign
from switchboard.adapters.standard import StandardWebhooksAdapter
from switchboard.adapters.standard import sign as standard_sign
from switchboard.ingest import MAX_BODY_BYTES, Enqueuer, HttpResponse, IngestService
from switchboard.metrics import metrics
from switchboard.models import InboundEvent
from switchboard.sanitize import FIELD_LIMIT, clean_field, clean_id, clean_text, is_nullish
from tests.conftest import EVENTS
from tests.fakes import FakeDeliveryLog, FakeQueue

CONTRACT_STATUSES = {200, 202, 400, 401, 413, 415}
PROPERTY = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

# ---- what hostile input is made of -------------------------------------------------------------------------

NASTY = [
    "null",
    "undefined",
    "None",
    " NULL ",
    "nil",
    "NaN",
    "",
    "   ",
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "&amp;lt;script&amp;gt;",
    "&#xff1c;script&#xff1e;",
    "\uff1cscript\uff1ealert(1)\uff1c/script\uff1e",
    "hello <script",
    "x <!-- <script>",
    "<![ ",
    "<img src=x onerror=alert(1)>",
    "<a href='javascript:alert(1)'>click</a>",
    "\u202eevil\u202c",
    "zero\u200bwidth",
    "e\u200d\u0301",
    "\x00\x07\x1b[31m\x7f\x85",
    "\r\n\r\n\r\n",
    "https://example.com/a?b=<c>&d=e",
    "/label bug",
    "null" + " " * 300 + "x",
]
ANY_CHAR = st.characters(exclude_categories=[])  # every code point: lone surrogates, unassigned ones
ANY_TEXT = st.text(ANY_CHAR, max_size=40)
ENCODABLE_TEXT = st.text(max_size=40)  # a header value the test itself must sign
HUGE_TEXT = st.builds(
    lambda unit, count: unit * count,
    st.sampled_from(["a", "<b>", "&amp;", " ", "\n", "é", "\u200b", "null ", "<script>", "\ufdfd"]),
    st.integers(0, 20_000),
)
TEXTS = st.one_of(st.sampled_from(NASTY), ANY_TEXT, HUGE_TEXT, st.lists(st.sampled_from(NASTY)).map("".join))
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(-(10**300), 10**300), st.floats(), TEXTS
)
KEYS = st.one_of(
    st.sampled_from(
        ["action", "issue", "comment", "body", "title", "number", "user", "login", "type", "repository",
         "full_name", "event", "event_id", "channel", "ts", "thread_ts", "team_id", "text", "data", "subtype",
         "bot_id", "challenge", "pull_request", "discussion", "html_url", "conversation", "author", "url"]
    ),
    ANY_TEXT,
)  # fmt: skip
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=12,
)
VALUES = st.one_of(SCALARS, JSON)


def mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``good`` three times in four, so that hostile values sit inside payloads that get far enough (and
    shrinking, which heads for 0, heads for the good value)."""
    return st.integers(0, 3).flatmap(lambda roll: bad if roll == 3 else good)


def deeply_nested(inner: str) -> st.SearchStrategy[str]:
    """JSON text nested deeper than the interpreter's recursion limit allows json.loads to follow."""
    return st.integers(1, 120_000).map(lambda depth: "[" * depth + inner + "]" * depth)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path to a value inside a JSON document."""
    if isinstance(value, dict | list):
        for key, child in value.items() if isinstance(value, dict) else enumerate(value):
            yield (*prefix, key)
            yield from paths(child, (*prefix, key))


def _holds(container: Any, key: Any) -> bool:
    if isinstance(container, dict):
        return key in container
    return isinstance(container, list) and isinstance(key, int) and key < len(container)


@st.composite
def mutated(draw: st.DrawFn, samples: list[dict[str, Any]]) -> dict[str, Any]:
    """A sample from events/ with up to four fields replaced by hostile values or removed."""
    payload = copy.deepcopy(draw(st.sampled_from(samples)))
    for path in draw(st.lists(st.sampled_from(list(paths(payload))), max_size=4)):
        parent: Any = payload
        for key in path[:-1]:
            parent = parent[key] if _holds(parent, key) else None
        if not _holds(parent, path[-1]):
            continue  # an earlier mutation replaced the container
        if isinstance(parent, dict) and draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(VALUES)
    return payload


# ---- payloads shaped like each platform's, with hostile values where we read -------------------------------

USER = mostly(st.fixed_dictionaries({"login": mostly(st.just("mona"), TEXTS), "type": TEXTS}), VALUES)
GITHUB_ITEM = st.fixed_dictionaries(
    {
        "number": mostly(st.integers(1, 10**6), st.integers(-3, 10**30) | VALUES),
        "title": TEXTS,
        "body": TEXTS,
        "user": USER,
    },
    optional={"html_url": TEXTS, "pull_request": VALUES},
)


def github_shaped(item_key: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "action": mostly(st.sampled_from(["created", "opened"]), VALUES),
            "repository": mostly(
                st.fixed_dictionaries({"full_name": st.just("octo-org/demo") | TEXTS}), VALUES
            ),
            item_key: GITHUB_ITEM,
        },
        optional={
            "comment": mostly(
                st.fixed_dictionaries({"body": TEXTS, "user": USER, "html_url": TEXTS}), VALUES
            ),
            "sender": USER,
        },
    )


GITHUB_SHAPED = st.one_of(github_shaped("issue"), github_shaped("pull_request"), github_shaped("discussion"))
SLACK_SHAPED = st.fixed_dictionaries(
    {
        "type": mostly(st.just("event_callback"), st.just("url_verification") | VALUES),
        "event_id": mostly(st.just("Ev0PV52K25"), SCALARS),
        "event": mostly(
            st.fixed_dictionaries(
                {
                    "type": mostly(st.sampled_from(["message", "app_mention"]), VALUES),
                    "channel": mostly(st.just("C024BE91L"), SCALARS),
                    "ts": mostly(st.just("1763712000.000200"), SCALARS),
                    "text": TEXTS,
                },
                optional={"user": SCALARS, "thread_ts": SCALARS, "subtype": VALUES, "bot_id": SCALARS},
            ),
            VALUES,
        ),
    },
    optional={"team_id": SCALARS, "challenge": VALUES},
)
STANDARD_SHAPED = st.fixed_dictionaries(
    {
        "type": mostly(st.just("comment.created"), VALUES),
        "data": mostly(
            st.fixed_dictionaries(
                {"text": TEXTS},
                optional={
                    key: VALUES
                    for key in ("message", "body", "author", "user", "conversation", "thread_id", "url")
                },
            ),
            VALUES,
        ),
    }
)

# ---- the three doors ---------------------------------------------------------------------------------------


class Door:
    """One platform's door: its adapter and secret, its header names, and payloads that are nearly right.

    A plain class, not a dataclass, so that hypothesis reports it by name instead of printing its strategies.
    """

    def __init__(
        self,
        name: str,
        adapter: Callable[[], PlatformAdapter],
        secret: str,
        header_names: tuple[str, ...],
        shaped: st.SearchStrategy[dict[str, Any]],
    ) -> None:
        self.name = name
        self.adapter = adapter
        self.secret = secret
        self.header_names = header_names
        self.shaped = shaped
        self.samples = [json.loads(path.read_text()) for path in sorted((EVENTS / name).glob("*.json"))]

    def __repr__(self) -> str:
        return f"Door({self.name!r})"

    def signed(
        self, body: bytes, kind: str = "issue_comment", msg_id: str = "msg-1", timestamp: str | None = None
    ) -> dict[str, str]:
        """Content type and signature headers as the platform sends them (``kind`` is GitHub's event)."""
        stamp = str(int(time.time())) if timestamp is None else timestamp
        headers = {"Content-Type": "application/json"}
        if self.name == "github":
            return headers | {
                "X-GitHub-Event": kind,
                "X-GitHub-Delivery": msg_id,
                "X-Hub-Signature-256": github_sign(self.secret, body),
            }
        if self.name == "slack":
            return headers | {
                "X-Slack-Request-Timestamp": stamp,
                "X-Slack-Signature": slack_sign(self.secret, stamp, body),
            }
        return headers | {
            "webhook-id": msg_id,
            "webhook-timestamp": stamp,
            "webhook-signature": standard_sign(self.secret, msg_id, stamp, body),
        }


GITHUB = Door(
    "github",
    GitHubAdapter,
    "prop-github-secret",
    ("X-GitHub-Event", "X-GitHub-Delivery", "X-Hub-Signature-256"),
    GITHUB_SHAPED,
)
SLACK = Door(
    "slack",
    SlackAdapter,
    "prop-slack-secret",
    ("X-Slack-Request-Timestamp", "X-Slack-Signature", "X-Slack-Retry-Num"),
    SLACK_SHAPED,
)
STANDARD = Door(
    "standard",
    StandardWebhooksAdapter,
    WHSEC,
    ("webhook-id", "webhook-timestamp", "webhook-signature"),
    STANDARD_SHAPED,
)
DOORS = pytest.mark.parametrize("door", [GITHUB, SLACK, STANDARD], ids=lambda door: door.name)

CONTENT_TYPES = st.one_of(
    st.sampled_from(
        ["application/json", "application/json; charset=utf-8", "APPLICATION/JSON", " application/json ;x=y",
         "text/plain", "application/x-www-form-urlencoded", "application/jsonx", "multipart/form-data", ""]
    ),
    ANY_TEXT,
)  # fmt: skip
JSON_CONTENT_TYPES = st.sampled_from(
    ["application/json", "application/json; charset=utf-8", "Application/JSON"]
)
ACTED_ON_EVENTS = st.sampled_from(
    ["issue_comment", "issues", "pull_request_review_comment", "discussion", "discussion_comment"]
)
GITHUB_EVENTS = mostly(ACTED_ON_EVENTS, st.sampled_from(["ping", "star", ""]) | ENCODABLE_TEXT)


def send(
    door: Door, headers: dict[str, str], body: str | None, is_base64: bool = False
) -> tuple[HttpResponse, FakeQueue]:
    queue = FakeQueue()
    service = IngestService(door.adapter(), lambda: [door.secret], Enqueuer(queue, "q", FakeDeliveryLog()))
    metrics.clear_metrics()
    try:
        response = service.handle(headers, body, is_base64)
    finally:
        metrics.clear_metrics()  # what the handler's log_metrics does after every invocation
    json.dumps(response.to_api_gateway())  # the answer always serializes
    return response, queue


def raw(body: bytes, is_base64: bool) -> str:
    """What API Gateway hands the function: base64 text, or the body as a string (invalid UTF-8 kept as
    surrogate escapes, so the door sees the bytes it cannot decode)."""
    return base64.b64encode(body).decode() if is_base64 else body.decode("utf-8", "surrogateescape")


def outcome(response: HttpResponse) -> str:
    body = response.body
    return f"{response.status} {body.get('status') or body.get('error') or ','.join(body)}"


def assert_contract(response: HttpResponse, queue: FakeQueue) -> None:
    assert response.status in CONTRACT_STATUSES, response
    if response.status >= 400:
        assert queue.sent == [], response
    else:
        assert len(queue.sent) == (1 if response.body.get("status") == "accepted" else 0), response


def assert_clean(message_body: str) -> None:
    event = InboundEvent.model_validate_json(message_body)
    assert "<script" not in event.text.lower()
    assert_no_controls(event.text)
    acted_on = [event.event_id, event.event_type, event.conversation, event.author, event.raw_ref]
    for value in [*acted_on, *event.context.values()]:
        if value is not None:
            assert_no_controls(value)
            assert not is_nullish(value), value


def assert_no_controls(text: str) -> None:
    bad = [ch for ch in text if ch not in "\n\t" and unicodedata.category(ch) in {"Cc", "Cf", "Cs"}]
    assert not bad, bad


# ---- properties of the door --------------------------------------------------------------------------------


@st.composite
def hostile_headers(draw: st.DrawFn, door: Door) -> dict[str, str]:
    """The real header names (in any case) with random values, some missing, random content types, noise."""
    headers: dict[str, str] = {}
    for name in (*door.header_names, "Content-Type"):
        if draw(st.integers(0, 3)) == 0:
            continue
        spelled = draw(st.sampled_from([name, name.lower(), name.upper()]))
        headers[spelled] = draw(
            CONTENT_TYPES if name == "Content-Type" else ANY_TEXT | st.sampled_from(NASTY)
        )
    headers.update(draw(st.dictionaries(ANY_TEXT, ANY_TEXT, max_size=3)))
    return headers


BODIES = st.one_of(
    st.none(),
    st.binary(max_size=200).map(lambda data: data.decode("latin-1")),
    ANY_TEXT,
    JSON.map(json.dumps),
    deeply_nested("1"),
    st.integers(1, 100).map(lambda extra: "x" * (MAX_BODY_BYTES + extra)),
)


@DOORS
@PROPERTY
@given(data=st.data(), body=BODIES, is_base64=st.booleans())
def test_any_request_gets_a_contract_status_and_nothing_is_enqueued_on_a_4xx(
    door: Door, data: st.DataObject, body: str | None, is_base64: bool
) -> None:
    response, queue = send(door, data.draw(hostile_headers(door)), body, is_base64)
    event(outcome(response))
    assert_contract(response, queue)


@st.composite
def payloads(draw: st.DrawFn, door: Door) -> bytes:
    """Mostly near-valid and shaped payloads; also any JSON value, deep nesting, and bytes, not JSON."""
    kind = draw(st.sampled_from(["mutated", "shaped", "shaped", "shaped", "json", "deep", "bytes"]))
    if kind == "deep":
        sample = copy.deepcopy(draw(st.sampled_from(door.samples)))
        sample["__deep__"] = "DEEP"
        return json.dumps(sample).replace('"DEEP"', draw(deeply_nested("null"))).encode()
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    value = draw({"mutated": mutated(door.samples), "shaped": door.shaped, "json": JSON}[kind])
    if draw(st.booleans()):
        return json.dumps(value).encode()  # lone surrogates escaped as \udXXX
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


@DOORS
@PROPERTY
@given(data=st.data(), content_type=JSON_CONTENT_TYPES, is_base64=st.booleans())
def test_signed_hostile_payloads_never_break_the_door_and_what_is_enqueued_is_clean(
    door: Door, data: st.DataObject, content_type: str, is_base64: bool
) -> None:
    body = data.draw(payloads(door))
    headers = door.signed(body, kind=data.draw(GITHUB_EVENTS)) | {"Content-Type": content_type}
    response, queue = send(door, headers, raw(body, is_base64), is_base64)
    event(outcome(response))
    assert_contract(response, queue)
    for message in queue.sent:
        assert_clean(message.body)


TIMESTAMPS = mostly(
    st.none(),  # now
    st.one_of(st.integers(-(10**20), 10**20).map(str), st.from_regex(r"\A[0-9]{300,420}\Z"), ENCODABLE_TEXT),
)


@DOORS
@PROPERTY
@given(
    data=st.data(),
    msg_id=mostly(st.uuids().map(str), st.one_of(ENCODABLE_TEXT, st.sampled_from(NASTY), st.just("d" * 300))),
    timestamp=TIMESTAMPS,
)
def test_signed_requests_with_hostile_header_values_never_break_the_door(
    door: Door, data: st.DataObject, msg_id: str, timestamp: str | None
) -> None:
    body = json.dumps(data.draw(mostly(st.sampled_from(door.samples), door.shaped))).encode()
    headers = door.signed(body, kind=data.draw(GITHUB_EVENTS), msg_id=msg_id, timestamp=timestamp)
    response, queue = send(door, headers, body.decode())
    event(outcome(response))
    assert_contract(response, queue)
    for message in queue.sent:
        assert_clean(message.body)


@DOORS
@pytest.mark.parametrize("extra", [-1, 0, 1, 1_000])
def test_the_size_limit_is_checked_before_anything_else(door: Door, extra: int) -> None:
    body = json.dumps({"pad": "x" * (MAX_BODY_BYTES + extra - 11)}).encode()
    assert len(body) == MAX_BODY_BYTES + extra
    response, queue = send(door, door.signed(body), body.decode())
    assert (response.status == 413) is (extra > 0)
    assert_contract(response, queue)


# ---- what these properties found, pinned ------------------------------------------------------------------


def _sample(door: Door, **changes: Any) -> bytes:
    # the regression cases edit an issue comment (github) or a message: the first sample of that shape
    payload = copy.deepcopy(
        next(s for s in door.samples if door.name != "github" or ("issue" in s and "comment" in s))
    )
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        target = payload
        for key in parents:
            target = target[key]
        target[last] = value
    return json.dumps(payload).encode()


def _github_issue(title: str, body: str) -> bytes:
    payload = json.loads(_sample(GITHUB, action="opened"))
    payload["issue"] |= {"title": title, "body": body}
    del payload["comment"]
    return json.dumps(payload).encode()


FOUND = [
    # (what went wrong, door, headers and body, the answer now)
    (
        "a lone surrogate in the body raised",
        GITHUB,
        lambda: ({"Content-Type": "application/json"}, "\udcff"),
        400,
    ),
    (
        "a lone surrogate in a header raised when encoded",
        GITHUB,
        lambda: ({"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=\ud800"}, "{}"),
        400,
    ),
    (
        "a nesting deeper than the recursion limit raised RecursionError",
        GITHUB,
        lambda: (GITHUB.signed(b"[" * 100_000 + b"]" * 100_000), "[" * 100_000 + "]" * 100_000),
        400,
    ),
    (
        "an integer over 4,300 digits raised ValueError",
        GITHUB,
        lambda: (GITHUB.signed(b'{"a": ' + b"1" * 5_000 + b"}"), '{"a": ' + "1" * 5_000 + "}"),
        400,
    ),
    (
        "a signed 400-digit timestamp overflowed a float",
        SLACK,
        lambda: (SLACK.signed(b"{}", timestamp="9" * 400), "{}"),
        401,
    ),
    (
        "a signed 400-digit timestamp overflowed a float",
        STANDARD,
        lambda: (STANDARD.signed(b"{}", timestamp="9" * 400), "{}"),
        401,
    ),
    (
        "a list as the action was unhashable",
        GITHUB,
        lambda: (GITHUB.signed(body := _sample(GITHUB, action=["created"])), body.decode()),
        202,
    ),
    (
        "a list as the subtype was unhashable",
        SLACK,
        lambda: (SLACK.signed(body := _sample(SLACK, event__subtype=[])), body.decode()),
        202,
    ),
    (
        "repository and number made a conversation over 256 characters",
        GITHUB,
        lambda: (
            GITHUB.signed(
                body := _sample(GITHUB, repository__full_name="o/" + "r" * 250, issue__number=10**250)
            ),
            body.decode(),
        ),
        400,
    ),
    (
        "team, channel and ts made a conversation over 256 characters",
        SLACK,
        lambda: (
            SLACK.signed(body := _sample(SLACK, team_id="T" * 200, event__channel="C" * 200)),
            body.decode(),
        ),
        400,
    ),
    (
        "a title and a body made a text over 8,000 characters",
        GITHUB,
        lambda: (GITHUB.signed(body := _github_issue("t" * 600, "b" * 9_000), kind="issues"), body.decode()),
        202,
    ),
]


@pytest.mark.parametrize(("door", "make", "status"), [c[1:] for c in FOUND], ids=[c[0] for c in FOUND])
def test_what_the_properties_found_is_answered_by_the_contract(
    door: Door, make: Callable[[], tuple[dict[str, str], str]], status: int
) -> None:
    headers, body = make()
    response, queue = send(door, headers, body)
    assert response.status == status, response
    assert_contract(response, queue)
    for message in queue.sent:
        assert_clean(message.body)


@pytest.mark.parametrize("body", ["é" * 4, "not base64!"])
def test_a_base64_flag_on_a_body_that_is_not_base64_is_a_400(body: str) -> None:
    response, queue = send(GITHUB, GITHUB.signed(b""), body, is_base64=True)
    assert response.body == {"error": "undecodable_body"}
    assert queue.sent == []


# ---- properties of the sanitizer ---------------------------------------------------------------------------

SANITIZE = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MARKUP_PIECES = [
    "<",
    ">",
    "&",
    ";",
    "#",
    "/",
    "!",
    "?",
    "-",
    "[",
    " ",
    "\n",
    "\r",
    "&amp;",
    "&lt;",
    "<script>",
]
MARKUPISH = st.lists(st.one_of(ANY_CHAR, st.sampled_from([*MARKUP_PIECES, "<![", "&#x"])), max_size=60).map(
    "".join
)


@SANITIZE
@given(value=st.one_of(TEXTS, MARKUPISH), limit=st.integers(1, 9_000))
@example(value="&lt;script&gt;alert(1)&lt;/script&gt;", limit=8_000).via("decoded markup was stripped again")
@example(value="e\u200d\u0301", limit=8_000).via("dropping a joiner formed a new composition")
@example(value="a" * 7_999 + " b", limit=8_000).via("the cap left a trailing space")
@example(value="<b>null</b>", limit=8_000).via("nullish only after cleaning")
@example(value="hello <script", limit=8_000).via("an unterminated tag stayed")
@example(value="<![ x", limit=8_000).via("HTMLParser raised AssertionError")
def test_clean_text_is_idempotent_capped_and_inert(value: str, limit: int) -> None:
    cleaned = clean_text(value, limit=limit)
    assert clean_text(cleaned, limit=limit) == cleaned
    assert len(cleaned) <= limit
    assert_no_controls(cleaned)
    assert "<script" not in cleaned.lower()
    assert not is_nullish(cleaned)
    assert cleaned == cleaned.strip()


@SANITIZE
@given(value=VALUES, limit=st.integers(1, 300))
@example(value="null" + " " * 300 + "x", limit=FIELD_LIMIT).via(
    "cutting to the limit revealed a nullish value"
)
def test_clean_field_is_idempotent_capped_and_never_nullish(value: Any, limit: int) -> None:
    cleaned = clean_field(value, limit=limit)
    if cleaned is not None:
        assert clean_field(cleaned, limit=limit) == cleaned
        assert 0 < len(cleaned) <= limit
        assert not is_nullish(cleaned)
        assert_no_controls(cleaned)


@SANITIZE
@given(value=VALUES, limit=st.integers(1, 300))
def test_clean_id_is_never_a_truncated_id(value: Any, limit: int) -> None:
    cleaned = clean_id(value, limit=limit)
    if cleaned is not None:
        assert cleaned == clean_field(value, limit=10**9)
        assert len(cleaned) <= limit
