"""Action identity: THE allocator of ordinals, and the one way an action is sent.

An action's id is ``<task id>#<ordinal>``. It is the SQS deduplication id of its message and the key of its
Powertools idempotency record, so two different actions of one task must never share an ordinal: the second
would be dropped at the queue, or answered with the first one's stored result, and silently never run. Every
kind of action therefore has its own named range, and the ranges do not overlap:

=====================  =================  ================================================================
range                  ordinals           one per
=====================  =================  ================================================================
``PLANNED``            0 … 99             action a rule, the model or decide planned (by its position)
``ESCALATION``         100                task: however often it is handed to a person, it is one action
``PLAN``               200 … 499          plan step: 200 + 100 * the plan's number (0 first, two replans)
                                          + the step's position (``switchboard.plans``)
``PERSON``             1 000 … 9 999      action a person chose (``tasks resolve``), numbered from history
``REPLY``              10 000 … 19 999    staged action: the reply of its follow-up (10 000 + its ordinal)
``ACCESS_ESCALATION``  20 000 … 39 999    failed action: paging a person about access (20 000 + its ordinal)
=====================  =================  ================================================================

Each allocation is deterministic per task and source (a retry computes the same id), and checks that it
lands in its range: an ordinal that would leave it raises ``OrdinalOutOfRange`` instead of colliding.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from switchboard.errors import OrdinalOutOfRange
from switchboard.models import ActionRequest, Service
from switchboard.ports import QueueSender


@dataclass(frozen=True)
class OrdinalRange:
    """The ordinals ``start`` … ``stop - 1`` of one kind of action."""

    name: str
    start: int
    stop: int

    def __contains__(self, ordinal: object) -> bool:
        return isinstance(ordinal, int) and self.start <= ordinal < self.stop

    def at(self, offset: int) -> int:
        """The ordinal ``offset`` places into the range; ``OrdinalOutOfRange`` when it would leave it."""
        ordinal = self.start + offset
        if offset < 0 or ordinal not in self:
            raise OrdinalOutOfRange(f"{self.name}: offset {offset} is outside {self.start}…{self.stop - 1}")
        return ordinal


PLANNED: Final = OrdinalRange("planned", 0, 100)
ESCALATION: Final = OrdinalRange("escalation", 100, 101)
PLAN: Final = OrdinalRange("plan", 200, 500)
PERSON: Final = OrdinalRange("person", 1_000, 10_000)
REPLY: Final = OrdinalRange("reply", 10_000, 20_000)
ACCESS_ESCALATION: Final = OrdinalRange("access escalation", 20_000, 40_000)
RANGES: Final = (PLANNED, ESCALATION, PERSON, REPLY, ACCESS_ESCALATION, PLAN)

# What each derived kind may derive from: a follow-up follows an action that was planned or chosen by a
# person; access is escalated for any action but an escalation (act-escalate cannot page about paging).
_STAGED_FROM: Final = (PLANNED, PERSON, PLAN)
_ESCALATED_FROM: Final = (PLANNED, PERSON, REPLY, PLAN)


def action_id(task_id: str, ordinal: int) -> str:
    return f"{task_id}#{ordinal}"


def planned(position: int) -> int:
    """The ordinal of the ``position``-th action a rule, the model or decide planned."""
    return PLANNED.at(position)


def plan_step(plan_no: int, position: int) -> int:
    """The ordinal of the action at ``position`` in plan ``plan_no`` (0: the first plan, then each replan):
    a replay computes the same id, so its send is deduplicated like any other action's."""
    if not 0 <= position < 100:
        raise OrdinalOutOfRange(f"plan: step position {position} is outside 0…99")
    return PLAN.at(plan_no * 100 + position)


def escalation() -> int:
    """The ordinal of a task's escalation to a person."""
    return ESCALATION.at(0)


def reply_to(staged_ordinal: int) -> int:
    """The ordinal of the reply that the follow-up of the staged action ``staged_ordinal`` sends."""
    _require_one_of(staged_ordinal, _STAGED_FROM, "a staged action")
    return REPLY.at(staged_ordinal)


def access_escalation(failed_ordinal: int) -> int:
    """The ordinal of the access escalation for the refused action ``failed_ordinal``."""
    _require_one_of(failed_ordinal, _ESCALATED_FROM, "an action whose access is escalated")
    return ACCESS_ESCALATION.at(failed_ordinal)


def person(history: Iterable[Mapping[str, Any]]) -> int:
    """The ordinal of the next action a person chooses for a task, from its append-only history.

    ``n`` is the number of actions people chose before (each is one history entry with ``resolution:
    action``), so it only grows: unlike ``task.actions``, which each transition replaces, the history keeps
    every earlier choice, and the actions the agent derived (replies, escalations) never count.
    """
    chosen = sum(1 for entry in history if _detail(entry).get("resolution") == "action")
    return PERSON.at(chosen)


def range_of(ordinal: int) -> OrdinalRange:
    for candidate in RANGES:
        if ordinal in candidate:
            return candidate
    raise OrdinalOutOfRange(f"ordinal {ordinal} is in no range")


def send_action(queue: QueueSender, queue_url_for: Callable[[Service], str], action: ActionRequest) -> str:
    """Send ``action`` to its service's act queue: its conversation is the message group, its id the
    deduplication id. Returns the message id."""
    return queue.send(
        queue_url_for(action.service),
        action.model_dump_json(),
        group_id=action.conversation,
        dedup_id=action.action_id,
    )


def _require_one_of(ordinal: int, ranges: tuple[OrdinalRange, ...], what: str) -> None:
    if not any(ordinal in allowed for allowed in ranges):
        names = ", ".join(allowed.name for allowed in ranges)
        raise OrdinalOutOfRange(f"{what} must be {names}; ordinal {ordinal} is not")


def _detail(entry: Mapping[str, Any]) -> Mapping[str, Any]:
    detail = entry.get("detail")
    return detail if isinstance(detail, Mapping) else {}
