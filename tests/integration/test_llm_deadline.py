"""Deadline-aware model calls: no attempt, retry wait or fallback outlives the invocation's time left.

Real anthropic SDK against the Messages API stand-in (its slow answers and 429s), moto for the budget.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from switchboard.deadline import STATE_WRITE_MARGIN_SECONDS, Deadline
from switchboard.intents import CLASSIFY_TOOL
from switchboard.llm import DEFAULT_TIERS, BudgetedLlm, DeadlineReached
from switchboard.models import Platform, TaskStatus
from switchboard.prompts import CLASSIFY_SYSTEM
from tests.conftest import standin_llm
from tests.integration.test_agent_core import inbound, make_agent
from tools.standin.messages_api import MessagesApiStandin

USER = [{"role": "user", "content": "<user_message>\nThe app crashes on start.\n</user_message>"}]


#: the stand-in's slow fault sleeps this long (``tests/integration/conftest.py``)
STANDIN_SLOW_SECONDS = 4


@pytest.fixture
def llm(aws: Callable[[str], Any], tables: tuple[str, str], standin: MessagesApiStandin) -> BudgetedLlm:
    client: BudgetedLlm = standin_llm(aws("dynamodb"), tables[1], standin.url)
    client.sdk()  # the SDK's import and set-up (about a second) happen before the deadlines below start
    return client


def classify(llm: BudgetedLlm) -> Any:
    return llm.choose_tool(
        task_id="tsk_deadline",
        tier="small",
        system=CLASSIFY_SYSTEM,
        messages=USER,
        tools=[CLASSIFY_TOOL],
        max_tokens=200,
        use_cache=False,
    )


def test_a_deadline_is_the_context_time_left_minus_the_state_write_margin() -> None:
    context = SimpleNamespace(get_remaining_time_in_millis=lambda: 30_000)
    left = Deadline.from_context(context).remaining()
    assert 30 - STATE_WRITE_MARGIN_SECONDS - 0.5 < left <= 30 - STATE_WRITE_MARGIN_SECONDS


def test_a_slow_answer_is_cut_at_the_deadline_and_the_fallback_is_not_started(
    llm: BudgetedLlm, standin: MessagesApiStandin, calls: list[dict[str, Any]]
) -> None:
    standin.state.faults.append("slow")  # 4 s, longer than the 2.5 s left (the small tier's timeout is 10 s)
    llm.deadline = Deadline.after(2.5)
    started = time.monotonic()
    with pytest.raises(DeadlineReached, match="too little for a model call") as caught:
        classify(llm)
    assert caught.value.args[0].startswith("medium:")  # the small tier's attempt ended at its share
    assert time.monotonic() - started < 3.2
    assert [call["fault"] for call in calls] == ["slow"]


def test_a_retry_wait_that_would_outlive_the_deadline_falls_over_to_the_next_tier_instead(
    llm: BudgetedLlm, standin: MessagesApiStandin, calls: list[dict[str, Any]]
) -> None:
    standin.state.faults.append("429")  # retry-after: 1 s; with 2.5 s left a retry could not finish
    llm.deadline = Deadline.after(2.5)
    answer = classify(llm)
    assert answer.call is not None
    assert [(call["model"], call["fault"]) for call in calls] == [
        (DEFAULT_TIERS["small"], "429"),
        (DEFAULT_TIERS["medium"], None),
    ]


def test_with_time_to_spare_a_rate_limited_call_is_retried_on_its_tier(
    llm: BudgetedLlm, standin: MessagesApiStandin, calls: list[dict[str, Any]]
) -> None:
    standin.state.faults.append("429")
    llm.deadline = Deadline.after(30)
    assert classify(llm).call is not None
    assert [(call["model"], call["fault"]) for call in calls] == [(DEFAULT_TIERS["small"], "429")] * 1 + [
        (DEFAULT_TIERS["small"], None)
    ]


def test_a_task_that_starts_too_late_for_a_model_call_goes_to_a_human_with_the_reason(
    aws: Callable[[str], Any],
    tables: tuple[str, str],
    standin: MessagesApiStandin,
    calls: list[dict[str, Any]],
) -> None:
    agent = make_agent(aws, tables, standin)
    agent.llm.deadline = Deadline.after(1.0)
    event = inbound("The app crashes with a traceback when the config file is empty.", Platform.GITHUB, None)
    agent.classify.process(event, f"msg-{event.event_id}")
    task = agent.store.get(event.task_id)
    assert task.status is TaskStatus.NEEDS_HUMAN
    assert task.reason is not None and "too little for a model call" in task.reason
    assert calls == []
