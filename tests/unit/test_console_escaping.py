"""The console's HTML: whatever an event, a task or a queue carries is text on the page, never markup. A
hostile string (random text mixed with tags, quotes, entities and script URLs) leaves no element, no attribute
and no link the renderer did not write itself, and reads back exactly as it came."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from switchboard.operations import TaskRow
from tools.console import render

FRAGMENTS = [
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "\"'><svg onload=alert(1)>", "</td></tr>",
    "javascript:alert(1)", "&lt;b&gt;", "&amp;", "<!--", "-->", "<a href='http://evil'>", "`", "{{7*7}}",
    "hx-get=/x", "<style>", "]]>", "\u202e", "<tbody>", "' onmouseover='x",
]  # fmt: skip
hostile = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=20)), max_size=8).map("".join)


class Parsed(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(markup: str) -> Parsed:
    parsed = Parsed()
    parsed.feed(markup)
    parsed.close()
    return parsed


def row(text: str, other: str) -> TaskRow:
    return TaskRow(other, other, other, other, other, other, other, other, text, 0.5, other)


@given(text=hostile, other=hostile)
def test_a_task_row_writes_only_its_own_elements_and_reads_back_as_given(text: str, other: str) -> None:
    parsed = parse(render.task_rows([row(text, other)]))
    replay = ["span"] if other else []  # the replay marker, when there is one
    assert [tag for tag, _ in parsed.tags] == [
        "tr",
        "td",
        "td",
        "td",
        "a",
        *replay,
        "div",
        "td",
        "span",
        "td",
        "td",
    ]
    assert all(not name.startswith("on") for _, attrs in parsed.tags for name in attrs)
    [(_, link)] = [(tag, attrs) for tag, attrs in parsed.tags if tag == "a"]
    assert link["href"] == f"/tasks/{other}"
    assert text in "".join(parsed.text) and other in "".join(parsed.text)


@given(actor=hostile, detail=hostile, url=hostile)
def test_a_timeline_entry_links_only_to_http_urls_and_shows_the_rest_as_text(
    actor: str, detail: str, url: str
) -> None:
    entry: dict[str, Any] = {
        "at": detail, "actor": actor, "transition": detail, "kind": "action", "detail": {"body": detail},
        "llm": [{"tier": actor, "model": detail, "usd": 0.1}],
        "policy": [{"ability": actor, "reason": detail}],
        "links": [url, "https://github.com/o/r/issues/1#issuecomment-1"],
        "steps": [{"id": actor, "after": [detail]}],
    }  # fmt: skip
    parsed = parse(render.timeline([entry]))
    allowed = {"ol", "li", "div", "strong", "a", "table", "tr", "th", "td", "ul", "span", "pre"}
    assert {tag for tag, _ in parsed.tags} <= allowed
    links = [attrs["href"] for tag, attrs in parsed.tags if tag == "a"]
    assert all(href and href.startswith(("http://", "https://")) for href in links)
    assert "https://github.com/o/r/issues/1#issuecomment-1" in links
    assert actor in "".join(parsed.text)


@given(value=hostile)
def test_escaped_text_is_safe_in_a_quoted_attribute(value: str) -> None:
    parsed = parse(f'<input name="x" value="{render.e(value)}">')
    assert parsed.tags == [("input", {"name": "x", "value": value})]


def test_a_plan_note_as_the_engine_writes_it_draws_each_step_after_its_deps() -> None:
    from switchboard.plans.engine import _steps_view
    from switchboard.plans.model import Plan

    plan = Plan.model_validate(
        {
            "goal": "answer from the ticket",
            "steps": [
                {"id": "search", "kind": "lookup", "tool": "tickets.search", "params": {"query": "login"}},
                {"id": "read", "kind": "lookup", "tool": "tickets.get", "deps": ["search"]},
            ],
        }
    )
    entry: dict[str, Any] = {
        "at": "t", "actor": "plan", "transition": "note", "kind": "plan", "detail": {}, "llm": [],
        "policy": [], "links": [], "steps": _steps_view(plan),
    }  # fmt: skip
    page = render.timeline([entry])
    assert "after search" in page
    assert page.count("after ") == 1


def test_a_plan_s_steps_show_the_status_trace_gives_them() -> None:
    from tools.cli.plans import plan_view

    steps = [{"id": "search", "deps": []}, {"id": "read", "deps": ["search"]}]
    planned = {"plan": {"number": 1, "goal": "g", "steps": steps}}
    judged = {"plan_eval": {"plan": 1, "step": "search", "passed": True}}
    task = {
        "history": [
            {"at": "2026-12-02T00:00:00+00:00", "detail": planned},
            {"at": "2026-12-02T00:00:01+00:00", "detail": judged},
        ]
    }
    [plan] = plan_view(task) or []
    page = render.plan_steps(plan["steps"])
    assert "status-done" in page and "status-not run" in page
    assert "after search" in page
