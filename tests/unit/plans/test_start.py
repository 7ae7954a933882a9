"""The router's plan path: which requests plan, and a plan started once however often decide runs."""

from __future__ import annotations

from dataclasses import dataclass, field

from switchboard.lifecycle import Lifecycle
from switchboard.models import DecideRequest, InboundEvent, TaskStatus
from switchboard.plans.start import PlanStarter, wants_plan
from tests.fakes import act_queue_url, github_event
from tests.fakes.tasks import InMemoryQueue, InMemoryTaskRepository
from tests.unit.plans.conftest import slack_event


def request(event: InboundEvent, intent: str = "question") -> DecideRequest:
    return DecideRequest(task_id=event.task_id, event=event, intent=intent, confidence=0.9)


@dataclass
class RecordingInvoker:
    started: list[tuple[str, str]] = field(default_factory=list)

    def start(self, function_name: str, execution_name: str, payload: str) -> str | None:
        self.started.append((execution_name, payload))
        return (
            f"arn:aws:lambda:us-east-1:123456789012:function:plan:live/durable-execution/{execution_name}/1"
        )


def test_the_issue_s_slack_question_plans() -> None:
    asked = slack_event("What's the status of the ticket about the login timeouts?")
    assert wants_plan(request(asked)) == "a question about a ticket: look it up first"


def test_a_redelivered_decide_message_starts_the_plan_once_and_notes_it_once() -> None:
    tasks, invoker = InMemoryTaskRepository(), RecordingInvoker()
    event = github_event("Please close this issue, it is obsolete.", "d-close")
    task = tasks.claim_and_open(event, owner="m-1", actor="classify").task
    assert task is not None
    task = tasks.transition(task, TaskStatus.CLASSIFIED, "classify", {"intent": "question"}, route="decide")
    task = tasks.transition(task, TaskStatus.DECIDING, "decide", {})
    starter = PlanStarter(Lifecycle(tasks, InMemoryQueue(), act_queue_url), invoker, "plan")
    why = wants_plan(request(event))
    assert why is not None
    for _ in range(3):  # the first delivery, then two redeliveries (a visibility timeout passed)
        assert starter.start(tasks.get(task.task_id), request(event), why) is TaskStatus.DECIDING
    assert [name for name, _ in invoker.started] == [task.task_id]
    notes = [e for e in tasks.get(task.task_id).history if "plan_started" in (e.get("detail") or {})]
    assert len(notes) == 1
