"""The act function's per-invocation logic: ``ActWorker`` hands each record of a batch to the act service
or, for act-tickets, to the follow-ups. It is built once per execution environment, from collaborators built
in the act function's composition module (``functions/act/compose.py``: the executor, Powertools idempotency
(an action's record on its task item, a follow-up attempt's in the memory table), the circuit breaker, the
kill switches, the retry policy and the follow-ups).

An act-tickets invocation carries records from ONE of two queues: its FIFO act queue (actions) or the standard
follow-ups queue (``kind=followup``). ``processor_for`` picks the batch processor that fits the queue.

FIFO batches keep Powertools' ``skip_group_on_error`` with two refinements:
- a record skipped behind a failed one is made visible again at once: on AWS an in-flight message holds its
  whole group, so leaving it invisible for the queue's visibility timeout would delay the retry of the failed
  record, which comes first in the group, by that much;
- a record on its way to the DLQ (its last attempt) does not hold its group back: it is finished with, and
  the messages behind it get their attempt in the same batch.
A skipped record is received without being attempted, so its receive count runs ahead of its real attempts.
"""

from __future__ import annotations

import importlib
import json
from typing import Any, Final, NoReturn

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, SqsFifoPartialProcessor
from aws_lambda_powertools.utilities.batch.base import BasePartialBatchProcessor
from aws_lambda_powertools.utilities.batch.exceptions import SQSFifoMessageGroupCircuitBreakerError
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from switchboard import catalog
from switchboard.act import ActService, Executor, Once
from switchboard.deadline import Deadline
from switchboard.errors import MalformedMessage, OutOfTime, RecordFailed
from switchboard.followups import FOLLOWUP_KIND, KIND_ATTRIBUTE, FollowUp, Followups
from switchboard.models import ActionRequest, TaskStatus
from switchboard.ports import Visibility
from switchboard.render import LinkPolicy
from switchboard.retry import (
    Delivery,
    Outcome,
    RetryPolicy,
    fail_record,
)
from switchboard.settings import ActSettings

logger = Logger(child=True)

# Keep this much of the invocation free after the longest external call could end.
TIME_MARGIN_SECONDS: Final = 3.0


def make_executor(settings: ActSettings, token: str) -> Executor:
    """The executor the catalog names for the worker's service (imported here, so only that one loads)."""
    spec = catalog.service(settings.service.value)
    module_name, _, class_name = spec.executor.partition(":")
    executor_class = getattr(importlib.import_module(module_name), class_name)
    url, timeout = settings.service_api_url, settings.http_timeout_seconds
    renders_for = spec.platform or ("slack" if spec.escalation else None)  # where its text is shown
    links = (
        {
            "links": LinkPolicy.for_platform(
                renders_for, LinkPolicy.parse_hosts(settings.link_allow_list), settings.tickets_api_url
            )
        }
        if renders_for
        else {}
    )
    if spec.escalation:
        executor: Executor = executor_class(url, token, timeout, settings.escalation_channel, **links)
    else:
        executor = executor_class(url, token, timeout, **links)
    return executor


def idempotent_runner(persistence: BasePersistenceLayer, config: IdempotencyConfig) -> Once:
    """Runs a call at most once per key, recorded by ``persistence``; a second caller gets the first result
    back. The act service's actions: on their task items (``switchboard.dynamo.idempotency``); act-tickets'
    follow-up attempts: in the memory table (Powertools' DynamoDB layer)."""

    @idempotent_function(data_keyword_argument="key", persistence_store=persistence, config=config)
    def run_once(key: str, call: Any) -> dict[str, Any]:
        result: dict[str, Any] = call()
        return result

    def once(key: str, call: Any) -> dict[str, Any]:
        result: dict[str, Any] = run_once(key=key, call=call)
        return result

    return once


class _ActFifoProcessor(SqsFifoPartialProcessor):
    """``skip_group_on_error``, refined (see the module docstring)."""

    def __init__(self, release: Any) -> None:
        super().__init__(skip_group_on_error=True)
        self._release = release
        # A batch whose records all wait for a retry is reported as such, not raised as an invocation error.
        self.raise_on_entire_batch_failure = False

    def failure_handler(self, record: Any, exception: Any) -> Any:
        error = exception[1]
        if isinstance(error, SQSFifoMessageGroupCircuitBreakerError):
            self._release(record)
        if isinstance(error, RecordFailed) and error.verdict.outcome is Outcome.DEAD_LETTER:
            return BatchProcessor.failure_handler(self, record, exception)
        return super().failure_handler(record, exception)


class CallWindow:
    """The time check of one invocation: an external call starts only if it can end before the invocation's
    deadline (``switchboard.deadline``: the time left, less a margin for the state write)."""

    def __init__(self, call_budget_seconds: float, margin_seconds: float = TIME_MARGIN_SECONDS) -> None:
        self.call_budget_seconds = call_budget_seconds
        self.margin_seconds = margin_seconds
        self._deadline: Deadline | None = None

    def begin(self, context: LambdaContext | None) -> None:
        self._deadline = None if context is None else Deadline.from_context(context, self.margin_seconds)

    def check(self) -> None:
        if self._deadline is None:
            return
        left = self._deadline.remaining()
        if left < self.call_budget_seconds:
            raise OutOfTime(
                f"{left + self.margin_seconds:.1f}s left, a call may need "
                f"{self.call_budget_seconds + self.margin_seconds:.1f}s"
            )


class ActWorker:
    """One act function's worker, from built collaborators (``functions/act/compose.py`` builds them)."""

    def __init__(
        self,
        settings: ActSettings,
        actions: ActService,
        *,
        idempotency: IdempotencyConfig,
        policy: RetryPolicy,
        visibility: Visibility,
        deadline: CallWindow,
        followups: Followups | None = None,
    ) -> None:
        self.settings = settings
        self.actions = actions
        self.idempotency = idempotency
        self.policy = policy
        self.visibility = visibility
        self.deadline = deadline
        self.followups = followups

    # -- per invocation --------------------------------------------------------------------------------------

    def begin(self, context: LambdaContext | None) -> None:
        """Tie the idempotency in-progress expiry and the time checks to this invocation."""
        self.deadline.begin(context)
        if context is not None:
            self.idempotency.register_lambda_context(context)

    def processor_for(self, event: dict[str, Any]) -> BasePartialBatchProcessor:
        """A fresh processor for the batch: FIFO (the act queue) or standard (the follow-ups queue)."""
        records = event.get("Records") or []
        if any(str(record.get("eventSourceARN", "")).endswith(".fifo") for record in records):
            return _ActFifoProcessor(self._release)
        return BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

    def handle(self, record: SQSRecord) -> TaskStatus | str:
        """One record: an action, or (act-tickets) a follow-up. Raises ``RecordFailed`` to fail the record."""
        followup = _is_followup(record)
        queue_url = self.settings.followups_queue_url if followup else self.settings.act_queue_url
        delivery = Delivery(
            queue_url=queue_url or self.settings.act_queue_url,
            receipt_handle=record.receipt_handle,
            attempt=int(record.attributes.approximate_receive_count or 1),
        )
        try:
            if followup:
                if self.followups is None:
                    raise ValueError(f"act-{self.settings.service.value} takes no follow-ups")
                message: ActionRequest | FollowUp = FollowUp.model_validate_json(record.body)
            else:
                message = ActionRequest.model_validate_json(record.body)
        except (ValidationError, ValueError) as exc:
            self._poison(delivery, record, exc)
        if isinstance(message, FollowUp):
            assert self.followups is not None
            return self.followups.process(message, delivery)
        return self.actions.process(message, delivery)

    # -- helpers ---------------------------------------------------------------------------------------------

    def _release(self, record: SQSRecord) -> None:
        self.visibility.change(self.settings.act_queue_url, record.receipt_handle, 0)

    def _poison(self, delivery: Delivery, record: SQSRecord, error: Exception) -> NoReturn:
        """A message that is no action and no follow-up: to the DLQ as fast as SQS allows."""
        logger.error("malformed message: to the DLQ", message_id=record.message_id, error=str(error)[:500])
        malformed = MalformedMessage(f"malformed message: {type(error).__name__}")
        fail_record(
            self.policy.disposition(malformed, delivery.attempt, may_escalate=False),
            delivery,
            self.visibility,
        )


def _is_followup(record: SQSRecord) -> bool:
    attributes = record.message_attributes  # its .get() answers raw dicts, its [] typed attributes
    if KIND_ATTRIBUTE in attributes:
        attribute = attributes[KIND_ATTRIBUTE]
        if attribute is not None and attribute.string_value == FOLLOWUP_KIND:
            return True
    try:
        body = json.loads(record.body)
    except json.JSONDecodeError:
        return False
    return isinstance(body, dict) and body.get("kind") == FOLLOWUP_KIND


def handle_batch(
    worker: ActWorker, event: dict[str, Any], context: LambdaContext | None
) -> PartialItemFailureResponse:
    """What the handler does, for callers without the handler's decorators (tests, tools)."""
    from aws_lambda_powertools.utilities.batch import process_partial_response

    worker.begin(context)
    return process_partial_response(
        event=event, record_handler=worker.handle, processor=worker.processor_for(event), context=context
    )
