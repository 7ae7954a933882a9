"""Decide: the model chooses one typed, allow-listed ability; code validates it and decides where it may go.

The tools offered are the abilities allowed on the event's platform (reply-or-stay-silent is that list, in
code) that the event's author may use (the policy gate, ``switchboard.policy``: a stranger is not offered
``github.close``, and label names are limited to the repository's allow-list). The model's choice passes the
gate before it is recorded: a refused choice ends the task DROPPED with the gate's reason. The target of every
action is bound from the event, never chosen by the model. Invalid output is
repaired once with the validation error fed back; after that, or when the model is unavailable or the
budget is spent, the task goes to a person with the full context.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from switchboard import action_ids, failures
from switchboard.abilities import Ability, ability_for_tool, allowed_on
from switchboard.batches import AwaitingBatch, Resume
from switchboard.deadline import Deadline
from switchboard.errors import ConcurrentUpdate, InvalidParams, UnknownAbility
from switchboard.escalation import Escalator
from switchboard.lifecycle import Lifecycle
from switchboard.llm import BudgetedLlm, LedgerEntry, LlmError, ToolCall, emit_ledger
from switchboard.metrics import Metric, count
from switchboard.models import ActionRequest, DecideRequest, InboundEvent, Platform, Service, TaskStatus
from switchboard.policy import Chooser, PolicyGate
from switchboard.ports import QueueSender, TaskRepository
from switchboard.prompts import DECIDE_SYSTEM, repair_turns, user_turn
from switchboard.state import Task

logger = Logger(child=True)

ACTOR = "decide"
DECIDE_TIER = "medium"

# Where Switchboard may speak. On the other platforms it acts (tickets, people) but never replies.
REPLY_PLATFORMS = frozenset({Platform.GITHUB, Platform.SLACK})
REPLY_ABILITIES = frozenset({"github.comment", "slack.reply"})


def offered_abilities(event: InboundEvent, gate: PolicyGate | None = None) -> list[Ability]:
    """The abilities the model may choose for ``event``: allowed on its platform, and usable by its author."""
    platform = event.platform
    candidates = [
        entry
        for entry in allowed_on(platform)
        if entry.name not in REPLY_ABILITIES or platform in REPLY_PLATFORMS
    ]
    return (gate or PolicyGate()).offered(event, candidates)


class DecideService:
    def __init__(
        self,
        tasks: TaskRepository,
        queue: QueueSender,
        act_queue_url: Callable[[Service], str],
        llm: BudgetedLlm | None,
        tier: str = DECIDE_TIER,
        gate: PolicyGate | None = None,
        resume_queue_url: str | None = None,
        plans: Any = None,  # a switchboard.plans.start.PlanStarter: multi-step requests plan
    ) -> None:
        self.plans = plans
        self.gate = gate or PolicyGate()
        self.lifecycle = Lifecycle(tasks, queue, act_queue_url, gate=self.gate)
        self.llm = llm
        self.tier = tier
        # Decide's own queue: set, a decision on a platform where Switchboard never replies waits for the next
        # Message Batch (``switchboard.batches``) and comes back through it; None, every call is made live.
        self.resume_queue_url = resume_queue_url
        self.escalator = Escalator(self.lifecycle, ACTOR)

    def begin(self, context: LambdaContext | None) -> None:
        """One invocation starts: its model calls must end before its deadline (``switchboard.deadline``)."""
        if self.llm is not None:
            self.llm.deadline = None if context is None else Deadline.from_context(context)

    def process(self, request: DecideRequest, *, first_receive: bool = False) -> TaskStatus:
        """Take the task as far as decide can. ``first_receive``: SQS delivers this message for the first time
        (its ``ApproximateReceiveCount`` is 1); then the task as classify left it, carried by the message,
        stands in for a read of it (``_as_sent``)."""
        event = request.event
        logger.set_correlation_id(event.event_id)
        if request.author_trusted is not None and request.author_read_at is not None:
            # classify's read of the author's trust: the gate keeps it while it is fresh enough
            self.gate.remember(event, request.author_trusted, request.author_read_at)
        task = self._as_sent(request) if first_receive else None
        if task is None:
            task = self.lifecycle.get(request.task_id)
        try:
            return self.lifecycle.retrying(task, lambda current: self._advance(current, request))
        except failures.PERMANENT as error:  # the event's own fault: retrying gives the same error
            why = failures.reason(error)
            logger.exception("task failed", task_id=task.task_id, reason=why)
            return self.lifecycle.end(
                task.task_id, TaskStatus.FAILED, ACTOR, {"error": type(error).__name__}, why
            )

    def _as_sent(self, request: DecideRequest) -> Task | None:
        """The task as classify's write left it, from the message (``DecideRequest.task_version``); None when
        the message does not carry it or a plan takes the task (the plan reads the task itself).

        Why a first receive may trust it. Classify sends the version only with the write that made the task
        CLASSIFIED, and only decide moves a CLASSIFIED task on, for a message of this task (classify ends
        it FAILED only if handing it over fails for good, which a resend of a body sent once does not). Any
        other message of it (classify handing over again on a resume) carries no version and comes after
        this one in the conversation's FIFO group, so while this message has never been received nobody
        has moved the task from the version it carries. A redelivery may come after its own earlier
        attempt wrote; it reads, as does every message without the version.

        Residual case: ``ApproximateReceiveCount`` is approximate, so a first count could still reach a
        task moved on. Nothing wrong is written: every move is conditional on status and version, the
        stale one fails (``ConcurrentUpdate``) and ``Lifecycle.retrying`` reloads the task and resumes from
        where it is. The moves before that write are the ones a crash before it repeats today: the model's
        call (the same prompt is answered from the response cache, so the model is not asked twice, bar a
        repair). Its actions are not sent before the write that records them (``dispatch(record_first=
        True)``): refused, nothing went out. What can still go out unrecorded is a page: if the model now
        fails where the earlier attempt's answered, the escalation would go out before its NEEDS_HUMAN
        write is refused (``Lifecycle.escalate`` sends first), so ``_to_human`` reads the task before it
        pages from the message's version: one read, on the rare path that asks a person.
        """
        if request.task_version is None or self._wants_plan(request) is not None:
            return None
        event = request.event
        return Task(
            task_id=request.task_id,
            event_id=event.event_id,
            platform=event.platform.value,
            status=TaskStatus.CLASSIFIED,
            version=request.task_version,
            conversation=event.conversation,
            # The history is appended by each write and read back whole from it (``Task.updated``); before
            # the first write decide reads only its own entries (who chose, at dispatch).
            history=[],
            route="decide",
            event_json=event.model_dump_json(),
        )

    def _wants_plan(self, request: DecideRequest) -> str | None:
        if self.plans is None:
            return None
        from switchboard.plans.start import wants_plan

        return wants_plan(request)

    def _advance(self, task: Task, request: DecideRequest) -> TaskStatus:
        why = self._wants_plan(request)  # the router: a plan, or one step
        if task.status is TaskStatus.CLASSIFIED:
            # Deferred: written with the move that ends this step (DECIDED is too, with the dispatch).
            # A plan's start is written at once: the plan function moves the task on from DECIDING.
            task = self.lifecycle.start_deciding(task, ACTOR, {"tier": self.tier}, defer=why is None)
        if task.status is TaskStatus.DECIDING and why is not None and self.plans is not None:
            return self.plans.start(task, request, why)
        if task.status is TaskStatus.DECIDING:
            try:
                task = self._decide(task, request)
            except AwaitingBatch:
                logger.info("decision waits for the next Message Batch", task_id=task.task_id)
                return task.status
        if task.status is TaskStatus.DECIDED:
            # recorded before it is sent: the task may be the version the message carried (``_as_sent``)
            task = self.lifecycle.dispatch(task, ACTOR, record_first=True)
        elif self.lifecycle.sends_after_write(task):  # a redelivery after a crash between write and sends
            self.lifecycle.send_dispatched(task)
        return task.status

    def _decide(self, task: Task, request: DecideRequest) -> Task:
        event = request.event
        offered = offered_abilities(event, self.gate)
        tools = [self.gate.narrow_tool(event, entry.tool_schema()) for entry in offered]
        messages = user_turn(event, {"intent": request.intent, "confidence": request.confidence})
        ledger: list[LedgerEntry] = []
        tried = [f"decide with the {self.tier} model"]
        if self.llm is None:
            return self._to_human(task, event, "no model configured", tried, ledger)
        try:
            answer = self.llm.choose_tool(
                purpose="decide",
                task_id=task.task_id,
                tier=self.tier,
                system=DECIDE_SYSTEM,
                messages=messages,
                tools=tools,
                defer=self._deferred(request),
            )
            ledger.extend(answer.ledger)
            try:
                action = self._validated(event, answer.call, offered)
            except (InvalidParams, UnknownAbility) as first_error:
                tried.append(f"repair after: {first_error}")
                count(Metric.LLM_REPAIRS)
                error = first_error.feedback() if isinstance(first_error, InvalidParams) else str(first_error)
                call = answer.call or ToolCall("none", {})
                repaired = self.llm.choose_tool(
                    purpose="decide",
                    task_id=task.task_id,
                    tier=self.tier,
                    replay_of=call,
                    system=DECIDE_SYSTEM,
                    messages=repair_turns(
                        messages, call.name, call.input, error, call.blocks, call.tool_use_id
                    ),
                    tools=tools,
                    use_cache=False,
                    fallback=False,  # its own thinking blocks go back to the same model ([THINK])
                )
                ledger.extend(repaired.ledger)
                action = self._validated(event, repaired.call, offered)
        except (InvalidParams, UnknownAbility) as exc:
            return self._to_human(task, event, f"invalid model output after one repair: {exc}", tried, ledger)
        except LlmError as exc:
            return self._to_human(task, event, str(exc), tried, ledger)
        finally:
            emit_ledger(ledger)
        if action.ability == "escalate.human":
            return self._to_human(task, event, "the model asked for a person", tried, ledger, action.params)
        llm = [entry.to_json() for entry in ledger]
        # The rate is counted once, at dispatch; here the rules that say whether this author may do this.
        verdict = self.gate.check(action, event, Chooser.MODEL, count_rate=False)
        if not verdict.allowed:
            logger.warning("model's choice refused by policy", task_id=task.task_id, reason=verdict.reason)
            detail = {"ability": action.ability, "policy": [verdict.to_json()], "llm": llm}
            return self.lifecycle.drop(task, ACTOR, detail, f"refused by policy: {verdict.reason}")
        count(Metric.DECISIONS, ability=action.ability)
        return self.lifecycle.decided(
            task,
            ACTOR,
            action,
            {"ability": action.ability, "policy": [verdict.to_json()], "llm": llm},
            defer=True,
        )

    def _deferred(self, request: DecideRequest) -> Resume | None:
        """No one reads a reply on this platform (tickets, people): the decision can wait for a batch."""
        event = request.event
        if self.resume_queue_url is None or event.platform in REPLY_PLATFORMS:
            return None
        # The message comes back after the batch, received for the first time, but the task may have moved
        # meanwhile: without the version it carries, it is read again.
        resumed = request.model_copy(update={"task_version": None})
        return Resume(
            self.resume_queue_url,
            resumed.model_dump_json(),
            group_id=event.conversation,
            dedup_id=f"{request.task_id}#batch#decide",
        )

    @staticmethod
    def _validated(event: InboundEvent, call: ToolCall | None, offered: list[Ability]) -> ActionRequest:
        if call is None:
            raise UnknownAbility("the model called no tool")
        chosen = ability_for_tool(call.name)
        if chosen not in offered:
            raise UnknownAbility(f"{chosen.name} is not allowed on {event.platform.value}")
        params = chosen.bound_params(event, call.input)
        return ActionRequest.for_task(event, action_ids.planned(0), chosen.name, chosen.service, params)

    def _to_human(
        self,
        task: Task,
        event: InboundEvent,
        why: str,
        tried: list[str],
        ledger: list[LedgerEntry],
        model_view: dict[str, Any] | None = None,
    ) -> Task:
        decision = (model_view or {}).get("decision_needed") or "How should Switchboard answer this message?"
        if _from_message(task):
            # A page is sent before its NEEDS_HUMAN write (``Lifecycle.escalate``), so a refused write cannot
            # take it back: before paging from the message's version, make sure the task is still there.
            stored = self.lifecycle.get(task.task_id)
            if stored.version != task.version:
                raise ConcurrentUpdate(task.task_id)  # ``retrying`` resumes from the task as it is
        return self.escalator.needs_human(
            task,
            event,
            why=why,
            tried=tried,
            decision=str(decision),
            detail={"llm": [e.to_json() for e in ledger]},
        )


def _from_message(task: Task) -> bool:
    """The task is the message's (``DecideService._as_sent``), never read: a stored task's history begins
    with its RECEIVED entry; the message's holds only decide's own moves made since."""
    return not task.history or task.history[0].get("status") != TaskStatus.RECEIVED.value
