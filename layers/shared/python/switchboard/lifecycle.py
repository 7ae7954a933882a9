"""The task lifecycle: THE module that changes a task's status.

RECEIVED → CLASSIFIED → [DECIDING → DECIDED] → DISPATCHED → [WAITING] → DONE, plus the terminal
DROPPED(reason), NEEDS_HUMAN(context) and FAILED(reason). Services ask for a move by its intent (open,
classify, drop, decide, dispatch, escalate, complete, end, resolve); ``TRANSITIONS`` says which moves exist,
and an illegal one is refused here, in ``_move``, the one place that writes a status. The repository
(``switchboard.ports.TaskRepository``) only makes the conditional write, which refuses a move when another
worker moved the task first (``ConcurrentUpdate``); ``retrying`` is the one loop that reloads the task and
looks again.

Finishing. A task is finished when every one of its actions is recorded as completed and every follow-up that
an action staged is completed too. An action that stages a follow-up (a ticket whose link appears later)
records ``awaits: <action id>#followup`` in the history entry of its result; the follow-up, when it is done,
records that id as completed. Until then the task is WAITING. Any worker that records a completion
(``complete``) settles the task; whichever records the last one moves it (DISPATCHED → WAITING,
DISPATCHED/WAITING → DONE). A task that went FAILED when its action reached the DLQ is reopened (FAILED →
DISPATCHED) once a redrive of that action succeeds, and then finishes like any other.

Ending. ``end`` ends a task that is still under way (FAILED, NEEDS_HUMAN, DROPPED) with its reason; a task
that already ended, or cannot move there, keeps its status and gets the detail as a history note, so nothing
that happened is lost.

Sending. The moves that send an action (dispatch, escalate, a person's action) send it before they record the
move, so a crash in between can only repeat the send, which the action id deduplicates
(``switchboard.action_ids``). Before it is sent, every action passes the policy gate (``switchboard.policy``),
whoever chose it; its verdict is recorded with the move under ``policy``. ``dispatch`` drops the refused
actions and sends the rest; a task left with no action ends DROPPED with the gate's reasons. A person's
refused action is not sent (``PolicyRefused``), and the refusal is noted. One move records first and sends
after: a trusted author's rule decision, written with the claim (``dispatch_with_claim``), where only the
claiming message can resume the task and so send again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypeVar

from switchboard import action_ids
from switchboard.errors import (
    AlreadyRecorded,
    ConcurrentUpdate,
    IllegalTransition,
    OrdinalOutOfRange,
    PolicyRefused,
)
from switchboard.models import ActionRequest, InboundEvent, Service, TaskStatus
from switchboard.policy import Chooser, PolicyGate, Verdict, chooser_of
from switchboard.ports import QueueSender, TaskRepository
from switchboard.state import ATTENTION_STATUSES, Opening, Task

S = TaskStatus
TRANSITIONS: Final[dict[TaskStatus, frozenset[TaskStatus]]] = {
    S.RECEIVED: frozenset({S.CLASSIFIED, S.DROPPED, S.NEEDS_HUMAN, S.FAILED}),
    S.CLASSIFIED: frozenset({S.DECIDING, S.DISPATCHED, S.DROPPED, S.NEEDS_HUMAN, S.FAILED}),
    # DISPATCHED: a plan (switchboard.plans) ran while the task was DECIDING and sent its actions itself.
    S.DECIDING: frozenset({S.DECIDED, S.DISPATCHED, S.NEEDS_HUMAN, S.DROPPED, S.FAILED}),
    # DROPPED: the policy gate refused every action at dispatch (an author over the acting rate).
    S.DECIDED: frozenset({S.DISPATCHED, S.DROPPED, S.NEEDS_HUMAN, S.FAILED}),
    # DROPPED: the act layer refuses an action whose ability is switched off (a kill switch).
    S.DISPATCHED: frozenset({S.WAITING, S.DONE, S.DROPPED, S.NEEDS_HUMAN, S.FAILED}),
    S.WAITING: frozenset({S.DONE, S.NEEDS_HUMAN, S.FAILED}),
    S.NEEDS_HUMAN: frozenset({S.DISPATCHED, S.DONE, S.DROPPED}),  # a person resolves it
    S.DONE: frozenset(),
    S.DROPPED: frozenset(),
    S.FAILED: frozenset({S.DISPATCHED}),  # a redrive after the cause is fixed
}

#: How often a step is tried on a task that other workers keep moving.
ATTEMPTS: Final = 3

#: In a DISPATCHED entry's detail: the move was written before its actions were sent
#: (``dispatch_with_claim``).
SENT_AFTER_WRITE: Final = "sent_after_write"

T = TypeVar("T")


def may_move(status: TaskStatus, to: TaskStatus) -> bool:
    return to in TRANSITIONS[status]


def awaited(task: Task) -> set[str]:
    """The follow-up ids that the task's actions staged."""
    found = set()
    for entry in task.history:
        detail = entry.get("detail")
        if isinstance(detail, dict) and isinstance(detail.get("awaits"), str):
            found.add(detail["awaits"])
    return found


class Lifecycle:
    """Every status change of a task, by intent. ``queue`` and ``queue_url_for`` are needed only by the moves
    that send an action (``dispatch``, ``escalate``, ``resolve_with_action``); ``gate`` is the policy gate
    they ask first (by default: the default label allow-list, nobody trusted)."""

    def __init__(
        self,
        tasks: TaskRepository,
        queue: QueueSender | None = None,
        queue_url_for: Callable[[Service], str] | None = None,
        *,
        attempts: int = ATTEMPTS,
        gate: PolicyGate | None = None,
    ) -> None:
        self.tasks = tasks
        self.queue = queue
        self.queue_url_for = queue_url_for
        self.attempts = attempts
        self.gate = gate or PolicyGate()

    # -- reads -----------------------------------------------------------------------------------------------

    def get(self, task_id: str) -> Task:
        return self.tasks.get(task_id)

    # -- the one conflict loop -------------------------------------------------------------------------------

    def retrying(
        self, task: Task, step: Callable[[Task], T], *, exhausted: Callable[[Task], T] | None = None
    ) -> T:
        """Run ``step`` on ``task``; when another worker moved it first, reload it and run ``step`` again.

        After ``attempts`` conflicts: ``exhausted(task)`` if given, else ``ConcurrentUpdate``. A step is
        written to resume from the task's status, so running it on the reloaded task is safe.
        """
        for _ in range(self.attempts):
            try:
                return step(task)
            except ConcurrentUpdate:
                task = self.tasks.get(task.task_id)
        if exhausted is not None:
            return exhausted(task)
        raise ConcurrentUpdate(f"task {task.task_id} kept moving under us")

    # -- opening and classifying -----------------------------------------------------------------------------

    def open(
        self,
        event: InboundEvent,
        *,
        owner: str,
        actor: str,
        decided: Callable[[Task], Task | None] | None = None,
        redelivered: bool = False,
    ) -> Opening:
        """Claim the event and open its task (RECEIVED), in one write; when it is claimed already, the
        ``Opening`` holds its task and its ``owner``, which tells a redelivery of the message that claimed
        it (resume the task) from any other delivery (a duplicate). ``decided``: deferred moves on the new
        task (a rule's drop, or ``dispatch_with_claim``), written with the claim: the task is born in their
        status.

        ``redelivered``: the message was received before, or is the resumption of an earlier one. It may
        then have been claimed by an earlier version, whose claims name its task by the delivery id
        (``TaskRepository.earlier_claim``): that task is the one to resume, not a new one."""
        if redelivered:
            earlier = self.tasks.earlier_claim(event)
            if earlier is not None:
                return Opening(self.tasks.get(earlier.task_id), owner=earlier.owner, opened=False)
        return self.tasks.claim_and_open(event, owner=owner, actor=actor, decided=decided)

    def classify(
        self,
        task: Task,
        actor: str,
        detail: dict[str, Any],
        *,
        actions: list[ActionRequest] | None = None,
        route: str | None = None,
        defer: bool = False,
    ) -> Task:
        """CLASSIFIED: with the actions to dispatch, or with ``route="decide"`` for decide to reason about.
        ``defer``: the move is written with the next one (``dispatch``, in the same invocation)."""
        return self._move(task, S.CLASSIFIED, actor, detail, actions=actions, route=route, defer=defer)

    def drop(
        self, task: Task, actor: str, detail: dict[str, Any], reason: str, *, defer: bool = False
    ) -> Task:
        """DROPPED: nothing to do, and why."""
        return self._move(task, S.DROPPED, actor, detail | {"reason": reason}, reason=reason, defer=defer)

    # -- deciding --------------------------------------------------------------------------------------------

    def start_deciding(self, task: Task, actor: str, detail: dict[str, Any], *, defer: bool = False) -> Task:
        return self._move(task, S.DECIDING, actor, detail, defer=defer)

    def decided(
        self, task: Task, actor: str, action: ActionRequest, detail: dict[str, Any], *, defer: bool = False
    ) -> Task:
        return self._move(task, S.DECIDED, actor, detail, actions=[action], defer=defer)

    # -- dispatching and escalating --------------------------------------------------------------------------

    def dispatch(self, task: Task, actor: str, *, record_first: bool = False) -> Task:
        """Pass the task's actions through the policy gate, send the allowed ones, then record DISPATCHED
        (with only those as the task's actions, so it finishes when they do); none allowed: DROPPED.

        An act worker can finish an action before that write lands (the message is already in its queue). Its
        completion then finds the task not yet DISPATCHED and cannot finish it, so the dispatcher settles the
        task itself once its own write is in.

        ``record_first``: record DISPATCHED first and send after it (``send_dispatched``, as a dispatch with
        the claim does), for a caller that may be working from a task that moved on since (decide, from the
        version its message carries): a stale write is refused before anything is sent, so no action goes
        out that the history does not name. A crash between the write and the sends leaves a DISPATCHED task
        whose redelivery sends them again (``sends_after_write``), deduplicated by the action ids.
        """
        self._require_queue()
        actions = task.action_requests()
        verdicts = self.gate.review(actions, task.inbound_event(), chooser_of(task.history))
        policy = [verdict.to_json() for verdict in verdicts]
        allowed = [action for action, verdict in zip(actions, verdicts, strict=True) if verdict.allowed]
        if not allowed:
            reason = "refused by policy: " + "; ".join(f"{v.ability}: {v.reason}" for v in verdicts)
            return self._move(task, S.DROPPED, actor, {"policy": policy, "reason": reason}, reason=reason)
        kept = allowed if len(allowed) < len(actions) else None
        if record_first:
            task = self._dispatched_unsent(task, actor, allowed, policy, kept)
            self.send_dispatched(task)
            return task
        # each sent action by its id (its ability is in the policy verdicts, its service is the ability's)
        sent = [{"action_id": action.action_id, "message_id": self._send(action)} for action in allowed]
        task = self._move(task, S.DISPATCHED, actor, {"sent": sent, "policy": policy}, actions=kept)
        if task.completed_actions:
            self.settle(task, actor)
            task = self.tasks.get(task.task_id)
        return task

    def dispatch_with_claim(self, task: Task, actor: str) -> Task | None:
        """``dispatch`` for a task that is not written yet (``open``'s ``decided``): the gate's verdicts and
        DISPATCHED (or DROPPED, all refused) are deferred moves, written with the claim; the actions are sent
        after that write (``send_dispatched``), the one move that records before it sends. None (dispatch
        as usual, after the claim) when the gate would count the author's rate: a count made before the
        claim would count a duplicate's actions too.

        Recording first is safe because the write is the claim: until it lands nobody can see the task, and
        once it has, only the message that claimed it resumes it (``Lifecycle.open``); a crash before
        the send leaves a DISPATCHED task whose redelivery sends its actions again, and a repeated send is
        deduplicated by the action id (the act queue's deduplication id, then the act layer's idempotency)."""
        event = task.inbound_event()
        standing = self.gate.standing(event)
        if not standing.trusted:
            return None  # an untrusted author's acting actions count against a rate: dispatch after the claim
        actions = task.action_requests()
        chooser = chooser_of(task.history)
        verdicts = [
            self.gate.check(action, event, chooser, standing=standing, count_rate=False) for action in actions
        ]
        policy = [verdict.to_json() for verdict in verdicts]
        allowed = [action for action, verdict in zip(actions, verdicts, strict=True) if verdict.allowed]
        if not allowed:
            reason = "refused by policy: " + "; ".join(f"{v.ability}: {v.reason}" for v in verdicts)
            refused = {"policy": policy, "reason": reason}
            return self._move(task, S.DROPPED, actor, refused, reason=reason, defer=True)
        kept = allowed if len(allowed) < len(actions) else None
        return self._dispatched_unsent(task, actor, allowed, policy, kept, defer=True)

    def _dispatched_unsent(
        self,
        task: Task,
        actor: str,
        allowed: list[ActionRequest],
        policy: list[dict[str, Any]],
        kept: list[ActionRequest] | None,
        *,
        defer: bool = False,
    ) -> Task:
        """DISPATCHED, recorded before its actions are sent (``send_dispatched`` sends them), each by id."""
        sent = [{"action_id": action.action_id} for action in allowed]
        detail: dict[str, Any] = {"sent": sent, "policy": policy, SENT_AFTER_WRITE: True}
        return self._move(task, S.DISPATCHED, actor, detail, actions=kept, defer=defer)

    def send_dispatched(self, task: Task) -> None:
        """Send the actions of a task recorded DISPATCHED before they were sent (``dispatch_with_claim``,
        ``dispatch(record_first=True)``),
        right after that write and again on a redelivery that finds it still DISPATCHED."""
        for action in task.action_requests():
            self._send(action)

    @staticmethod
    def sends_after_write(task: Task) -> bool:
        """Whether the task is DISPATCHED by a write that came before its sends (``dispatch_with_claim``,
        ``dispatch(record_first=True)``)."""
        if task.status is not S.DISPATCHED:
            return False
        dispatched = next(entry for entry in reversed(task.history) if entry.get("status") == S.DISPATCHED)
        return bool((dispatched.get("detail") or {}).get(SENT_AFTER_WRITE))

    def escalate(
        self, task: Task, actor: str, action: ActionRequest, detail: dict[str, Any], reason: str
    ) -> Task:
        """Send the escalate action, then NEEDS_HUMAN with the context a person needs."""
        verdict = self.gate.check(action, None, Chooser.AGENT)
        if not verdict.allowed:  # the gate always lets a person be reached: this is a broken gate
            raise PolicyRefused(action.ability, verdict.reason)
        self._send(action)
        detail = detail | {"policy": [verdict.to_json()]}
        return self._move(task, S.NEEDS_HUMAN, actor, detail, actions=[action], reason=reason)

    # -- plans (switchboard.plans) -------------------------------------------------------------------------

    def send_planned(self, action: ActionRequest, event: InboundEvent, chosen_by: Chooser) -> Verdict:
        """One action of a plan, while the task is DECIDING: through the gate (counting the author's
        rate), then sent like any other action (its id from ``action_ids.plan_step``). Returns the verdict."""
        self._require_queue()
        verdict = self.gate.check(action, event, chosen_by)
        if verdict.allowed:
            self._send(action)
        return verdict

    def plan_dispatched(
        self, task: Task, actor: str, sent: list[dict[str, Any]], detail: dict[str, Any]
    ) -> Task:
        """DECIDING → DISPATCHED once a plan has sent its actions (already sent, one by one): they become the
        task's actions, so it finishes when they complete; completions recorded before this move settle it."""
        actions = [ActionRequest.model_validate(action) for action in sent]
        task = self._move(task, S.DISPATCHED, actor, detail, actions=actions)
        if task.completed_actions:
            self.settle(task, actor)
            task = self.tasks.get(task.task_id)
        return task

    # -- completions and endings -----------------------------------------------------------------------------

    def complete(
        self,
        task_id: str,
        completion_id: str,
        actor: str,
        detail: dict[str, Any],
        *,
        action: bool = False,
    ) -> TaskStatus:
        """Record one action's (or follow-up's) result, once, and settle the task; return its status.

        ``action``: the completion is an action's (not a follow-up's). When it stages nothing it may be the
        task's last, and the record finishes the task in the same write if the item alone decides it
        (``complete_action``'s ``finishing``: DISPATCHED, its only action, nothing completed before)."""
        finishing = S.DONE if action and "awaits" not in detail else None
        try:
            task = self.tasks.complete_action(task_id, completion_id, actor, detail, finishing=finishing)
        except AlreadyRecorded:
            task = self.tasks.get(task_id)  # recorded by an earlier attempt
        return self.settle(task, actor)

    def settle(self, task: Task, actor: str) -> TaskStatus:
        """Move the task to WAITING or DONE if its recorded completions say so; return its status."""
        return self.retrying(task, lambda current: self._settle_once(current, actor), exhausted=_status)

    def _settle_once(self, task: Task, actor: str) -> TaskStatus:
        expected = {action["action_id"] for action in task.actions}
        if task.status is S.FAILED and expected and expected <= set(task.completed_actions):
            # The action that failed it came back from the DLQ (a redrive) and succeeded: the task goes on.
            task = self._move(task, S.DISPATCHED, actor, {"reopened": "redriven action succeeded"})
        completed = set(task.completed_actions)
        if task.status not in (S.DISPATCHED, S.WAITING) or not expected <= completed:
            return task.status
        pending = awaited(task) - completed
        target = S.WAITING if pending else S.DONE
        if task.status is target:
            return task.status
        detail: dict[str, Any] = {"actions": sorted(expected)}
        if pending:
            detail["awaiting"] = sorted(pending)
        return self._move(task, target, actor, detail).status

    def end(
        self, task_id: str, to: TaskStatus, actor: str, detail: dict[str, Any], reason: str
    ) -> TaskStatus:
        """Move the task to ``to`` with ``reason``; or note ``detail`` if it has ended or cannot go there."""

        def once(task: Task) -> TaskStatus:
            if task.status.terminal or not may_move(task.status, to):
                kept = {"status_kept": task.status.value, "not_moved_to": to.value}
                self.tasks.note(task_id, actor, detail | kept)
                return task.status
            return self._move(task, to, actor, detail, reason=reason).status

        return self.retrying(self.tasks.get(task_id), once, exhausted=_status)

    def plan_started(self, task_id: str, actor: str, detail: dict[str, Any]) -> bool:
        """Note a plan's start; while the task is DECIDING it is also marked for the plan watch (its next
        move clears the mark). False when the plan had moved it on already."""
        return self.tasks.watch_plan(task_id, actor, detail)

    def note(self, task_id: str, actor: str, detail: dict[str, Any]) -> None:
        """A history entry that moves nothing (a retry, a breaker event, a follow-up attempt)."""
        self.tasks.note(task_id, actor, detail)

    # -- a person resolves a task ----------------------------------------------------------------------------

    def resolvable(self, task_id: str) -> Task:
        """The task, if a person may resolve it (it needs a human, or it failed)."""
        task = self.tasks.get(task_id)
        if task.status not in ATTENTION_STATUSES:
            raise ValueError(
                f"task {task.task_id} is {task.status.value}: only NEEDS_HUMAN or FAILED tasks are resolved"
            )
        return task

    def resolve_with_action(self, task: Task, action: ActionRequest, *, by: str, note: str) -> Task:
        """Send the action a person chose (its ordinal from ``action_ids.person``), then DISPATCHED.

        The history entry's ``resolution: action`` is what ``action_ids.person`` counts."""
        if action.ordinal not in action_ids.PERSON:
            raise OrdinalOutOfRange(f"{action.action_id} is not numbered as a person's action")
        verdict = self.gate.check(action, task.inbound_event(), Chooser.PERSON)
        if not verdict.allowed:
            self.tasks.note(
                task.task_id, f"human:{by}", {"resolution": "refused", "policy": [verdict.to_json()]}
            )
            raise PolicyRefused(action.ability, verdict.reason)
        self._send(action)
        detail: dict[str, Any] = {
            "resolution": "action",
            "ability": action.ability,
            "params": action.params,
            "note": note,
            "policy": [verdict.to_json()],
        }

        def once(current: Task) -> Task:
            # The task's escalation may still be finishing (its completion is written to the same item), so a
            # conflict reloads it; a task that left NEEDS_HUMAN or FAILED meanwhile is refused as above.
            if current.status not in ATTENTION_STATUSES:
                raise ValueError(
                    f"task {current.task_id} is {current.status.value}: it was resolved meanwhile"
                )
            return self._move(current, S.DISPATCHED, f"human:{by}", detail, actions=[action])

        return self.retrying(task, once)

    def close(self, task_id: str, *, by: str, note: str) -> Task:
        """A person closes a task that needs a human, with a note that says why: DROPPED."""
        task = self.tasks.get(task_id)
        if task.status is not S.NEEDS_HUMAN:
            raise ValueError(
                f"task {task.task_id} is {task.status.value}: only a NEEDS_HUMAN task is closed with a note"
            )
        if not note.strip():
            raise ValueError("closing a task needs a note that says why")
        detail = {"resolution": "closed", "note": note}

        def once(current: Task) -> Task:
            if current.status is not S.NEEDS_HUMAN:
                raise ValueError(
                    f"task {current.task_id} is {current.status.value}: it was resolved meanwhile"
                )
            return self._move(current, S.DROPPED, f"human:{by}", detail, reason=f"closed by {by}: {note}")

        return self.retrying(task, once)

    # -- the one write of a status ---------------------------------------------------------------------------

    def _move(
        self,
        task: Task,
        to: TaskStatus,
        actor: str,
        detail: dict[str, Any],
        *,
        actions: list[ActionRequest] | None = None,
        reason: str | None = None,
        route: str | None = None,
        defer: bool = False,
    ) -> Task:
        """The one write of a status. With ``defer`` nothing is written yet: the move is made on a copy of the
        task (``Task.deferring``) and written together with the next move, in one conditional write from
        the status as stored. Only a move that the same invocation follows with another is deferred (no
        other worker can see the status in between: a crash before the write resumes from the status as
        stored, and the steps are written to resume)."""
        if not may_move(task.status, to):
            raise IllegalTransition(f"{task.status} → {to} is not allowed (task {task.task_id})")
        if defer:
            sets: dict[str, Any] = (
                {} if actions is None else {"actions": [a.model_dump(mode="json") for a in actions]}
            )
            sets |= {
                name: value for name, value in (("reason", reason), ("route", route)) if value is not None
            }
            return task.deferring(to, actor, detail, sets)
        return self.tasks.transition(task, to, actor, detail, actions=actions, reason=reason, route=route)

    def _require_queue(self) -> tuple[QueueSender, Callable[[Service], str]]:
        if self.queue is None or self.queue_url_for is None:
            raise TypeError("this Lifecycle was built without a queue: it cannot send actions")
        return self.queue, self.queue_url_for

    def _send(self, action: ActionRequest) -> str:
        return action_ids.send_action(*self._require_queue(), action)


def _status(task: Task) -> TaskStatus:
    return task.status
