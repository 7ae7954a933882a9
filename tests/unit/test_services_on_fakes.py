"""Classify, decide and act on the in-memory ports: no sockets, the real services and lifecycle."""

from __future__ import annotations

from typing import Any

import pytest

from switchboard import action_ids
from switchboard.act import AccessEscalation, ActService
from switchboard.classify import ClassifyService
from switchboard.decide import DecideService
from switchboard.errors import AccessDenied, PermanentActionError
from switchboard.llm import LlmAnswer, ToolCall
from switchboard.models import ActionRequest, DecideRequest, InboundEvent, Service, TaskStatus
from switchboard.rules import default_chain
from tests.fakes import act_queue_url, github_event
from tests.fakes.tasks import InMemoryQueue, InMemoryTaskRepository

DECIDE_URL = "https://sqs.local/decide.fifo"


def classify(tasks: InMemoryTaskRepository, queue: Any) -> ClassifyService:
    return ClassifyService(tasks, queue, act_queue_url, DECIDE_URL, default_chain(), llm=None)


def statuses(tasks: InMemoryTaskRepository, event: InboundEvent) -> list[str]:
    return [e["status"] for e in tasks.get(event.task_id).history if "status" in e]


# -- classify ------------------------------------------------------------------------------------------------


def test_classify_dispatches_a_rule_action_once_and_skips_a_racing_duplicate() -> None:
    tasks, queue = InMemoryTaskRepository(), InMemoryQueue()
    event = github_event()
    service = classify(tasks, queue)
    assert service.process(event, "m-1") is TaskStatus.DISPATCHED
    assert service.process(event, "m-2") is None
    [action] = queue.actions()
    assert (action.action_id, action.ability, action.params["labels"]) == (
        f"{event.task_id}#0",
        "github.add_labels",
        ["bug"],
    )
    assert statuses(tasks, event) == ["RECEIVED", "CLASSIFIED", "DISPATCHED"]


def test_classify_resumes_after_a_failed_send_on_redelivery() -> None:
    tasks, queue = InMemoryTaskRepository(), InMemoryQueue(fail_next=1)
    event = github_event()
    with pytest.raises(ConnectionError):
        classify(tasks, queue).process(event, "m-1")
    # The classification is written with the dispatch (one write), so a failed send leaves the task as
    # the claim opened it, and the redelivery classifies it again.
    assert tasks.get(event.task_id).status is TaskStatus.RECEIVED
    assert classify(tasks, queue).process(event, "m-1") is TaskStatus.DISPATCHED
    assert len(queue.sent) == 1


def test_classify_without_a_model_hands_the_task_to_a_person_with_one_escalation() -> None:
    tasks, queue = InMemoryTaskRepository(), InMemoryQueue()
    event = github_event("What does this error mean?")
    assert classify(tasks, queue).process(event, "m-1") is TaskStatus.NEEDS_HUMAN
    [escalation] = queue.actions(act_queue_url(Service.ESCALATE))
    assert escalation.ordinal == action_ids.escalation()
    task = tasks.get(event.task_id)
    assert task.reason == "no model configured" and task.history[-1]["detail"]["escalated_to"] == "escalate"


def test_a_fast_act_worker_before_the_dispatch_write_still_ends_the_task_done() -> None:
    tasks = InMemoryTaskRepository()

    class EagerQueue(InMemoryQueue):
        def send(
            self, queue_url: str, body: str, group_id: str, dedup_id: str, attributes: Any = None
        ) -> str:
            message_id = super().send(queue_url, body, group_id, dedup_id, attributes)
            ActService(tasks, lambda action: {"status": 200}).process(ActionRequest.model_validate_json(body))
            return message_id

    event = github_event()
    assert classify(tasks, EagerQueue()).process(event, "m-1") is TaskStatus.DONE
    assert statuses(tasks, event) == ["RECEIVED", "CLASSIFIED", "DISPATCHED", "DONE"]


# -- decide --------------------------------------------------------------------------------------------------


class OneAnswer:
    """A model that always calls the same tool."""

    def __init__(self, call: ToolCall | None) -> None:
        self.call = call
        self.asked = 0

    def choose_tool(self, **_: Any) -> LlmAnswer:
        self.asked += 1
        return LlmAnswer(self.call, [])


def routed_to_decide(tasks: InMemoryTaskRepository, queue: InMemoryQueue, text: str) -> DecideRequest:
    event = github_event(text)
    task = tasks.claim_and_open(event, owner="m-1", actor="classify").task
    assert task is not None
    detail = {"intent": "question", "confidence": 0.9, "next": "decide"}
    tasks.transition(task, TaskStatus.CLASSIFIED, "classify", detail, route="decide")
    return DecideRequest(task_id=event.task_id, event=event, intent="question", confidence=0.9)


def test_decide_dispatches_the_validated_action_bound_to_the_event() -> None:
    tasks, queue = InMemoryTaskRepository(), InMemoryQueue()
    request = routed_to_decide(tasks, queue, "How do I configure it?")
    llm = OneAnswer(ToolCall("github__comment", {"body": "See the README."}))
    assert DecideService(tasks, queue, act_queue_url, llm).process(request) is TaskStatus.DISPATCHED  # type: ignore[arg-type]
    [action] = queue.actions(act_queue_url(Service.GITHUB))
    assert (action.ordinal, action.params["repo"], action.params["number"]) == (0, "octo-org/demo", 7)
    assert statuses(tasks, request.event) == ["RECEIVED", "CLASSIFIED", "DECIDING", "DECIDED", "DISPATCHED"]


def test_decide_without_a_model_goes_to_a_person_and_a_redelivery_sends_nothing_more() -> None:
    tasks, queue = InMemoryTaskRepository(), InMemoryQueue()
    request = routed_to_decide(tasks, queue, "How do I configure it?")
    service = DecideService(tasks, queue, act_queue_url, llm=None)
    assert service.process(request) is TaskStatus.NEEDS_HUMAN
    assert service.process(request) is TaskStatus.NEEDS_HUMAN
    [escalation] = queue.actions()
    assert escalation.ordinal == action_ids.escalation()


# -- act -----------------------------------------------------------------------------------------------------


def dispatched(tasks: InMemoryTaskRepository) -> ActionRequest:
    queue = InMemoryQueue()
    classify(tasks, queue).process(github_event(), "m-1")
    [action] = queue.actions()
    return action


def test_act_records_the_result_once_and_finishes_the_task() -> None:
    tasks = InMemoryTaskRepository()
    action = dispatched(tasks)
    service = ActService(tasks, lambda a: {"status": 200})
    assert service.process(action) is TaskStatus.DONE
    assert service.process(action) is TaskStatus.DONE
    assert tasks.get(action.task_id).completed_actions == [action.action_id]
    assert statuses(tasks, github_event()).count("DONE") == 1


def test_act_fails_the_task_on_a_permanent_error_and_on_a_forged_ability() -> None:
    tasks = InMemoryTaskRepository()
    action = dispatched(tasks)

    def refuse(a: ActionRequest) -> dict[str, Any]:
        raise PermanentActionError("github", "HTTP 404 from POST /labels", 404)

    assert ActService(tasks, refuse).process(action) is TaskStatus.FAILED
    assert tasks.get(action.task_id).reason == "HTTP 404 from POST /labels"
    other = InMemoryTaskRepository()
    forged = dispatched(other).model_copy(update={"ability": "github.delete_repo"})
    assert ActService(other, lambda a: {"status": 200}).process(forged) is TaskStatus.FAILED


def test_refused_access_pages_a_person_with_one_escalation_per_failed_action() -> None:
    tasks, queue = InMemoryTaskRepository(), InMemoryQueue()
    action = dispatched(tasks)

    def denied(a: ActionRequest) -> dict[str, Any]:
        raise AccessDenied("github", "HTTP 403", 403)

    service = ActService(tasks, denied, escalation=AccessEscalation(queue, act_queue_url(Service.ESCALATE)))
    assert service.process(action) is TaskStatus.NEEDS_HUMAN
    assert service.process(action) is TaskStatus.NEEDS_HUMAN  # a redelivery: noted, the same escalation id
    [escalation] = queue.actions(act_queue_url(Service.ESCALATE))
    assert escalation.ordinal == action_ids.access_escalation(action.ordinal)
    last = tasks.get(action.task_id).history[-1]["detail"]
    assert last["escalation"] == escalation.action_id and last["status_kept"] == "NEEDS_HUMAN"


class _Context:
    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


class _Llm:
    deadline: Any = None


@pytest.mark.parametrize("build", ["classify", "decide"])
def test_each_invocation_gives_the_model_calls_its_deadline(build: str) -> None:
    tasks, queue, llm = InMemoryTaskRepository(), InMemoryQueue(), _Llm()
    service: Any = (
        ClassifyService(tasks, queue, act_queue_url, DECIDE_URL, default_chain(), llm=llm)  # type: ignore[arg-type]
        if build == "classify"
        else DecideService(tasks, queue, act_queue_url, llm)  # type: ignore[arg-type]
    )
    service.begin(_Context(30_000))
    first = llm.deadline.remaining()
    assert 20 < first <= 27  # the invocation's 30 s less the margin for the state write
    service.begin(_Context(10_000))
    assert llm.deadline.remaining() <= 7  # a new invocation, a new deadline: not the first one's
    service.begin(None)
    assert llm.deadline is None
