"""Slack Events API: ``X-Slack-Signature`` v0 over ``v0:{timestamp}:{body}``, a five-minute replay window on
``X-Slack-Request-Timestamp``, ``event_id`` as the dedup id (so ``X-Slack-Retry-Num`` retries are duplicates),
the thread as the message group, and bot messages (ours included) ignored.

One message can arrive as several events: a ``message`` and an ``app_mention`` (each with its own
``event_id``) when the bot is mentioned, and again under a new ``event_id`` when Slack resends it. Its content
identity, team + channel + ``ts`` (a message's ``ts`` is unique in its channel,
https://api.slack.com/events/message), is the claim's second key, so all of them are one task."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Sequence
from typing import Any, ClassVar

from switchboard.adapters.base import (
    Accepted,
    Ignored,
    Interpretation,
    Reply,
    WebhookRequest,
    check_timestamp,
)
from switchboard.errors import BadSignature, MalformedPayload
from switchboard.fields import is_slack_id, is_slack_ts
from switchboard.models import InboundEvent, Platform
from switchboard.sanitize import clean_field, clean_id, clean_text, extract_links

ACCEPTED_EVENTS = frozenset({"message", "app_mention"})
IGNORED_SUBTYPES = frozenset(
    {"bot_message", "message_changed", "message_deleted", "channel_join", "channel_leave"}
)
_LEADING_MENTION = re.compile(r"\s*<@(?P<user>[A-Z0-9]{2,32})(?:\|[^>\n]{0,100})?>[\s,:]*")
ID_LIMIT = 64  # team, channel and user ids are about a dozen characters, a ts is "1355517523.000005"


def bot_users(payload: dict[str, Any]) -> frozenset[str]:
    """Our bot's own user id: the ``authorizations`` entry that ``is_bot`` (the Events API's callback field;
    it replaced ``authed_users``, docs.slack.dev/changelog/2020-09-15-events-api-truncate-authed-users)."""
    found = payload.get("authorizations")
    entries = found if isinstance(found, list) else []
    return frozenset(
        user
        for entry in entries[:10]
        if isinstance(entry, dict) and entry.get("is_bot") is True
        for user in [clean_id(entry.get("user_id"), limit=ID_LIMIT)]
        if user and is_slack_id(user)
    )


def addressed(text: object, bots: frozenset[str]) -> object:
    """The text without a leading mention of our own bot (``<@U123> help`` is ``help`` said to us): that
    mention is addressing, not text. Other mentions, and a mention of us later on, stay."""
    if not isinstance(text, str) or not bots:
        return text
    mention = _LEADING_MENTION.match(text)
    return text[mention.end() :] if mention and mention["user"] in bots else text


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Slack-Signature`` value Slack would send."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


class SlackAdapter:
    platform: ClassVar[Platform] = Platform.SLACK

    def verify(self, request: WebhookRequest, secrets: Sequence[str]) -> None:
        timestamp = request.header("x-slack-request-timestamp")
        signature = request.header("x-slack-signature")
        if not timestamp or not signature:
            raise BadSignature("missing_signature")
        check_timestamp(timestamp, request.received_at)
        given = signature.encode()
        if not any(hmac.compare_digest(sign(s, timestamp, request.body).encode(), given) for s in secrets):
            raise BadSignature("signature_mismatch")

    def signed_headers(self, body: bytes, secret: str, delivery_id: str, event_type: str) -> dict[str, str]:
        timestamp = str(int(time.time()))
        return {
            "Content-Type": "application/json",
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": sign(secret, timestamp, body),
        }

    def interpret(self, request: WebhookRequest, payload: dict[str, Any]) -> Interpretation:
        kind = clean_field(payload.get("type"), limit=64)
        if kind == "url_verification":
            challenge = payload.get("challenge")
            if not isinstance(challenge, str) or not challenge:
                raise MalformedPayload("missing_challenge")
            return Reply(200, {"challenge": challenge})
        event_id = clean_id(payload.get("event_id"))
        if not event_id:
            raise MalformedPayload("missing_event_id")
        if kind != "event_callback":
            return Ignored(event_id, f"payload_not_handled:{kind}")
        event = payload.get("event")
        if not isinstance(event, dict):
            raise MalformedPayload("missing_event")
        event_type = clean_field(event.get("type"), limit=64) or "unknown"
        if event_type not in ACCEPTED_EVENTS:
            return Ignored(event_id, f"event_not_handled:{event_type}")
        subtype = clean_field(event.get("subtype"), limit=64)
        if event.get("bot_id") or subtype in IGNORED_SUBTYPES:
            return Ignored(event_id, "bot_or_system_message")
        channel = clean_id(event.get("channel"), limit=ID_LIMIT)
        ts = clean_id(event.get("ts"), limit=ID_LIMIT)
        if not channel or not ts:
            raise MalformedPayload("missing_channel_or_ts")
        thread = clean_id(event.get("thread_ts"), limit=ID_LIMIT) or ts
        # a reply goes to this channel and thread: the door takes only what slack.reply can act on
        if not is_slack_id(channel):
            raise MalformedPayload("invalid_channel")
        if not (is_slack_ts(ts) and is_slack_ts(thread)):
            raise MalformedPayload("invalid_ts")
        team = clean_id(payload.get("team_id"), limit=ID_LIMIT) or "team"
        text = clean_text(addressed(event.get("text"), bot_users(payload)))
        return Accepted(
            InboundEvent(
                platform=Platform.SLACK,
                event_id=event_id,
                content_id=f"{team}:{channel}:{ts}",
                event_type=event_type,
                author=clean_field(event.get("user")),
                conversation=f"{team}:{channel}:{thread}",
                text=text,
                links=extract_links(text),
                received_at=request.received_at,
                raw_ref=f"slack://{team}/{channel}/{ts}",
                # the other system subtypes are dropped by a rule, with their reason (rules.NothingToSay)
                context={"team": team, "channel": channel, "thread_ts": thread, "ts": ts}
                | ({"subtype": subtype} if subtype else {}),
            )
        )
