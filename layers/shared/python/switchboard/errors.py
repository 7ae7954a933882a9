"""Typed domain errors. Each is mapped to an HTTP answer or to retry/drop/DLQ in exactly one place."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError

    from switchboard.memory import BreakerState
    from switchboard.retry import Verdict


class SwitchboardError(Exception):
    """Base of every error this library raises on purpose."""


class RequestRejected(SwitchboardError):
    """A client's mistake at the door: answered with a 4xx and never enqueued.

    ``reason`` is a short machine-readable code; it is safe to log and to return (no secret, no body).
    """

    status: int = 400

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class BadSignature(RequestRejected):
    status = 401


class PayloadTooLarge(RequestRejected):
    status = 413


class UnsupportedMediaType(RequestRejected):
    status = 415


class MalformedPayload(RequestRejected):
    status = 400


class UnknownPlatform(RequestRejected):
    status = 404


class IllegalTransition(SwitchboardError):
    """The task state machine does not allow this move."""


class ConcurrentUpdate(SwitchboardError):
    """Another worker changed the task first; reload and look again."""


class TaskNotFound(SwitchboardError):
    pass


class AlreadyRecorded(SwitchboardError):
    """This action's (or follow-up's) completion is on the task already: an earlier attempt recorded it."""


class ActionFailed(SwitchboardError):
    """An external call did not succeed."""

    def __init__(self, service: str, reason: str, status: int | None = None) -> None:
        super().__init__(f"{service}: {reason}")
        self.service = service
        self.reason = reason
        self.status = status


class TransientActionError(ActionFailed):
    """5xx, 429, timeouts, connection errors: retry the action (never the decision)."""

    def __init__(
        self, service: str, reason: str, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(service, reason, status)
        self.retry_after = retry_after


class PermanentActionError(ActionFailed):
    """4xx other than 429, or a validation error: retrying cannot help."""


class DependencyUnavailable(SwitchboardError):
    """Our own AWS dependency (DynamoDB, SQS) is throttling, failing (5xx) or unreachable, after the SDK's
    retries: nothing is wrong with the work itself; it can be tried again later."""

    def __init__(self, service: str, operation: str, code: str) -> None:
        super().__init__(f"{service} {operation}: {code}")
        self.service = service
        self.operation = operation
        self.code = code


class DependencyRefused(SwitchboardError):
    """Our own AWS dependency refused the request (validation, access, a missing table): a bug or a
    misconfiguration, which retrying does not fix."""

    def __init__(self, service: str, operation: str, code: str) -> None:
        super().__init__(f"{service} {operation}: {code}")
        self.service = service
        self.operation = operation
        self.code = code


class LlmError(SwitchboardError):
    """No usable answer from any tier; the task degrades or goes to a human."""


class BudgetExceeded(LlmError):
    """The call would take the task's tokens or the day's dollars over their cap: it is not made."""

    def __init__(self, which: str) -> None:
        super().__init__(f"over budget: {which}")
        self.which = which


class ModelUnavailable(LlmError):
    """Transient errors on the tier and on its fallback."""


class ModelRefused(LlmError):
    """A permanent API error (bad request, authentication …): retrying cannot help."""


class DeadlineReached(LlmError):
    """Too little of the invocation is left for another model call: the task ends with this reason instead of
    the function timing out."""


class ModelDeclined(LlmError):
    """The call succeeded but the answer is unusable: a ``refusal``, or cut off at ``max_tokens`` before any
    tool call. ``reason`` says which, for the task; only a refusal is worth the fallback tier (the docs'
    advice, "retry on a fallback model")."""

    def __init__(self, reason: str, stop_reason: str | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.stop_reason = stop_reason


class AccessDenied(PermanentActionError):
    """The service refused our credentials or their permissions (HTTP 401/403, Slack ``invalid_auth`` …).

    Retrying cannot help, but a person can: rotate the token, grant the scope, invite the bot.
    """


class FeedError(SwitchboardError):
    """A feed could not be read or parsed; the poll run goes on with the others."""


class OrdinalOutOfRange(SwitchboardError):
    """An allocation would leave its range (and could then collide with another kind of action)."""


class OutOfTime(SwitchboardError):
    """Too little of the invocation's time is left to start an external call safely."""


class MalformedMessage(SwitchboardError):
    """A message on an act queue that is neither an action nor a follow-up: a poison message."""


class RecordFailed(SwitchboardError):
    """The record must fail so that SQS delivers the message again (RETRY) or dead-letters it (DEAD_LETTER).

    The task has already been told why; the batch processor only reports the record's id.
    """

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(f"{verdict.outcome.value}: {verdict.reason}")
        self.verdict = verdict


class BreakerOpen(SwitchboardError):
    """The service's breaker is open (or another worker is probing): make no call, try again later."""

    def __init__(self, service: str, state: BreakerState, retry_in: float) -> None:
        super().__init__(f"{service}: circuit {state.value}, next try in {retry_in:.1f}s")
        self.service = service
        self.state = state
        self.retry_in = max(0.0, retry_in)
        self.reason = f"circuit breaker {state.value} for {service}"


class UnknownAbility(SwitchboardError, LookupError):
    """The model (or a message) named an ability that is not on the allow-list, or not offered here."""


class InvalidParams(SwitchboardError, ValueError):
    """An ability's parameters failed validation; ``feedback()`` phrases it for the model's one repair."""

    def __init__(self, ability: str, error: ValidationError | None = None, message: str = "") -> None:
        detail = message or (f"{error.error_count()} invalid parameter(s)" if error else "invalid parameters")
        super().__init__(f"{ability}: {detail}")
        self.ability = ability
        self.errors = error.errors(include_url=False, include_input=False) if error else [{"msg": message}]

    @classmethod
    def because(cls, ability: str, message: str) -> InvalidParams:
        return cls(ability, None, message)

    def feedback(self) -> str:
        """The validation error, phrased for the model's one repair attempt."""
        return "; ".join(
            f"{'.'.join(str(part) for part in error.get('loc', ())) or 'input'}: {error.get('msg')}"
            for error in self.errors
        )


class PolicyRefused(SwitchboardError):
    """The policy gate (``switchboard.policy``) refused an action; ``reason`` says which rule and why."""

    def __init__(self, ability: str, reason: str) -> None:
        super().__init__(f"{ability}: refused by policy: {reason}")
        self.ability = ability
        self.reason = reason


class AwaitingBatch(Exception):  # a signal, not a failure: not a SwitchboardError on purpose
    """A model request was deferred to the next Message Batch (``switchboard.batches``): the task stays where
    it is until its resume message; no failure handler may treat it as an error."""


class PlanRejected(SwitchboardError):
    """A plan cannot run (``switchboard.plans.validate``); ``reason`` says why (history, and a replan)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ReviewTimedOut(SwitchboardError):
    """Nobody answered a plan's review within its timeout."""


class ReviewRefused(SwitchboardError):
    """A plan's review was answered with a failure (``switchboard tasks resolve --reject``)."""
