"""The console's HTTP server: loopback only, server-rendered pages, writes behind a confirmation.

Every read and write calls ``switchboard.operations`` through the CLI's helpers (``tools.cli``): the console
adds no logic of its own. A write (resolve, redrive, replay, send) is a form whose first submission shows
what it would do (a dry run where the operation has one) and asks for a confirmation; only the confirmed
submission writes, and the operations record it in the task's history with the operator's name.

Defences of a page on loopback: the server binds 127.0.0.1 and refuses any other ``Host`` (DNS rebinding);
every form carries a per-process token (a cross-site POST from another page in the operator's browser has
none); a Content-Security-Policy allows only the console's own script and style; nothing secret is rendered
(the credentials stay in the process). Event text is HTML-escaped everywhere (``render.e``).
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from switchboard import catalog, operations
from switchboard.errors import SwitchboardError
from tools import cli
from tools.console import render
from tools.console.render import e

logger = logging.getLogger("switchboard.console")

ROOT = Path(__file__).resolve().parents[2]
STATIC = Path(__file__).resolve().parent / "static"
HTMX = ROOT / "node_modules" / "htmx.org" / "dist" / "htmx.min.js"
EVENTS = ROOT / "events"
HOST = "127.0.0.1"
DEFAULT_PORT = 3100
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


class BadRequest(Exception):
    pass


@dataclass
class Answer:
    status: int
    body: bytes
    content_type: str = "text/html; charset=utf-8"


class Console:
    """What each page shows and each form does, over one stack (``cli.Target``)."""

    def __init__(self, target: cli.Target, *, operator: str, local: bool, name: str) -> None:
        self.target = target
        self.operator = operator
        self.local = local
        self.name = name
        self.token = secrets.token_urlsafe(24)

    # -- plumbing --------------------------------------------------------------------------------------------

    def store(self) -> Any:
        return cli._store(self.target)

    def page(self, title: str, body: str, status: int = 200) -> Answer:
        text = render.page(title, body, local=self.local, target=self.name)
        return Answer(status, text.encode())

    def form(self, action: str, fields: str, button: str) -> str:
        return (
            f'<form method="post" action="{e(action)}">{render.csrf_field(self.token)}{fields}'
            f"<button type='submit'>{e(button)}</button></form>"
        )

    def confirm(self, action: str, values: dict[str, Any], what: str) -> str:
        """The second step of every write: the same values and ``confirm=yes``."""
        return self.form(action, render.hidden({**values, "confirm": "yes"}), f"Confirm: {what}")

    # -- GET -------------------------------------------------------------------------------------------------

    def tasks_page(self, query: dict[str, str]) -> Answer:
        where = filter_of(query)
        rows = operations.list_tasks(self.store(), where)
        body = render.filter_form(where, catalog.platforms()) + render.tasks_table(where, rows)
        return self.page("Events and tasks", body)

    def tasks_fragment(self, query: dict[str, str]) -> Answer:
        return Answer(200, render.task_rows(operations.list_tasks(self.store(), filter_of(query))).encode())

    def task_page(self, task_id: str, notice: str = "") -> Answer:
        task = self.store().get(task_id)
        row = operations.row_of(task)
        try:
            event = task.inbound_event()
            text, author = event.text, event.author or ""
        except SwitchboardError:
            text, author = "", ""
        facts = render.definition(
            {
                "task": task.task_id,
                "event": task.event_id,
                "platform": task.platform,
                "author": author,
                "conversation": task.conversation,
                "status": task.status.value,
                "reason": task.reason or "",
                "route": row.route,
                "cost": f"${row.cost_usd:.6f}",
                "replay of": row.replay_of or "",
            }
        )
        parts = [notice, f'<div class="panel">{facts}<pre class="event-text">{e(text)}</pre></div>']
        if task.status.value in ("NEEDS_HUMAN", "FAILED"):
            parts.append(self.resolve_form(task))
        parts.append(
            '<div class="panel"><h2>Replay this event</h2>'
            + self.form(
                "/replay",
                render.hidden({"task": task.task_id})
                + '<label><input type="checkbox" name="fresh" value="yes"> fresh (act again even if '
                "its action ran)</label> ",
                "Replay…",
            )
            + "</div>"
        )
        from tools.cli.plans import plan_view  # what `switchboard trace` shows of a planned task

        for plan in plan_view(task.to_json()) or []:
            title = f"Plan {plan['number']}: {plan.get('goal') or plan.get('rejected') or '?'}"
            parts.append(
                f'<div class="panel plan"><h2>{e(title)}</h2>{render.plan_steps(plan["steps"])}</div>'
            )
        parts.append("<h2>Timeline</h2>" + render.timeline(operations.timeline(task)))
        return self.page(f"Task {task.task_id}", "".join(parts))

    def resolve_form(self, task: Any) -> str:
        abilities = operations.resolvable_abilities(task)
        choices = "".join(f'<option value="{e(name)}">{e(name)}</option>' for name in abilities)
        close = (
            "<label><input type='radio' name='how' value='close'> close with a note (DROPPED)</label>"
            if task.status.value == "NEEDS_HUMAN"
            else ""
        )
        return (
            '<div class="panel"><h2>Resolve</h2>'
            + self.form(
                f"/tasks/{task.task_id}/resolve",
                "<label><input type='radio' name='how' value='action' checked> take an action</label> "
                f"{close}<br><label>ability <select name='ability'>{choices}</select></label> "
                "<label>parameters (JSON) <input name='params' size='50' value='{}'></label><br>"
                f"<label>note <input name='note' size='50'></label> "
                f"<label>by <input name='by' value='{e(self.operator)}'></label>",
                "Resolve…",
            )
            + "</div>"
        )

    def attention_page(self) -> Answer:
        tasks = operations.needing_a_person(self.store())
        if not tasks:
            return self.page("Needs a person", "<p>Nothing needs a person.</p>")
        rows = "".join(
            f'<tr><td><a href="/tasks/{e(t.task_id)}">{e(t.task_id)}</a></td>'
            f'<td><span class="status status-{e(t.status.value)}">{e(t.status.value)}</span></td>'
            f"<td>{e(t.platform)}</td><td>{e(t.conversation)}</td><td>{e(t.reason)}</td>"
            f'<td class="text">{e(operations.row_of(t).text)}</td></tr>'
            for t in tasks
        )
        table = (
            "<table><tr><th>task</th><th>status</th><th>platform</th><th>conversation</th><th>reason</th>"
            f"<th>text</th></tr>{rows}</table>"
        )
        return self.page("Needs a person", table)

    def dlq_page(self, notice: str = "") -> Answer:
        from switchboard.dlq import summarize

        dead = cli._dead_letters(self.target)
        depths = dead.depths()
        history_of, breaker_open = cli._lookups(self.target)
        letters = dead.read(history_of, breaker_open) if any(depths.values()) else []
        rows = []
        for queue, depth in depths.items():
            mine = [letter for letter in letters if letter.queue == queue]
            categories = summarize(mine)["categories"]
            forms = "".join(
                f"<div>{e(c['count'])} x <code>{e(c['category'])}</code> "
                + self.form(
                    "/dlq/redrive",
                    render.hidden({"queue": queue, "category": c["category"]}),
                    "Redrive (dry run first)…",
                )
                + "</div>"
                for c in categories
            )
            rows.append(
                f'<tr data-queue="{e(queue)}"><td>{e(queue)}</td><td class="depth">{e(depth)}</td>'
                f"<td>{forms}</td></tr>"
            )
        table = "<table><tr><th>queue</th><th>depth</th><th>triage</th></tr>" + "".join(rows) + "</table>"
        return self.page("Dead letters", notice + table)

    def replay_page(self, query: dict[str, str]) -> Answer:
        where = filter_of(query)
        fields = render.filter_form(where, catalog.platforms(), form_id="replay-filters")
        # the filter form posts to the replay action instead of refreshing the list
        fields = fields.replace('action="/"', 'action="/replay"').replace(
            'hx-get="/fragments/tasks" hx-target="#rows" hx-trigger="change, submit"', ""
        )
        chooser = fields.replace('method="get"', 'method="post"').replace(
            "<button type='submit'>Filter</button>",
            render.csrf_field(self.token)
            + '<label><input type="checkbox" name="fresh" value="yes"> fresh</label>'
            + "<button type='submit'>Choose events (dry run)…</button>",
        )
        return self.page(
            "Replay",
            "<p>Choose past events by time range, platform, route and status (a dry run first).</p>"
            + chooser,
        )

    def costs_page(self) -> Answer:
        from switchboard.dynamo import DynamoBudgetLedger

        ledger = DynamoBudgetLedger(self.target.output("MemoryTableName"), self.target.client("dynamodb"))
        report = operations.costs(self.store(), ledger, cli.daily_cap_usd(self.target))
        rows = "".join(
            f"<tr><td>{e(d['day'])}</td><td>${d['usd']:.4f}</td>"
            f"<td>{e(', '.join(f'{t} ${u:.4f}' for t, u in sorted(d['tiers'].items())))}</td>"
            f"<td>{e(usd(d['ledger_usd']))}</td><td>{e(usd(d['cap_usd']))}</td>"
            f"<td>{e(percent(d['share_of_cap']))}</td></tr>"
            for d in report["days"]
        )
        share = report["share_without_model"]
        summary = (
            f"<p>{e(report['settled_without_model'])} of {e(report['tasks'])} task(s) settled without a "
            f"model ({e(percent(share))}).</p>"
        )
        table = (
            "<table><tr><th>day (UTC)</th><th>spent</th><th>per tier</th><th>budget ledger (reserved)</th>"
            f"<th>daily cap (USD)</th><th>of cap</th></tr>{rows}</table>"
        )
        return self.page("Costs", summary + table)

    def health_page(self) -> Answer:
        url = self.target.output("ApiUrl").rstrip("/") + "/health"
        status, document = fetch_json(url)
        stages = document.get("stages", []) if isinstance(document, dict) else []
        rows = "".join(
            f'<tr data-stage="{e(s.get("stage"))}"><td>{e(s.get("stage"))}</td><td>{e(s.get("state"))}</td>'
            f"<td>{e(s.get('last_finished') or 'never')}</td><td>{e(s.get('waiting'))}</td>"
            f"<td>{e(s.get('threshold_seconds'))} s</td></tr>"
            for s in stages
            if isinstance(s, dict)
        )
        head = f"<p>GET {e(url)} → <strong>{e(status)}</strong> {e(document.get('status', ''))}</p>"
        table = (
            "<table><tr><th>stage</th><th>state</th><th>last finished work</th><th>waiting</th>"
            f"<th>threshold</th></tr>{rows}</table>"
        )
        return self.page("Health", head + table)

    def send_page(self, notice: str = "") -> Answer:
        if not self.local:
            raise BadRequest("samples are sent to the local runtime only")
        files = sample_files()
        choices = "".join(f'<option value="{e(name)}">{e(name)}</option>' for name in files)
        form = self.form("/send", f"<label>sample <select name='file'>{choices}</select></label> ", "Send")
        return self.page("Send a sample", notice + "<p>Signed as the platform signs it.</p>" + form)

    # -- POST ------------------------------------------------------------------------------------------------

    def resolve(self, task_id: str, form: dict[str, str]) -> Answer:
        from switchboard.abilities import ability
        from switchboard.models import Service
        from switchboard.sqs import SqsQueueSender

        by = form.get("by", "").strip() or self.operator
        note = form.get("note", "")
        store = self.store()
        values = {k: form.get(k, "") for k in ("how", "ability", "params", "note", "by")}
        if form.get("how") == "close":
            if not note:
                raise BadRequest("closing a task needs a note that says why")
            if form.get("confirm") != "yes":
                return self.page("Confirm", self.confirm(f"/tasks/{task_id}/resolve", values, "close it"))
            operations.resolve_closed(store, task_id, by=by, note=note)
            return self.task_page(task_id, '<p class="ok">Closed.</p>')
        name = form.get("ability", "")
        try:
            params = json.loads(form.get("params") or "{}")
        except ValueError as exc:
            raise BadRequest(f"the parameters are not JSON: {exc}") from None
        if not isinstance(params, dict):
            raise BadRequest("the parameters are a JSON object")
        task = store.get(task_id)
        if name not in operations.resolvable_abilities(task):
            raise BadRequest(f"{name} is not offered for this task")
        bound = ability(name).bound_params(task.inbound_event(), params)  # the CLI's validation, early
        if form.get("confirm") != "yes":
            what = f"{name} {json.dumps(bound, sort_keys=True)}"
            return self.page(
                "Confirm", f"<p>{e(what)}</p>" + self.confirm(f"/tasks/{task_id}/resolve", values, "resolve")
            )
        urls = json.loads(self.target.output("QueueUrls"))
        operations.resolve_with_action(
            store,
            SqsQueueSender(self.target.client("sqs")),
            lambda service: urls[f"act-{Service(service).value}"],
            task_id,
            by=by,
            ability_name=name,
            params=params,
            note=note,
        )
        return self.task_page(task_id, f'<p class="ok">Resolved by {e(by)} with {e(name)}.</p>')

    def redrive(self, form: dict[str, str]) -> Answer:
        queue, category = form.get("queue", ""), form.get("category") or None
        history_of, breaker_open = cli._lookups(self.target)
        dry = form.get("confirm") != "yes"
        result = operations.redrive(
            cli._dead_letters(self.target),
            self.store(),
            queue,
            by=self.operator,
            category=category,
            dry_run=dry,
            history_of=history_of,
            breaker_open=breaker_open,
        )
        if dry:
            what = f"move {result.moved} message(s) of {category or 'every category'} back to {queue}"
            body = (
                f"<p class='dry-run'>Dry run: would move {e(result.moved)} message(s) back to {e(queue)}, "
                f"keep {e(result.kept)}.</p>"
                + self.confirm("/dlq/redrive", {"queue": queue, "category": category or ""}, what)
            )
            return self.page("Redrive: dry run", body)
        notice = f'<p class="ok">Moved {e(result.moved)} message(s) back to {e(queue)}.</p>'
        return self.dlq_page(notice)

    def replay(self, form: dict[str, str]) -> Answer:
        store = self.store()
        fresh = form.get("fresh") == "yes"
        task_ids = [t for t in form.get("task", "").split(",") if t] or operations.select_for_replay(
            store, filter_of(form)
        )
        if not task_ids:
            raise BadRequest("no past event matches these filters")
        dry = form.get("confirm") != "yes"
        outcomes = operations.replay(store, cli.door(self.target), task_ids, by=self.operator, fresh=fresh,
                                     dry_run=dry)  # fmt: skip
        rows = "".join(
            f'<tr class="replay-outcome" data-task="{e(o.task_id)}"><td><a href="/tasks/{e(o.task_id)}">'
            f"{e(o.task_id)}</a></td><td>{'replay' if o.replayed else 'skip'}</td>"
            f"<td>{e(o.delivery_id or '')}</td><td>{e(o.reason)}</td></tr>"
            for o in outcomes
        )
        table = (
            f"<table><tr><th>task</th><th>verdict</th><th>new delivery</th><th>why</th></tr>{rows}</table>"
        )
        if dry:
            count = sum(1 for o in outcomes if o.replayed)
            values = {"task": ",".join(task_ids), "fresh": "yes" if fresh else ""}
            confirm = self.confirm("/replay", values, f"replay {count} event(s)") if count else ""
            return self.page("Replay: dry run", "<p class='dry-run'>Dry run.</p>" + table + confirm)
        return self.page("Replayed", "<p class='ok'>Done.</p>" + table)

    def send(self, form: dict[str, str]) -> Answer:
        if not self.local:
            raise BadRequest("samples are sent to the local runtime only")
        name = form.get("file", "")
        if name not in sample_files():
            raise BadRequest("not a sample in events/")
        path = EVENTS / name
        platform = path.parent.name
        body = path.read_bytes()
        delivery = secrets.token_hex(16)
        secret = cli.webhook_secret(platform, self.target)
        headers = cli.signed_headers(platform, body, path.name.split(".")[0], delivery, secret)
        status, answer = cli.post(
            self.target.output("ApiUrl").rstrip("/") + f"/webhooks/{platform}", body, headers
        )
        notice = f"<p class='ok'>POST /webhooks/{e(platform)} → {e(status)} {e(json.dumps(answer))}</p>"
        return self.send_page(notice)


def usd(value: float | None) -> str:
    return "?" if value is None else f"${value:.4f}"


def percent(value: float | None) -> str:
    return "" if value is None else f"{value:.1%}"


def filter_of(query: dict[str, str]) -> operations.TaskFilter:
    fields = ("platform", "status", "route", "author", "conversation", "since", "until")
    return operations.TaskFilter(**{name: query.get(name, "").strip() for name in fields})


def sample_files() -> list[str]:
    platforms = set(catalog.webhook_platforms())
    return sorted(
        str(path.relative_to(EVENTS)) for path in EVENTS.glob("*/*.json") if path.parent.name in platforms
    )


def fetch_json(url: str) -> tuple[int, dict[str, Any]]:
    if not url.startswith(("http://", "https://")):
        raise BadRequest(f"not an http(s) URL: {url}")
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (the stack's own API)
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        document = json.loads(raw)
    except ValueError:
        document = {"status": raw.decode(errors="replace")[:200]}
    return status, document if isinstance(document, dict) else {"status": str(document)}


# ---------------------------------------------------------------- HTTP


def handler_for(console: Console, allowed_hosts: set[str]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "switchboard-console"

        def log_message(self, format: str, *args: Any) -> None:
            logger.debug(format, *args)

        def do_GET(self) -> None:
            self._answer(self._get)

        def do_POST(self) -> None:
            self._answer(self._post)

        def _answer(self, route: Callable[[str, dict[str, str]], Answer]) -> None:
            if self.headers.get("Host", "") not in allowed_hosts:
                answer = Answer(421, b"this console answers on loopback only")
            else:
                parts = urlsplit(self.path)
                try:
                    answer = route(parts.path, {k: v[-1] for k, v in parse_qs(parts.query).items()})
                except (BadRequest, SwitchboardError, cli.CliError, ValueError, KeyError) as exc:
                    answer = console.page("Refused", f'<p class="error">{e(exc)}</p>', HTTPStatus.BAD_REQUEST)
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(answer.body)))
            self.send_header("Content-Security-Policy", CSP)
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Referrer-Policy", "no-referrer")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(answer.body)

        def _get(self, path: str, query: dict[str, str]) -> Answer:
            if path == "/static/htmx.min.js":
                return Answer(200, HTMX.read_bytes(), "text/javascript; charset=utf-8")
            if path == "/static/console.css":
                return Answer(200, (STATIC / "console.css").read_bytes(), "text/css; charset=utf-8")
            pages: dict[str, Callable[[], Answer]] = {
                "/": lambda: console.tasks_page(query),
                "/fragments/tasks": lambda: console.tasks_fragment(query),
                "/attention": console.attention_page,
                "/dlq": console.dlq_page,
                "/replay": lambda: console.replay_page(query),
                "/costs": console.costs_page,
                "/health": console.health_page,
                "/send": console.send_page,
            }
            if path in pages:
                return pages[path]()
            if path.startswith("/tasks/") and path.count("/") == 2:
                return console.task_page(path.removeprefix("/tasks/"))
            return console.page("Not found", "<p>No such page.</p>", HTTPStatus.NOT_FOUND)

        def _post(self, path: str, query: dict[str, str]) -> Answer:
            length = int(self.headers.get("Content-Length") or 0)
            if length > 64 * 1024:
                raise BadRequest("form too large")
            form = {k: v[-1] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            if not hmac.compare_digest(form.get("csrf", ""), console.token):
                return Answer(403, b"this form did not come from this console")
            if path == "/dlq/redrive":
                return console.redrive(form)
            if path == "/replay":
                return console.replay(form)
            if path == "/send":
                return console.send(form)
            if path.startswith("/tasks/") and path.endswith("/resolve"):
                return console.resolve(path.split("/")[2], form)
            return console.page("Not found", "<p>No such form.</p>", HTTPStatus.NOT_FOUND)

    return Handler


class ConsoleServer:
    """The console on 127.0.0.1:``port`` (a taken port falls back to a free one), in a thread."""

    def __init__(self, console: Console, port: int = DEFAULT_PORT) -> None:
        try:
            self.httpd = ThreadingHTTPServer((HOST, port), handler_for(console, set()))
        except OSError:
            self.httpd = ThreadingHTTPServer((HOST, 0), handler_for(console, set()))
        self.port = int(self.httpd.server_address[1])
        hosts = {f"{HOST}:{self.port}", f"localhost:{self.port}"}
        self.httpd.RequestHandlerClass = handler_for(console, hosts)
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> ConsoleServer:
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="console", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)


def serve(target: cli.Target, *, port: int, operator: str, local: bool, name: str) -> int:
    server = ConsoleServer(Console(target, operator=operator, local=local, name=name), port)
    print(f"Switchboard console on {server.url}  (loopback only; Ctrl-C stops it)", flush=True)
    try:
        server.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()
    return 0
