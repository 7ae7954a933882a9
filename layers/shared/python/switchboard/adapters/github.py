"""GitHub webhooks: ``X-Hub-Signature-256`` over the raw body, ``X-GitHub-Event`` for the type,
``X-GitHub-Delivery`` as the dedup id, and the issue, PR or discussion as the message group.

GitHub signs no timestamp, so a replayed delivery is caught by its delivery id (the seen mark at the door and
the processed-id claim behind it), not by a time window.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import Any, ClassVar

from switchboard.adapters.base import Accepted, Ignored, Interpretation, Reply, WebhookRequest
from switchboard.errors import BadSignature, MalformedPayload
from switchboard.models import InboundEvent, Platform
from switchboard.sanitize import clean_field, clean_text, extract_links

# event type → the actions we act on; anything else is answered ``202 ignored``.
ACCEPTED_EVENTS: dict[str, frozenset[str]] = {
    "issue_comment": frozenset({"created"}),
    "issues": frozenset({"opened"}),
    "pull_request_review_comment": frozenset({"created"}),
    "discussion": frozenset({"created"}),
    "discussion_comment": frozenset({"created"}),
}


def sign(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value GitHub would send for this body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class GitHubAdapter:
    platform: ClassVar[Platform] = Platform.GITHUB

    def verify(self, request: WebhookRequest, secrets: Sequence[str]) -> None:
        signature = request.header("x-hub-signature-256")
        if not signature:
            raise BadSignature("missing_signature")
        if not signature.startswith("sha256="):
            raise BadSignature("unsupported_signature_scheme")
        given = signature.encode()
        if not any(hmac.compare_digest(sign(secret, request.body).encode(), given) for secret in secrets):
            raise BadSignature("signature_mismatch")

    def interpret(self, request: WebhookRequest, payload: dict[str, Any]) -> Interpretation:
        delivery = clean_field(request.header("x-github-delivery"))
        event_type = clean_field(request.header("x-github-event"))
        if not delivery:
            raise MalformedPayload("missing_delivery_id")
        if not event_type:
            raise MalformedPayload("missing_event_type")
        if event_type == "ping":
            return Reply(200, {"event_id": delivery, "status": "pong"})
        action = payload.get("action")
        if action not in ACCEPTED_EVENTS.get(event_type, frozenset()):
            return Ignored(delivery, f"event_not_handled:{event_type}.{action}")
        repo = clean_field(_dig(payload, "repository", "full_name"))
        if not repo:
            raise MalformedPayload("missing_repository")
        thread, item = _thread(payload)
        if item is None:
            raise MalformedPayload("missing_issue_or_discussion")
        number = clean_field(item.get("number"))
        if not number:
            raise MalformedPayload("missing_number")
        body_source = payload.get("comment") if "comment" in payload else item
        body = body_source if isinstance(body_source, dict) else {}
        user = body.get("user") if isinstance(body.get("user"), dict) else payload.get("sender")
        user = user if isinstance(user, dict) else {}
        author = clean_field(user.get("login"))
        text = clean_text(body.get("body"))
        if event_type in {"issues", "discussion"}:
            title = clean_text(item.get("title"), limit=512)
            text = f"{title}\n\n{text}".strip() if title else text
        return Accepted(
            InboundEvent(
                platform=Platform.GITHUB,
                event_id=delivery,
                event_type=f"{event_type}.{action}",
                author=author,
                author_is_bot=user.get("type") == "Bot" or (author or "").endswith("[bot]"),
                conversation=f"{repo}#{thread}{number}",
                text=text,
                links=extract_links(text),
                received_at=request.received_at,
                raw_ref=clean_field(body.get("html_url") or item.get("html_url"), limit=1_024),
                context={
                    "repo": repo,
                    "number": number,
                    "kind": "discussion" if thread else ("pull_request" if _is_pr(item) else "issue"),
                },
            )
        )


def _thread(payload: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
    for key, prefix in (("issue", ""), ("pull_request", ""), ("discussion", "discussion/")):
        item = payload.get(key)
        if isinstance(item, dict):
            return prefix, item
    return "", None


def _is_pr(item: dict[str, Any]) -> bool:
    return "pull_request" in item or "merged" in item


def _dig(payload: dict[str, Any], *keys: str) -> Any:
    value: Any = payload
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value
