"""GitHub webhooks: ``X-Hub-Signature-256`` over the raw body, ``X-GitHub-Event`` for the type,
``X-GitHub-Delivery`` as the dedup id, and the issue, PR or discussion as the message group.

GitHub signs no timestamp, so a replayed delivery is caught by its delivery id (the seen mark at the door and
the processed-id claim behind it), not by a time window. Nor does it sign ``X-GitHub-Delivery``: the same
signed body sent again under a new delivery id is the same logical event, so each event carries a content
identity taken from the signed body (``content_identity``), which the claim records as its second key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Any, ClassVar

from switchboard.adapters.base import Accepted, Ignored, Interpretation, Reply, WebhookRequest
from switchboard.errors import BadSignature, MalformedPayload
from switchboard.fields import MAX_ISSUE_NUMBER, is_repo
from switchboard.models import InboundEvent, Platform
from switchboard.sanitize import clean_field, clean_id, clean_text, extract_links

# event type → the actions we act on; anything else is answered ``202 ignored``.
ACCEPTED_EVENTS: dict[str, frozenset[str]] = {
    "issue_comment": frozenset({"created"}),
    "issues": frozenset({"opened"}),
    "pull_request_review_comment": frozenset({"created"}),
    "discussion": frozenset({"created"}),
    "discussion_comment": frozenset({"created"}),
}

REPO_LIMIT = 140  # "owner/name": GitHub caps an owner at 39 characters and a repository name at 100


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

    def signed_headers(self, body: bytes, secret: str, delivery_id: str, event_type: str) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "X-GitHub-Event": event_type,
            "X-GitHub-Delivery": delivery_id,
            "X-Hub-Signature-256": sign(secret, body),
            "User-Agent": "GitHub-Hookshot/switchboard-cli",
        }

    def interpret(self, request: WebhookRequest, payload: dict[str, Any]) -> Interpretation:
        delivery = clean_id(request.header("x-github-delivery"))
        event_type = clean_field(request.header("x-github-event"))
        if not delivery:
            raise MalformedPayload("missing_delivery_id")
        if not event_type:
            raise MalformedPayload("missing_event_type")
        if event_type == "ping":
            return Reply(200, {"event_id": delivery, "status": "pong"})
        action = clean_field(payload.get("action"), limit=64)
        if action not in ACCEPTED_EVENTS.get(event_type, frozenset()):
            return Ignored(delivery, f"event_not_handled:{event_type}.{action}")
        repo = clean_id(_dig(payload, "repository", "full_name"), limit=REPO_LIMIT)
        if not repo:
            raise MalformedPayload("missing_repository")
        if not is_repo(repo):  # every GitHub ability acts on it (switchboard.fields)
            raise MalformedPayload("invalid_repository")
        found = _thread(payload)
        if found is None:
            raise MalformedPayload("missing_issue_or_discussion")
        prefix, kind, item = found
        raw_number = item.get("number")
        if (
            isinstance(raw_number, bool)
            or not isinstance(raw_number, int)
            or not 0 < raw_number <= MAX_ISSUE_NUMBER
        ):
            raise MalformedPayload("missing_number")
        number = str(raw_number)
        body_source = payload.get("comment") if "comment" in payload else item
        body = body_source if isinstance(body_source, dict) else {}
        user = body.get("user") if isinstance(body.get("user"), dict) else payload.get("sender")
        user = user if isinstance(user, dict) else {}
        author = clean_field(user.get("login"))
        text = clean_text(body.get("body"))
        if event_type in {"issues", "discussion"}:
            title = clean_text(item.get("title"), limit=512)
            text = clean_text(f"{title}\n\n{text}") if title else text  # both clean: this only caps
        return Accepted(
            InboundEvent(
                platform=Platform.GITHUB,
                event_id=delivery,
                content_id=content_identity(event_type, action, payload, item),
                event_type=f"{event_type}.{action}",
                author=author,
                author_is_bot=user.get("type") == "Bot" or (author or "").endswith("[bot]"),
                conversation=f"{repo}#{prefix}{number}",
                text=text,
                links=extract_links(text),
                received_at=request.received_at,
                raw_ref=clean_field(body.get("html_url") or item.get("html_url"), limit=1_024),
                context={
                    "repo": repo,
                    "number": number,
                    "kind": kind,
                    "issue_author": clean_field(_dig(item, "user", "login")) or "",
                },
            )
        )


#: The object whose ``id`` and ``updated_at`` name one logical event of each kind (with the action).
_SUBJECT: dict[str, str] = {
    "issue_comment": "comment",
    "issues": "issue",
    "pull_request_review_comment": "comment",
    "discussion": "discussion",
    "discussion_comment": "comment",
}


def content_identity(event_type: str, action: str, payload: dict[str, Any], item: dict[str, Any]) -> str:
    """The logical event, whatever delivery carried it: the kind, the action, and the id and ``updated_at``
    of its subject (the comment of a comment event; the issue or discussion itself), all from the signed
    body. GitHub documents ``id`` and ``updated_at`` on every one of these objects
    (https://docs.github.com/webhooks/webhook-events-and-payloads); a body without them is named by its
    digest, which a byte-identical replay shares."""
    subject = payload.get(_SUBJECT.get(event_type, ""))
    subject = subject if isinstance(subject, dict) else item
    raw_id = subject.get("id")
    subject_id = None if isinstance(raw_id, bool) else clean_id(raw_id, limit=32)
    updated = clean_id(subject.get("updated_at"), limit=64) or clean_id(subject.get("created_at"), limit=64)
    if subject_id and updated:
        return f"{event_type}.{action}:{subject_id}:{updated}"
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()
    return f"{event_type}.{action}:sha256:{hashlib.sha256(canonical).hexdigest()}"


def _thread(payload: dict[str, Any]) -> tuple[str, str, dict[str, Any]] | None:
    """The conversation prefix, the kind and the object of the issue, pull request or discussion.

    ``pull_request_review_comment`` payloads carry the PR under ``pull_request`` (without ``merged``);
    ``issue_comment`` payloads on a PR carry it under ``issue``, with a ``pull_request`` link.
    """
    for key, prefix in (("issue", ""), ("pull_request", ""), ("discussion", "discussion/")):
        item = payload.get(key)
        if isinstance(item, dict):
            is_pr = key == "pull_request" or isinstance(item.get("pull_request"), dict)
            return prefix, "pull_request" if is_pr else key, item
    return None


def _dig(payload: dict[str, Any], *keys: str) -> Any:
    value: Any = payload
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value
