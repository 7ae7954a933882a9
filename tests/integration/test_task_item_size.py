"""The task item as DynamoDB stores it (moto server, the real client): small enough that a typical task's
writes cost one write unit per KB started, and an item written in the older plain form still works."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from switchboard.act import ActService
from switchboard.classify import ClassifyService
from switchboard.dynamo import Keys, to_item
from switchboard.errors import AlreadyRecorded
from switchboard.models import ActionRequest, Service, TaskStatus
from switchboard.rules import default_chain
from switchboard.state import TaskStore
from tests.fakes import FakeQueue, github_event
from tools.bench.requests import item_bytes


@pytest.fixture
def store(tables: tuple[str, str], aws: Callable[[str], Any]) -> TaskStore:
    return TaskStore(*tables, dynamodb=aws("dynamodb"))


def raw(store: TaskStore, task_id: str) -> dict[str, Any]:
    item = store.tasks.get(Keys.task(task_id))
    assert item is not None
    return item


def test_a_label_task_is_under_one_kb_when_born_and_when_done(store: TaskStore) -> None:
    queue = FakeQueue()
    event = github_event(content_id="issue_comment.created:900000005:2026-11-21T08:30:00Z")
    classify = ClassifyService(
        store, queue, lambda s: f"https://sqs.local/act-{s}.fifo", "https://sqs.local/decide.fifo",
        default_chain(), llm=None,
    )  # fmt: skip
    assert classify.process(event, "m-1") is TaskStatus.DISPATCHED
    born = raw(store, event.task_id)
    assert set(born["event"]) == {"B"} and "task_id" not in born and "created_at" not in born
    assert item_bytes(born) < 900, item_bytes(
        born
    )  # 1.40 KB in the plain form: 2 write units (4 in the claim)
    action = ActionRequest.model_validate_json(queue.sent[0].body)
    result = {"status": 200, "labels": ["bug"]}
    assert ActService(store, lambda a: result).process(action) is TaskStatus.DONE
    done = raw(store, event.task_id)
    assert item_bytes(done) < 1_024, item_bytes(done)  # 1.72 KB in the plain form: 2 write units
    task = store.get(event.task_id)
    assert task.inbound_event() == event and task.action_requests() == [action]
    assert task.completed_actions == [action.action_id]
    assert task.history[-2]["detail"]["action_id"] == action.action_id
    assert task.history[-1]["detail"] == {"actions": [action.action_id]}


def test_a_transition_returns_the_task_as_stored_notes_included(store: TaskStore) -> None:
    task = store.claim_and_open(github_event(), owner="m-1").task
    assert task is not None
    store.note(task.task_id, "act", {"attempt": 1})  # appends to the history, leaves the version
    action = ActionRequest.for_task(github_event(), 0, "github.add_labels", Service.GITHUB, {"labels": ["x"]})
    moved = store.transition(task, TaskStatus.CLASSIFIED, "classify", {"rule": "r"}, actions=[action])
    assert moved.to_json() == store.get(task.task_id).to_json()
    assert moved.event_json == task.event_json and moved.action_requests() == [action]
    assert [entry["actor"] for entry in moved.history] == ["classify", "act", "classify"]


def put_plain(store: TaskStore, status: TaskStatus, completed: list[str]) -> ActionRequest:
    """A task item as the plain form wrote it (before the stored form): the event as JSON, whole actions."""
    event = github_event()
    action = ActionRequest.for_task(event, 0, "github.add_labels", Service.GITHUB, {"labels": ["bug"]})
    at = "2026-11-30T09:00:00.000+00:00"
    item = to_item(
        {
            "task_id": event.task_id,
            "event_id": event.event_id,
            "platform": "github",
            "conversation": event.conversation,
            "author": event.author,
            "status": status.value,
            "version": 2,
            "history": [{"at": at, "actor": "classify", "detail": {}, "status": status.value}],
            "created_at": at,
            "updated_at": at,
            "event": event.model_dump_json(),
            "actions": [action.model_dump(mode="json")],
        }
    )
    if completed:
        item["completed_actions"] = {"SS": completed}
    store.tasks.put({**Keys.task(event.task_id), **item})
    return action


def test_a_completion_recorded_in_the_plain_form_is_not_recorded_again(store: TaskStore) -> None:
    action = put_plain(store, TaskStatus.DISPATCHED, completed=[action_id := f"{github_event().task_id}#0"])
    assert action.action_id == action_id
    with pytest.raises(AlreadyRecorded):
        store.complete_action(action.task_id, action.action_id, "act", {"result": {}})
    with pytest.raises(AlreadyRecorded):
        store.complete_action(action.task_id, action.action_id, "act", {}, finishing=TaskStatus.DONE)


def test_a_plain_form_task_finishes_with_its_only_action_in_one_write(store: TaskStore) -> None:
    action = put_plain(store, TaskStatus.DISPATCHED, completed=[])
    task = store.complete_action(action.task_id, action.action_id, "act", {}, finishing=TaskStatus.DONE)
    assert task.status is TaskStatus.DONE and task.completed_actions == [action.action_id]
    with pytest.raises(AlreadyRecorded):
        store.complete_action(action.task_id, action.action_id, "act", {})
