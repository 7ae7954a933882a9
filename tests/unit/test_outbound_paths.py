"""Outbound request paths act on the resource named, and only on it.

Every segment an executor puts in a path is checked against the platform's rules and percent-encoded, and the
one place requests are made (``JsonHttpClient.send``) refuses a path with a segment that is, or decodes to,
``.`` or ``..``. Generated segments (dots, slashes, percent-encodings of both, unicode, empty) either are
refused with a ``PermanentActionError`` or reach the path as exactly one segment that decodes back to them.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.actions import http as http_module
from switchboard.actions.github import GitHubExecutor
from switchboard.actions.http import HttpCall, JsonHttpClient
from switchboard.actions.tickets import TicketsExecutor
from switchboard.errors import PermanentActionError
from switchboard.models import ActionRequest, Service

SETTINGS = settings(max_examples=300, deadline=None)
TRICKY = [
    ".",
    "..",
    "...",
    "%2e",
    "%2E%2e",
    ".%2e",
    "%252e%252e",
    "%25252e",
    "",
    "/",
    "a/b",
    "..%2f",
    "%2f..",
    "\\..",
    "..\\",
    "é",
    "\uff41\uff42",  # fullwidth letters
    "\u2024\u2024",
    "a b",
    "a?b",
    "a#b",
    "%",
    "%zz",
    "\x00",
    "-a",
    "a-",
]
pieces = st.one_of(
    st.sampled_from(TRICKY), st.text(max_size=12), st.from_regex(r"[A-Za-z0-9._-]{1,12}", fullmatch=True)
)
segments = st.lists(pieces, min_size=1, max_size=3).map("".join)
numbers = st.one_of(st.integers(-5, 2**64), st.booleans(), segments, st.none())


def decoded_parts(path: str) -> list[str]:
    """The path's segments after percent-decoding to a fixed point (an independent reading of the path)."""
    text = path.split("?", 1)[0]
    for _ in range(16):
        again = unquote(text, errors="replace")
        if again == text:
            break
        text = again
    return re.split(r"[/\\]", text)


def github_action(ability: str, repo: Any, number: Any) -> ActionRequest:
    extras: dict[str, dict[str, Any]] = {
        "github.add_labels": {"labels": ["bug"]},
        "github.comment": {"body": "hi"},
        "github.assign": {"assignees": ["mona"]},
    }
    extra = extras.get(ability, {})
    return ActionRequest(
        action_id="tsk_1#0",
        task_id="tsk_1",
        event_id="d-1",
        ordinal=0,
        service=Service.GITHUB,
        ability=ability,
        params={"repo": repo, "number": number, **extra},
        conversation="c",
    )


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: Any, **__: Any) -> Any:
        raise AssertionError("a request was made")

    monkeypatch.setattr(http_module.urllib.request, "urlopen", refuse)


@SETTINGS
@given(
    owner=segments,
    name=segments,
    number=numbers,
    ability=st.sampled_from(["github.add_labels", "github.comment", "github.assign", "github.close"]),
)
def test_a_github_path_has_exactly_its_owner_repo_and_number_or_is_refused(
    owner: str, name: str, number: Any, ability: str
) -> None:
    executor = GitHubExecutor("https://api.github.local", "t", 1.0)
    try:
        call = executor.describe(github_action(ability, f"{owner}/{name}", number))
    except PermanentActionError:
        return
    raw = call.path.split("/")
    assert raw[:2] == ["", "repos"] and raw[4] == "issues"
    assert [unquote(raw[2]), unquote(raw[3]), raw[5]] == [owner, name, str(number)]
    assert not {".", ".."} & set(decoded_parts(call.path))


@SETTINGS
@given(repo=st.one_of(segments, st.none(), st.integers()), number=numbers)
def test_a_repository_that_is_not_owner_slash_name_is_refused_before_any_request(
    repo: Any, number: Any
) -> None:
    executor = GitHubExecutor("https://api.github.local", "t", 1.0)
    action = github_action("github.comment", repo, number)
    try:
        call = executor.describe(action)
    except PermanentActionError:  # refused: then the look for an earlier effect is refused too, unsent
        with pytest.raises(PermanentActionError):
            executor.find_effect(action)
        return
    # a valid owner/name (the generator can build one, "a/b"): its path holds no dot segment
    assert isinstance(call, HttpCall)
    assert not {".", ".."} & set(decoded_parts(call.path))


@pytest.mark.parametrize(
    "repo",
    [
        "../..",
        "../../orgs",
        "octo/..",
        "./demo",
        "%2e%2e/demo",
        "octo/%2E%2E",
        "octo/a/b",
        "octo",
        "/demo",
        "octo/",
    ],
)
def test_the_documented_attacks_are_refused(repo: str) -> None:
    executor = GitHubExecutor("https://api.github.local", "t", 1.0)
    with pytest.raises(PermanentActionError):
        executor.describe(github_action("github.add_labels", repo, 7))


def test_real_names_pass_unchanged() -> None:
    executor = GitHubExecutor("https://api.github.local", "t", 1.0)
    call = executor.describe(github_action("github.add_labels", "octo-org/my.repo_name-2", 7))
    assert call.path == "/repos/octo-org/my.repo_name-2/issues/7/labels"
    assert TicketsExecutor.read_call("TCK-12:a.b").path == "/tickets/TCK-12%3Aa.b"


@SETTINGS
@given(ticket_id=st.one_of(segments, st.integers(), st.none()))
def test_a_ticket_id_is_one_safe_segment_or_is_refused(ticket_id: Any) -> None:
    try:
        call = TicketsExecutor.read_call(ticket_id)
    except PermanentActionError:
        return
    raw = call.path.split("/")
    assert raw[:2] == ["", "tickets"] and len(raw) == 3 and unquote(raw[2]) == str(ticket_id)
    assert not {".", ".."} & set(decoded_parts(call.path))


DOTS = st.sampled_from([".", "..", "%2e", "%2E", "%2e%2e", ".%2E", "%252e%252e", "%25252E%2525252e"])
plain = st.from_regex(r"[A-Za-z0-9_-]{1,8}", fullmatch=True)


@SETTINGS
@given(
    before=st.lists(plain, max_size=3),
    dots=DOTS,
    after=st.lists(plain, max_size=3),
    separator=st.sampled_from(["/", "%2F", "%2f", "\\", "%5C"]),
)
def test_send_refuses_a_path_with_a_dot_segment_in_any_encoding(
    before: list[str], dots: str, after: list[str], separator: str
) -> None:
    path = "/" + "/".join([*before, "x" + separator + dots + separator + "y", *after])
    client = JsonHttpClient("github", "https://api.github.local", {}, 1.0)
    with pytest.raises(PermanentActionError, match="not a safe request path"):
        client.send(HttpCall("POST", path, {}))
    with pytest.raises(PermanentActionError):
        client.send(HttpCall("GET", "/" + "/".join([*before, dots, *after])))


def test_send_lets_dots_inside_a_segment_and_in_the_query_through(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    class Answer:
        status = 200
        headers: dict[str, str] = {}

        def __enter__(self) -> Answer:
            return self

        def __exit__(self, *_: Any) -> None:
            return None

        def read(self, _: int) -> bytes:
            return b""

    def record(request: Any, timeout: float) -> Answer:
        seen.append(request.full_url)
        return Answer()

    monkeypatch.setattr(http_module.urllib.request, "urlopen", record)
    client = JsonHttpClient("github", "https://api.github.local", {}, 1.0)
    client.send(HttpCall("GET", "/repos/a.b/c..d/issues?q=../.."))
    assert seen == ["https://api.github.local/repos/a.b/c..d/issues?q=../.."]
