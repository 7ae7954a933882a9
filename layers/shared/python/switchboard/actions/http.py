"""A small JSON-over-HTTPS client on the standard library: a timeout on every call, typed errors.

What an answer means (the executors add their service's own conventions on top):
- 2xx: the result;
- 5xx, 429, timeouts, connection errors, a truncated answer: ``TransientActionError`` (retry the action);
  ``Retry-After`` (seconds or an HTTP date) is passed along;
- 401, and 403 unless it is a rate limit: ``AccessDenied``, a permanent error that a person can fix
  (credentials, permissions);
- 403 with ``Retry-After`` or ``X-RateLimit-Remaining: 0``: GitHub's primary and secondary rate limits, so
  transient (https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api);
- any other 4xx: ``PermanentActionError``.

No call can hang: the socket timeout bounds the connect and every read, and the whole answer must arrive
within ``deadline_factor`` times the timeout and ``MAX_RESPONSE_BYTES``.

No call leaves its endpoint: an executor builds a path from ``segment`` (each value checked against the
platform's own rules, then percent-encoded), and ``send``, the one place requests are made, refuses any path
with a segment that is, or decodes to, ``.`` or ``..`` (RFC 3986 section 5.2.4 removes them, so a server
would act on another resource), with a ``PermanentActionError``.
"""

from __future__ import annotations

import http.client
import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from email.utils import parsedate_to_datetime
from typing import Any, Final
from urllib.parse import quote, unquote

from switchboard.errors import AccessDenied, PermanentActionError, TransientActionError

MAX_RESPONSE_BYTES: Final = 1_048_576
_CHUNK: Final = 65_536


_DOT_SEGMENTS: Final = frozenset({".", ".."})
#: Percent-decoding more than this many times and still changing: refused as an obfuscated path.
_DECODE_ROUNDS: Final = 4


def segment(service: str, what: str, value: object, pattern: re.Pattern[str]) -> str:
    """One path segment: ``value`` (a string or an integer) must match ``pattern`` in full and not be a dot
    segment; it is returned percent-encoded (``quote(…, safe="")``: a ``/`` becomes ``%2F``)."""
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not pattern.fullmatch(text) or text in _DOT_SEGMENTS:
        raise PermanentActionError(service, f"refused: {what} {str(value)[:80]!r} is not a valid {what}")
    return quote(text, safe="")


def has_dot_segment(path: str) -> bool:
    """Whether the path part of ``path`` (before ``?``) has a segment that is ``.`` or ``..`` once
    percent-decoded, however many times it was encoded, with ``/`` or ``\\`` as separators."""
    decoded = path.split("?", 1)[0].split("#", 1)[0]
    for _ in range(_DECODE_ROUNDS):
        if any(part in _DOT_SEGMENTS for part in re.split(r"[/\\]", decoded)):
            return True
        again = unquote(decoded, errors="replace")
        if again == decoded:
            return False
        decoded = again
    return True


@dataclass(frozen=True)
class HttpCall:
    """One request, described before it is made: what shadow mode records instead of sending."""

    method: str
    path: str
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def describe(self, base_url: str) -> dict[str, Any]:
        """Method, URL and body, never the headers (they carry the credential)."""
        return {"method": self.method, "url": base_url + self.path, "body": self.body}


@dataclass(frozen=True)
class HttpResult:
    status: int
    body: Any
    headers: dict[str, str]


class JsonHttpClient:
    def __init__(
        self,
        service: str,
        base_url: str,
        headers: dict[str, str],
        timeout: float,
        deadline_factor: float = 2.0,
    ) -> None:
        if not base_url.startswith(("https://", "http://")):
            raise ValueError(f"{service}: base URL must be http(s): {base_url!r}")
        if timeout <= 0:
            raise ValueError(f"{service}: the timeout must be positive")
        self.service = service
        self.base_url = base_url.rstrip("/")
        self.headers = headers
        self.timeout = timeout
        self.deadline = timeout * deadline_factor

    def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> HttpResult:
        return self.send(HttpCall(method, path, body, headers or {}))

    def send(self, call: HttpCall) -> HttpResult:
        if not call.path.startswith("/") or has_dot_segment(call.path):
            raise PermanentActionError(
                self.service, f"refused: {call.path[:200]!r} is not a safe request path"
            )
        data = None if call.body is None else json.dumps(call.body).encode()
        request = urllib.request.Request(  # noqa: S310  # the scheme is checked in __init__
            self.base_url + call.path,
            data=data,
            method=call.method,
            headers={"Content-Type": "application/json", **self.headers, **call.headers},
        )
        where = f"{call.method} {call.path}"
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                raw = self._read(response, started, where)
                return HttpResult(response.status, _decode(raw), dict(response.headers))
        except urllib.error.HTTPError as exc:
            raise self._status_error(exc.code, exc.headers, where) from None
        except TimeoutError:  # the request may still land: look again (find_effect) once it surely has
            raise TransientActionError(
                self.service, f"timeout after {self.timeout}s on {where}", retry_after=self.deadline
            ) from None
        except urllib.error.URLError as exc:
            raise TransientActionError(self.service, f"connection failed on {where}: {exc.reason}") from None
        except (http.client.HTTPException, ConnectionError) as exc:
            raise TransientActionError(
                self.service, f"connection broken on {where}: {type(exc).__name__}"
            ) from None

    def _read(self, response: Any, started: float, where: str) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while chunk := response.read(_CHUNK):
            size += len(chunk)
            if size > MAX_RESPONSE_BYTES:
                raise PermanentActionError(
                    self.service, f"answer to {where} is over {MAX_RESPONSE_BYTES} bytes"
                )
            if time.monotonic() - started > self.deadline:
                raise TransientActionError(
                    self.service, f"answer to {where} took over {self.deadline}s", retry_after=self.deadline
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def _status_error(
        self, status: int, headers: Message, where: str
    ) -> PermanentActionError | TransientActionError:
        reason = f"HTTP {status} from {where}"
        wait = retry_after(headers.get("Retry-After"))
        if status == 403 and (wait is not None or headers.get("X-RateLimit-Remaining") == "0"):
            wait = wait if wait is not None else _until_epoch(headers.get("X-RateLimit-Reset"))
            return TransientActionError(self.service, f"{reason} (rate limited)", status, retry_after=wait)
        if status == 429 or status >= 500:
            return TransientActionError(self.service, reason, status, retry_after=wait)
        if status in (401, 403):
            return AccessDenied(self.service, reason, status)
        return PermanentActionError(self.service, reason, status)


def _decode(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw.decode(errors="replace")


def retry_after(value: str | None) -> float | None:
    """Seconds to wait, from a ``Retry-After`` of delta-seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def _until_epoch(value: str | None) -> float | None:
    """Seconds until an epoch timestamp such as GitHub's ``X-RateLimit-Reset``."""
    try:
        return max(0.0, float(value or "") - time.time())
    except ValueError:
        return None
