"""The console's HTML: every value from a task, an event or a queue goes through ``e`` (HTML-escaped, quotes
included), and a link is written only for an http(s) URL. Nothing here decides anything: the values come
from ``switchboard.operations``."""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

from switchboard.operations import ROUTES, TaskFilter, TaskRow

NAV = (
    ("/", "Tasks"),
    ("/attention", "Needs a person"),
    ("/dlq", "Dead letters"),
    ("/replay", "Replay"),
    ("/costs", "Costs"),
    ("/health", "Health"),
)
STATUSES = ("RECEIVED", "CLASSIFIED", "DECIDING", "DECIDED", "DISPATCHED", "WAITING", "DONE", "DROPPED",
            "NEEDS_HUMAN", "FAILED")  # fmt: skip


def e(value: Any) -> str:
    """HTML-escaped text, safe inside an element and inside a quoted attribute."""
    return html.escape("" if value is None else str(value), quote=True)


def href(url: str) -> str | None:
    """An external link's ``href``, only for http and https (never ``javascript:`` or ``data:``)."""
    return e(url) if url.startswith(("https://", "http://")) else None


def page(title: str, body: str, *, local: bool, target: str) -> str:
    links = [*NAV, ("/send", "Send a sample")] if local else list(NAV)
    nav = "".join(f'<a href="{e(path)}">{e(name)}</a>' for path, name in links)
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{e(title)} · Switchboard console</title>"
        '<meta name="htmx-config" content=\'{"includeIndicatorStyles": false, "allowEval": false}\'>'
        '<link rel="stylesheet" href="/static/console.css"><script src="/static/htmx.min.js"></script>'
        f"</head><body><header><strong>Switchboard · {e(target)}</strong>{nav}</header>"
        f"<main><h1>{e(title)}</h1>{body}</main></body></html>"
    )


def csrf_field(token: str) -> str:
    return f'<input type="hidden" name="csrf" value="{e(token)}">'


def options(values: Iterable[str], chosen: str, blank: str = "any") -> str:
    rows = [f'<option value="">{e(blank)}</option>']
    rows += [f'<option value="{e(v)}"{" selected" if v == chosen else ""}>{e(v)}</option>' for v in values]
    return "".join(rows)


def filter_form(where: TaskFilter, platforms: Iterable[str], *, form_id: str = "filters") -> str:
    return (
        f'<form id="{e(form_id)}" class="filters" method="get" action="/" '
        'hx-get="/fragments/tasks" hx-target="#rows" hx-trigger="change, submit">'
        f'<label>platform<select name="platform">{options(platforms, where.platform)}</select></label>'
        f'<label>status<select name="status">{options(STATUSES, where.status)}</select></label>'
        f'<label>route<select name="route">{options(ROUTES, where.route)}</select></label>'
        f'<label>author<input name="author" value="{e(where.author)}"></label>'
        f'<label>conversation<input name="conversation" value="{e(where.conversation)}"></label>'
        f'<label>since<input name="since" placeholder="2026-12-01T10:00" value="{e(where.since)}"></label>'
        f'<label>until<input name="until" value="{e(where.until)}"></label>'
        "<button type='submit'>Filter</button></form>"
    )


def task_rows(rows: list[TaskRow]) -> str:
    if not rows:
        return "<tr><td colspan='7'>no task yet: send an event</td></tr>"
    out = []
    for row in rows:
        replay = f' <span class="meta">replay of {e(row.replay_of)}</span>' if row.replay_of else ""
        out.append(
            f'<tr class="task" data-task="{e(row.task_id)}" data-event="{e(row.event_id)}">'
            f"<td>{e(row.at)}</td><td>{e(row.platform)}</td>"
            f'<td class="text"><a href="/tasks/{e(row.task_id)}">{e(row.text) or "(no text)"}</a>{replay}'
            f'<div class="meta">{e(row.author)} · {e(row.conversation)}</div></td>'
            f'<td><span class="status status-{e(row.status)}">{e(row.status)}</span></td>'
            f"<td>{e(row.route)}</td><td>${row.cost_usd:.6f}</td></tr>"
        )
    return "".join(out)


def tasks_table(where: TaskFilter, rows: list[TaskRow]) -> str:
    query = e(urlencode({k: v for k, v in vars(where).items() if v}))
    return (
        "<table><thead><tr><th>time</th><th>platform</th><th>text</th><th>status</th><th>route</th>"
        "<th>cost</th></tr></thead>"
        f'<tbody id="rows" hx-get="/fragments/tasks?{query}" hx-include="#filters" hx-trigger="every 2s" '
        f'hx-swap="innerHTML">{task_rows(rows)}</tbody></table>'
    )


def _llm(calls: list[dict[str, Any]]) -> str:
    if not calls:
        return ""
    rows = "".join(
        f"<tr><td>{e(c.get('tier'))}</td><td>{e(c.get('model'))}</td><td>{e(c.get('input_tokens'))}</td>"
        f"<td>{e(c.get('output_tokens'))}</td><td>${float(c.get('usd') or 0):.6f}</td>"
        f"<td>{e(c.get('latency_ms'))} ms</td><td>{'cached' if c.get('cached') else ''}</td></tr>"
        for c in calls
    )
    return (
        "<table class='llm'><tr><th>tier</th><th>model</th><th>in</th><th>out</th><th>cost</th>"
        f"<th>latency</th><th></th></tr>{rows}</table>"
    )


def _policy(verdicts: list[dict[str, Any]]) -> str:
    if not verdicts:
        return ""
    items = "".join(
        f"<li class='policy'>{'allowed' if v.get('allowed') else 'refused'}: {e(v.get('ability'))} "
        f"(chosen by {e(v.get('chosen_by'))}) — {e(v.get('reason'))}</li>"
        for v in verdicts
    )
    return f"<ul>{items}</ul>"


def plan_steps(steps: list[dict[str, Any]]) -> str:
    """A plan's steps as a layered graph: each step in the column after the last step it waits for."""
    if not steps:
        return ""
    names = [str(s.get("id") or s.get("name") or n) for n, s in enumerate(steps)]
    after = {
        name: [
            str(d) for d in (s.get("deps") or s.get("after") or s.get("depends_on") or s.get("needs") or [])
        ]
        for name, s in zip(names, steps, strict=True)
    }
    depth: dict[str, int] = {}

    def level(name: str, seen: frozenset[str] = frozenset()) -> int:
        if name not in depth:
            parents = [p for p in after.get(name, []) if p in after and p not in seen]
            depth[name] = 1 + max((level(p, seen | {name}) for p in parents), default=-1)
        return depth[name]

    layers: dict[int, list[str]] = {}
    for name, step in zip(names, steps, strict=True):
        waits = ", ".join(after[name])
        layers.setdefault(level(name), []).append(
            f'<div class="step">{e(name)} <span class="status status-{e(step.get("status"))}">'
            f"{e(step.get('status') or '?')}</span>"
            + (f'<div class="meta">after {e(waits)}</div>' if waits else "")
            + "</div>"
        )
    columns = "".join(f'<div class="layer">{"".join(layers[d])}</div>' for d in sorted(layers))
    return f'<div class="dag">{columns}</div>'


def timeline(entries: list[dict[str, Any]]) -> str:
    items = []
    for entry in entries:
        links = "".join(
            f' <a class="result" href="{link}" rel="noreferrer noopener">{e(url)}</a>'
            for url in entry["links"]
            if (link := href(url))
        )
        detail = json.dumps(entry["detail"], indent=1, sort_keys=True, default=str)
        items.append(
            f'<li class="kind-{e(entry["kind"])}">'
            f'<div class="meta">{e(entry["at"])} · {e(entry["kind"])}</div>'
            f"<strong>{e(entry['actor'])}</strong> {e(entry['transition'])}{links}"
            f"{_llm(entry['llm'])}{_policy(entry['policy'])}{plan_steps(entry['steps'])}"
            f"<pre>{e(detail)}</pre></li>"
        )
    return f'<ol class="timeline">{"".join(items)}</ol>'


def definition(pairs: Mapping[str, Any]) -> str:
    rows = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in pairs.items())
    return f"<table class='facts'>{rows}</table>"


def hidden(fields: Mapping[str, Any]) -> str:
    return "".join(f'<input type="hidden" name="{e(k)}" value="{e(v)}">' for k, v in fields.items())
