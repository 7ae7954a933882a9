"""The interface every platform adapter implements, and the small value types it returns."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol

from switchboard.errors import BadSignature, MalformedPayload
from switchboard.models import InboundEvent, Platform


@dataclass(frozen=True)
class WebhookRequest:
    """What reached the door: lower-cased headers, the raw body bytes, and when it arrived."""

    headers: Mapping[str, str]
    body: bytes
    received_at: datetime

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self) -> dict[str, Any]:
        try:
            payload = json.loads(self.body)
        except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, an integer over 4,300 digits
            raise MalformedPayload("malformed_json", exc.__class__.__name__) from None
        except RecursionError:  # nesting deeper than the interpreter's recursion limit
            raise MalformedPayload("json_too_deep") from None
        if not isinstance(payload, dict):
            raise MalformedPayload("json_not_an_object")
        return payload


REPLAY_WINDOW_SECONDS = 300


def check_timestamp(value: str, now: datetime, window: int = REPLAY_WINDOW_SECONDS) -> None:
    """A signed timestamp must be within ``window`` seconds of now, either way: older is a replay."""
    try:
        sent = int(value)
    except ValueError:
        raise BadSignature("malformed_timestamp") from None
    if abs(int(now.timestamp()) - sent) > window:  # in integers: a 400-digit timestamp overflows a float
        raise BadSignature("stale_timestamp")


@dataclass(frozen=True)
class Accepted:
    """Work for the agent: enqueue it."""

    event: InboundEvent


@dataclass(frozen=True)
class Ignored:
    """A valid, signed request we do not act on: answered ``202 ignored`` and not enqueued."""

    event_id: str
    reason: str


@dataclass(frozen=True)
class Reply:
    """A handshake the platform expects an immediate answer to (ping, url_verification)."""

    status: int
    body: dict[str, Any] = field(default_factory=dict)


Interpretation = Accepted | Ignored | Reply


class PlatformAdapter(Protocol):
    platform: ClassVar[Platform]

    def verify(self, request: WebhookRequest, secrets: Sequence[str]) -> None:
        """Raise ``BadSignature`` unless one of the active secrets signed this request (constant time)."""
        ...

    def interpret(self, request: WebhookRequest, payload: dict[str, Any]) -> Interpretation:
        """Normalize a verified payload into an ``InboundEvent``, or say why it is ignored."""
        ...

    def signed_headers(self, body: bytes, secret: str, delivery_id: str, event_type: str) -> dict[str, str]:
        """The headers the platform itself would send with ``body`` (``switchboard send`` uses them)."""
        ...
