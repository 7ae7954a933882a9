"""The lifecycle on the in-memory ports: every intent-level move, the refusal of illegal moves before any
write, the one conflict loop, and how a task settles (WAITING, DONE, a redriven FAILED task reopened)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from switchboard import action_ids
from switchboard.errors import AlreadyRecorded, ConcurrentUpdate, IllegalTransition, OrdinalOutOfRange
from switchboard.lifecycle import TRANSITIONS, Lifecycle, awaited
from switchboard.models import ActionRequest, InboundEvent, Service, TaskStatus
from switchboard.policy import LabelPolicy, PolicyConfig, PolicyGate
from switchboard.state import Task
from tests.fakes import act_queue_url, github_event
from tests.fakes.tasks import InMemoryQueue, InMemoryTaskRepository

S = TaskStatus
#: The labels these tests apply (``l0``, ``l1`` …) are on this gate's allow-list: they test the moves, not the
#: policy (``tests/unit/test_policy.py`` does).
GATE = PolicyGate(PolicyConfig(labels=LabelPolicy.parse('{"*": ["l*"]}')))


def label(event: InboundEvent, position: int = 0) -> ActionRequest:
    params = {"repo": "octo-org/demo", "number": 7, "labels": [f"l{position}"]}
    return ActionRequest.for_task(
        event, action_ids.planned(position), "github.add_labels", Service.GITHUB, params
    )


class World:
    def __init__(self) -> None:
        self.tasks = InMemoryTaskRepository()
        self.queue = InMemoryQueue()
        self.lifecycle = Lifecycle(self.tasks, self.queue, act_queue_url, gate=GATE)
        self.event = github_event()

    def opened(self) -> Task:
        task = self.lifecycle.open(self.event, owner="m-1", actor="classify").task
        assert task is not None
        return task

    def classified(self, count: int = 1) -> Task:
        actions = [label(self.event, n) for n in range(count)]
        return self.lifecycle.classify(self.opened(), "classify", {"rule": "label"}, actions=actions)

    def dispatched(self, count: int = 1) -> Task:
        return self.lifecycle.dispatch(self.classified(count), "classify")

    def statuses(self) -> list[str]:
        return [e["status"] for e in self.tasks.get(self.event.task_id).history if "status" in e]


@pytest.fixture
def world() -> World:
    return World()


# -- open, classify, drop ------------------------------------------------------------------------------------


def test_open_claims_once_and_the_claim_names_its_owner(world: World) -> None:
    task = world.opened()
    assert task.status is S.RECEIVED and task.history[0]["actor"] == "classify"
    again = world.lifecycle.open(world.event, owner="m-2", actor="classify")
    assert not again.opened and again.owner == "m-1" and again.task == task


def test_a_redelivery_resumes_the_task_an_earlier_version_claimed(world: World) -> None:
    """Before 2026-12-03 a task was named by its delivery id and claimed by its own items: a message that
    version took, redelivered to this one, must resume that task, not open a second one."""
    event = github_event(event_id="d-old", content_id="comment-old")
    legacy = world.lifecycle.open(github_event(event_id="d-old"), owner="m-1", actor="x").task
    assert legacy.task_id != event.task_id
    world.tasks.plant_earlier_claim(event, legacy, owner="m-1")
    resumed = world.lifecycle.open(event, owner="m-1", actor="classify", redelivered=True)
    assert not resumed.opened and resumed.owner == "m-1" and resumed.task.task_id == legacy.task_id
    # a first receive never asks: the earlier version's claims are read for redeliveries only
    assert world.lifecycle.open(event, owner="m-2", actor="classify").opened


def test_classify_records_the_actions_or_the_route_to_decide(world: World) -> None:
    task = world.classified(2)
    assert task.status is S.CLASSIFIED and [a.ordinal for a in task.action_requests()] == [0, 1]
    other = World()
    routed = other.lifecycle.classify(other.opened(), "classify", {"next": "decide"}, route="decide")
    assert (routed.status, routed.route, routed.actions) == (S.CLASSIFIED, "decide", [])


def test_drop_records_why_in_the_reason_and_the_history(world: World) -> None:
    task = world.lifecycle.drop(world.opened(), "classify", {"rule": "bot"}, "author is a bot")
    assert (task.status, task.reason) == (S.DROPPED, "author is a bot")
    assert task.history[-1]["detail"] == {"rule": "bot", "reason": "author is a bot"}


# -- illegal moves -------------------------------------------------------------------------------------------


def test_an_illegal_move_is_refused_before_anything_is_written(world: World) -> None:
    task = world.classified()
    writes = world.tasks.writes
    with pytest.raises(IllegalTransition):
        world.lifecycle.classify(task, "classify", {})
    with pytest.raises(IllegalTransition):
        world.lifecycle.decided(task, "decide", label(world.event), {})
    assert world.tasks.writes == writes and world.statuses() == ["RECEIVED", "CLASSIFIED"]


@pytest.mark.parametrize(
    ("start", "to"), [(a, b) for a, b in itertools.product(S, S) if b not in TRANSITIONS[a]]
)
def test_every_move_outside_the_transitions_is_refused(start: TaskStatus, to: TaskStatus) -> None:
    world = World()
    task = world.opened()
    if start is not S.RECEIVED:
        task = world.tasks.transition(task, start, "test", {})  # the repository writes any move
    writes = world.tasks.writes
    with pytest.raises(IllegalTransition):
        world.lifecycle._move(task, to, "test", {})
    assert world.tasks.writes == writes


def test_terminal_statuses_are_left_only_by_a_person_or_a_redrive() -> None:
    assert TRANSITIONS[S.DONE] == TRANSITIONS[S.DROPPED] == frozenset()
    assert TRANSITIONS[S.FAILED] == {S.DISPATCHED}
    assert TRANSITIONS[S.NEEDS_HUMAN] == {S.DISPATCHED, S.DONE, S.DROPPED}


# -- decide --------------------------------------------------------------------------------------------------


def test_deciding_then_decided_records_the_one_action(world: World) -> None:
    task = world.lifecycle.classify(world.opened(), "classify", {}, route="decide")
    task = world.lifecycle.start_deciding(task, "decide", {"tier": "medium"})
    task = world.lifecycle.decided(task, "decide", label(world.event), {"ability": "github.add_labels"})
    assert task.status is S.DECIDED and task.action_requests() == [label(world.event)]
    assert world.statuses() == ["RECEIVED", "CLASSIFIED", "DECIDING", "DECIDED"]


# -- dispatch ------------------------------------------------------------------------------------------------


def test_dispatch_sends_every_action_keyed_by_its_id_then_records_dispatched(world: World) -> None:
    task = world.dispatched(2)
    assert task.status is S.DISPATCHED
    assert [(m.queue_url, m.dedup_id, m.group_id) for m in world.queue.sent] == [
        (act_queue_url("github"), f"{world.event.task_id}#0", world.event.conversation),
        (act_queue_url("github"), f"{world.event.task_id}#1", world.event.conversation),
    ]
    assert [s["message_id"] for s in task.history[-1]["detail"]["sent"]] == ["msg-1", "msg-2"]


def test_a_failed_send_records_nothing_and_a_retry_sends_once(world: World) -> None:
    task = world.classified()
    world.queue.fail_next = 1
    with pytest.raises(ConnectionError):
        world.lifecycle.dispatch(task, "classify")
    assert world.tasks.get(task.task_id).status is S.CLASSIFIED
    assert world.lifecycle.dispatch(task, "classify").status is S.DISPATCHED
    assert len(world.queue.sent) == 1


def test_dispatch_settles_a_task_whose_act_worker_finished_first(world: World) -> None:
    task = world.classified()
    world.lifecycle.complete(task.task_id, f"{task.task_id}#0", "act", {"result": {"status": 200}})
    assert world.tasks.get(task.task_id).status is S.CLASSIFIED  # a completion cannot finish it yet
    assert world.lifecycle.dispatch(world.tasks.get(task.task_id), "classify").status is S.DONE
    assert world.statuses() == ["RECEIVED", "CLASSIFIED", "DISPATCHED", "DONE"]


def test_a_lifecycle_without_a_queue_cannot_send(world: World) -> None:
    with pytest.raises(TypeError, match="queue"):
        Lifecycle(world.tasks).dispatch(world.classified(), "classify")


# -- escalate ------------------------------------------------------------------------------------------------


def test_escalate_sends_the_escalate_action_then_needs_human_with_the_context(world: World) -> None:
    params = {
        "summary": "s",
        "decision_needed": "d",
        "task_id": "t",
        "platform": "github",
        "conversation": "c",
    }
    action = ActionRequest.for_task(
        world.event, action_ids.escalation(), "escalate.human", Service.ESCALATE, params
    )
    task = world.lifecycle.escalate(world.opened(), "classify", action, {"why": "unsure"}, reason="unsure")
    assert (task.status, task.reason, task.action_requests()) == (S.NEEDS_HUMAN, "unsure", [action])
    [sent] = world.queue.sent
    assert (sent.queue_url, sent.dedup_id) == (act_queue_url("escalate"), action.action_id)
    assert world.tasks.needing_attention(S.NEEDS_HUMAN)[0].task_id == task.task_id


# -- complete and settle -------------------------------------------------------------------------------------


def test_the_last_completion_finishes_the_task_and_a_repeat_is_absorbed(world: World) -> None:
    task = world.dispatched(2)
    assert world.lifecycle.complete(task.task_id, f"{task.task_id}#0", "act", {}) is S.DISPATCHED
    assert world.lifecycle.complete(task.task_id, f"{task.task_id}#1", "act", {}) is S.DONE
    assert world.lifecycle.complete(task.task_id, f"{task.task_id}#1", "act", {}) is S.DONE
    done = world.tasks.get(task.task_id)
    assert world.statuses().count("DONE") == 1
    assert done.history[-1]["detail"] == {"actions": [f"{task.task_id}#0", f"{task.task_id}#1"]}
    with pytest.raises(AlreadyRecorded):
        world.tasks.complete_action(task.task_id, f"{task.task_id}#1", "act", {})


def test_a_staged_action_leaves_the_task_waiting_until_its_follow_up_is_done(world: World) -> None:
    task = world.dispatched()
    awaits = f"{task.task_id}#0#followup"
    assert world.lifecycle.complete(task.task_id, f"{task.task_id}#0", "act", {"awaits": awaits}) is S.WAITING
    waiting = world.tasks.get(task.task_id)
    assert awaited(waiting) == {awaits} and waiting.history[-1]["detail"]["awaiting"] == [awaits]
    assert world.lifecycle.complete(task.task_id, awaits, "act", {"url": "https://t/1"}) is S.DONE
    assert world.statuses()[-2:] == ["WAITING", "DONE"]


def test_a_failed_task_reopens_when_its_redriven_action_succeeds(world: World) -> None:
    task = world.dispatched()
    assert world.lifecycle.end(task.task_id, S.FAILED, "act", {"dead_letter": True}, "HTTP 503") is S.FAILED
    assert world.lifecycle.complete(task.task_id, f"{task.task_id}#0", "act", {}) is S.DONE
    history = world.tasks.get(task.task_id).history
    assert world.statuses()[-3:] == ["FAILED", "DISPATCHED", "DONE"]
    assert {"reopened": "redriven action succeeded"} in [e["detail"] for e in history]


def test_settle_leaves_a_task_that_is_not_under_way_alone(world: World) -> None:
    task = world.classified()
    assert world.lifecycle.settle(task, "act") is S.CLASSIFIED
    assert world.statuses() == ["RECEIVED", "CLASSIFIED"]


# -- end and note --------------------------------------------------------------------------------------------


def test_end_moves_a_task_under_way_with_its_reason(world: World) -> None:
    task = world.dispatched()
    assert (
        world.lifecycle.end(task.task_id, S.NEEDS_HUMAN, "act", {"kind": "access"}, "HTTP 403")
        is S.NEEDS_HUMAN
    )
    ended = world.tasks.get(task.task_id)
    assert (ended.reason, ended.history[-1]["detail"]) == ("HTTP 403", {"kind": "access"})


@pytest.mark.parametrize("to", [S.FAILED, S.DROPPED])
def test_end_notes_what_happened_on_a_task_that_cannot_move_there(world: World, to: TaskStatus) -> None:
    task = world.dispatched()
    world.lifecycle.complete(task.task_id, f"{task.task_id}#0", "act", {"awaits": "x#followup"})  # WAITING
    if to is S.FAILED:
        world.lifecycle.complete(task.task_id, "x#followup", "act", {})  # DONE: terminal
    kept = world.tasks.get(task.task_id).status
    assert world.lifecycle.end(task.task_id, to, "act", {"kind": "late"}, "too late") is kept
    last = world.tasks.get(task.task_id).history[-1]
    assert "status" not in last
    assert last["detail"] == {"kind": "late", "status_kept": kept.value, "not_moved_to": to.value}


def test_a_note_moves_nothing(world: World) -> None:
    task = world.dispatched()
    world.lifecycle.note(task.task_id, "act", {"attempt": 1})
    noted = world.tasks.get(task.task_id)
    assert (noted.status, noted.version) == (task.status, task.version)


# -- a person ------------------------------------------------------------------------------------------------


def needs_human(world: World) -> Task:
    return world.tasks.transition(world.opened(), S.NEEDS_HUMAN, "classify", {}, reason="unsure")


def comment(world: World, task: Task) -> ActionRequest:
    return ActionRequest.for_task(
        world.event,
        action_ids.person(task.history),
        "github.comment",
        Service.GITHUB,
        {"repo": "octo-org/demo", "number": 7, "body": "answered"},
    )


def test_a_person_resolves_with_an_action_sent_and_recorded_by_whom(world: World) -> None:
    task = needs_human(world)
    resolved = world.lifecycle.resolve_with_action(task, comment(world, task), by="ada", note="by hand")
    assert resolved.status is S.DISPATCHED and resolved.history[-1]["actor"] == "human:ada"
    assert resolved.history[-1]["detail"]["resolution"] == "action"
    assert [m.dedup_id for m in world.queue.sent] == [f"{task.task_id}#{action_ids.PERSON.start}"]
    assert action_ids.person(resolved.history) == action_ids.PERSON.start + 1
    assert world.tasks.needing_attention(S.NEEDS_HUMAN) == []


def test_a_persons_action_must_be_numbered_as_one(world: World) -> None:
    task = needs_human(world)
    with pytest.raises(OrdinalOutOfRange):
        world.lifecycle.resolve_with_action(task, label(world.event), by="ada", note="")
    assert world.queue.sent == []


def test_only_a_task_that_needs_a_person_is_resolved(world: World) -> None:
    task = world.dispatched()
    with pytest.raises(ValueError, match="only NEEDS_HUMAN or FAILED"):
        world.lifecycle.resolvable(task.task_id)
    with pytest.raises(ValueError, match="only a NEEDS_HUMAN task"):
        world.lifecycle.close(task.task_id, by="ada", note="dup")


def test_closing_needs_a_note_and_drops_the_task(world: World) -> None:
    task = needs_human(world)
    with pytest.raises(ValueError, match="note"):
        world.lifecycle.close(task.task_id, by="ada", note="  ")
    closed = world.lifecycle.close(task.task_id, by="ada", note="duplicate of #41")
    assert (closed.status, closed.reason) == (S.DROPPED, "closed by ada: duplicate of #41")
    assert closed.history[-1]["detail"] == {"resolution": "closed", "note": "duplicate of #41"}


# -- the conflict loop ---------------------------------------------------------------------------------------


class RacingRepository(InMemoryTaskRepository):
    """Before each of its next ``races`` transitions another worker records a completion (the version moves),
    so the transition, made on the copy read before, is refused as stale."""

    def __init__(self, races: int) -> None:
        super().__init__()
        self.races = races

    def complete_action(self, task_id: str, action_id: str, actor: str, detail: Any, **_: Any) -> Task:
        """Never finishes in the record's write: the races are on the settle that follows it."""
        return super().complete_action(task_id, action_id, actor, detail)

    def transition(self, task: Task, to: TaskStatus, actor: str, detail: Any = None, **changes: Any) -> Task:
        if self.races:
            self.races -= 1
            super().complete_action(task.task_id, f"racer-{self.races}", "other", {})
        return super().transition(task, to, actor, detail, **changes)


def test_retrying_reloads_the_task_and_runs_the_step_again() -> None:
    tasks = RacingRepository(races=0)
    lifecycle = Lifecycle(tasks, InMemoryQueue(), act_queue_url)
    task = lifecycle.open(github_event(), owner="m-1", actor="classify").task
    assert task is not None
    tasks.races = 2
    seen: list[int] = []

    def step(current: Task) -> TaskStatus:
        seen.append(current.version)
        return lifecycle.classify(current, "classify", {}).status

    assert lifecycle.retrying(task, step) is S.CLASSIFIED
    assert seen == [1, 2, 3]  # each attempt saw the task as the racer left it


def test_retrying_gives_up_after_its_attempts() -> None:
    tasks = RacingRepository(races=0)
    lifecycle = Lifecycle(tasks, attempts=3)
    task = lifecycle.open(github_event(), owner="m-1", actor="classify").task
    assert task is not None
    tasks.races = 3
    with pytest.raises(ConcurrentUpdate, match="kept moving"):
        lifecycle.retrying(task, lambda current: lifecycle.classify(current, "classify", {}))
    assert lifecycle.get(task.task_id).status is S.RECEIVED


def dispatched_with_races() -> tuple[RacingRepository, Lifecycle, Task]:
    tasks = RacingRepository(races=0)
    lifecycle = Lifecycle(tasks, InMemoryQueue(), act_queue_url, gate=GATE)
    event = github_event()
    task = lifecycle.open(event, owner="m-1", actor="classify").task
    assert task is not None
    task = lifecycle.dispatch(lifecycle.classify(task, "classify", {}, actions=[label(event)]), "classify")
    return tasks, lifecycle, task


def test_settle_retries_a_race_and_still_finishes_the_task_once() -> None:
    tasks, lifecycle, task = dispatched_with_races()
    tasks.races = 1
    assert lifecycle.complete(task.task_id, f"{task.task_id}#0", "act", {}) is S.DONE
    assert [e.get("status") for e in tasks.get(task.task_id).history].count("DONE") == 1


def test_end_retries_a_race_and_still_ends_the_task_once() -> None:
    tasks, lifecycle, task = dispatched_with_races()
    tasks.races = 2
    assert lifecycle.end(task.task_id, S.FAILED, "act", {"kind": "permanent"}, "HTTP 404") is S.FAILED
    assert [e.get("status") for e in tasks.get(task.task_id).history].count("FAILED") == 1


def test_settle_that_keeps_losing_the_race_answers_the_status_it_last_saw() -> None:
    tasks, lifecycle, task = dispatched_with_races()
    lifecycle.attempts = 2
    tasks.races = 2
    assert lifecycle.complete(task.task_id, f"{task.task_id}#0", "act", {}) is S.DISPATCHED


def test_the_only_action_of_a_task_finishes_it_in_the_record_s_write_and_the_moves_before_are_one_write() -> (
    None
):
    tasks = InMemoryTaskRepository()
    lifecycle = Lifecycle(tasks, InMemoryQueue(), act_queue_url, gate=GATE)
    event = github_event()
    task = lifecycle.open(event, owner="m-1", actor="classify").task
    assert task is not None
    classified = lifecycle.classify(task, "classify", {"rule": "r"}, actions=[label(event)], defer=True)
    assert tasks.get(task.task_id).status is S.RECEIVED and tasks.writes == 0  # deferred: nothing written
    dispatched = lifecycle.dispatch(classified, "classify")
    assert (dispatched.status, tasks.writes) == (S.DISPATCHED, 1)  # CLASSIFIED and DISPATCHED: one write
    assert lifecycle.complete(task.task_id, f"{task.task_id}#0", "act", {}, action=True) is S.DONE
    assert tasks.writes == 2  # the record and DONE: one write
    stored = tasks.get(task.task_id)
    assert [e.get("status") for e in stored.history] == ["RECEIVED", "CLASSIFIED", "DISPATCHED", None, "DONE"]
    # the same record again (a redelivery): refused as recorded, and the task stays DONE
    assert lifecycle.complete(task.task_id, f"{task.task_id}#0", "act", {}, action=True) is S.DONE
