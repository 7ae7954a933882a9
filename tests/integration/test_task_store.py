"""The task store and the classify/act services against moto server, through the real boto3 client."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from switchboard.act import ActService
from switchboard.classify import ClassifyService
from switchboard.errors import ConcurrentUpdate, IllegalTransition, PermanentActionError
from switchboard.lifecycle import Lifecycle
from switchboard.models import ActionRequest, Service, TaskStatus
from switchboard.rules import default_chain
from switchboard.state import TaskStore
from tests.fakes import FakeQueue, github_event


@pytest.fixture
def store(tables: tuple[str, str], aws: Callable[[str], Any]) -> TaskStore:
    return TaskStore(*tables, dynamodb=aws("dynamodb"))


def classify_service(store: TaskStore, queue: FakeQueue) -> ClassifyService:
    return ClassifyService(
        store,
        queue,
        lambda service: f"https://sqs.local/act-{service}.fifo",
        "https://sqs.local/decide.fifo",
        default_chain(),
        llm=None,
    )


def test_claim_opens_one_task_and_a_second_claim_is_refused(store: TaskStore) -> None:
    event = github_event()
    task = store.claim_and_open(event, owner="m-1").task
    assert task is not None and task.status is TaskStatus.RECEIVED
    assert not store.claim_and_open(event, owner="m-2").opened
    assert [t.task_id for t in store.find_by_event(event.event_id)] == [event.task_id]


def test_transition_is_conditional_on_status_and_version_and_the_lifecycle_refuses_illegal_moves(
    store: TaskStore,
) -> None:
    task = store.claim_and_open(github_event(), owner="m-1").task
    assert task is not None
    moved = store.transition(task, TaskStatus.CLASSIFIED, "test", {"why": "first"})
    assert (moved.status, moved.version) == (TaskStatus.CLASSIFIED, 2)
    with pytest.raises(ConcurrentUpdate):
        store.transition(task, TaskStatus.CLASSIFIED, "test", {"why": "stale copy"})
    with pytest.raises(IllegalTransition):
        Lifecycle(store).classify(moved, "test", {"why": "classified twice"})
    history = store.get(task.task_id).history
    assert [entry.get("status") for entry in history] == ["RECEIVED", "CLASSIFIED"]
    assert history[1]["from"] == "RECEIVED" and history[1]["detail"] == {"why": "first"}


def test_classify_dispatches_the_label_command_once(store: TaskStore) -> None:
    queue = FakeQueue()
    event = github_event()
    assert classify_service(store, queue).process(event, "m-1") is TaskStatus.DISPATCHED
    [message] = queue.sent
    action = ActionRequest.model_validate_json(message.body)
    assert (action.ability, action.params["labels"], message.dedup_id) == (
        "github.add_labels",
        ["bug"],
        f"{event.task_id}#0",
    )
    assert message.queue_url == "https://sqs.local/act-github.fifo"


def test_a_racing_duplicate_message_skips_without_a_second_task(store: TaskStore) -> None:
    queue = FakeQueue()
    event = github_event()
    service = classify_service(store, queue)
    service.process(event, "m-1")
    assert service.process(event, "m-2") is None
    assert len(queue.sent) == 1
    assert len(store.find_by_event(event.event_id)) == 1


def test_redelivery_after_a_crash_before_dispatch_resumes(store: TaskStore) -> None:
    queue = FakeQueue(fail_next=1)
    event = github_event()
    service = classify_service(store, queue)
    with pytest.raises(ConnectionError):
        service.process(event, "m-1")
    # The classification is written with the dispatch (one write): the crash left the task as opened.
    assert store.get(event.task_id).status is TaskStatus.RECEIVED
    assert service.process(event, "m-1") is TaskStatus.DISPATCHED
    assert len(queue.sent) == 1


def test_unrecognized_text_without_a_model_goes_to_a_person(store: TaskStore) -> None:
    queue = FakeQueue()
    event = github_event("What does this error mean?")
    assert classify_service(store, queue).process(event, "m-1") is TaskStatus.NEEDS_HUMAN
    assert store.get(event.task_id).reason == "no model configured"
    [escalation] = queue.sent
    assert escalation.queue_url == "https://sqs.local/act-escalate.fifo"


def dispatched(store: TaskStore) -> ActionRequest:
    queue = FakeQueue()
    classify_service(store, queue).process(github_event(), "m-1")
    return ActionRequest.model_validate_json(queue.sent[0].body)


def test_act_records_the_result_and_finishes_the_task_once(store: TaskStore) -> None:
    calls: list[str] = []

    def execute(action: ActionRequest) -> dict[str, Any]:
        calls.append(action.action_id)
        return {"status": 200}

    action = dispatched(store)
    service = ActService(store, execute)
    assert service.process(action) is TaskStatus.DONE
    assert service.process(action) is TaskStatus.DONE  # a redelivery: recorded once, no second transition
    task = store.get(action.task_id)
    assert task.completed_actions == [action.action_id]
    assert [entry.get("status") for entry in task.history].count("DONE") == 1


def test_permanent_action_error_fails_the_task_with_the_reason(store: TaskStore) -> None:
    def execute(action: ActionRequest) -> dict[str, Any]:
        raise PermanentActionError("github", "HTTP 404 from POST /labels", 404)

    action = dispatched(store)
    assert ActService(store, execute).process(action) is TaskStatus.FAILED
    assert store.get(action.task_id).reason == "HTTP 404 from POST /labels"


def test_act_refuses_an_ability_outside_the_allow_list(store: TaskStore) -> None:
    action = dispatched(store)
    forged = action.model_copy(update={"ability": "github.delete_repo", "service": Service.GITHUB})
    assert ActService(store, lambda a: {"status": 200}).process(forged) is TaskStatus.FAILED


def test_an_act_worker_faster_than_the_dispatch_write_still_ends_the_task_done(store: TaskStore) -> None:
    """The action is in its queue before classify records DISPATCHED; a fast worker completes it first."""

    class EagerQueue(FakeQueue):
        def send(
            self, queue_url: str, body: str, group_id: str, dedup_id: str, attributes: Any = None
        ) -> str:
            message_id = super().send(queue_url, body, group_id, dedup_id, attributes)
            ActService(store, lambda action: {"status": 200}).process(ActionRequest.model_validate_json(body))
            return message_id

    event = github_event()
    assert classify_service(store, EagerQueue()).process(event, "m-1") is TaskStatus.DONE
    statuses = [entry.get("status") for entry in store.get(event.task_id).history if "status" in entry]
    assert statuses == ["RECEIVED", "CLASSIFIED", "DISPATCHED", "DONE"]
