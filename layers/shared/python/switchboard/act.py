"""Act: carry out one typed action exactly once, then record it on the task.

For each action message, in this order:
1. the ability must be on the allow-list, for this service, with valid parameters, and pass the policy gate's
   rules that hold for any author (``PolicyGate.static_check``: the label allow-list, how many assignees) and,
   for a close or an assignment, those that depend on the author, with the same trust lookup as at dispatch
   (``PolicyGate.at_execution``), as defence in depth behind the gate at dispatch (else FAILED, consumed);
2. the kill switches (SSM): a disabled ability makes no call and DROPs the task; in shadow mode the call is
   described on the task ("would call POST /repos/…", with the body) and not made;
3. the external call runs inside Powertools idempotency keyed by the action id, behind the service's circuit
   breaker, so a redelivery or a racing second worker gets the first result back and makes no second call;
4. the result is recorded on the task (once: a set of completed action ids) by the guarded function itself,
   before it returns: with the idempotency record on the task item (``switchboard.dynamo.idempotency``) that
   write is also the guard's record of success, so the two are one request. An action whose result shows
   only later (a ticket's link) stages a follow-up and leaves the task WAITING; the last completion finishes
   the task DONE (``Lifecycle.complete``, ``switchboard.lifecycle``). A delivery that the guard answers with
   an earlier result (recorded already) only settles the task.

A failure goes through ``RetryPolicy.disposition`` (``switchboard.retry``), the one mapping from error to
retry (a visibility change), FAILED, NEEDS_HUMAN or the DLQ. Every failed attempt and every breaker event that
touches the task lands in its history, so ``switchboard trace`` shows it. Retrying re-runs only this step:
classify and decide, and their LLM calls, are never repeated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, Protocol, runtime_checkable

from aws_lambda_powertools import Logger

from switchboard import action_ids
from switchboard.abilities import ability
from switchboard.actions.http import HttpCall
from switchboard.breaker import CircuitBreaker
from switchboard.errors import BreakerOpen, PermanentActionError, TransientActionError
from switchboard.killswitch import KillSwitches
from switchboard.lifecycle import Lifecycle
from switchboard.metrics import Metric, count
from switchboard.models import ActionRequest, Service, TaskStatus
from switchboard.policy import PolicyGate
from switchboard.ports import QueueSender, TaskRepository, Visibility
from switchboard.retry import (
    HANDLED_ERRORS,
    Delivery,
    Outcome,
    RetryPolicy,
    Verdict,
    fail_record,
)
from switchboard.sqs import SqsVisibility
from switchboard.state import Task

logger = Logger(child=True)

ACTOR: Final = "act"

#: Runs ``call`` at most once per key (Powertools idempotency in production) and returns its result.
Once = Callable[[str, Callable[[], dict[str, Any]]], dict[str, Any]]


def run_directly(key: str, call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    return call()


@runtime_checkable
class Executor(Protocol):
    """One external service: describes the call for an action (shadow mode) and makes it."""

    @property
    def base_url(self) -> str: ...

    def describe(self, action: ActionRequest) -> HttpCall | None: ...

    def execute(self, action: ActionRequest) -> dict[str, Any]: ...

    def find_effect(self, action: ActionRequest) -> dict[str, Any] | None:
        """On a redelivery: the result of an earlier attempt whose call landed although its record did not
        (a crash or a timeout after the call), read back from the service; None when there is none, or when
        the service itself makes a repeated call harmless (labels are a set, tickets take an
        Idempotency-Key)."""
        ...


class _FunctionExecutor:
    """A bare function as an executor (tests, and callers that only execute)."""

    base_url = ""

    def __init__(self, function: Callable[[ActionRequest], dict[str, Any]]) -> None:
        self.function = function

    def describe(self, action: ActionRequest) -> HttpCall | None:
        return None

    def execute(self, action: ActionRequest) -> dict[str, Any]:
        return self.function(action)

    def find_effect(self, action: ActionRequest) -> dict[str, Any] | None:
        return None


class Stager(Protocol):
    """Schedules the follow-up of an action whose result the outside world shows only later."""

    def stages(self, action: ActionRequest) -> bool: ...

    def schedule_first(self, action: ActionRequest, result: dict[str, Any]) -> dict[str, Any] | None: ...


class AccessEscalation:
    """A service refused our credentials or permissions: page a person through the escalate queue.

    The same contract as ``switchboard.escalation.Escalator`` (an ``escalate.human`` action on the escalate
    queue, deduplicated by its action id), built from the action because the act layer has no inbound event.
    The act-escalate worker never gets one: it cannot page people about failing to page people. It is one
    action per failed action (``action_ids.access_escalation``).
    """

    def __init__(self, queue: QueueSender, escalate_queue_url: str) -> None:
        self.queue = queue
        self.escalate_queue_url = escalate_queue_url

    def escalate(self, task: Task, action: ActionRequest, reason: str) -> ActionRequest:
        ordinal = action_ids.access_escalation(action.ordinal)
        params = ability("escalate.human").validate(
            {
                "summary": (
                    f"The {action.service.value} service refused the {action.ability} action of task "
                    f"{action.task_id}: {reason}. Its credentials or permissions need a person."
                ),
                "decision_needed": (
                    f"Fix the {action.service.value} token or its permissions, then redrive the task, "
                    "or resolve it by hand."
                ),
                "task_id": action.task_id,
                "platform": task.platform,
                "conversation": task.conversation,
                "tried": [f"{action.ability} → {reason}"],
            }
        )
        escalation = ActionRequest(
            action_id=action_ids.action_id(action.task_id, ordinal),
            task_id=action.task_id,
            event_id=action.event_id,
            ordinal=ordinal,
            service=Service.ESCALATE,
            ability="escalate.human",
            params=params,
            conversation=action.conversation,
        )
        action_ids.send_action(self.queue, lambda service: self.escalate_queue_url, escalation)
        return escalation


class ActService:
    def __init__(
        self,
        tasks: TaskRepository,
        executor: Executor | Callable[[ActionRequest], dict[str, Any]],
        *,
        once: Once = run_directly,
        policy: RetryPolicy | None = None,
        visibility: Visibility | None = None,
        breaker: CircuitBreaker | None = None,
        switches: KillSwitches | None = None,
        escalation: AccessEscalation | None = None,
        stager: Stager | None = None,
        deadline: Callable[[], None] | None = None,
        gate: PolicyGate | None = None,
    ) -> None:
        self.lifecycle = Lifecycle(tasks)
        self.gate = gate or PolicyGate()
        self.executor: Executor = executor if isinstance(executor, Executor) else _FunctionExecutor(executor)
        self.once = once
        self.policy = policy or RetryPolicy()
        self.visibility = visibility or SqsVisibility()
        self.breaker = breaker
        self.switches = switches
        self.escalation = escalation
        self.stager = stager
        self.deadline = deadline

    def process(self, action: ActionRequest, delivery: Delivery | None = None) -> TaskStatus:
        """Carry the action out and return the task's status.

        Raises ``RecordFailed`` when the message must come back later (or go to the DLQ); without a
        ``delivery`` (no queue to come back through) a retryable error is raised as it is.
        """
        logger.set_correlation_id(action.event_id)
        events: list[dict[str, Any]] = []
        try:
            self._validate(action)
            if self.switches is not None and self.switches.disabled(action.ability):
                return self._drop(action)
            if self.switches is not None and self.switches.shadow_mode():
                return self._once(action, lambda: self._shadow(action), events)
            if self.deadline is not None:
                self.deadline()
            attempt = delivery.attempt if delivery is not None else 1
            return self._once(action, lambda: self._call(action, events, attempt), events)
        except HANDLED_ERRORS as exc:
            return self._settle(action, delivery, exc, events)

    def _once(
        self, action: ActionRequest, work: Callable[[], dict[str, Any]], events: list[dict[str, Any]]
    ) -> TaskStatus:
        """Run ``work`` under the idempotency guard and record its result on the task, inside the guard (see
        the module docstring). When the guard answers with an earlier run's result instead, that run recorded
        it: the task is only settled (a crash may have come between that record and the move it allowed)."""
        recorded: list[TaskStatus] = []

        def guarded() -> dict[str, Any]:
            result = work()
            recorded.append(self._succeeded(action, result, events))
            return result

        self.once(action.action_id, guarded)
        if recorded:
            return recorded[0]
        return self.lifecycle.settle(self.lifecycle.get(action.task_id), ACTOR)

    # -- the steps -------------------------------------------------------------------------------------------

    def _validate(self, action: ActionRequest) -> None:
        try:
            spec = ability(action.ability)
            spec.validate(action.params)
        except (LookupError, ValueError) as exc:
            raise PermanentActionError(action.service.value, f"refused: {exc}") from None
        if spec.service is not action.service:
            raise PermanentActionError(
                action.service.value, f"refused: {action.ability} belongs to {spec.service.value}"
            )
        refused = self.gate.static_check(action)
        if refused is None and self.gate.needs_standing(action):  # close, assign: who asked, as at dispatch
            task = self.lifecycle.tasks.get(action.task_id)
            refused = self.gate.at_execution(action, task.inbound_event(), task.history)
        if refused is not None:
            raise PermanentActionError(action.service.value, f"refused by policy: {refused}")

    def _call(self, action: ActionRequest, events: list[dict[str, Any]], attempt: int) -> dict[str, Any]:
        """The external call behind the breaker. Runs inside the idempotency guard, which it reaches again
        on a redelivery only when no earlier attempt recorded a result: then the service is asked first
        whether that attempt's call landed after all."""
        if attempt > 1:
            found = self.executor.find_effect(action)
            if found is not None:
                return found | {"reconciled": f"attempt {attempt} found the effect of an earlier attempt"}
        if self.breaker is None:
            return self.executor.execute(action)
        try:
            permit = self.breaker.acquire()
        except BreakerOpen as exc:
            events.append(
                {"breaker": exc.state.value, "call": "skipped", "retry_in_s": round(exc.retry_in, 1)}
            )
            raise
        if permit.probe:
            events.append({"breaker": "half_open", "call": "probe"})
        try:
            result = self.executor.execute(action)
        except TransientActionError:
            if self.breaker.record_failure(permit) is not None:
                events.append({"breaker": "open", "by": "failed probe" if permit.probe else "this failure"})
            raise
        except PermanentActionError:
            if self.breaker.record_success(permit) is not None:  # it answered: the service is up
                events.append({"breaker": "closed", "by": "probe"})
            raise
        if self.breaker.record_success(permit) is not None:
            events.append({"breaker": "closed", "by": "probe"})
        return result

    def _shadow(self, action: ActionRequest) -> dict[str, Any]:
        call = self.executor.describe(action)
        would = call.describe(self.executor.base_url) if call is not None else None
        count(Metric.ACTIONS_SHADOWED)
        logger.info("shadow mode: no call made", action_id=action.action_id, would_call=would)
        return {"shadow": True, "would_call": would}

    def _succeeded(
        self, action: ActionRequest, result: dict[str, Any], events: list[dict[str, Any]]
    ) -> TaskStatus:
        if not result.get("shadow"):
            count(Metric.ACTIONS_SUCCEEDED)
        logger.info("action done", task_id=action.task_id, action_id=action.action_id, ability=action.ability)
        detail: dict[str, Any] = {"ability": action.ability, "result": result}  # the service is the ability's
        if events:
            detail["breaker"] = events
        if self.stager is not None and self.stager.stages(action) and not result.get("shadow"):
            # Scheduled before the result is recorded: a crash in between repeats the schedule, and the
            # follow-up's idempotency key (action id + attempt) absorbs the duplicate.
            detail |= self.stager.schedule_first(action, result) or {}
        return self.lifecycle.complete(action.task_id, action.action_id, ACTOR, detail, action=True)

    # -- failures: what RetryPolicy.disposition decided, carried out -----------------------------------------

    def _settle(
        self, action: ActionRequest, delivery: Delivery | None, error: Exception, events: list[dict[str, Any]]
    ) -> TaskStatus:
        attempt = delivery.attempt if delivery is not None else 1
        verdict = self.policy.disposition(error, attempt, may_escalate=self.escalation is not None)
        if verdict.outcome is Outcome.FAIL:
            return self._fail(action, verdict, events)
        if verdict.outcome is Outcome.NEEDS_HUMAN:
            return self._needs_human(action, verdict, events)
        if delivery is None:
            raise error
        detail = self._failure_detail(action, verdict, events) | {
            "attempt": attempt,
            "max_attempts": self.policy.max_attempts,
        }
        if verdict.outcome is Outcome.RETRY:
            count(Metric.ACTION_RETRIES)
            logger.warning(
                "action will be retried", action_id=action.action_id, attempt=attempt, **_log(verdict)
            )
            self.lifecycle.note(action.task_id, ACTOR, detail | {"retry_in_s": verdict.delay})
        else:
            count(Metric.ACTIONS_DEAD_LETTERED)
            logger.error("action out of attempts: to the DLQ", action_id=action.action_id, **_log(verdict))
            self.lifecycle.end(
                action.task_id, TaskStatus.FAILED, ACTOR, detail | {"dead_letter": True}, verdict.reason
            )
        fail_record(verdict, delivery, self.visibility)

    def _fail(self, action: ActionRequest, verdict: Verdict, events: list[dict[str, Any]]) -> TaskStatus:
        """Retrying cannot help: the message is consumed and the task says why."""
        count(Metric.ACTIONS_FAILED_PERMANENTLY)
        logger.warning("action failed permanently", action_id=action.action_id, **_log(verdict))
        detail = self._failure_detail(action, verdict, events)
        return self.lifecycle.end(action.task_id, TaskStatus.FAILED, ACTOR, detail, verdict.reason)

    def _needs_human(
        self, action: ActionRequest, verdict: Verdict, events: list[dict[str, Any]]
    ) -> TaskStatus:
        assert self.escalation is not None  # disposition gives NEEDS_HUMAN only when one is configured
        escalation = self.escalation.escalate(self.lifecycle.get(action.task_id), action, verdict.reason)
        count(Metric.TASKS_NEEDING_HUMAN)
        logger.warning(
            "action refused: a person must fix access", action_id=action.action_id, **_log(verdict)
        )
        detail = self._failure_detail(action, verdict, events) | {
            "escalated_to": "escalate",
            "escalation": escalation.action_id,
        }
        return self.lifecycle.end(action.task_id, TaskStatus.NEEDS_HUMAN, ACTOR, detail, verdict.reason)

    def _drop(self, action: ActionRequest) -> TaskStatus:
        reason = f"ability {action.ability} is disabled (kill switch)"
        count(Metric.ACTIONS_DISABLED)
        logger.warning("ability disabled: no call made", action_id=action.action_id, ability=action.ability)
        detail = {
            "action_id": action.action_id,
            "ability": action.ability,
            "kind": "disabled",
            "reason": reason,
        }
        return self.lifecycle.end(action.task_id, TaskStatus.DROPPED, ACTOR, detail, reason)

    @staticmethod
    def _failure_detail(
        action: ActionRequest, verdict: Verdict, events: list[dict[str, Any]]
    ) -> dict[str, Any]:
        detail: dict[str, Any] = {
            "action_id": action.action_id,
            "ability": action.ability,
            "kind": verdict.kind,
            "reason": verdict.reason,
        }
        if verdict.status is not None:
            detail["status"] = verdict.status
        if events:
            detail["breaker"] = events
        return detail


def _log(verdict: Verdict) -> dict[str, Any]:
    return {"kind": verdict.kind, "reason": verdict.reason, "status": verdict.status, "delay": verdict.delay}
