"""What `switchboard trace` shows of a plan, and which review `tasks resolve --approve` answers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.fakes import github_event
from tests.unit.plans.conftest import Harness, MemoryRunner, Suspended, make_harness, slack_event
from tools.cli.plans import answer_review, pending_review, plan_view, render_plans


def test_trace_shows_each_plan_its_steps_verdicts_spend_and_the_replan(harness: Harness) -> None:
    request = harness.open(slack_event("What's the status of the ticket about the sign-in timeouts?"))
    harness.engine.run(request, MemoryRunner())
    task = harness.tasks.get(request.task_id).to_json()
    first, second = plan_view(task) or []
    assert second["replan_of"]["step"] == "search"
    assert [s["status"] for s in first["steps"]] == ["failed", "not run", "not run", "not run"]
    assert [s["status"] for s in second["steps"]] == ["done", "done", "done", "done"]
    draft = second["steps"][2]
    assert draft["deps"] == ["read"] and draft["spend"]["tokens"] > 0 and draft["evaluator"]["usd"] > 0
    assert draft["verdict"]["by"] == "model" and draft["input"].startswith("Answer the status question")
    assert second["steps"][0]["input"] == {"query": "timeouts"}
    assert first["planner"]["calls"] == 1 and second["end"]["outcome"] == "done"
    text = "\n".join(render_plans(task))
    assert "plan 1:" in text and "replan after search" in text and "verdict: ok (model)" in text


def test_the_waiting_review_is_the_one_resolve_answers() -> None:
    h = make_harness()
    request = h.open(github_event("Please close this issue, it is obsolete.", "d-tr"), intent="other")
    with pytest.raises(Suspended):
        h.engine.run(request, MemoryRunner())
    task = h.tasks.get(request.task_id).to_json()
    review = pending_review(task)
    assert review is not None and review["callback_id"] == "cb-plan0.approve"
    sent: list[tuple[str, dict[str, Any]]] = []

    class Client:
        def send_durable_execution_callback_success(self, **kwargs: Any) -> None:
            sent.append(("success", kwargs))

        def send_durable_execution_callback_failure(self, **kwargs: Any) -> None:
            sent.append(("failure", kwargs))

    answer_review(Client(), review, approve=True, by="ops", note="")
    answer_review(Client(), review, approve=False, by="ops", note="keep it")
    assert sent[0][0] == "success" and json.loads(sent[0][1]["Result"])["approved"] is True
    assert sent[1][1]["Error"] == {"ErrorType": "Declined", "ErrorMessage": "ops: keep it"}
    assert any(s["status"] == "waiting" for s in (plan_view(task) or [])[0]["steps"])
