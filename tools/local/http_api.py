"""The HTTP API (API Gateway HTTP API, Lambda proxy integrations, payload format 2.0) on a loopback port.

Routes come from `AWS::ApiGatewayV2::Route` (`RouteKey`, `Target: integrations/<id>`) and their
`AWS::ApiGatewayV2::Integration` (`IntegrationUri`: the function's ARN, bare or inside the `.../invocations`
URI). Requests become the exact 2.0 event; the function's result is mapped back as API Gateway maps it:
- a dict with `statusCode`: status, `headers`, `multiValueHeaders`, `cookies` (→ Set-Cookie), `body`
  (base64-decoded when `isBase64Encoded`);
- anything else: 200, `content-type: application/json`, the result as JSON;
- a function error or timeout: 500 `{"message":"Internal Server Error"}`;
- no matching route: 404 `{"message":"Not Found"}`; a body over 10 MB: 413.

Reserved prefix `/_local/` (control endpoints, never routed to a function):
- `GET /_local/schedules` lists the schedules;
- `POST /_local/schedules/<rule logical id or name>` fires one now and answers with the invocation outcome(s).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

from tools.local.functions import InvokeResult
from tools.local.template import ACCOUNT_ID

logger = logging.getLogger("switchboard.local")

MAX_PAYLOAD_BYTES: Final = 10 * 1024 * 1024
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
    ) -> None:
        super().__init__(address, _ApiRequestHandler)
        self.routes = routes
        self.invoke = invoke
        self.control = control
        self.api_id = api_id

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class _ApiRequestHandler(BaseHTTPRequestHandler):
    server: ApiServer
    protocol_version = "HTTP/1.1"
    server_version = "switchboard-local"
    sys_version = ""

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("api: " + format, *args)

    def _handle(self) -> None:
        request_id = _request_id()
        try:
            body = self._read_body()
        except _PayloadTooLargeError:
            self._send(json_response(413, {"message": "Request Entity Too Large"}), request_id, close=True)
            return
        except ValueError:
            self._send(json_response(400, {"message": "Bad Request"}), request_id, close=True)
            return
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

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        if length > MAX_PAYLOAD_BYTES:
            self._discard(length)
            raise _PayloadTooLargeError
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes:
        chunks, total = [], 0
        while True:
            size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                break
            total += size
            if total > MAX_PAYLOAD_BYTES:
                raise _PayloadTooLargeError
            chunks.append(self.rfile.read(size))
            self.rfile.readline()
        return b"".join(chunks)

    def _discard(self, length: int) -> None:
        """Read and drop the body of a refused request (bounded), so the client sees the 413, not a reset."""
        remaining = min(length, 2 * MAX_PAYLOAD_BYTES)
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 1 << 20))
            if not chunk:
                break
            remaining -= len(chunk)

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


class _PayloadTooLargeError(Exception):
    pass


def _request_id() -> str:
    """An id shaped like API Gateway's (`JKJaXmPLvHcESHA=`)."""
    return base64.b64encode(secrets.token_bytes(10)).decode("ascii").rstrip("=") + "="
