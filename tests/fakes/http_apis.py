"""Loopback HTTP fakes of GitHub, Slack and the tickets API, with fault injection, counting every call.

``FakeApis`` is a small HTTP server in front of the local runtime's ``RecordingSink`` (which answers like the
real APIs). Every request to ``{url}/{service}/...`` is counted; then, by the rules set for its service, it
may wait (latency) and/or get an injected answer (an error status, with ``Retry-After`` …) instead of going
through to the sink. Rules have a rate (the share of calls they hit, from a seeded RNG, so runs repeat) and
an optional budget (``times``).

    with FakeApis() as apis:
        apis.fault("github", 503, times=2)           # the next two GitHub calls get a 503
        apis.fault("slack", 429, retry_after=1)      # every Slack call is rate limited
        apis.fault("tickets", 500, rate=0.3)         # three calls in ten fail
        apis.slow("github", 2.0, times=1)            # the next GitHub call answers after 2 s
        apis.calls("github")                         # every call, faulted or not
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from tools.local.loopback import ServerThread
from tools.standin.sink import RecordingSink

_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "host"})
_SET_HERE = frozenset({*_HOP_BY_HOP, "content-type", "server", "date"})


@dataclass
class Rule:
    status: int | None = None  # None: no injected answer (latency only)
    rate: float = 1.0
    times: int | None = None
    latency: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None


@dataclass(frozen=True)
class Call:
    service: str
    method: str
    path: str
    status: int
    injected: bool
    body: Any
    at: float  # time.monotonic() when the call arrived


class FakeApis:
    def __init__(self, seed: int = 7) -> None:
        self.sink = RecordingSink()
        self._lock = threading.Lock()
        self._rules: dict[str, list[Rule]] = {}
        self._calls: list[Call] = []
        self._random = random.Random(seed)
        self._generation = 0  # bumped by reset(): a slow call that ends after it is not counted
        self._loop: ServerThread | None = None

    # -- lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> FakeApis:
        self.sink.start()
        self._loop = ServerThread(_ProxyServer(("127.0.0.1", 0), self), "fake-apis", poll_interval=0.05)
        self._loop.start()
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.stop()
            self._loop = None
        self.sink.stop()

    def __enter__(self) -> FakeApis:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._loop is not None, "not started"
        return self._loop.url

    def service_url(self, service: str) -> str:
        return f"{self.url}/{service}"

    # -- faults ----------------------------------------------------------------------------------------------

    def fault(
        self,
        service: str,
        status: int,
        *,
        rate: float = 1.0,
        times: int | None = None,
        latency: float = 0.0,
        retry_after: float | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        all_headers = dict(headers or {})
        if retry_after is not None:
            all_headers["Retry-After"] = str(int(retry_after))
        self._add(service, Rule(status, rate, times, latency, all_headers, body))

    def slow(self, service: str, latency: float, *, rate: float = 1.0, times: int | None = None) -> None:
        self._add(service, Rule(None, rate, times, latency))

    def clear_faults(self) -> None:
        with self._lock:
            self._rules.clear()

    def _add(self, service: str, rule: Rule) -> None:
        with self._lock:
            self._rules.setdefault(service, []).append(rule)

    def _pick(self, service: str) -> Rule | None:
        with self._lock:
            for rule in list(self._rules.get(service, [])):
                if self._random.random() >= rule.rate:
                    continue
                if rule.times is not None:
                    rule.times -= 1
                    if rule.times <= 0:
                        self._rules[service].remove(rule)
                return rule
        return None

    # -- what happened ---------------------------------------------------------------------------------------

    def calls(self, service: str | None = None, *, method: str | None = None) -> list[Call]:
        with self._lock:
            return [
                call
                for call in self._calls
                if service in (None, call.service) and method in (None, call.method)
            ]

    def successes(self, service: str, *, method: str | None = None) -> list[Call]:
        return [call for call in self.calls(service, method=method) if 200 <= call.status < 300]

    def reset(self) -> None:
        with self._lock:
            self._generation += 1
            self._calls.clear()
            self._rules.clear()
        self.sink.clear()

    def _generation_now(self) -> int:
        with self._lock:
            return self._generation

    def _record(self, call: Call, generation: int) -> None:
        with self._lock:
            if generation == self._generation:
                self._calls.append(call)


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], apis: FakeApis) -> None:
        super().__init__(address, _ProxyHandler)
        self.apis = apis


class _ProxyHandler(BaseHTTPRequestHandler):
    server: _ProxyServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _handle(self) -> None:
        apis = self.server.apis
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        split = urlsplit(self.path)
        service = next((part for part in split.path.split("/") if part), "")
        path = "/" + split.path.lstrip("/").partition("/")[2]
        arrived = time.monotonic()
        generation = apis._generation_now()
        rule = apis._pick(service)
        if rule is not None and rule.latency:
            time.sleep(rule.latency)
        if rule is not None and rule.status is not None:
            document = rule.body if rule.body is not None else {"message": f"injected {rule.status}"}
            status, headers, content = rule.status, dict(rule.headers), json.dumps(document).encode()
            injected = True
        else:
            status, headers, content = self._forward(raw)
            injected = False
        apis._record(
            Call(
                service,
                self.command,
                path + (f"?{split.query}" if split.query else ""),
                status,
                injected,
                _json(raw),
                arrived,
            ),
            generation,
        )
        try:
            self.send_response(status)
            for name, value in headers.items():
                if name.lower() not in _SET_HERE:
                    self.send_header(name, value)
            content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
            self.send_header("Content-Type", content_type or "application/json")
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout): exactly what a latency fault is for

    def _forward(self, raw: bytes) -> tuple[int, dict[str, str], bytes]:
        host, port = self.server.apis.sink.url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            connection.request(self.command, self.path, body=raw or None, headers=headers)
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode(errors="replace")
