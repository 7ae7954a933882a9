"""Standard Webhooks (standardwebhooks.com): ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature``
with space-separated ``v1,<base64>`` entries; ``whsec_`` secrets; five minutes of tolerance; several active
secrets at once so a secret can be rotated with no downtime. The ``webhook-id`` is signed, and it "remains
the same no matter how many times a webhook that has failed is retried" (Standard Webhooks 1.0.0, "Webhook
metadata", https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md), so it
is the event's content identity as well."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Sequence
from typing import Any, ClassVar

from switchboard.adapters.base import Accepted, Interpretation, WebhookRequest, check_timestamp
from switchboard.errors import BadSignature, MalformedPayload
from switchboard.models import InboundEvent, Platform
from switchboard.sanitize import clean_field, clean_id, clean_text, extract_links

SECRET_PREFIX = "whsec_"  # noqa: S105  # the spec's prefix, not a secret


def secret_key(secret: str) -> bytes:
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise RuntimeError("a standard webhooks secret must be whsec_ followed by base64") from None


def sign(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    """One ``v1,<base64>`` signature entry, as a sender computes it."""
    content = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    return "v1," + base64.b64encode(hmac.new(secret_key(secret), content, hashlib.sha256).digest()).decode()


class StandardWebhooksAdapter:
    platform: ClassVar[Platform] = Platform.STANDARD

    def verify(self, request: WebhookRequest, secrets: Sequence[str]) -> None:
        msg_id = request.header("webhook-id")
        timestamp = request.header("webhook-timestamp")
        header = request.header("webhook-signature")
        if not msg_id or not timestamp or not header:
            raise BadSignature("missing_signature")
        check_timestamp(timestamp, request.received_at)
        given = [entry.encode() for entry in header.split() if entry.startswith("v1,")]
        if not given:
            raise BadSignature("unsupported_signature_scheme")
        expected = [sign(secret, msg_id, timestamp, request.body).encode() for secret in secrets]
        # every pair is compared, in constant time each, so timing says nothing about which one matched
        matches = [hmac.compare_digest(e, g) for e in expected for g in given]
        if not any(matches):
            raise BadSignature("signature_mismatch")

    def signed_headers(self, body: bytes, secret: str, delivery_id: str, event_type: str) -> dict[str, str]:
        timestamp = str(int(time.time()))
        return {
            "Content-Type": "application/json",
            "webhook-id": delivery_id,
            "webhook-timestamp": timestamp,
            "webhook-signature": sign(secret, delivery_id, timestamp, body),
        }

    def interpret(self, request: WebhookRequest, payload: dict[str, Any]) -> Interpretation:
        msg_id = clean_id(request.header("webhook-id"))
        if not msg_id:
            raise MalformedPayload("missing_webhook_id")
        event_type = clean_field(payload.get("type"), limit=128)
        data = payload.get("data")
        if not event_type:
            raise MalformedPayload("missing_type")
        if not isinstance(data, dict):
            raise MalformedPayload("missing_data")
        text = clean_text(data.get("text") or data.get("message") or data.get("body"))
        conversation = clean_field(data.get("conversation") or data.get("thread_id")) or event_type
        return Accepted(
            InboundEvent(
                platform=Platform.STANDARD,
                event_id=msg_id,
                content_id=msg_id,
                event_type=event_type,
                author=clean_field(data.get("author") or data.get("user")),
                conversation=conversation,
                text=text,
                links=extract_links(text),
                received_at=request.received_at,
                raw_ref=clean_field(data.get("url"), limit=1_024),
                context={key: value for key, value in {"conversation": conversation}.items() if value},
            )
        )
