"""Work that can wait, through the Message Batches API of the stand-in (switchboard.batches): a feed item's
classification and a decision on a platform with no reply wait in DynamoDB, go out as one batch, come back
at half price through their own queue, and a result that never came (expired) is made live."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from switchboard.models import Platform, TaskStatus
from tests.integration.test_agent_core import CLASSIFY_URL, DECIDE_URL, Agent, inbound, make_agent
from tests.integration.test_routing_corpus import ledger, run_like_the_agent
from tools.standin.messages_api import MessagesApiStandin

#: the stand-in's slow fault sleeps this long (``tests/integration/conftest.py``)
STANDIN_SLOW_SECONDS = 1


@pytest.fixture
def agent(aws: Callable[[str], Any], tables: tuple[str, str], standin: MessagesApiStandin) -> Agent:
    with standin.state.lock:
        standin.state.calls.clear()
        standin.state.batches.clear()
    return make_agent(aws, tables, standin, batched=True)


def test_a_feed_item_waits_for_its_batch_and_resumes_where_it_stopped(
    agent: Agent, standin: MessagesApiStandin
) -> None:
    event = inbound("The export crashes with a traceback on every run.", Platform.FEED, None)
    agent.classify.process(event, f"msg-{event.event_id}")
    task = agent.store.get(event.task_id)
    assert task.status is TaskStatus.RECEIVED  # waiting: no model call yet
    assert standin.state.calls == []
    assert agent.runner is not None and len(agent.runner.store.pending(10)) == 1
    # a redelivery while it waits does not queue the request twice
    agent.classify.process(event, f"msg-{event.event_id}")
    assert len(agent.runner.store.pending(10)) == 1
    report = agent.runner.run()  # nothing ended yet: the request goes out as one batch
    assert (report.submitted, report.collected) == (1, 0)
    report = agent.runner.run()  # the batch ended: its result stored, the task resumed through classify
    assert (report.collected, report.resumed) == (1, 1)
    [resume] = [m for m in agent.queue.sent if m.queue_url == CLASSIFY_URL]
    assert resume.attributes == {"switchboard-original-message-id": f"msg-{event.event_id}"}
    run_like_the_agent(agent, event)
    task = agent.store.get(event.task_id)
    assert task.status is TaskStatus.DISPATCHED
    [entry] = [e for e in ledger(task.history) if not e["cached"]]
    assert entry["batch"] is True and entry["tier"] == "small"
    assert [call.get("batch") for call in standin.state.calls] == [True]
    spent = agent.llm.budget.spent_today_usd()
    assert spent >= entry["usd"] > 0


def test_a_decision_with_no_reply_waits_for_its_batch(agent: Agent, standin: MessagesApiStandin) -> None:
    event = inbound(
        "How do I get access to the billing export? My account shows nothing.", Platform.STANDARD, None
    )
    run_like_the_agent(agent, event)
    task = agent.store.get(event.task_id)
    entries = [e for e in ledger(task.history) if not e["cached"]]
    assert [(e["tier"], e["batch"]) for e in entries] == [("small", False), ("medium", True)]
    to_decide = [json.loads(m.body) for m in agent.queue.sent if m.queue_url == DECIDE_URL]
    # classify's hand-over carries the task as it wrote it; the batch's resume does not: the task is read
    assert [body.get("task_version") for body in to_decide] == [2, None]  # opened at 1, CLASSIFIED 2
    assert any(m.queue_url == DECIDE_URL and "#batch#decide" in m.dedup_id for m in agent.queue.sent)
    assert task.status in {TaskStatus.DISPATCHED, TaskStatus.NEEDS_HUMAN, TaskStatus.DROPPED}


def test_an_expired_request_is_made_live_at_full_price(agent: Agent, standin: MessagesApiStandin) -> None:
    event = inbound("The export crashes with a traceback on every run.", Platform.FEED, None)
    agent.classify.process(event, f"msg-{event.event_id}")
    assert agent.runner is not None
    with standin.state.lock:
        standin.state.batch_seconds = 10**6
    try:
        agent.runner.run()  # submitted
        with standin.state.lock:
            standin.state.clock_offset += 24 * 3600
        agent.runner.run()  # expired: stored as such, and the task resumed
    finally:
        with standin.state.lock:
            standin.state.batch_seconds = 0
    run_like_the_agent(agent, event)
    task = agent.store.get(event.task_id)
    assert task.status is TaskStatus.DISPATCHED
    [entry] = [e for e in ledger(task.history) if not e["cached"]]
    assert entry["batch"] is False  # the live call, at full price
