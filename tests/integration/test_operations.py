"""A person resolves a NEEDS_HUMAN task: with a chosen action through the same allow-list and queues, or
closed with a note; either way the history says who and why."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from switchboard.dynamo.keys import Keys
from switchboard.errors import InvalidParams
from switchboard.models import ActionRequest, TaskStatus
from switchboard.operations import resolve_closed, resolve_with_action
from switchboard.state import TaskStore
from tests.fakes import FakeQueue, github_event
from tests.integration.test_task_store import classify_service


def needs_human(store: TaskStore) -> str:
    event = github_event("What does this error mean?")
    assert classify_service(store, FakeQueue()).process(event, "m-1") is TaskStatus.NEEDS_HUMAN
    return event.task_id


@pytest.fixture
def store(tables: tuple[str, str], aws: Callable[[str], Any]) -> TaskStore:
    return TaskStore(*tables, dynamodb=aws("dynamodb"))


def test_tasks_needing_a_person_are_listed_from_the_sparse_index(store: TaskStore) -> None:
    task_id = needs_human(store)
    assert [task.task_id for task in store.needing_attention(TaskStatus.NEEDS_HUMAN)] == [task_id]
    assert store.needing_attention(TaskStatus.FAILED) == []


def test_resolving_with_an_action_dispatches_it_bound_to_the_event(store: TaskStore) -> None:
    task_id = needs_human(store)
    queue = FakeQueue()
    task = resolve_with_action(
        store,
        queue,
        lambda service: f"https://sqs.local/act-{service}.fifo",
        task_id,
        by="ada",
        ability_name="github.comment",
        params={"body": "It means the config file is empty."},
        note="answered by hand",
    )
    assert task.status is TaskStatus.DISPATCHED
    [sent] = queue.sent
    action = ActionRequest.model_validate_json(sent.body)
    assert (action.ability, action.params["repo"], action.params["number"]) == (
        "github.comment",
        "octo-org/demo",
        7,
    )
    assert sent.queue_url == "https://sqs.local/act-github.fifo"
    assert task.history[-1]["actor"] == "human:ada"
    assert store.needing_attention(TaskStatus.NEEDS_HUMAN) == []  # out of the index once resolved


def test_a_person_cannot_retarget_or_invent_an_ability(store: TaskStore) -> None:
    task_id = needs_human(store)
    url: Callable[[Any], str] = lambda service: "https://sqs.local/q"  # noqa: E731
    with pytest.raises(InvalidParams):
        resolve_with_action(
            store,
            FakeQueue(),
            url,
            task_id,
            by="ada",
            ability_name="github.comment",
            params={"body": "x", "repo": "evil/repo"},
        )
    with pytest.raises(LookupError):
        resolve_with_action(
            store, FakeQueue(), url, task_id, by="ada", ability_name="github.delete_repo", params={}
        )


def test_closing_needs_a_note_and_is_recorded(store: TaskStore) -> None:
    task_id = needs_human(store)
    with pytest.raises(ValueError, match="note"):
        resolve_closed(store, task_id, by="ada", note=" ")
    task = resolve_closed(store, task_id, by="ada", note="duplicate of #41")
    assert (task.status, task.reason) == (TaskStatus.DROPPED, "closed by ada: duplicate of #41")
    with pytest.raises(ValueError, match="only"):
        resolve_closed(store, task_id, by="ada", note="again")


def test_resolving_while_the_escalation_finishes_on_the_same_item_still_resolves(store: TaskStore) -> None:
    # The escalation's completion is written to the task item (its version moves) while the person resolves:
    # the resolve reloads the task and moves it, instead of refusing a task that is still NEEDS_HUMAN.
    task_id = needs_human(store)

    class ConcurrentQueue(FakeQueue):
        def send(
            self, queue_url: str, body: str, group_id: str, dedup_id: str, attributes: Any = None
        ) -> str:
            store.tasks.update(
                Keys.task(task_id),
                "SET #v = #v + :one",
                ExpressionAttributeNames={"#v": "version"},
                ExpressionAttributeValues={":one": {"N": "1"}},
            )
            return super().send(queue_url, body, group_id, dedup_id, attributes)

    queue = ConcurrentQueue()
    task = resolve_with_action(
        store,
        queue,
        lambda service: f"https://sqs.local/act-{service}.fifo",
        task_id,
        by="ada",
        ability_name="github.comment",
        params={"body": "It means the config file is empty."},
        note="answered by hand",
    )
    assert task.status is TaskStatus.DISPATCHED
    assert len(queue.sent) == 1
    assert [entry["actor"] for entry in task.history].count("human:ada") == 1
