"""Staged execution: after an action whose result the outside world shows only later, read it after a delay.

Seed 000: "After triggering an action that depends on an external system, don't immediately try to read the
result. Enqueue a follow-up job with a delay. If the result still isn't available, retry with exponential
backoff. Have a fallback query strategy." Here: ``tickets.create`` answers with a ticket id, and the ticket's
public link appears later. So the act-tickets worker:

1. records the ticket on the task with ``awaits: <action id>#followup`` and leaves the task WAITING;
2. schedules follow-up attempt 1 after ``delays[0]`` seconds; attempt n reads ``GET /tickets/{id}``;
3. without a link yet, schedules attempt n + 1 after ``delays[n]`` (10 s, 30 s, 90 s by default: growing);
4. when the delays run out, the fallback lookup (``GET /tickets?idempotency_key=<action id>``), then a
   configured public URL template;
5. replies on the platform with the result: a ``github.comment`` or ``slack.reply`` action (its target bound
   from the ticket's ``reply_to``, never from text; one per staged action, ``action_ids.reply_to``) sent to
   that service's act queue, where it is executed like any other action; on platforms without replies the
   result is only recorded;
6. records ``<action id>#followup`` as completed, which finishes the task DONE.

Why a standard SQS delay queue (``followups``) and not EventBridge Scheduler one-time schedules:
- the act queues are FIFO, and FIFO queues have no per-message ``DelaySeconds`` (only a queue-wide delay);
- a Scheduler one-time schedule needs an IAM role for the scheduler to assume, one schedule resource per
  follow-up (create permissions for the worker, ``iam:PassRole``) and a cleanup of every schedule after it
  fired; and the local runtime (moto) does not run schedules, so the staged path could not be tested as it
  runs;
- a standard queue with a per-message ``DelaySeconds`` (up to 900 s, enough for delays of seconds to
  minutes) is one resource with its own DLQ and alarm, costs one message per attempt, and behaves the same in
  moto and on AWS. Its costs are at-least-once delivery and no ordering. Both are absorbed: each attempt runs
  under Powertools idempotency keyed by action id + attempt (a duplicate returns the first outcome and
  schedules nothing), and the attempts form a chain (n schedules n + 1), so order cannot matter.

A read that fails (timeout, 5xx) counts as "no link yet": the growing delays are this step's retry policy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final, Literal, Protocol
from urllib.parse import quote

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict, Field

from switchboard import action_ids
from switchboard.abilities import ability
from switchboard.actions.http import HttpCall
from switchboard.actions.tickets import TicketView
from switchboard.errors import ActionFailed
from switchboard.killswitch import KillSwitches
from switchboard.lifecycle import Lifecycle
from switchboard.metrics import Metric, count
from switchboard.models import ActionRequest, Service, TaskStatus
from switchboard.ports import DelayQueue, QueueSender, TaskRepository, Visibility
from switchboard.retry import (
    HANDLED_ERRORS,
    Delivery,
    Outcome,
    RetryPolicy,
    fail_record,
)
from switchboard.sqs import SqsVisibility

logger = Logger(child=True)

ACTOR: Final = "act"
KIND_ATTRIBUTE: Final = "kind"
FOLLOWUP_KIND: Final = "followup"
STAGED_ABILITIES: Final = frozenset({"tickets.create"})
MAX_DELAY_SECONDS: Final = 900  # SQS's limit for DelaySeconds
REPLY_ABILITIES: Final = {"github": "github.comment", "slack": "slack.reply"}

Once = Callable[[str, Callable[[], dict[str, Any]]], dict[str, Any]]


class FollowUp(BaseModel):
    """The body of a message on the follow-ups queue (``kind`` tells it from an action)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["followup"] = FOLLOWUP_KIND
    action_id: str
    task_id: str
    event_id: str
    conversation: str
    ordinal: int = Field(ge=0)
    ticket_id: str = Field(min_length=1, max_length=256)
    reply_to: dict[str, str] = Field(default_factory=dict)
    attempt: int = Field(ge=1)

    @property
    def awaits(self) -> str:
        """What the task waits for: completed when the follow-up is done."""
        return f"{self.action_id}#followup"

    @property
    def key(self) -> str:
        """The idempotency key of this attempt."""
        return f"{self.awaits}#{self.attempt}"

    def next(self) -> FollowUp:
        return self.model_copy(update={"attempt": self.attempt + 1})


class TicketReader(Protocol):
    @property
    def base_url(self) -> str: ...

    def read_call(self, ticket_id: str) -> HttpCall: ...

    def read(self, ticket_id: str) -> TicketView: ...

    def lookup(self, idempotency_key: str, ticket_id: str) -> TicketView | None: ...


class Followups:
    """Schedules and runs the follow-ups of staged actions (``STAGED_ABILITIES``)."""

    def __init__(
        self,
        tasks: TaskRepository,
        reader: TicketReader,
        queue: DelayQueue,
        replies: QueueSender,
        reply_queue_url: Callable[[Service], str],
        *,
        delays: Sequence[int] = (10, 30, 90),
        url_template: str | None = None,
        once: Once | None = None,
        switches: KillSwitches | None = None,
        policy: RetryPolicy | None = None,
        visibility: Visibility | None = None,
    ) -> None:
        if not delays or any(not 0 <= delay <= MAX_DELAY_SECONDS for delay in delays):
            raise ValueError(f"follow-up delays must be 1 or more values in 0..{MAX_DELAY_SECONDS} s")
        self.lifecycle = Lifecycle(tasks)
        self.reader = reader
        self.queue = queue
        self.replies = replies
        self.reply_queue_url = reply_queue_url
        self.delays = tuple(delays)
        self.url_template = url_template
        self.once: Once = once or (lambda key, call: call())
        self.switches = switches
        self.policy = policy or RetryPolicy()
        self.visibility = visibility or SqsVisibility()

    # -- the act layer's side: schedule the first attempt ----------------------------------------------------

    def stages(self, action: ActionRequest) -> bool:
        return action.ability in STAGED_ABILITIES

    def schedule_first(self, action: ActionRequest, result: dict[str, Any]) -> dict[str, Any] | None:
        """Schedule attempt 1; returns what the action's history entry records (``awaits``)."""
        ticket_id = result.get("ticket_id")
        if not ticket_id:
            return None  # nothing to follow
        followup = FollowUp(
            action_id=action.action_id,
            task_id=action.task_id,
            event_id=action.event_id,
            conversation=action.conversation,
            ordinal=action.ordinal,
            ticket_id=str(ticket_id),
            reply_to=dict(action.params.get("reply_to") or {}),
            attempt=1,
        )
        self.queue.schedule(followup, self.delays[0])
        logger.info("follow-up scheduled", action_id=action.action_id, attempt=1, delay=self.delays[0])
        return {
            "awaits": followup.awaits,
            "followup": {"attempt": 1, "in_s": self.delays[0], "ticket_id": ticket_id},
        }

    # -- the follow-up message -------------------------------------------------------------------------------

    def process(self, followup: FollowUp, delivery: Delivery | None = None) -> str:
        """Run one attempt, at most once per key; returns its outcome (``scheduled`` or ``done``)."""
        logger.set_correlation_id(followup.event_id)
        try:
            return str(self.once(followup.key, lambda: self._step(followup))["outcome"])
        except HANDLED_ERRORS as exc:
            attempt = delivery.attempt if delivery is not None else 1
            verdict = self.policy.disposition(exc, attempt, may_escalate=False)
            if delivery is None or not verdict.fails_record:
                raise
            detail = {"followup": followup.awaits, "attempt": followup.attempt, "kind": verdict.kind}
            detail |= {"reason": verdict.reason, "delivery": attempt}
            if verdict.outcome is Outcome.DEAD_LETTER:
                self.lifecycle.end(followup.task_id, TaskStatus.FAILED, ACTOR, detail, verdict.reason)
            fail_record(verdict, delivery, self.visibility)

    def _step(self, followup: FollowUp) -> dict[str, Any]:
        if self.switches is not None and self.switches.shadow_mode():
            would = self.reader.read_call(followup.ticket_id).describe(self.reader.base_url)
            return self._finish(followup, None, "shadow", {"shadow": True, "would_call": would})
        view, problem = self._read(followup)
        if view is not None and view.url:
            return self._finish(followup, view.url, "read")
        if followup.attempt < len(self.delays):
            following = followup.next()
            delay = self.delays[followup.attempt]
            self.queue.schedule(following, delay)
            count(Metric.FOLLOWUPS_RESCHEDULED)
            self.lifecycle.note(
                followup.task_id,
                ACTOR,
                {
                    "followup": followup.awaits,
                    "attempt": followup.attempt,
                    "ticket_id": followup.ticket_id,
                    "link": problem or "not yet",
                    "next_attempt": following.attempt,
                    "in_s": delay,
                },
            )
            return {"outcome": "scheduled", "next_attempt": following.attempt, "in_s": delay}
        url, via = self._fallback(followup)
        return self._finish(followup, url, via)

    def _read(self, followup: FollowUp) -> tuple[TicketView | None, str | None]:
        try:
            return self.reader.read(followup.ticket_id), None
        except ActionFailed as exc:
            logger.info("follow-up read failed", ticket_id=followup.ticket_id, reason=exc.reason)
            return None, exc.reason

    def _fallback(self, followup: FollowUp) -> tuple[str | None, str]:
        try:
            view = self.reader.lookup(followup.action_id, followup.ticket_id)
        except ActionFailed as exc:
            logger.warning("fallback lookup failed", ticket_id=followup.ticket_id, reason=exc.reason)
            view = None
        if view is not None and view.url:
            return view.url, "lookup"
        if self.url_template:
            return self.url_template.format(ticket_id=quote(followup.ticket_id, safe="")), "template"
        return None, "none"

    def _finish(
        self, followup: FollowUp, url: str | None, via: str, extra: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        detail: dict[str, Any] = {
            "ticket_id": followup.ticket_id,
            "url": url,
            "via": via,
            "attempts": followup.attempt,
        }
        if via != "shadow":
            reply, why_not = self._reply(followup, url)
            if reply is not None:
                action_ids.send_action(self.replies, self.reply_queue_url, reply)
                detail |= {"reply": reply.action_id, "reply_ability": reply.ability}
            else:
                detail["reply"] = None
                detail["no_reply"] = why_not
        count(Metric.FOLLOWUPS_DONE)
        logger.info("follow-up done", action_id=followup.action_id, via=via, url=url)
        status = self.lifecycle.complete(followup.task_id, followup.awaits, ACTOR, detail | (extra or {}))
        return {"outcome": "done", "url": url, "via": via, "status": status.value}

    @staticmethod
    def _reply(followup: FollowUp, url: str | None) -> tuple[ActionRequest | None, str | None]:
        """The reply on the platform, bound from ``reply_to``; None (and why) where there is none."""
        platform = followup.reply_to.get("platform", "")
        name = REPLY_ABILITIES.get(platform)
        if name is None:
            return None, f"{platform or 'this platform'} takes no replies"
        ticket = followup.ticket_id
        if platform == "github":
            text = f"Ticket {ticket} is open: {url}" if url else f"Ticket {ticket} is open (no link yet)."
            raw = {
                "repo": followup.reply_to.get("repo"),
                "number": followup.reply_to.get("number"),
                "body": text,
            }
        else:
            text = f"Ticket <{url}|{ticket}> is open." if url else f"Ticket {ticket} is open (no link yet)."
            raw = {
                "channel": followup.reply_to.get("channel"),
                "thread_ts": followup.reply_to.get("thread_ts"),
                "text": text,
            }
        spec = ability(name)
        try:
            params = spec.validate(raw)
        except ValueError as exc:
            return None, f"cannot reply: {exc}"
        ordinal = action_ids.reply_to(followup.ordinal)
        reply = ActionRequest(
            action_id=action_ids.action_id(followup.task_id, ordinal),
            task_id=followup.task_id,
            event_id=followup.event_id,
            ordinal=ordinal,
            service=spec.service,
            ability=name,
            params=params,
            conversation=followup.conversation,
        )
        return reply, None
