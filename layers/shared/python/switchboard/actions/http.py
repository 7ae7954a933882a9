"""A small JSON-over-HTTPS client on the standard library: a timeout on every call, typed errors.

5xx, 429, timeouts and connection errors are transient (retry the action); other 4xx are permanent.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from switchboard.errors import PermanentActionError, TransientActionError


@dataclass(frozen=True)
class HttpResult:
    status: int
    body: Any
    headers: dict[str, str]


class JsonHttpClient:
    def __init__(self, service: str, base_url: str, headers: dict[str, str], timeout: float) -> None:
        if not base_url.startswith(("https://", "http://")):
            raise ValueError(f"{service}: base URL must be http(s): {base_url!r}")
        self.service = service
        self.base_url = base_url.rstrip("/")
        self.headers = headers
        self.timeout = timeout

    def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> HttpResult:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310  # the scheme is checked in __init__
            self.base_url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json", **self.headers, **(headers or {})},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return HttpResult(response.status, _decode(response.read()), dict(response.headers))
        except urllib.error.HTTPError as exc:
            status = exc.code
            reason = f"HTTP {status} from {method} {path}"
            if status == 429 or status >= 500:
                raise TransientActionError(
                    self.service, reason, status, retry_after=retry_after(exc.headers.get("Retry-After"))
                ) from None
            raise PermanentActionError(self.service, reason, status) from None
        except TimeoutError:
            raise TransientActionError(
                self.service, f"timeout after {self.timeout}s on {method} {path}"
            ) from None
        except urllib.error.URLError as exc:
            raise TransientActionError(self.service, f"connection failed: {exc.reason}") from None


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
        from datetime import UTC, datetime

        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None
