"""Decide on a message's first receive works from the task as classify wrote it (moto server, the Messages
API stand-in): no GetItem of the task; a redelivery, an older message and a stale version read it, and all of
them leave the same history."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from switchboard.dynamo.keys import Keys
from switchboard.models import DecideRequest, InboundEvent, Platform, TaskStatus
from tests.integration.test_agent_core import DECIDE_URL, Agent, inbound, make_agent
from tools.standin.messages_api import MessagesApiStandin

QUESTION = "How do I configure the webhook secret?"
DECIDED = ["RECEIVED", "CLASSIFIED", "DECIDING", "DECIDED", "DISPATCHED"]


class CountingAgent:
    """The agent core on one DynamoDB client whose GetItem requests of task items are recorded."""

    def __init__(self, aws: Callable[[str], Any], tables: tuple[str, str], standin: MessagesApiStandin):
        dynamodb = aws("dynamodb")
        self.task_reads: list[str] = []
        dynamodb.meta.events.register("before-send.dynamodb", self._record)
        self.agent: Agent = make_agent(
            lambda service: dynamodb if service == "dynamodb" else aws(service), tables, standin
        )

    def _record(self, request: Any, **_: Any) -> None:
        if request.headers["X-Amz-Target"].decode() != "DynamoDB_20120810.GetItem":
            return
        key = json.loads(request.body)["Key"]
        if key["pk"]["S"].startswith("task#"):
            self.task_reads.append(key["pk"]["S"])

    def classified(self, text: str = QUESTION) -> tuple[InboundEvent, str]:
        """Classify an event that needs reasoning; the body of its message to decide."""
        event = inbound(text, Platform.GITHUB, None)
        self.agent.classify.process(event, f"msg-{event.event_id}")
        [body] = [
            m.body
            for m in self.agent.queue.sent
            if m.queue_url == DECIDE_URL and json.loads(m.body)["task_id"] == event.task_id
        ]
        self.task_reads.clear()
        return event, body

    def decide(self, body: str, *, first_receive: bool) -> TaskStatus:
        return self.agent.decide.process(DecideRequest.model_validate_json(body), first_receive=first_receive)

    def history(self, event: InboundEvent) -> list[tuple[Any, ...]]:
        """The task's history without its timestamps: status, where from, who, and what the detail holds."""
        return [
            (e.get("status"), e.get("from"), e.get("actor"), sorted((e.get("detail") or {}).keys()))
            for e in self.agent.store.get(event.task_id).history
        ]


@pytest.fixture
def counting(
    aws: Callable[[str], Any], tables: tuple[str, str], standin: MessagesApiStandin
) -> CountingAgent:
    return CountingAgent(aws, tables, standin)


def test_classify_hands_over_the_version_it_wrote(counting: CountingAgent) -> None:
    event, body = counting.classified()
    assert (
        DecideRequest.model_validate_json(body).task_version
        == counting.agent.store.get(event.task_id).version
    )


def test_a_first_receive_reads_no_task_and_a_redelivery_does(counting: CountingAgent) -> None:
    first, first_body = counting.classified()
    assert counting.decide(first_body, first_receive=True) is TaskStatus.DISPATCHED
    assert counting.task_reads == []

    again, again_body = counting.classified()
    assert counting.decide(again_body, first_receive=False) is TaskStatus.DISPATCHED
    assert counting.task_reads == [Keys.task(again.task_id)["pk"]["S"]]
    # the history decide writes is the same either way
    assert [entry[0] for entry in counting.history(first)] == DECIDED
    assert counting.history(first) == counting.history(again)


def test_a_message_without_the_version_reads_the_task(counting: CountingAgent) -> None:
    event, body = counting.classified()
    older = json.loads(body)
    del older["task_version"]  # as an older classify sent it
    assert counting.decide(json.dumps(older), first_receive=True) is TaskStatus.DISPATCHED
    assert counting.task_reads == [Keys.task(event.task_id)["pk"]["S"]]
    assert [entry[0] for entry in counting.history(event)] == DECIDED


def test_a_stale_version_ends_where_the_task_is(counting: CountingAgent, calls: list[dict[str, Any]]) -> None:
    """A message counted as a first receive although the task moved on (an earlier attempt dispatched it):
    the stale write is refused, the task is reloaded, nothing is recorded twice and the model is not asked
    again (the same prompt comes from the response cache); the action is re-sent under the same id."""
    event, body = counting.classified()
    assert counting.decide(body, first_receive=True) is TaskStatus.DISPATCHED
    before = counting.agent.store.get(event.task_id)
    model_calls = len(calls)
    counting.task_reads.clear()
    assert counting.decide(body, first_receive=True) is TaskStatus.DISPATCHED
    assert counting.task_reads == [Keys.task(event.task_id)["pk"]["S"]]  # the reload after the refused write
    after = counting.agent.store.get(event.task_id)
    assert (after.version, after.history) == (before.version, before.history)
    assert len(calls) == model_calls
    assert {action.action_id for action in counting.agent.actions(event)} == {f"{event.task_id}#0"}


def test_a_stale_version_sends_nothing_for_a_task_that_went_elsewhere(counting: CountingAgent) -> None:
    """The earlier attempt ended otherwise (a person was asked) and the message still counts as a first
    receive: decide records before it sends, so its refused write sent nothing the history does not name."""
    event, body = counting.classified()
    counting.agent.decide.lifecycle.end(
        event.task_id, TaskStatus.NEEDS_HUMAN, "operator", {"asked": "a person"}, "asked a person"
    )
    assert counting.decide(body, first_receive=True) is TaskStatus.NEEDS_HUMAN
    assert counting.agent.actions(event) == []
    statuses = [entry[0] for entry in counting.history(event)]
    assert statuses == ["RECEIVED", "CLASSIFIED", "NEEDS_HUMAN"]


def test_a_redelivery_after_the_dispatch_write_sends_the_actions_again(counting: CountingAgent) -> None:
    """The write that records DISPATCHED comes before the sends: an attempt that dies between the two (its
    send fails) leaves a DISPATCHED task whose redelivery sends the actions, under the ids recorded."""
    event, body = counting.classified()
    counting.agent.queue.fail_next = 1
    with pytest.raises(ConnectionError):  # the fake queue's outage: the invocation fails with it
        counting.decide(body, first_receive=True)
    assert counting.agent.actions(event) == []
    assert [entry[0] for entry in counting.history(event)] == DECIDED
    assert counting.decide(body, first_receive=False) is TaskStatus.DISPATCHED
    assert [action.action_id for action in counting.agent.actions(event)] == [f"{event.task_id}#0"]
    assert [entry[0] for entry in counting.history(event)] == DECIDED


def test_a_stale_version_pages_nobody_about_a_task_that_went_elsewhere(
    counting: CountingAgent, standin: MessagesApiStandin
) -> None:
    """The task moved on (a person was asked another way) and the message still counts as a first receive;
    this attempt's model fails, which would page a person. The page is sent before its NEEDS_HUMAN write
    (``Lifecycle.escalate``), so decide reads the task before it escalates from the message's version: the
    task is not where the message says, nothing is sent, and the task stays as it was."""
    event, body = counting.classified()
    counting.agent.decide.lifecycle.end(
        event.task_id, TaskStatus.NEEDS_HUMAN, "operator", {"asked": "a person"}, "asked a person"
    )
    before = counting.agent.store.get(event.task_id)
    standin.state.faults.extend(["malformed", "malformed"])  # the answer and its one repair: a person
    assert counting.decide(body, first_receive=True) is TaskStatus.NEEDS_HUMAN
    assert counting.agent.actions(event) == []
    after = counting.agent.store.get(event.task_id)
    assert (after.version, after.history) == (before.version, before.history)


def test_a_first_receive_that_escalates_reads_the_task_once_and_pages(
    counting: CountingAgent, standin: MessagesApiStandin
) -> None:
    """The same failure on a task where the message says it is: the one read finds it unchanged, the page
    goes out and the task is NEEDS_HUMAN with the model's attempts."""
    event, body = counting.classified()
    standin.state.faults.extend(["malformed", "malformed"])
    assert counting.decide(body, first_receive=True) is TaskStatus.NEEDS_HUMAN
    assert counting.task_reads == [Keys.task(event.task_id)["pk"]["S"]]
    assert [a.ability for a in counting.agent.actions(event)] == ["escalate.human"]
    assert [entry[0] for entry in counting.history(event)][-1] == "NEEDS_HUMAN"
