"""The door: verify, validate, sanitize, normalize, enqueue, answer. No business logic lives here.

This module and everything it imports stays free of ``anthropic``: it is the cold-start path of every webhook.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from aws_lambda_powertools import Logger

from switchboard.adapters import Ignored, PlatformAdapter, Reply, WebhookRequest
from switchboard.adapters.standard import SECRET_PREFIX
from switchboard.errors import (
    DependencyRefused,
    DependencyUnavailable,
    MalformedPayload,
    PayloadTooLarge,
    RequestRejected,
    UnsupportedMediaType,
)
from switchboard.metrics import Metric, count
from switchboard.models import InboundEvent, IngestAnswer, Platform
from switchboard.ports import QueueSender, SeenLog

logger = Logger(child=True)

MAX_BODY_BYTES = 256 * 1024
JSON_TYPES = frozenset({"application/json"})

SecretSource = Callable[[], Sequence[str]]


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: dict[str, Any]

    def to_api_gateway(self) -> dict[str, Any]:
        return {
            "statusCode": self.status,
            "headers": {"content-type": "application/json"},
            "body": json.dumps(self.body),
        }


#: SQS FIFO deduplication: "If a message with a particular MessageDeduplicationId is sent successfully,
#: any messages sent with the same MessageDeduplicationId are accepted successfully but aren't delivered
#: during the 5-minute deduplication interval" (SendMessage's MessageDeduplicationId, as the AWS SDK for
#: Kotlin reference renders the SQS API model: https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/sqs/
#: aws.sdk.kotlin.services.sqs.model/-send-message-request/message-deduplication-id.html), and "Amazon SQS
#: continues tracking the deduplication ID even after the message has been received and deleted" ("Amazon SQS
#: FIFO queue key terms", https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/
#: FIFO-key-terms.html); both read 2026-12-02.
QUEUE_DEDUP_WINDOW_SECONDS: Final = 300.0

#: How long a mark without a claim means "maybe not in": past it, a mark is a duplicate on its own. It
#: must stay under the classifier's claims' life (a claim is its task: ``task_ttl_days``, 90 days), or a
#: mark would outlive the claim it asks about. 7 days: the longest a provider redelivers (GitHub Enterprise
#: Server lists the past 7 days' deliveries for redelivery, github.com the past 3: "Redelivering webhooks",
#: https://docs.github.com/en/webhooks/testing-and-troubleshooting-webhooks/redelivering-webhooks, read
#: 2026-12-02); a polled feed retries at its next poll, since its cursor only moves after the enqueue.
CLAIM_RECHECK_SECONDS: Final = 7 * 86_400.0


class Enqueuer:
    """The one way an event enters the pipeline, for webhooks and polled feeds alike: one conditional write
    (the seen mark) and one send per new delivery.

    The mark is written first, in the same request that finds an earlier one (``SeenLog.first_sight``), and
    the message is sent after it. Why a mark can then never make an event lost:
    - the send fails: the mark is removed (``forget``) before the error leaves, so the provider's retry (or
      the next poll) is a first sight again;
    - the removal fails too, or the process dies between the mark and the send (a timeout): a later delivery
      finds the mark, and the mark's age decides. Younger than the queue's 5-minute deduplication window
      (``QUEUE_DEDUP_WINDOW_SECONDS``; the mark predates the send, so the send, if it happened, is younger
      still): the message is sent again, and the queue drops it if the first send landed (its
      ``MessageDeduplicationId`` is the delivery id). Older: the classifier's claim (the second layer, in
      the same table) says whether the event got in; without one it is sent again, and if the first copy is
      in fact still queued, the claim makes the second a skipped duplicate;
    - two deliveries race: one writes the mark and sends; the other finds a mark younger than the window and
      sends too, and the queue keeps one of the two.
    So the door still stops every duplicate that arrives after its first delivery got in: inside the window
    at the queue, for no extra write; after it, without a send, for one read of the claim; after
    ``CLAIM_RECHECK_SECONDS``, on the mark alone. Either branch is safe whatever the clocks say (sending
    again is deduplicated by the queue or by the claim), so the window only decides which check is cheaper.
    The answer is ``duplicate`` whenever an earlier mark was found (the message is in the queue either way).
    """

    def __init__(
        self,
        queue: QueueSender,
        queue_url: str,
        seen: SeenLog,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.queue = queue
        self.queue_url = queue_url
        self.seen = seen
        self.clock = clock

    def enqueue(self, event: InboundEvent) -> str:
        """``accepted`` or ``duplicate``."""
        logger.set_correlation_id(event.event_id)
        platform = event.platform.value
        earlier = self.seen.first_sight(platform, event.event_id)
        if earlier is not None and not self._may_be_missing(event, earlier):
            logger.info("duplicate delivery", platform=platform)
            count(Metric.EVENTS_DUPLICATE)
            return "duplicate"
        try:
            message_id = self.queue.send(
                self.queue_url,
                event.model_dump_json(),
                group_id=f"{platform}:{event.conversation}",
                dedup_id=f"{platform}:{event.event_id}",
            )
        except Exception:  # whatever stopped the send, the mark must not outlive it; the error goes on
            if earlier is None:
                self._forget(platform, event.event_id)
            raise
        if earlier is not None:
            logger.info("duplicate delivery sent again", platform=platform, message_id=message_id)
            count(Metric.EVENTS_DUPLICATE)
            return "duplicate"
        logger.info("event accepted", platform=platform, message_id=message_id)
        count(Metric.EVENTS_ACCEPTED)
        return "accepted"

    def _may_be_missing(self, event: InboundEvent, marked_at: float) -> bool:
        """Whether the delivery that wrote the mark might not have got its message in (see the class)."""
        age = self.clock() - marked_at
        if age < QUEUE_DEDUP_WINDOW_SECONDS:
            return True  # sending again costs nothing: the queue deduplicates it
        if age >= CLAIM_RECHECK_SECONDS:
            return False  # the claim it would ask about may have expired: the mark decides
        return not self.seen.claimed(event)

    def _forget(self, platform: str, event_id: str) -> None:
        try:
            self.seen.forget(platform, event_id)
        except (DependencyUnavailable, DependencyRefused) as exc:  # the mark's age covers it (see the class)
            logger.warning("seen mark not removed", platform=platform, event_id=event_id, error=str(exc))


class IngestService:
    def __init__(self, adapter: PlatformAdapter, secrets: SecretSource, door: Enqueuer) -> None:
        self.adapter = adapter
        self.secrets = secrets
        self.door = door

    def handle(self, headers: Mapping[str, str], raw_body: str | None, is_base64: bool) -> HttpResponse:
        """The one place where a rejected request becomes an HTTP answer."""
        try:
            return self._handle(request_from(headers, raw_body, is_base64))
        except RequestRejected as exc:
            logger.warning(
                "request rejected",
                platform=self.adapter.platform.value,
                status=exc.status,
                reason=exc.reason,
                detail=exc.detail,
            )
            count(Metric.EVENTS_REJECTED)
            return HttpResponse(exc.status, {"error": exc.reason})

    def _handle(self, request: WebhookRequest) -> HttpResponse:
        if len(request.body) > MAX_BODY_BYTES:
            raise PayloadTooLarge("payload_too_large", f"{len(request.body)} bytes")
        media_type = (request.header("content-type") or "").split(";")[0].strip().lower()
        if media_type not in JSON_TYPES:
            raise UnsupportedMediaType("unsupported_media_type", media_type or "none")
        self.adapter.verify(request, self.secrets())
        outcome = self.adapter.interpret(request, request.json())
        if isinstance(outcome, Reply):
            return HttpResponse(outcome.status, outcome.body)
        if isinstance(outcome, Ignored):
            logger.info("event ignored", event_id=outcome.event_id, reason=outcome.reason)
            count(Metric.EVENTS_IGNORED)
            return HttpResponse(202, answer(outcome.event_id, "ignored", outcome.reason))
        status = self.door.enqueue(outcome.event)
        return HttpResponse(202, answer(outcome.event.event_id, status, task_id=outcome.event.task_id))


def answer(
    event_id: str, status: str, reason: str | None = None, task_id: str | None = None
) -> dict[str, Any]:
    return IngestAnswer(event_id=event_id, status=status, reason=reason, task_id=task_id).model_dump(
        exclude_none=True
    )


def request_from(headers: Mapping[str, str], raw_body: str | None, is_base64: bool) -> WebhookRequest:
    body = raw_body or ""
    try:
        data = base64.b64decode(body, validate=True) if is_base64 else body.encode()
    except ValueError:  # bad or non-ASCII base64 (binascii.Error), a lone surrogate (UnicodeEncodeError)
        raise MalformedPayload("undecodable_body") from None
    # signatures and ids are compared and hashed as bytes, so every header value must encode
    if not all(_encodable(value) for value in headers.values()):
        raise MalformedPayload("undecodable_header")
    return WebhookRequest(
        headers={key.lower(): value for key, value in headers.items()},
        body=data,
        received_at=datetime.now(UTC),
    )


def _encodable(value: str) -> bool:
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def split_secrets(value: str, platform: str) -> list[str]:
    """The active webhook secrets in one stored value, each used exactly as the provider defines it.

    - a JSON list of strings (``["old", "new"]``): several active secrets, for a rotation with no downtime,
      on every platform;
    - for Standard Webhooks only, the older form of several ``whsec_`` secrets separated by white space, when
      every part starts with ``whsec_`` (a ``whsec_`` secret is base64, which has no white space);
    - anything else: one secret, verbatim, spaces and all (GitHub's documented example secret is
      ``It's a Secret to Everybody``,
      https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries).

    An empty value, or a list that is empty or holds anything but non-empty strings, is a misconfiguration.
    """
    if not value.strip():
        raise RuntimeError("the webhook secret is empty")
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = None
    if isinstance(parsed, list):
        if not parsed or not all(isinstance(secret, str) and secret for secret in parsed):
            raise RuntimeError("a list of webhook secrets must hold one or more non-empty strings")
        return list(parsed)
    parts = value.split()
    if platform == Platform.STANDARD and len(parts) > 1 and all(p.startswith(SECRET_PREFIX) for p in parts):
        return parts
    return [value]
