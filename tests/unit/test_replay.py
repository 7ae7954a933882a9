"""Replay: a past event comes back as a new, marked delivery through the door; an event whose action already
ran is not replayed unless the operator asks for a fresh run; a dry run writes nothing; the same replay asked
twice at once is one delivery."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from switchboard.ingest import Enqueuer
from switchboard.models import InboundEvent, Platform, TaskStatus
from switchboard.operations import replay, replay_delivery_id
from tests.fakes import FakeDeliveryLog, FakeQueue
from tests.fakes.tasks import InMemoryTaskRepository

S = TaskStatus
URL = "https://sqs.local/ingest.fifo"


def event(event_id: str = "d-1") -> InboundEvent:
    return InboundEvent(
        platform=Platform.GITHUB,
        event_id=event_id,
        content_id=f"comment:{event_id}",
        event_type="issue_comment.created",
        author="octocat",
        conversation="octo-org/demo#42",
        text="/label bug",
        received_at=datetime(2026, 12, 1, tzinfo=UTC),
        context={"repo": "octo-org/demo", "number": "42"},
    )


@pytest.fixture
def world() -> tuple[InMemoryTaskRepository, FakeQueue, Enqueuer]:
    tasks, queue = InMemoryTaskRepository(), FakeQueue()
    return tasks, queue, Enqueuer(queue, URL, FakeDeliveryLog())


def settled(tasks: InMemoryTaskRepository, status: TaskStatus, *, acted: bool, event_id: str = "d-1") -> str:
    task = tasks.claim_and_open(event(event_id), owner="m-1").task
    assert task is not None
    task = tasks.transition(task, S.CLASSIFIED, "classify", {"route": "rule"})
    if status is S.DROPPED:
        tasks.transition(task, S.DROPPED, "classify", {}, reason="no_action_needed")
        return task.task_id
    task = tasks.transition(task, S.DISPATCHED, "classify", {})
    if acted:
        tasks.complete_action(task.task_id, f"{task.task_id}#0", "act", {"result": {"status": 200}})
        task = tasks.get(task.task_id)
    if status is not S.DISPATCHED:
        tasks.transition(task, status, "act", {})
    return task.task_id


def notes(tasks: InMemoryTaskRepository, task_id: str) -> list[dict]:
    return [e["detail"] for e in tasks.get(task_id).history if "replay" in e["detail"]]


def test_an_event_whose_action_ran_is_not_replayed_and_the_refusal_is_noted(world) -> None:
    tasks, queue, door = world
    task_id = settled(tasks, S.DONE, acted=True)
    [outcome] = replay(tasks, door, [task_id], by="ada")
    assert not outcome.replayed and "already ran" in outcome.reason
    assert queue.sent == []
    assert notes(tasks, task_id) == [{"replay": "skipped", "reason": outcome.reason, "fresh": False}]


def test_a_fresh_replay_is_a_new_marked_delivery_of_the_stored_event(world) -> None:
    tasks, queue, door = world
    task_id = settled(tasks, S.DONE, acted=True)
    [outcome] = replay(tasks, door, [task_id], by="ada", fresh=True)
    assert outcome.replayed and outcome.delivery_id == "replay1~d-1"
    [sent] = queue.sent
    injected = InboundEvent.model_validate_json(sent.body)
    assert injected.event_id == "replay1~d-1" and injected.raw_ref == f"replay-of:{task_id}"
    assert injected.content_id is None  # a new logical event: the original's content claim does not stop it
    assert (injected.text, injected.conversation, injected.author) == (
        "/label bug",
        "octo-org/demo#42",
        "octocat",
    )
    assert sent.group_id == "github:octo-org/demo#42" and sent.dedup_id == "github:replay1~d-1"
    assert injected.task_id != task_id
    assert notes(tasks, task_id)[0] | {"door": "?"} == {
        "replay": "injected", "delivery_id": "replay1~d-1", "fresh": True, "door": "?"
    }  # fmt: skip


def test_an_event_no_action_of_which_ran_is_replayed_and_each_replay_is_its_own_delivery(world) -> None:
    tasks, queue, door = world
    task_id = settled(tasks, S.DROPPED, acted=False)
    first = replay(tasks, door, [task_id], by="ada")
    second = replay(tasks, door, [task_id], by="ada")
    assert [o.delivery_id for o in first + second] == ["replay1~d-1", "replay2~d-1"]
    assert len(queue.sent) == 2


def test_a_dry_run_sends_and_notes_nothing(world) -> None:
    tasks, queue, door = world
    ran, dropped = settled(tasks, S.DONE, acted=True), settled(tasks, S.DROPPED, acted=False, event_id="d-2")
    outcomes = replay(tasks, door, [ran, dropped], by="ada", dry_run=True)
    assert [(o.replayed, o.dry_run) for o in outcomes] == [(False, True), (True, True)]
    assert queue.sent == [] and notes(tasks, ran) == [] and notes(tasks, dropped) == []


def test_a_task_still_at_work_is_never_replayed_even_fresh(world) -> None:
    tasks, queue, door = world
    task_id = settled(tasks, S.DISPATCHED, acted=False)
    [outcome] = replay(tasks, door, [task_id], by="ada", fresh=True)
    assert not outcome.replayed and "in progress" in outcome.reason
    assert queue.sent == []


def test_two_operators_replaying_at_once_make_one_delivery(world) -> None:
    tasks, queue, door = world
    task_id = settled(tasks, S.DROPPED, acted=False)
    generation = 1  # both read the history before either noted its replay
    same = replay_delivery_id(tasks.get(task_id).event_id, generation)
    replay(tasks, door, [task_id], by="ada")
    racing = tasks.get(task_id).inbound_event().model_copy(update={"event_id": same, "content_id": None})
    assert door.enqueue(racing) == "duplicate"  # the door's seen mark (then SQS dedup, then the claim)
    assert len(queue.sent) == 1
