"""The HTTP API (API Gateway HTTP API, Lambda proxy integrations, payload format 2.0) on a loopback port.

Routes come from `AWS::ApiGatewayV2::Route` (`RouteKey`, `Target: integrations/<id>`) and their
`AWS::ApiGatewayV2::Integration` (`IntegrationUri`: the function's ARN, bare or inside the `.../invocations`
URI). Requests become the exact 2.0 event; the function's result is mapped back as API Gateway maps it:
- a dict with `statusCode`: status, `headers`, `multiValueHeaders`, `cookies` (→ Set-Cookie), `body`
  (base64-decoded when `isBase64Encoded`);
- anything else: 200, `content-type: application/json`, the result as JSON;
- a function error or timeout: 500 `{"message":"Internal Server Error"}`;
- no matching route: 404 `{"message":"Not Found"}`; a body over 10 MB: 413.

Reading a request is bounded, so no client can hold a connection (and its thread) for ever:
- every read waits at most `read_timeout` (an idle connection, or a request line or header that stops
  arriving, is closed);
- the whole request, request line, headers and body, must arrive within `request_deadline` of its first
  byte, however slowly it drips (a byte every few seconds passes every per-read timeout), and the body within
  `body_deadline` of the headers' end: else 408 `{"message":"Request Timeout"}` and the connection is
  closed. API Gateway documents no bound of its own on reading a request; 30 s is the bound it puts on a
  whole HTTP API exchange (its integration timeout, 30 s for HTTP APIs and not raisable: "Amazon API
  Gateway quotas", https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html, as quoted by
  AWS re:Post answers, read 2026-12-02), so no request here takes longer to arrive;
- the body's framing is checked as RFC 9112 section 6 asks (https://www.rfc-editor.org/rfc/rfc9112#section-6):
  a `Content-Length` that is not one run of digits, appears twice, or comes with `Transfer-Encoding`; a
  transfer coding other than `chunked`; a chunk size that is not hexadecimal (`-1`), a chunk not followed by
  CRLF, or a body that ends early: 400 `{"message":"Bad Request"}`, connection closed;
- a declared `Content-Length` over the limit is answered 413 before any of the body is read (then a bounded
  amount is drained, so a client still sending sees the answer rather than a reset).

Reserved prefix `/_local/` (control endpoints, never routed to a function):
- `GET /_local/schedules` lists the schedules;
- `POST /_local/schedules/<rule logical id or name>` fires one now and answers with the invocation outcome(s).
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import logging
import math
import re
import secrets
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

from tools.local.functions import InvokeResult
from tools.local.template import ACCOUNT_ID

logger = logging.getLogger("switchboard.local")

MAX_PAYLOAD_BYTES: Final = 10 * 1024 * 1024
#: The longest wait for any one read of a request, and for the whole body.
READ_TIMEOUT_SECONDS: Final = 10.0
BODY_DEADLINE_SECONDS: Final = 30.0
REQUEST_DEADLINE_SECONDS: Final = 30.0
#: A chunk-size or trailer line longer than this is malformed; more trailer lines than this too.
MAX_LINE_BYTES: Final = 8_192
MAX_TRAILER_LINES: Final = 64
_CONTENT_LENGTH: Final = re.compile(r"[0-9]+")
_CHUNK_SIZE: Final = re.compile(rb"[0-9A-Fa-f]{1,16}")
CONTROL_PREFIX: Final = "/_local/"
_METHODS: Final = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


@dataclass(frozen=True)
class Route:
    """One route of the HTTP API: `METHOD /path/{param}/{greedy+}`, `ANY /path` or `$default`."""

    route_key: str
    function: str
    method: str | None = field(init=False)
    pattern: re.Pattern[str] | None = field(init=False)
    specificity: tuple[int, int, int, int] = field(init=False)

    def __post_init__(self) -> None:
        if self.route_key == "$default":
            method, pattern, specificity = None, None, (1, 0, 0, 0)
        else:
            verb, _, path = self.route_key.partition(" ")
            method = None if verb == "ANY" else verb.upper()
            regex, params, greedy = _compile_path(path)
            pattern = re.compile(regex)
            literal = len(re.sub(r"\{[^}]*\}", "", path))
            specificity = (0, greedy, params, -literal * 2 - (method is not None))
        object.__setattr__(self, "method", method)
        object.__setattr__(self, "pattern", pattern)
        object.__setattr__(self, "specificity", specificity)

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if self.method is not None and self.method != method:
            return None
        if self.pattern is None:
            return {}
        found = self.pattern.fullmatch(path)
        return None if found is None else {name: unquote(value) for name, value in found.groupdict().items()}


def _compile_path(path: str) -> tuple[str, int, int]:
    parts, params, greedy = [], 0, 0
    for piece in re.split(r"(\{[^}]+\})", path):
        if piece.startswith("{") and piece.endswith("}"):
            name = piece[1:-1]
            if name.endswith("+"):
                greedy += 1
                parts.append(f"(?P<{_group(name[:-1])}>.+)")
            else:
                params += 1
                parts.append(f"(?P<{_group(name)}>[^/]+)")
        else:
            parts.append(re.escape(piece))
    return "".join(parts), params, greedy


def _group(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(f"unsupported path parameter name {name!r}")
    return name


def match_route(routes: Iterable[Route], method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The most specific route: literal paths beat parameters, parameters beat greedy, `$default` is last."""
    candidates = []
    for route in routes:
        params = route.match(method, path)
        if params is not None:
            candidates.append((route.specificity, route, params))
    if not candidates:
        return None
    _, route, params = min(candidates, key=lambda candidate: candidate[0])
    return route, params


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def json_response(status: int, document: Any, headers: Iterable[tuple[str, str]] = ()) -> HttpResponse:
    return HttpResponse(
        status, [("content-type", "application/json"), *headers], json.dumps(document).encode()
    )


def build_event(
    *,
    route_key: str,
    method: str,
    target: str,
    header_items: Iterable[tuple[str, str]],
    body: bytes,
    source_ip: str,
    api_id: str,
    path_parameters: dict[str, str],
    request_id: str,
    now: float,
    server_port: int = 3000,
) -> dict[str, Any]:
    """The API Gateway HTTP API payload format 2.0 event (with the `x-forwarded-*` and trace headers that
    API Gateway adds)."""
    split = urlsplit(target)
    raw_path = split.path or "/"
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in header_items:
        key = name.lower()
        if key == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    headers.setdefault("x-amzn-trace-id", f"Root=1-{int(now):08x}-{secrets.token_hex(12)}")
    headers["x-forwarded-for"] = (
        f"{headers['x-forwarded-for']}, {source_ip}" if "x-forwarded-for" in headers else source_ip
    )
    headers.setdefault("x-forwarded-port", str(server_port))
    headers.setdefault("x-forwarded-proto", "http")
    domain_name = headers.get("host", "localhost")
    moment = datetime.fromtimestamp(now, UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": split.query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    query: dict[str, str] = {}
    for name, value in parse_qsl(split.query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = {
        "accountId": ACCOUNT_ID,
        "apiId": api_id,
        "domainName": domain_name,
        "domainPrefix": domain_name.split(".", 1)[0],
        "http": {
            "method": method,
            "path": unquote(raw_path),
            "protocol": "HTTP/1.1",
            "sourceIp": source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": route_key,
        "stage": "$default",
        "time": moment.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(now * 1000),
    }
    if body:
        try:
            event["body"] = body.decode("utf-8")
            event["isBase64Encoded"] = False
        except UnicodeDecodeError:
            event["body"] = base64.b64encode(body).decode("ascii")
            event["isBase64Encoded"] = True
    else:
        event["isBase64Encoded"] = False
    if path_parameters:
        event["pathParameters"] = path_parameters
    return event


class MalformedResponseError(Exception):
    """The function returned something API Gateway would refuse to map."""


def map_response(payload: Any) -> HttpResponse:
    """Map a function's result to the HTTP response as API Gateway does for payload format 2.0."""
    if not (isinstance(payload, dict) and "statusCode" in payload):
        return json_response(200, payload)
    try:
        status = int(payload["statusCode"])
    except (TypeError, ValueError) as exc:
        raise MalformedResponseError(f"statusCode {payload['statusCode']!r} is not an integer") from exc
    if not 100 <= status <= 599:
        raise MalformedResponseError(f"statusCode {status} is out of range")
    headers = [(str(name), _header_value(value)) for name, value in (payload.get("headers") or {}).items()]
    for name, values in (payload.get("multiValueHeaders") or {}).items():
        headers.extend((str(name), _header_value(value)) for value in values)
    headers.extend(("set-cookie", str(cookie)) for cookie in payload.get("cookies") or [])
    body = payload.get("body")
    if body is None:
        content = b""
    elif not isinstance(body, str):
        raise MalformedResponseError(f"body must be a string, got {type(body).__name__}")
    elif payload.get("isBase64Encoded"):
        try:
            content = base64.b64decode(body, validate=True)
        except binascii.Error as exc:
            raise MalformedResponseError("isBase64Encoded is true but the body is not base64") from exc
    else:
        content = body.encode("utf-8")
    return HttpResponse(status, headers, content)


def _header_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class FramingError(ValueError):
    """The request's body framing is malformed: 400, and the connection is closed."""


class PayloadTooLargeError(Exception):
    """The declared or received body is over `MAX_PAYLOAD_BYTES`: 413."""


@dataclass(frozen=True)
class Framing:
    """How the body is delimited: chunked, or `length` bytes (0 when there is no body)."""

    chunked: bool
    length: int


def body_framing(headers: Message) -> Framing:
    """The body's framing from the request headers, or `FramingError` / `PayloadTooLargeError`."""
    codings = [
        coding.strip().lower()
        for value in headers.get_all("Transfer-Encoding") or []
        for coding in value.split(",")
        if coding.strip()
    ]
    lengths = headers.get_all("Content-Length") or []
    if codings:
        if codings != ["chunked"]:
            raise FramingError(f"unsupported transfer coding {codings!r}")
        if lengths:
            raise FramingError("both Transfer-Encoding and Content-Length")
        return Framing(chunked=True, length=0)
    if not lengths:
        return Framing(chunked=False, length=0)
    if len(lengths) > 1:
        raise FramingError("more than one Content-Length")
    value = lengths[0].strip()
    if not _CONTENT_LENGTH.fullmatch(value):
        raise FramingError(f"invalid Content-Length {value[:40]!r}")
    if len(value.lstrip("0")) > len(str(MAX_PAYLOAD_BYTES)) or int(value) > MAX_PAYLOAD_BYTES:
        raise PayloadTooLargeError
    return Framing(chunked=False, length=int(value))


class Control(Protocol):
    """What the `/_local/` control endpoints need from the runtime."""

    def schedule_summaries(self) -> list[dict[str, Any]]: ...

    def fire_schedule(self, name: str) -> list[InvokeResult]: ...


class ApiServer(ThreadingHTTPServer):
    """A threading HTTP server that serves the template's routes."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        *,
        routes: list[Route],
        invoke: Callable[[str, Any], InvokeResult],
        control: Control,
        api_id: str,
        read_timeout: float = READ_TIMEOUT_SECONDS,
        body_deadline: float = BODY_DEADLINE_SECONDS,
        request_deadline: float = REQUEST_DEADLINE_SECONDS,
    ) -> None:
        super().__init__(address, _ApiRequestHandler)
        self.routes = routes
        self.invoke = invoke
        self.control = control
        self.api_id = api_id
        self.read_timeout = read_timeout
        self.body_deadline = body_deadline
        self.request_deadline = request_deadline

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class _DeadlineReader(io.RawIOBase):
    """The connection's reads: each waits at most ``read_timeout``, and none past the current request's
    deadline, ``request_deadline`` after its first byte (``next_request``: the wait for the next one)."""

    def __init__(self, connection: socket.socket, read_timeout: float, request_deadline: float) -> None:
        self.connection = connection
        self.read_timeout = read_timeout
        self.request_deadline = request_deadline
        self.deadline: float | None = None
        self.started = self.timed_out = False

    def next_request(self) -> None:
        self.deadline, self.started, self.timed_out = None, False, False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        timeout = self.read_timeout
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0:
                self.timed_out = True
                raise TimeoutError("the request did not arrive in time")
            timeout = min(timeout, left)
        self.connection.settimeout(timeout)
        try:
            count = self.connection.recv_into(buffer)
        except TimeoutError:
            self.timed_out = True
            raise
        if count and not self.started:
            self.started = True
            self.deadline = time.monotonic() + self.request_deadline
        return count


class _ApiRequestHandler(BaseHTTPRequestHandler):
    server: ApiServer
    protocol_version = "HTTP/1.1"
    server_version = "switchboard-local"
    sys_version = ""

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.read_timeout)  # every read, the request line included
        self.rfile.close()  # read through the deadline instead (the socket stays open: the handler's)
        self._reader = _DeadlineReader(
            self.connection, self.server.read_timeout, self.server.request_deadline
        )
        self.rfile = io.BufferedReader(self._reader)

    def handle_one_request(self) -> None:
        """One request, its request line and headers within the request's deadline: a request that stops
        arriving, or does not arrive in time, is answered 408 and its connection closed (the standard handler
        would close it without an answer); an idle connection is closed quietly."""
        self._reader.next_request()
        self._answered = False
        self.requestline, self.request_version, self.command = "", self.protocol_version, ""  # for a 408
        super().handle_one_request()
        if self._reader.timed_out and self._reader.started and not self._answered:
            self.close_connection = True
            self._send_quietly(json_response(408, {"message": "Request Timeout"}), _request_id())

    def send_response(self, code: int, message: str | None = None) -> None:
        self._answered = True
        super().send_response(code, message)

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("api: " + format, *args)

    def _handle(self) -> None:
        request_id = _request_id()
        deadline = min(time.monotonic() + self.server.body_deadline, self._reader.deadline or math.inf)
        try:
            body = self._read_body(deadline)
        except PayloadTooLargeError:
            self._send_quietly(json_response(413, {"message": "Request Entity Too Large"}), request_id)
            self._drain(deadline)
            return
        except FramingError as exc:
            logger.debug("api: malformed framing: %s", exc)
            self._send_quietly(json_response(400, {"message": "Bad Request"}), request_id)
            return
        except TimeoutError:
            self._send_quietly(json_response(408, {"message": "Request Timeout"}), request_id)
            return
        self.connection.settimeout(self.server.read_timeout)  # back to the per-read timeout, for keep-alive
        path = urlsplit(self.path).path
        if path.startswith(CONTROL_PREFIX):
            self._send(self._control(path[len(CONTROL_PREFIX) :]), request_id)
            return
        found = match_route(self.server.routes, self.command, path)
        if found is None:
            self._send(json_response(404, {"message": "Not Found"}), request_id)
            return
        route, path_parameters = found
        event = build_event(
            route_key=route.route_key,
            method=self.command,
            target=self.path,
            header_items=self.headers.items(),
            body=body,
            source_ip=self.client_address[0],
            api_id=self.server.api_id,
            path_parameters=path_parameters,
            request_id=request_id,
            now=time.time(),
            server_port=self.server.server_address[1],
        )
        result = self.server.invoke(route.function, event)
        if not result.ok:
            logger.warning(
                "%s %s: %s failed: %s",
                self.command,
                path,
                route.function,
                (result.error or {}).get("errorMessage"),
            )
            self._send(json_response(500, {"message": "Internal Server Error"}), request_id)
            return
        try:
            response = map_response(result.payload)
        except MalformedResponseError as exc:
            logger.warning("%s %s: malformed response from %s: %s", self.command, path, route.function, exc)
            response = json_response(500, {"message": "Internal Server Error"})
        self._send(response, request_id)

    def _read_body(self, deadline: float) -> bytes:
        framing = body_framing(self.headers)
        if framing.chunked:
            return self._read_chunked(deadline)
        return self._exactly(framing.length, deadline)

    def _read_chunked(self, deadline: float) -> bytes:
        chunks, total = [], 0
        while True:
            size_text = self._line(deadline).split(b";", 1)[0].strip()
            if not _CHUNK_SIZE.fullmatch(size_text):
                raise FramingError(f"invalid chunk size {size_text[:40]!r}")
            size = int(size_text, 16)
            if size == 0:
                break
            total += size
            if total > MAX_PAYLOAD_BYTES:
                raise PayloadTooLargeError
            chunks.append(self._exactly(size, deadline))
            if self._line(deadline).strip():
                raise FramingError("a chunk is not followed by CRLF")
        for _ in range(MAX_TRAILER_LINES):  # the trailer section, up to its empty line
            if not self._line(deadline).strip():
                return b"".join(chunks)
        raise FramingError("too many trailer lines")

    @property
    def _buffered(self) -> io.BufferedReader:
        if not isinstance(self.rfile, io.BufferedReader):  # rbufsize -1: socketserver makes it buffered
            raise TypeError("the request stream is not buffered")
        return self.rfile

    def _arm(self, deadline: float) -> None:
        """The next read waits at most the read timeout, and never past the body's deadline."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the body did not arrive in time")
        self.connection.settimeout(min(self.server.read_timeout, left))

    def _exactly(self, length: int, deadline: float) -> bytes:
        """`length` bytes of body, one socket read at a time (each bounded), or `FramingError` at the end."""
        parts, remaining = [], length
        while remaining > 0:
            self._arm(deadline)
            data = self.rfile.read1(min(remaining, 1 << 16))
            if not data:
                raise FramingError("the body ended early")
            parts.append(data)
            remaining -= len(data)
        return b"".join(parts)

    def _line(self, deadline: float) -> bytes:
        """One CRLF-terminated line of chunked framing, bounded in length and in time."""
        line = bytearray()
        while True:
            self._arm(deadline)
            data = self._buffered.peek(1)[:MAX_LINE_BYTES]
            if not data:
                raise FramingError("the body ended early")
            end = data.find(b"\n")
            line += self.rfile.read(len(data) if end < 0 else end + 1)
            if end >= 0:
                return bytes(line)
            if len(line) > MAX_LINE_BYTES:
                raise FramingError("a chunk line is too long")

    def _drain(self, deadline: float) -> None:
        """Read and drop what a refused client still sends (bounded in bytes and time), so it sees the 413."""
        remaining = 2 * MAX_PAYLOAD_BYTES
        try:
            while remaining > 0:
                self._arm(deadline)
                chunk = self.rfile.read1(min(remaining, 1 << 20))
                if not chunk:
                    break
                remaining -= len(chunk)
        except OSError:  # TimeoutError included: the client stopped sending or went away
            pass

    def _control(self, path: str) -> HttpResponse:
        parts = [unquote(part) for part in path.split("/") if part]
        control = self.server.control
        if parts == ["schedules"] and self.command == "GET":
            return json_response(200, control.schedule_summaries())
        if len(parts) == 2 and parts[0] == "schedules" and self.command == "POST":
            try:
                results = control.fire_schedule(parts[1])
            except KeyError:
                return json_response(404, {"message": f"no schedule named {parts[1]!r}"})
            return json_response(
                200,
                {
                    "schedule": parts[1],
                    "invocations": [
                        {
                            "function": result.function,
                            "requestId": result.request_id,
                            "ok": result.ok,
                            "result": result.payload,
                            "error": result.error,
                        }
                        for result in results
                    ],
                },
            )
        return json_response(404, {"message": "Not Found"})

    def _send_quietly(self, response: HttpResponse, request_id: str) -> None:
        """Answer and close; a client that is gone by now is not an error."""
        try:
            self._send(response, request_id, close=True)
        except OSError:
            self.close_connection = True

    def _send(self, response: HttpResponse, request_id: str, *, close: bool = False) -> None:
        self.send_response(response.status)
        names = {name.lower() for name, _ in response.headers}
        for name, value in response.headers:
            if name.lower() not in {"content-length", "connection", "transfer-encoding"}:
                self.send_header(name, value)
        if "apigw-requestid" not in names:
            self.send_header("apigw-requestid", request_id)
        self.send_header("Content-Length", str(len(response.body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)


def _request_id() -> str:
    """An id shaped like API Gateway's (`JKJaXmPLvHcESHA=`)."""
    return base64.b64encode(secrets.token_bytes(10)).decode("ascii").rstrip("=") + "="
