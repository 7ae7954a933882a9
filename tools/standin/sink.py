"""The recording sink: a loopback HTTP server that answers like the external APIs and records every call.

The first path segment is the service: the local runtime points each act function's `SERVICE_API_URL` at
`{sink}/{service}`. A service answers like the API its catalog entry speaks (`ServiceSpec.speaks`: escalate
speaks Slack's). What it answers (anything else: 404 JSON):
- `/github`:
  `POST /repos/{o}/{r}/issues/{n}/labels` → 200, the issue's labels;
  `POST /repos/{o}/{r}/issues/{n}/comments` → 201, the comment (`GET` → 200, the issue's comments, oldest
  first, as one page);
  `PATCH /repos/{o}/{r}/issues/{n}` → 200, the issue (`GET` too);
  `POST /repos/{o}/{r}/issues/{n}/assignees` → 201, the issue;
  `DELETE /repos/{o}/{r}/issues/{n}/labels/{name}` → 200, the remaining labels;
  `GET /search/issues?q=WORDS+repo:o/r` → 200 `{"total_count", "incomplete_results", "items"}` over the seeded
  issues (`tools/standin/lookup_seed.py`), whose fields `GET /repos/{o}/{r}/issues/{n}` also answers with.
- `/slack` and `/escalate` (the Slack Web API): `POST /chat.postMessage` (JSON or form) → 200
  `{"ok": true, "channel", "ts", "message"}`, or `{"ok": false, "error": ...}` as Slack does; the posted
  messages read back with `GET /conversations.history?channel=C` (newest first, top level) and
  `GET /conversations.replies?channel=C&ts=T` (the thread, oldest first), each one page, with their
  `metadata` when `include_all_metadata=true`.
- `/tickets`: `POST /tickets` → 201 `{"id", "status": "open", "url": null}` (an `Idempotency-Key` header
  replays the first answer); `GET /tickets/{id}` → 200 `{"id", "status", "url"}`, where the `url` appears
  from the N-th read of that ticket on (N = 1 by default: at once; `configure_tickets(url_after_reads=N)`, or
  `None` for never, so that tests can exercise staged follow-ups); `GET /tickets?idempotency_key=K` (the
  fallback lookup) → 200 `{"tickets": [{"id", "status", "url"}]}`, the tickets created with that key, always
  with their `url`; `GET /tickets?q=WORDS` (the plans' search) → 200 `{"tickets": [...]}` over the seeded
  tickets, which `GET /tickets/{id}` answers with in full.

Every service call needs an `Authorization` header, as the real APIs do (401, or Slack's `not_authed`).

Control endpoints:
- `GET /_outbox[?service=github]` → the recorded calls, oldest first, each
  `{service, method, path, query, headers, body, status, response, at}`; the `Authorization` header is
  replaced by a fingerprint (see `fingerprint`). `DELETE /_outbox` clears them.
- `POST /_faults` `{"service", "status", "times": 1, "body": {...}, "headers": {...}}`: the next `times`
  calls to that service get that answer instead. `DELETE /_faults` clears the faults.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from switchboard import catalog
from tools.local.loopback import ServerThread
from tools.standin import lookup_seed

logger = logging.getLogger("switchboard.local")

_GITHUB_DOCS: Final = "https://docs.github.com/rest"
_REDACTED_HEADERS: Final = frozenset({"authorization", "x-api-key"})


def fingerprint(secret: str) -> str:
    """How the outbox shows a credential: `sha256:` + the first 12 hex digits of its SHA-256."""
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()[:12]


def redact_authorization(value: str) -> str:
    """`Bearer xoxb-…` → `Bearer sha256:…` (the scheme stays readable, the credential does not)."""
    scheme, _, credential = value.partition(" ")
    if credential:
        return f"{scheme} {fingerprint(credential)}"
    return fingerprint(value)


@dataclass
class Reply:
    status: int
    document: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Fault:
    status: int
    times: int
    body: Any
    headers: dict[str, str]


class _State:
    """Everything the sink remembers; one lock guards it all."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[dict[str, Any]] = []
        self.issues: dict[tuple[str, str, int], dict[str, Any]] = {}
        self.comments: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
        self.messages: dict[str, list[dict[str, Any]]] = {}  # Slack channel → posted messages, oldest first
        self.tickets: dict[str, dict[str, Any]] = {}
        self.idempotent: dict[str, Reply] = {}
        self.faults: dict[str, _Fault] = {}
        self.ids = itertools.count(1001)
        self.ticket_url_after_reads: int | None = 1


class RecordingSink:
    """Start it alone in a test (`with RecordingSink() as sink: ...`) or let the runtime start it."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._address = (host, port)
        self._state = _State()
        self._loop: ServerThread | None = None

    def start(self) -> RecordingSink:
        self._loop = ServerThread(_SinkServer(self._address, self._state), "sink").start()
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.stop()
            self._loop = None

    def __enter__(self) -> RecordingSink:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._loop is None:
            raise RuntimeError("the sink is not running")
        return self._loop.url

    def calls(self, service: str | None = None) -> list[dict[str, Any]]:
        with self._state.lock:
            return [dict(call) for call in self._state.calls if service in (None, call["service"])]

    def clear(self) -> int:
        with self._state.lock:
            count = len(self._state.calls)
            self._state.calls.clear()
            return count

    def configure_tickets(self, *, url_after_reads: int | None = 1) -> None:
        """A ticket's `url` shows from its `url_after_reads`-th `GET /tickets/{id}` on (None: never)."""
        if url_after_reads is not None and url_after_reads < 1:
            raise ValueError("url_after_reads counts reads: 1 or more, or None for never")
        with self._state.lock:
            self._state.ticket_url_after_reads = url_after_reads

    def inject_fault(
        self,
        service: str,
        status: int,
        *,
        times: int = 1,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """The next `times` calls to `service` get `status` (and `body`, `headers`) instead of an answer."""
        with self._state.lock:
            self._state.faults[service] = _Fault(status, times, body, dict(headers or {}))


class _SinkServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], state: _State) -> None:
        super().__init__(address, _SinkHandler)
        self.state = state

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class _SinkHandler(BaseHTTPRequestHandler):
    server: _SinkServer
    protocol_version = "HTTP/1.1"
    server_version = "switchboard-sink"
    sys_version = ""

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("sink: " + format, *args)

    def _handle(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        segments = [unquote(part) for part in split.path.split("/") if part]
        if segments[:1] == ["_outbox"]:
            self._reply(self._outbox(dict(parse_qsl(split.query))))
            return
        if segments[:1] == ["_faults"]:
            self._reply(self._faults(raw))
            return
        service = segments[0] if segments else ""
        body = _parse_body(raw, self.headers.get("Content-Type", ""))
        reply = self._fault(service) or self._answer(service, segments[1:], body, split.query)
        query: dict[str, str] = {}
        for name, value in parse_qsl(split.query, keep_blank_values=True):
            query[name] = f"{query[name]},{value}" if name in query else value
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            if key in _REDACTED_HEADERS:
                value = redact_authorization(value)
            headers[key] = f"{headers[key]},{value}" if key in headers else value
        with self.server.state.lock:
            self.server.state.calls.append(
                {
                    "service": service,
                    "method": self.command,
                    "path": "/" + "/".join(quote(part, safe="") for part in segments[1:]),
                    "query": query,
                    "headers": headers,
                    "body": body,
                    "status": reply.status,
                    "response": reply.document,
                    "at": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                }
            )
        self._reply(reply)

    def _outbox(self, query: dict[str, str]) -> Reply:
        state = self.server.state
        with state.lock:
            if self.command == "DELETE":
                count = len(state.calls)
                state.calls.clear()
                return Reply(200, {"cleared": count})
            if self.command == "GET":
                service = query.get("service")
                return Reply(200, [call for call in state.calls if service in (None, call["service"])])
        return Reply(405, {"message": "Method Not Allowed"})

    def _faults(self, raw: bytes) -> Reply:
        state = self.server.state
        if self.command == "DELETE":
            with state.lock:
                state.faults.clear()
            return Reply(200, {"cleared": True})
        if self.command != "POST":
            return Reply(405, {"message": "Method Not Allowed"})
        try:
            spec = json.loads(raw or b"{}")
            fault = _Fault(
                int(spec["status"]),
                int(spec.get("times", 1)),
                spec.get("body"),
                dict(spec.get("headers") or {}),
            )
            service = str(spec["service"])
        except (KeyError, TypeError, ValueError):
            return Reply(400, {"message": 'expected {"service": ..., "status": ..., "times": 1}'})
        with state.lock:
            state.faults[service] = fault
        return Reply(200, {"service": service, "status": fault.status, "times": fault.times})

    def _fault(self, service: str) -> Reply | None:
        state = self.server.state
        with state.lock:
            fault = state.faults.get(service)
            if fault is None:
                return None
            fault.times -= 1
            if fault.times <= 0:
                del state.faults[service]
        body = fault.body if fault.body is not None else {"message": f"injected fault {fault.status}"}
        return Reply(fault.status, body, fault.headers)

    def _answer(self, service: str, path: list[str], body: Any, query: str = "") -> Reply:
        api = speaks(service)
        if api == "github" and path[:2] == ["search", "issues"]:  # the plans' lookups: seeded issues
            return lookup_seed.github_search(self.server.base_url, self.headers.get("Authorization"), query)
        if api == "github":
            return _GitHub(self.server, self.command, self.headers.get("Authorization")).answer(path, body)
        if api == "slack":
            query_args = dict(parse_qsl(query))
            return _slack(
                self.server.state, self.command, path, body, self.headers.get("Authorization"), query_args
            )
        if api == "tickets":
            return _tickets(self.server, self.command, path, body, self.headers, dict(parse_qsl(query)))
        return Reply(404, {"message": "Not Found"})

    def _reply(self, reply: Reply) -> None:
        content = json.dumps(reply.document).encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)


def speaks(service: str) -> str:
    """The API a service's calls are answered like: its catalog entry's, else its own name."""
    try:
        return catalog.service(service).speaks
    except KeyError:
        return service


def _parse_body(raw: bytes, content_type: str) -> Any:
    if not raw:
        return None
    text = raw.decode("utf-8", "replace")
    if "json" in content_type or text.lstrip().startswith(("{", "[")):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text
    if "x-www-form-urlencoded" in content_type:
        return dict(parse_qsl(text, keep_blank_values=True))
    return text


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _stable_id(*parts: object) -> int:
    return int(hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()[:8], 16)


class _GitHub:
    """Enough of the GitHub REST API for the act worker: labels, comments, assignees, issue state."""

    def __init__(self, server: _SinkServer, method: str, authorization: str | None) -> None:
        self.state = server.state
        self.base = f"{server.base_url}/github"
        self.method = method
        self.authorized = bool(authorization)

    def answer(self, path: list[str], body: Any) -> Reply:
        if len(path) < 5 or path[0] != "repos" or path[3] != "issues" or not path[4].isdigit():
            return self._not_found()
        if not self.authorized:
            return Reply(401, {"message": "Requires authentication", "documentation_url": _GITHUB_DOCS})
        owner, repo, number, rest = path[1], path[2], int(path[4]), path[5:]
        with self.state.lock:
            issue = self._issue(owner, repo, number)
            if not rest and self.method in ("GET", "PATCH"):
                if self.method == "PATCH":
                    if not isinstance(body, dict):
                        return _validation_failed()
                    self._patch(issue, body)
                return Reply(200, issue)
            if rest == ["labels"] and self.method == "POST":
                names = body.get("labels") if isinstance(body, dict) else body
                if not isinstance(names, list) or not names:
                    return _validation_failed()
                for entry in names:
                    name = entry.get("name") if isinstance(entry, dict) else entry
                    if name not in [label["name"] for label in issue["labels"]]:
                        issue["labels"].append(self._label(owner, repo, str(name)))
                issue["updated_at"] = _now()
                return Reply(200, list(issue["labels"]))
            if len(rest) == 2 and rest[0] == "labels" and self.method == "DELETE":
                before = len(issue["labels"])
                issue["labels"] = [label for label in issue["labels"] if label["name"] != rest[1]]
                if len(issue["labels"]) == before:
                    return Reply(404, {"message": "Label does not exist", "documentation_url": _GITHUB_DOCS})
                return Reply(200, list(issue["labels"]))
            if rest == ["comments"] and self.method == "POST":
                if not isinstance(body, dict) or not isinstance(body.get("body"), str):
                    return _validation_failed()
                issue["comments"] += 1
                comment = self._comment(owner, repo, number, body["body"])
                self.state.comments.setdefault((owner, repo, number), []).append(comment)
                return Reply(201, comment)
            if rest == ["comments"] and self.method == "GET":
                return Reply(200, list(self.state.comments.get((owner, repo, number), [])))
            if rest == ["assignees"] and self.method == "POST":
                logins = body.get("assignees") if isinstance(body, dict) else None
                if not isinstance(logins, list):
                    return _validation_failed()
                for login in logins:
                    if login not in [user["login"] for user in issue["assignees"]]:
                        issue["assignees"].append(_user(str(login)))
                issue["assignee"] = issue["assignees"][0] if issue["assignees"] else None
                return Reply(201, issue)
        return self._not_found()

    def _not_found(self) -> Reply:
        return Reply(404, {"message": "Not Found", "documentation_url": _GITHUB_DOCS})

    def _issue(self, owner: str, repo: str, number: int) -> dict[str, Any]:
        key = (owner, repo, number)
        if key not in self.state.issues:
            issue_id = _stable_id(owner, repo, number)
            self.state.issues[key] = {
                "id": issue_id,
                "node_id": f"I_local{issue_id}",
                "url": f"{self.base}/repos/{owner}/{repo}/issues/{number}",
                "repository_url": f"{self.base}/repos/{owner}/{repo}",
                "html_url": f"https://github.com/{owner}/{repo}/issues/{number}",
                "number": number,
                "state": "open",
                "state_reason": None,
                "title": f"Issue #{number}",
                "body": None,
                "user": _user("octocat"),
                "labels": [],
                "assignee": None,
                "assignees": [],
                "locked": False,
                "comments": 0,
                "created_at": _now(),
                "updated_at": _now(),
                "closed_at": None,
            }
            self.state.issues[key].update(lookup_seed.issue_fields(owner, repo, number))  # seeded, if any
        return self.state.issues[key]

    def _patch(self, issue: dict[str, Any], body: dict[str, Any]) -> None:
        owner, repo = issue["repository_url"].rsplit("/", 2)[-2:]
        for key in ("title", "body", "state_reason"):
            if key in body:
                issue[key] = body[key]
        if "state" in body:
            issue["state"] = body["state"]
            issue["closed_at"] = _now() if body["state"] == "closed" else None
        if "labels" in body:
            issue["labels"] = [
                self._label(owner, repo, str(entry.get("name") if isinstance(entry, dict) else entry))
                for entry in body["labels"]
            ]
        if "assignees" in body:
            issue["assignees"] = [_user(str(login)) for login in body["assignees"]]
            issue["assignee"] = issue["assignees"][0] if issue["assignees"] else None
        issue["updated_at"] = _now()

    def _label(self, owner: str, repo: str, name: str) -> dict[str, Any]:
        label_id = _stable_id(owner, repo, "label", name)
        return {
            "id": label_id,
            "node_id": f"LA_local{label_id}",
            "url": f"{self.base}/repos/{owner}/{repo}/labels/{quote(name, safe='')}",
            "name": name,
            "color": "ededed",
            "default": False,
            "description": None,
        }

    def _comment(self, owner: str, repo: str, number: int, text: str) -> dict[str, Any]:
        comment_id = next(self.state.ids)
        return {
            "id": comment_id,
            "node_id": f"IC_local{comment_id}",
            "url": f"{self.base}/repos/{owner}/{repo}/issues/comments/{comment_id}",
            "html_url": f"https://github.com/{owner}/{repo}/issues/{number}#issuecomment-{comment_id}",
            "issue_url": f"{self.base}/repos/{owner}/{repo}/issues/{number}",
            "body": text,
            "user": _user("switchboard[bot]", "Bot"),
            "author_association": "NONE",
            "created_at": _now(),
            "updated_at": _now(),
        }


def _user(login: str, kind: str = "User") -> dict[str, Any]:
    return {"login": login, "id": _stable_id("user", login), "type": kind}


def _validation_failed() -> Reply:
    return Reply(422, {"message": "Validation Failed", "documentation_url": _GITHUB_DOCS})


def _slack(
    state: _State,
    method: str,
    path: list[str],
    body: Any,
    authorization: str | None,
    query: dict[str, str] | None = None,
) -> Reply:
    reading = path in (["conversations.history"], ["conversations.replies"]) and method == "GET"
    if not reading and (path != ["chat.postMessage"] or method != "POST"):
        return Reply(404, {"ok": False, "error": "unknown_method"})
    if not authorization:
        return Reply(200, {"ok": False, "error": "not_authed"})
    if reading:
        return _slack_read(state, path[0], query or {})
    if not isinstance(body, dict) or not body.get("channel"):
        return Reply(200, {"ok": False, "error": "channel_not_found"})
    if not (body.get("text") or body.get("blocks") or body.get("attachments")):
        return Reply(200, {"ok": False, "error": "no_text"})
    with state.lock:
        ts = f"{int(time.time())}.{next(state.ids):06d}"
    message: dict[str, Any] = {
        "type": "message",
        "subtype": "bot_message",
        "text": body.get("text", ""),
        "user": "U0LOCALBOT",
        "bot_id": "B0LOCALBOT",
        "ts": ts,
    }
    for key in ("thread_ts", "blocks", "attachments", "metadata"):
        if key in body:
            message[key] = body[key]
    with state.lock:
        state.messages.setdefault(str(body["channel"]), []).append(message)
    return Reply(200, {"ok": True, "channel": body["channel"], "ts": ts, "message": message})


def _slack_read(state: _State, method: str, query: dict[str, str]) -> Reply:
    channel = query.get("channel")
    if not channel:
        return Reply(200, {"ok": False, "error": "channel_not_found"})
    with state.lock:
        posted = list(state.messages.get(channel, []))
    if method == "conversations.replies":
        if not query.get("ts"):
            return Reply(200, {"ok": False, "error": "thread_not_found"})
        found = [message for message in posted if message.get("thread_ts") == query["ts"]]
    else:
        found = [message for message in reversed(posted) if "thread_ts" not in message]
    if query.get("include_all_metadata") != "true":
        found = [{k: v for k, v in message.items() if k != "metadata"} for message in found]
    return Reply(
        200, {"ok": True, "messages": found, "has_more": False, "response_metadata": {"next_cursor": ""}}
    )


def _tickets(
    server: _SinkServer, method: str, path: list[str], body: Any, headers: Any, query: dict[str, str]
) -> Reply:
    state = server.state
    if not headers.get("Authorization"):
        return Reply(401, {"message": "Unauthorized"})
    with state.lock:
        if path == ["tickets"] and method == "POST":
            key = headers.get("Idempotency-Key")
            if key and key in state.idempotent:
                replay = state.idempotent[key]
                return Reply(replay.status, replay.document, {"Idempotent-Replayed": "true"})
            if not isinstance(body, dict):
                return Reply(400, {"message": "expected a JSON object"})
            ticket_id = f"TCK-{next(state.ids)}"
            state.tickets[ticket_id] = {
                **body,
                "id": ticket_id,
                "status": "open",
                "created_at": _now(),
                "idempotency_key": key,
                "reads": 0,
            }
            reply = Reply(201, {"id": ticket_id, "status": "open", "url": None})
            if key:
                state.idempotent[key] = reply
            return reply
        if path == ["tickets"] and method == "GET" and "q" in query:  # the plans' lookups: search
            return Reply(200, {"tickets": lookup_seed.search_tickets(query["q"])})
        if path == ["tickets"] and method == "GET":
            key = query.get("idempotency_key")
            if not key:
                return Reply(400, {"message": "expected ?idempotency_key="})
            found = [ticket for ticket in state.tickets.values() if ticket.get("idempotency_key") == key]
            return Reply(200, {"tickets": [_ticket_view(server, ticket, with_url=True) for ticket in found]})
        if len(path) == 2 and path[0] == "tickets" and method == "GET":
            ticket = state.tickets.get(path[1])
            if ticket is None and (seeded := lookup_seed.ticket(path[1])) is not None:
                return Reply(200, seeded)
            if ticket is None:
                return Reply(404, {"message": "Not Found"})
            ticket["reads"] = ticket.get("reads", 0) + 1
            after = state.ticket_url_after_reads
            return Reply(
                200, _ticket_view(server, ticket, with_url=after is not None and ticket["reads"] >= after)
            )
    return Reply(404, {"message": "Not Found"})


def _ticket_view(server: _SinkServer, ticket: dict[str, Any], *, with_url: bool) -> dict[str, Any]:
    url = f"{server.base_url}/tickets/view/{quote(ticket['id'])}" if with_url else None
    return {"id": ticket["id"], "status": ticket["status"], "url": url}
