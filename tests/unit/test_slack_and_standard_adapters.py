"""Slack and Standard Webhooks signatures, checked against the providers' own reference implementations."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
from slack_sdk.signature import SignatureVerifier
from standardwebhooks.webhooks import Webhook

from switchboard.adapters import Accepted, Ignored, Reply, WebhookRequest
from switchboard.adapters.slack import SlackAdapter
from switchboard.adapters.slack import sign as slack_sign
from switchboard.adapters.standard import StandardWebhooksAdapter
from switchboard.adapters.standard import sign as standard_sign
from switchboard.errors import BadSignature, MalformedPayload

SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
WHSEC_NEW = "whsec_c3dpdGNoYm9hcmQtZGV2LXN0YW5kYXJkLWtleQ=="


def slack_message(**event: object) -> bytes:
    payload = {
        "token": "legacy",
        "team_id": "T061EG9R6",
        "api_app_id": "A0PNCHHK2",
        "type": "event_callback",
        "event_id": "Ev0PV52K25",
        "event_time": 1_700_000_000,
        "event": {
            "type": "message",
            "channel": "C2147483705",
            "user": "U2147483697",
            "text": "Hello <b>world</b>",
            "ts": "1355517523.000005",
        }
        | event,
    }
    return json.dumps(payload).encode()


def slack_request(body: bytes, timestamp: int | None = None, secret: str = SLACK_SECRET) -> WebhookRequest:
    ts = str(timestamp if timestamp is not None else int(time.time()))
    return WebhookRequest(
        headers={
            "content-type": "application/json",
            "x-slack-request-timestamp": ts,
            "x-slack-signature": slack_sign(secret, ts, body),
        },
        body=body,
        received_at=datetime.now(UTC),
    )


def test_slack_signature_matches_slack_sdk() -> None:
    body = slack_message()
    ts = str(int(time.time()))
    verifier = SignatureVerifier(SLACK_SECRET)
    assert slack_sign(SLACK_SECRET, ts, body) == verifier.generate_signature(timestamp=ts, body=body)
    assert verifier.is_valid(body=body, timestamp=ts, signature=slack_sign(SLACK_SECRET, ts, body))


def test_slack_verify_accepts_a_fresh_signed_request() -> None:
    SlackAdapter().verify(slack_request(slack_message()), [SLACK_SECRET])


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda b: slack_request(b, timestamp=int(time.time()) - 301), "stale_timestamp"),
        (lambda b: slack_request(b, timestamp=int(time.time()) + 301), "stale_timestamp"),
        (lambda b: slack_request(b, secret="wrong"), "signature_mismatch"),
    ],
)
def test_slack_verify_rejects_replays_and_wrong_secrets(make, reason: str) -> None:
    with pytest.raises(BadSignature) as raised:
        SlackAdapter().verify(make(slack_message()), [SLACK_SECRET])
    assert raised.value.reason == reason


def test_slack_verify_rejects_one_tampered_byte() -> None:
    signed = slack_request(slack_message())
    tampered = WebhookRequest(signed.headers, signed.body.replace(b"world", b"worle"), signed.received_at)
    with pytest.raises(BadSignature):
        SlackAdapter().verify(tampered, [SLACK_SECRET])


def test_slack_url_verification_is_answered_with_its_challenge() -> None:
    challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    body = json.dumps({"token": "t", "challenge": challenge, "type": "url_verification"}).encode()
    request = slack_request(body)
    outcome = SlackAdapter().interpret(request, request.json())
    assert outcome == Reply(200, {"challenge": challenge})


def test_slack_message_normalizes_with_the_thread_as_group() -> None:
    request = slack_request(slack_message(thread_ts="1355517500.000001"))
    outcome = SlackAdapter().interpret(request, request.json())
    assert isinstance(outcome, Accepted)
    assert outcome.event.conversation == "T061EG9R6:C2147483705:1355517500.000001"
    assert outcome.event.text == "Hello world"
    assert outcome.event.event_id == "Ev0PV52K25"


@pytest.mark.parametrize("extra", [{"bot_id": "B123"}, {"subtype": "bot_message"}])
def test_slack_bot_messages_are_ignored(extra: dict[str, str]) -> None:
    request = slack_request(slack_message(**extra))
    assert isinstance(SlackAdapter().interpret(request, request.json()), Ignored)


def standard_request(body: bytes, secret: str = WHSEC, timestamp: int | None = None) -> WebhookRequest:
    ts = str(timestamp if timestamp is not None else int(time.time()))
    return WebhookRequest(
        headers={
            "content-type": "application/json",
            "webhook-id": "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
            "webhook-timestamp": ts,
            "webhook-signature": standard_sign(secret, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", ts, body),
        },
        body=body,
        received_at=datetime.now(UTC),
    )


STANDARD_BODY = json.dumps(
    {"type": "comment.created", "timestamp": "2026-11-21T08:30:00Z", "data": {"text": "hi", "author": "ada"}}
).encode()


def test_standard_signature_is_accepted_by_the_reference_library() -> None:
    request = standard_request(STANDARD_BODY)
    Webhook(WHSEC).verify(STANDARD_BODY, dict(request.headers))  # raises on a mismatch


def test_standard_verify_accepts_what_the_reference_library_signs() -> None:
    ts = datetime.now(UTC)
    signature = Webhook(WHSEC).sign("msg_1", ts, STANDARD_BODY.decode())
    request = WebhookRequest(
        headers={
            "webhook-id": "msg_1",
            "webhook-timestamp": str(int(ts.timestamp())),
            "webhook-signature": signature,
        },
        body=STANDARD_BODY,
        received_at=ts,
    )
    StandardWebhooksAdapter().verify(request, [WHSEC])


def test_standard_rotation_accepts_either_active_secret() -> None:
    StandardWebhooksAdapter().verify(standard_request(STANDARD_BODY, secret=WHSEC_NEW), [WHSEC, WHSEC_NEW])
    with pytest.raises(BadSignature):
        StandardWebhooksAdapter().verify(standard_request(STANDARD_BODY, secret=WHSEC_NEW), [WHSEC])


def test_standard_stale_timestamp_is_a_replay() -> None:
    with pytest.raises(BadSignature) as raised:
        StandardWebhooksAdapter().verify(
            standard_request(STANDARD_BODY, timestamp=int(time.time()) - 600), [WHSEC]
        )
    assert raised.value.reason == "stale_timestamp"


def test_standard_event_normalizes() -> None:
    request = standard_request(STANDARD_BODY)
    outcome = StandardWebhooksAdapter().interpret(request, request.json())
    assert isinstance(outcome, Accepted)
    assert (outcome.event.event_type, outcome.event.author, outcome.event.text) == (
        "comment.created",
        "ada",
        "hi",
    )


def test_standard_event_without_data_is_malformed() -> None:
    request = standard_request(b'{"type": "x"}')
    with pytest.raises(MalformedPayload):
        StandardWebhooksAdapter().interpret(request, request.json())
