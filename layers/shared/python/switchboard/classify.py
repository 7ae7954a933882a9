"""Classify: claim the processed id, open the task, rules first; only what no rule decides reaches the small
model, in one classification call whose stated confidence is calibrated (``Calibration``). A calibrated
confidence under the threshold does not buy a second classification from a bigger model: the task goes to
decide (the medium tier), which reasons over the message with the small model's guess, so each unsure event
costs one medium-tier call instead of two.

Each step is resumable from the task's status, so a redelivery after a crash picks up where the first attempt
stopped, and a racing duplicate message sees the claim and skips without creating a second task.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from itertools import pairwise
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from switchboard import action_ids, failures
from switchboard.abilities import ability
from switchboard.batches import AwaitingBatch, Resume
from switchboard.deadline import Deadline
from switchboard.dlq import ORIGINAL_MESSAGE_ID
from switchboard.escalation import Escalator
from switchboard.intents import CLASSIFY_TOOL, Classification, Policy, direct_actions, parse_classification
from switchboard.lifecycle import Lifecycle
from switchboard.llm import BudgetedLlm, LedgerEntry, LlmError, emit_ledger
from switchboard.metrics import Metric, count
from switchboard.models import ActionRequest, DecideRequest, InboundEvent, Platform, Service, TaskStatus
from switchboard.plans.route import plans_first
from switchboard.policy import PolicyGate
from switchboard.ports import QueueSender, TaskRepository
from switchboard.prompts import CLASSIFY_SYSTEM, repair_turns, user_turn
from switchboard.rules import (
    Act,
    Drop,
    NeedsClassification,
    PlannedAction,
    RuleChain,
    RuleContext,
    RuleResult,
)
from switchboard.state import Task

logger = Logger(child=True)

ACTOR = "classify"
CLASSIFY_TIER = "small"


@dataclass(frozen=True)
class Calibration:
    """The model's stated confidence mapped to how often answers stated at that confidence were right.

    ``points`` are (stated, observed) pairs, increasing in both, read by linear interpolation; the default is
    the identity (the model's word taken as it is). ``fit`` builds the table from labelled answers (the
    routing
    corpus, or a sample of tasks a person reviewed): the share of right answers per confidence bin, made
    monotone. The threshold of ``Policy`` applies to the calibrated value.
    """

    points: tuple[tuple[float, float], ...] = ((0.0, 0.0), (1.0, 1.0))

    def __call__(self, stated: float) -> float:
        stated = min(1.0, max(0.0, stated))
        points = self.points
        if stated <= points[0][0]:
            return points[0][1]
        for (x0, y0), (x1, y1) in pairwise(points):
            if stated <= x1:
                return y0 if x1 == x0 else y0 + (y1 - y0) * (stated - x0) / (x1 - x0)
        return points[-1][1]

    @classmethod
    def fit(cls, answers: Iterable[tuple[float, bool]], bins: int = 5) -> Calibration:
        """From (stated confidence, was it right) pairs: each bin's mean stated confidence and its share of
        right answers, running-maximum so a higher stated confidence never calibrates lower."""
        grouped: dict[int, list[tuple[float, bool]]] = {}
        for stated, right in answers:
            grouped.setdefault(min(bins - 1, int(max(0.0, min(1.0, stated)) * bins)), []).append(
                (stated, right)
            )
        points: list[tuple[float, float]] = []
        best = 0.0
        for index in sorted(grouped):
            group = grouped[index]
            best = max(best, sum(right for _, right in group) / len(group))
            points.append((sum(stated for stated, _ in group) / len(group), best))
        return cls(tuple(points)) if len(points) >= 2 else cls()


@dataclass
class Verdict:
    """What classification concluded, with the LLM calls it took."""

    classification: Classification | None
    tiers: list[str]
    ledger: list[LedgerEntry]
    error: str | None = None
    sure: bool = False

    def detail(self) -> dict[str, Any]:
        detail: dict[str, Any] = {
            "route": "llm",
            "tiers": self.tiers,
            "llm": [e.to_json() for e in self.ledger],
        }
        if self.classification:
            detail |= {
                "intent": self.classification.intent.value,
                "confidence": self.classification.confidence,
            }
        if self.error:
            detail["error"] = self.error
        return detail


class ClassifyService:
    def __init__(
        self,
        tasks: TaskRepository,
        queue: QueueSender,
        act_queue_url: Callable[[Service], str],
        decide_queue_url: str,
        chain: RuleChain,
        llm: BudgetedLlm | None,
        policy: Policy | None = None,
        gate: PolicyGate | None = None,
        calibration: Calibration | None = None,
        resume_queue_url: str | None = None,
    ) -> None:
        # The policy gate consults the same author directory as the rules (who is trusted), unless given one.
        self.lifecycle = Lifecycle(tasks, queue, act_queue_url, gate=gate or PolicyGate(authors=chain.memory))
        self.queue = queue
        self.decide_queue_url = decide_queue_url
        self.chain = chain
        self.llm = llm
        self.policy = policy or Policy()
        self.calibration = calibration or Calibration()
        # Classify's own queue: set, a polled feed item's classification waits for the next Message Batch
        # (``switchboard.batches``) and comes back through it; None, every call is made live.
        self.resume_queue_url = resume_queue_url
        self._owner: str | None = None
        self.escalator = Escalator(self.lifecycle, ACTOR)

    def begin(self, context: LambdaContext | None) -> None:
        """One invocation starts: its model calls must end before its deadline (``switchboard.deadline``)."""
        if self.llm is not None:
            self.llm.deadline = None if context is None else Deadline.from_context(context)

    def process(
        self, event: InboundEvent, message_id: str, *, redelivered: bool = False
    ) -> TaskStatus | None:
        """Advance the event's task as far as classify can take it. None means: a duplicate, skipped.
        ``redelivered``: the message was received before (``Lifecycle.open``)."""
        logger.set_correlation_id(event.event_id)
        self._owner = message_id
        context = self.chain.context(event)
        rule = self._rule_before_claim(event, context)
        decided = None if rule is None else partial(self._decided_with_claim, event=event, rule=rule)
        opening = self.lifecycle.open(
            event, owner=message_id, actor=ACTOR, decided=decided, redelivered=redelivered
        )
        task = opening.task
        if not opening.opened:
            if opening.owner != message_id:
                context.give_back()  # counted with its author's read: a duplicate is no request of its own
                logger.info("duplicate event skipped", task_id=task.task_id, owner=opening.owner)
                count(Metric.EVENTS_DUPLICATE)
                return None
            rule = None  # a resumed task evaluates its rules again, where it stopped
            if task.status is not TaskStatus.RECEIVED:
                context.give_back()  # past its rules: the rate rule will not use this count
            logger.info("resuming task", task_id=task.task_id, status=task.status.value)
        else:
            logger.info("task opened", task_id=task.task_id, platform=event.platform.value)
            if task.status is not TaskStatus.RECEIVED and rule is not None:  # decided with the claim
                _count_rule(rule)
        try:
            return self.lifecycle.retrying(task, lambda current: self._advance(current, event, context, rule))
        except failures.PERMANENT as error:  # the event's own fault: retrying gives the same error
            return self._failed(task, error)

    def _rule_before_claim(self, event: InboundEvent, context: RuleContext) -> RuleResult | None:
        """The rules' result evaluated before the claim, so that a rule's decision is written with it
        (``_decided_with_claim``): first those before the first that writes (``RuleChain.settled``: a bot,
        nothing to say, a blocked author), then for a trusted author all the others. For anyone else those
        wait for the claim: the gate counts their acting actions, and a duplicate's must not count. None when
        the rules leave the event to the rest. The rate rule's count is made here, with the author's read (one
        request: ``RuleChain.context``), and a duplicate gives it back (``process``). A rule that fails here
        is evaluated again after the claim, where its failure ends the task."""
        read_at = self.lifecycle.gate.clock()
        try:
            settled = self.chain.settled(event, context)  # reads the author only if a rule asks
            if isinstance(settled, Drop):
                return settled  # nothing will be sent: no standing needed, and a bot's drop reads nothing
            trusted = False
            if self.chain.memory is not None and event.author:
                # the event's one read of its author: the gate keeps the trust for the dispatch and decide
                trusted = context.profile.trusted
                self.lifecycle.gate.remember(event, trusted, read_at)
            if settled is not None or not trusted:
                return settled
            return self.chain.evaluate(event, context)
        except failures.PERMANENT:  # no task yet to end FAILED: after the claim, it is
            return None

    def _decided_with_claim(self, task: Task, event: InboundEvent, rule: RuleResult) -> Task | None:
        """A rule's drop, or its actions' dispatch (``Lifecycle.dispatch_with_claim``), as deferred moves on
        the task not written yet: the claim's transaction writes them, one write instead of two. None when
        the decision is not the rules' alone (the model's, or a dispatch the gate must count)."""
        if isinstance(rule, Drop):
            return self.lifecycle.drop(
                task, ACTOR, {"rule": rule.rule, "route": "rule"}, rule.reason, defer=True
            )
        if isinstance(rule, Act):
            classified = self._classified(task, event, rule.actions, {"rule": rule.rule, "route": "rule"})
            return self.lifecycle.dispatch_with_claim(classified, ACTOR)
        return None

    def _failed(self, task: Task, error: Exception) -> TaskStatus:
        """End the task FAILED with the error as its reason; the message is consumed (``failures``)."""
        why = failures.reason(error)
        logger.exception("task failed", task_id=task.task_id, reason=why)
        return self.lifecycle.end(
            task.task_id, TaskStatus.FAILED, ACTOR, {"error": type(error).__name__}, why
        )

    def _advance(
        self, task: Task, event: InboundEvent, context: RuleContext, rule: RuleResult | None = None
    ) -> TaskStatus:
        classified_now = task.status is TaskStatus.RECEIVED  # then a CLASSIFIED task below is our own write
        if task.status is TaskStatus.RECEIVED:
            try:
                task = self._classify(task, event, context, rule)
            except AwaitingBatch:
                logger.info("classification waits for the next Message Batch", task_id=task.task_id)
                return task.status
        if task.status is TaskStatus.CLASSIFIED and task.actions:
            task = self.lifecycle.dispatch(task, ACTOR)
        elif task.status is TaskStatus.CLASSIFIED and task.route == "decide":
            self._send_to_decide(task, event, written=classified_now)
        elif self.lifecycle.sends_after_write(task):  # written with the claim: sent now, or again on a resume
            self.lifecycle.send_dispatched(task)
        return task.status

    def _classify(
        self, task: Task, event: InboundEvent, context: RuleContext, rule: RuleResult | None = None
    ) -> Task:
        result = rule if rule is not None else self.chain.evaluate(event, context)
        _count_rule(result)
        if isinstance(result, Drop):
            return self._drop(task, {"rule": result.rule, "route": "rule"}, result.reason)
        if isinstance(result, Act):
            return self._classified(task, event, result.actions, {"rule": result.rule, "route": "rule"})
        count(Metric.NEEDS_CLASSIFICATION)
        verdict = self._ask_model(task, event)
        emit_ledger(verdict.ledger)
        if verdict.classification is not None and not verdict.sure:
            # unsure: one medium-tier call in decide, with the small model's guess, not a second
            # classification
            detail = verdict.detail() | {"next": "decide", "unsure": True}
            return self.lifecycle.classify(task, ACTOR, detail, route="decide")
        if verdict.classification is None:
            return self.escalator.needs_human(
                task,
                event,
                why=verdict.error or "no classification",
                tried=[f"classify with the {tier} model" for tier in verdict.tiers],
                decision="What does this message need, if anything?",
                detail=verdict.detail(),
            )
        intent = verdict.classification.intent
        if intent in self.policy.drop:
            return self._drop(task, verdict.detail(), f"intent:{intent.value}")
        if intent in self.policy.needs_reasoning or plans_first(event, intent.value) is not None:
            return self.lifecycle.classify(task, ACTOR, verdict.detail() | {"next": "decide"}, route="decide")
        actions = direct_actions(event, intent)
        if actions is None:
            return self._drop(task, verdict.detail(), f"no_action_needed:{intent.value}")
        return self._classified(task, event, actions, verdict.detail())

    def _ask_model(self, task: Task, event: InboundEvent) -> Verdict:
        """One classification by the small model, its confidence calibrated; sure at or over the threshold."""
        verdict = Verdict(None, [CLASSIFY_TIER], [])
        if self.llm is None:
            verdict.error = "no model configured"
            return verdict
        try:
            classification = self._classify_once(task, event, CLASSIFY_TIER, verdict.ledger)
        except LlmError as exc:
            verdict.error = str(exc)
            return verdict
        if classification is None:
            verdict.error = f"{CLASSIFY_TIER} model gave no valid classification"
            return verdict
        calibrated = round(self.calibration(classification.confidence), 4)
        verdict.classification = classification.model_copy(update={"confidence": calibrated})
        verdict.sure = calibrated >= self.policy.confidence_threshold
        if not verdict.sure:
            verdict.error = f"{CLASSIFY_TIER} model unsure ({calibrated:.2f})"
        return verdict

    def _classify_once(
        self, task: Task, event: InboundEvent, tier: str, ledger: list[LedgerEntry]
    ) -> Classification | None:
        assert self.llm is not None
        messages = user_turn(event)
        answer = self.llm.choose_tool(
            purpose="classify",
            task_id=task.task_id,
            tier=tier,
            system=CLASSIFY_SYSTEM,
            messages=messages,
            tools=[CLASSIFY_TOOL],
            max_tokens=200,
            defer=self._deferred(task, event),
        )
        ledger.extend(answer.ledger)
        call = answer.call
        if call is None:
            return None
        try:
            return parse_classification(call.input)
        except ValidationError as exc:
            # the same model sees its own turn back, thinking blocks first ([THINK]): no fallback to another
            # tier, whose model would refuse another model's thinking blocks
            repaired = self.llm.choose_tool(
                purpose="classify",
                task_id=task.task_id,
                tier=tier,
                replay_of=call,
                system=CLASSIFY_SYSTEM,
                messages=repair_turns(
                    messages,
                    call.name,
                    call.input,
                    str(exc.errors(include_url=False)),
                    call.blocks,
                    call.tool_use_id,
                ),
                tools=[CLASSIFY_TOOL],
                max_tokens=200,
                use_cache=False,
                fallback=False,
            )
            ledger.extend(repaired.ledger)
            if repaired.call is None:
                return None
            try:
                return parse_classification(repaired.call.input)
            except ValidationError:
                return None

    def _deferred(self, task: Task, event: InboundEvent) -> Resume | None:
        """A polled feed item can wait for a batch (nobody waits on a webhook); it resumes through classify's
        queue, as the claim's owner, so the redelivery resumes the claim instead of skipping a duplicate."""
        if self.resume_queue_url is None or event.platform is not Platform.FEED or self._owner is None:
            return None
        return Resume(
            self.resume_queue_url,
            event.model_dump_json(),
            group_id=event.conversation,
            dedup_id=f"{task.task_id}#batch#classify",
            attributes={ORIGINAL_MESSAGE_ID: self._owner},
        )

    def _drop(self, task: Task, detail: dict[str, Any], reason: str) -> Task:
        return self.lifecycle.drop(task, ACTOR, detail, reason)

    def _classified(
        self, task: Task, event: InboundEvent, planned: tuple[PlannedAction, ...], detail: dict[str, Any]
    ) -> Task:
        actions = [
            ActionRequest.for_task(
                event, action_ids.planned(position), p.ability, ability(p.ability).service, p.params
            )
            for position, p in enumerate(planned)
        ]
        # Written with the dispatch that follows at once (``_advance``): one write for both moves. Its
        # detail does not list the abilities: the dispatch's policy verdicts name each one.
        return self.lifecycle.classify(task, ACTOR, detail, actions=actions, defer=True)

    def _send_to_decide(self, task: Task, event: InboundEvent, *, written: bool) -> None:
        """Hand over to decide. The task stays CLASSIFIED until decide moves it to DECIDING.

        ``written``: the task is as this invocation's own write returned it, so the message carries its
        version and decide need not read it again (``DecideRequest.task_version``). A resumed task was read
        and may be handed over a second time while the first message is still in decide's queue: that one
        carries no version, so decide reads the task and sees how far the first got."""
        classified = next(entry for entry in reversed(task.history) if entry.get("status") == "CLASSIFIED")
        known = self.lifecycle.gate.known(event)  # the author's trust as read for this event, if kept
        request = DecideRequest(
            task_id=task.task_id,
            event=event,
            intent=classified["detail"]["intent"],
            confidence=classified["detail"]["confidence"],
            author_trusted=None if known is None else known[0].trusted,
            author_read_at=None if known is None else known[1],
            task_version=task.version if written else None,
        )
        self.queue.send(
            self.decide_queue_url,
            request.model_dump_json(),
            group_id=event.conversation,
            dedup_id=f"{task.task_id}#decide",
        )


def _count_rule(result: RuleResult) -> None:
    if not isinstance(result, NeedsClassification):
        count(Metric.RULE_HITS)
        count(Metric.RULE_HITS_BY_RULE, rule=result.rule)
