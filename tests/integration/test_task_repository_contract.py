"""One contract, two implementations: ``TaskStore`` on moto server and the in-memory repository of the unit
tests (``tests/fakes/tasks.py``) answer every call the same way, so the fake cannot drift from the adapter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from switchboard.errors import AlreadyRecorded, ConcurrentUpdate, TaskNotFound
from switchboard.models import ActionRequest, InboundEvent, Platform, Service, TaskStatus
from switchboard.ports import TaskRepository
from switchboard.state import TaskStore
from tests.fakes import github_event
from tests.fakes.tasks import InMemoryTaskRepository


@pytest.fixture(params=["memory", "dynamodb"])
def tasks(request: pytest.FixtureRequest) -> TaskRepository:
    if request.param == "memory":
        return InMemoryTaskRepository()
    aws: Callable[[str], Any] = request.getfixturevalue("aws")
    tables: tuple[str, str] = request.getfixturevalue("tables")
    return TaskStore(*tables, dynamodb=aws("dynamodb"))


def label(event: InboundEvent, ordinal: int = 0) -> ActionRequest:
    params = {"repo": "octo-org/demo", "number": 7, "labels": ["bug"]}
    return ActionRequest.for_task(event, ordinal, "github.add_labels", Service.GITHUB, params)


def test_claim_and_open_is_atomic_and_once(tasks: TaskRepository) -> None:
    event = github_event()
    task = tasks.claim_and_open(event, owner="m-1", actor="classify").task
    assert task is not None
    assert (task.task_id, task.status, task.version) == (event.task_id, TaskStatus.RECEIVED, 1)
    assert task.inbound_event() == event
    assert task.history[0]["actor"] == "classify" and task.history[0]["status"] == "RECEIVED"
    assert task.history[0]["detail"] == {"event_type": "issue_comment.created"}
    refused = tasks.claim_and_open(event, owner="m-2", actor="classify")
    # the refusal holds the task as it is and the message that claimed it: nothing else to read
    assert not refused.opened and refused.owner == "m-1"
    assert (refused.task.task_id, refused.task.version, refused.task.status) == (task.task_id, 1, task.status)
    assert refused.task.inbound_event() == event
    assert [t.task_id for t in tasks.find_by_event(event.event_id)] == [event.task_id]
    assert tasks.find_by_event("never-seen") == []


def test_find_by_event_finds_each_platforms_task_of_one_delivery_id(tasks: TaskRepository) -> None:
    # Delivery ids are the platforms' own: two platforms may use the same one, and each has its task.
    github = github_event(event_id="shared-id")
    slack = github.model_copy(update={"platform": Platform.SLACK, "conversation": "C1:1.0", "context": {}})
    for event in (github, slack):
        assert tasks.claim_and_open(event, owner="m-1", actor="classify").opened
    assert github.task_id != slack.task_id
    found = tasks.find_by_event("shared-id")
    assert sorted(t.task_id for t in found) == sorted([github.task_id, slack.task_id])
    assert {t.inbound_event().platform for t in found} == {Platform.GITHUB, Platform.SLACK}


def test_the_content_claim_makes_one_task_of_one_logical_event_under_any_delivery_id(
    tasks: TaskRepository,
) -> None:
    first = github_event(event_id="delivery-1", content_id="issue_comment.created:42:2024-05-01T10:00:00Z")
    again = github_event(event_id="delivery-2", content_id=first.content_id)
    other = github_event(event_id="delivery-3", content_id="issue_comment.created:43:2024-05-01T10:00:00Z")
    task = tasks.claim_and_open(first, owner="m-1", actor="classify").task
    assert task is not None
    # The same logical event under a new delivery id names the same task: claimed already, and nothing of
    # it is written (the task is the first delivery's).
    assert again.task_id == task.task_id
    refused = tasks.claim_and_open(again, owner="m-2", actor="classify")
    assert not refused.opened and refused.owner == "m-1" and refused.task.event_id == "delivery-1"
    assert tasks.get(task.task_id).version == 1
    assert tasks.find_by_event(again.event_id) == []
    # one platform's ids are not another's
    slack = again.model_copy(update={"platform": Platform.SLACK, "conversation": "C1:1.0", "context": {}})
    assert tasks.claim_and_open(slack, owner="m-6", actor="classify").opened
    # Another logical event is its own task; an event with no content id is claimed by its delivery id alone.
    assert tasks.claim_and_open(other, owner="m-3", actor="classify").opened
    plain = github_event(event_id="delivery-4")
    assert tasks.claim_and_open(plain, owner="m-4", actor="classify").opened
    assert not tasks.claim_and_open(plain, owner="m-5", actor="classify").opened


def test_a_redelivery_is_the_same_logical_event_so_it_finds_the_task_its_first_delivery_opened(
    tasks: TaskRepository,
) -> None:
    """A delivery id needs no claim of its own: the content identity comes from the signed body, so every
    copy of one delivery carries the same one (a redelivered message its very body)."""
    content = "issue_comment.created:42:2024-05-01T10:00:00Z"
    first = github_event(event_id="delivery-1", content_id=content)
    assert tasks.claim_and_open(first, owner="m-1", actor="classify").opened
    refused = tasks.claim_and_open(first, owner="m-1", actor="classify")  # the same message, received again
    assert not refused.opened and refused.owner == "m-1"


def test_a_missing_task_is_task_not_found(tasks: TaskRepository) -> None:
    with pytest.raises(TaskNotFound):
        tasks.get("tsk_missing")
    with pytest.raises(TaskNotFound):
        tasks.note("tsk_missing", "act", {"why": "nothing there"})


def test_transition_is_a_conditional_write_on_status_and_version(tasks: TaskRepository) -> None:
    event = github_event()
    task = tasks.claim_and_open(event, owner="m-1", actor="classify").task
    assert task is not None
    action = label(event)
    moved = tasks.transition(
        task, TaskStatus.CLASSIFIED, "classify", {"rule": "label"}, actions=[action], route="rule"
    )
    assert (moved.status, moved.version, moved.route) == (TaskStatus.CLASSIFIED, 2, "rule")
    assert moved.action_requests() == [action]
    assert moved.history[-1]["from"] == "RECEIVED" and moved.history[-1]["detail"] == {"rule": "label"}
    with pytest.raises(ConcurrentUpdate):
        tasks.transition(task, TaskStatus.CLASSIFIED, "classify", {})  # a stale copy
    assert tasks.get(event.task_id).version == 2
    # Legality is the lifecycle's business: the repository writes whatever move it is given.
    waiting = tasks.transition(moved, TaskStatus.WAITING, "act", None, reason="a move no state allows")
    assert (waiting.status, waiting.reason, waiting.version) == (
        TaskStatus.WAITING,
        "a move no state allows",
        3,
    )
    assert waiting.history[-1]["detail"] == {}


def test_the_attention_index_holds_exactly_the_tasks_that_need_a_person(tasks: TaskRepository) -> None:
    first, second = github_event(event_id="d-1"), github_event(event_id="d-2")
    one = tasks.claim_and_open(first, owner="m-1", actor="classify").task
    two = tasks.claim_and_open(second, owner="m-2", actor="classify").task
    assert one is not None and two is not None
    one = tasks.transition(one, TaskStatus.NEEDS_HUMAN, "classify", {}, reason="unsure")
    tasks.transition(two, TaskStatus.FAILED, "act", {}, reason="404")
    assert [t.task_id for t in tasks.needing_attention(TaskStatus.NEEDS_HUMAN)] == [first.task_id]
    assert [t.task_id for t in tasks.needing_attention(TaskStatus.FAILED)] == [second.task_id]
    tasks.transition(one, TaskStatus.DROPPED, "human:ada", {}, reason="closed")
    assert tasks.needing_attention(TaskStatus.NEEDS_HUMAN) == []
    with pytest.raises(ValueError, match="indexed"):
        tasks.needing_attention(TaskStatus.DONE)


def test_a_completion_is_recorded_once_and_moves_the_version(tasks: TaskRepository) -> None:
    event = github_event()
    task = tasks.claim_and_open(event, owner="m-1", actor="classify").task
    assert task is not None
    done = tasks.complete_action(event.task_id, f"{event.task_id}#1", "act", {"result": {"status": 200}})
    assert done.completed_actions == [f"{event.task_id}#1"] and done.version == 2
    assert done.history[-1]["detail"] == {"action_id": f"{event.task_id}#1", "result": {"status": 200}}
    assert done.status is TaskStatus.RECEIVED and "status" not in done.history[-1]
    with pytest.raises(AlreadyRecorded):
        tasks.complete_action(event.task_id, f"{event.task_id}#1", "act", {})
    both = tasks.complete_action(event.task_id, f"{event.task_id}#0", "act", {})
    assert both.completed_actions == [f"{event.task_id}#0", f"{event.task_id}#1"]
    with pytest.raises(AlreadyRecorded):
        tasks.complete_action("tsk_missing", "tsk_missing#0", "act", {})
    with pytest.raises(ConcurrentUpdate):
        tasks.transition(task, TaskStatus.CLASSIFIED, "classify", {})  # a completion moved the version


def test_a_note_changes_no_status_and_no_version(tasks: TaskRepository) -> None:
    event = github_event()
    task = tasks.claim_and_open(event, owner="m-1", actor="classify").task
    assert task is not None
    tasks.note(event.task_id, "act", {"attempt": 1, "tried": ("a", "b")})
    noted = tasks.get(event.task_id)
    assert (noted.status, noted.version) == (TaskStatus.RECEIVED, 1)
    assert noted.history[-1]["actor"] == "act" and noted.history[-1]["detail"] == {
        "attempt": 1,
        "tried": ["a", "b"],
    }
    assert "status" not in noted.history[-1]
    tasks.transition(task, TaskStatus.CLASSIFIED, "classify", {})  # the read before the note still holds


def test_deferred_moves_are_written_with_the_next_one_from_the_status_as_stored(
    tasks: TaskRepository,
) -> None:
    event = github_event()
    task = tasks.claim_and_open(event, owner="m-1", actor="classify").task
    assert task is not None
    action = label(event)
    sets = {"actions": [action.model_dump(mode="json")]}
    deferred = task.deferring(TaskStatus.CLASSIFIED, "classify", {"rule": "command_label"}, sets)
    assert (deferred.status, deferred.stored_status) == (TaskStatus.CLASSIFIED, TaskStatus.RECEIVED)
    assert tasks.get(task.task_id).status is TaskStatus.RECEIVED  # nothing written yet
    moved = tasks.transition(deferred, TaskStatus.DISPATCHED, "classify", {"sent": []})
    assert (moved.status, moved.version, moved.deferred) == (TaskStatus.DISPATCHED, 2, None)
    assert [(e.get("from"), e.get("status")) for e in moved.history] == [
        (None, "RECEIVED"),
        ("RECEIVED", "CLASSIFIED"),
        ("CLASSIFIED", "DISPATCHED"),
    ]
    assert moved.history[1]["detail"] == {"rule": "command_label"}
    assert [a["action_id"] for a in moved.actions] == [action.action_id]
    assert tasks.get(task.task_id).to_json() == moved.to_json()
    # a deferred move on a copy that another write overtook is refused like any stale transition
    with pytest.raises(ConcurrentUpdate):
        tasks.transition(deferred, TaskStatus.DISPATCHED, "classify", {})


def test_a_completion_finishes_its_task_in_the_same_write_only_when_the_item_decides_it(
    tasks: TaskRepository,
) -> None:
    one, two = github_event(event_id="d-one"), github_event(event_id="d-two")
    for event, actions in ((one, [label(one)]), (two, [label(two, 0), label(two, 1)])):
        task = tasks.claim_and_open(event, owner="m", actor="classify").task
        assert task is not None
        tasks.transition(task, TaskStatus.DISPATCHED, "classify", {}, actions=actions)
    done = tasks.complete_action(one.task_id, f"{one.task_id}#0", "act", {"r": 1}, finishing=TaskStatus.DONE)
    assert (done.status, done.completed_actions, done.version) == (TaskStatus.DONE, [f"{one.task_id}#0"], 3)
    assert [(e.get("status"), e["detail"]) for e in done.history[-2:]] == [
        (None, {"action_id": f"{one.task_id}#0", "r": 1}),
        ("DONE", {"actions": [f"{one.task_id}#0"]}),
    ]
    assert tasks.get(one.task_id).to_json() == done.to_json()
    with pytest.raises(AlreadyRecorded):
        tasks.complete_action(one.task_id, f"{one.task_id}#0", "act", {}, finishing=TaskStatus.DONE)
    # two actions: the item alone cannot say the first completion is the last, so it is recorded alone
    first = tasks.complete_action(two.task_id, f"{two.task_id}#0", "act", {}, finishing=TaskStatus.DONE)
    assert (first.status, first.completed_actions) == (TaskStatus.DISPATCHED, [f"{two.task_id}#0"])
    second = tasks.complete_action(two.task_id, f"{two.task_id}#1", "act", {}, finishing=TaskStatus.DONE)
    assert second.status is TaskStatus.DISPATCHED  # the lifecycle's settle moves it
    with pytest.raises(AlreadyRecorded):
        tasks.complete_action("tsk_never", "tsk_never#0", "act", {}, finishing=TaskStatus.DONE)


def test_a_task_is_born_in_the_status_its_deferred_moves_reached_with_its_claim(
    tasks: TaskRepository,
) -> None:
    event = github_event()
    action = label(event)

    def decided(new: Any) -> Any:
        classified = new.deferring(
            TaskStatus.CLASSIFIED,
            "classify",
            {"rule": "command_label"},
            {"actions": [action.model_dump(mode="json")]},
        )
        return classified.deferring(TaskStatus.DISPATCHED, "classify", {"sent": [action.action_id]}, {})

    born = tasks.claim_and_open(event, owner="m-1", actor="classify", decided=decided).task
    assert born is not None
    assert (born.status, born.version, born.deferred) == (TaskStatus.DISPATCHED, 1, None)
    stored = tasks.get(event.task_id)
    assert stored.to_json() == born.to_json()
    assert [(e.get("from"), e.get("status")) for e in stored.history] == [
        (None, "RECEIVED"),
        ("RECEIVED", "CLASSIFIED"),
        ("CLASSIFIED", "DISPATCHED"),
    ]
    assert [a["action_id"] for a in stored.actions] == [action.action_id]
    # its one action's completion finishes it in one write, as after a dispatch
    done = tasks.complete_action(event.task_id, action.action_id, "act", {}, finishing=TaskStatus.DONE)
    assert done.status is TaskStatus.DONE
    # a duplicate's decision is never written: the claim refuses the whole task
    assert not tasks.claim_and_open(event, owner="m-2", actor="classify", decided=decided).opened
    assert tasks.get(event.task_id).status is TaskStatus.DONE


def test_a_task_born_needing_a_person_is_in_the_attention_index(tasks: TaskRepository) -> None:
    event = github_event()

    def decided(new: Any) -> Any:
        return new.deferring(TaskStatus.NEEDS_HUMAN, "classify", {"why": "test"}, {"reason": "test"})

    tasks.claim_and_open(event, owner="m-1", actor="classify", decided=decided)
    assert [t.task_id for t in tasks.needing_attention(TaskStatus.NEEDS_HUMAN)] == [event.task_id]
    assert tasks.get(event.task_id).reason == "test"


def test_a_started_plan_is_watched_until_its_task_moves_and_only_while_it_decides(
    tasks: TaskRepository,
) -> None:
    from datetime import UTC, datetime, timedelta

    later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat(timespec="milliseconds")
    earlier = (datetime.now(UTC) - timedelta(minutes=1)).isoformat(timespec="milliseconds")
    planning, moved_on = github_event(event_id="d-plan"), github_event(event_id="d-quick")
    one = tasks.claim_and_open(planning, owner="m-1", actor="classify").task
    two = tasks.claim_and_open(moved_on, owner="m-2", actor="classify").task
    assert one is not None and two is not None
    one = tasks.transition(one, TaskStatus.DECIDING, "classify", {})
    two = tasks.transition(
        tasks.transition(two, TaskStatus.DECIDING, "classify", {}), TaskStatus.DISPATCHED, "plan", {}
    )
    started = {"plan_started": {"why": "a question", "execution": "arn:aws:lambda:x"}}
    assert tasks.watch_plan(one.task_id, "decide", started) is True
    # A plan that moved its task on before the start was noted: the note alone, no mark.
    assert tasks.watch_plan(two.task_id, "decide", started) is False
    assert tasks.get(two.task_id).history[-1]["detail"] == started
    watched = tasks.watched_plans(later)
    assert [t.task_id for t in watched] == [one.task_id]
    assert watched[0].history[-1]["detail"] == started and watched[0].version == one.version  # a note
    assert tasks.watched_plans(earlier) == []  # changed since: not idle
    # A note keeps the mark; the next transition (to a person's review, say) removes it.
    tasks.note(one.task_id, "plan", {"plan_step": {"step": "search"}})
    assert [t.task_id for t in tasks.watched_plans(later)] == [one.task_id]
    tasks.transition(tasks.get(one.task_id), TaskStatus.NEEDS_HUMAN, "plan", {}, reason="review")
    assert tasks.watched_plans(later) == []
    assert [t.task_id for t in tasks.needing_attention(TaskStatus.NEEDS_HUMAN)] == [one.task_id]
    with pytest.raises(TaskNotFound):
        tasks.watch_plan("tsk_missing", "decide", started)
