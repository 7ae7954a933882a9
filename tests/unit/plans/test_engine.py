"""The plan engine end to end on in-memory ports: the issue's three examples, replanning, a critical halt, a
budget stop, and a crash at every step boundary with no model call or action repeated."""

from __future__ import annotations

import json
from typing import Any

import pytest

from switchboard import action_ids
from switchboard.models import Service, TaskStatus
from switchboard.plans.runner import ReviewTimedOut
from switchboard.plans.validate import Limits
from tests.fakes import act_queue_url, github_event
from tests.unit.plans.conftest import (
    Crash,
    Harness,
    MemoryRunner,
    Suspended,
    bug_report,
    make_harness,
    slack_event,
)

STATUS_QUESTION = "What's the status of the ticket about the login timeouts?"
SIGN_IN_QUESTION = "What's the status of the ticket about the sign-in timeouts?"


def test_a_slack_status_question_searches_reads_drafts_evaluates_and_replies_citing_the_ticket(
    harness: Harness,
) -> None:
    request = harness.open(slack_event(STATUS_QUESTION))
    summary = harness.engine.run(request, MemoryRunner())
    assert summary["outcome"] == "done" and summary["status"] == "DISPATCHED"
    assert [call[0] for call in harness.lookups.calls] == ["tickets.search", "tickets.get"]
    [reply] = harness.sent()
    assert reply.ability == "slack.reply" and reply.service is Service.SLACK
    assert "TCK-42" in reply.params["text"] and "in progress" in reply.params["text"]
    assert (reply.params["channel"], reply.params["thread_ts"]) == ("C0SUPPORT", "1700000000.000100")
    assert reply.ordinal == action_ids.plan_step(0, 3)
    # planner (medium), drafting (medium), the evaluator's judgement (small: the cheap model)
    assert harness.sdk.tools_called() == ["submit_plan", "draft_answer", "judge_step"]
    assert [r["model"] for r in harness.sdk.requests] == [
        "claude-sonnet-5-5",
        "claude-sonnet-5-5",
        "claude-haiku-5-5",
    ]
    steps = harness.notes(request, "plan_step")
    assert [s["step"] for s in steps] == ["search", "read", "draft", "reply"]
    assert harness.notes(request, "plan_eval")[0]["passed"] is True
    [plan] = harness.notes(request, "plan")
    assert [s["id"] for s in plan["steps"]] == ["search", "read", "draft", "reply"] and plan["llm"]


def test_the_reply_finishes_the_task_when_the_act_layer_completes_it(harness: Harness) -> None:
    request = harness.open(slack_event(STATUS_QUESTION))
    harness.engine.run(request, MemoryRunner())
    [reply] = harness.sent()
    assert harness.engine.lifecycle.complete(request.task_id, reply.action_id, "act", {}) is TaskStatus.DONE


def test_a_duplicate_bug_report_is_linked_to_the_existing_issue_and_labelled_duplicate(
    harness: Harness,
) -> None:
    request = harness.open(bug_report(), intent="bug_report")
    summary = harness.engine.run(request, MemoryRunner())
    assert summary["status"] == "DISPATCHED"
    comment, label = harness.sent()
    assert (
        comment.ability == "github.comment"
        and "https://github.com/octo-org/demo/issues/900" in comment.params["body"]
    )
    assert label.ability == "github.add_labels" and label.params["labels"] == ["duplicate"]
    assert (label.params["repo"], label.params["number"]) == ("octo-org/demo", 901)
    assert all(v["allowed"] for v in (harness.notes(request, "plan_step")[2]["output"]["policy"],))
    assert harness.sdk.tools_called() == ["submit_plan"]  # deterministic criteria: no evaluator call


def _close_request(h: Harness) -> object:
    return h.open(github_event("Please close this issue, it is obsolete.", "d-close"), intent="other")


def test_a_plan_that_needs_a_person_waits_for_the_review_then_goes_on() -> None:
    h = make_harness()
    request = _close_request(h)
    runner = MemoryRunner()
    with pytest.raises(Suspended):
        h.engine.run(request, runner)  # type: ignore[arg-type]
    [review] = h.notes(request, "plan_review")  # type: ignore[arg-type]
    assert review["callback_id"] == "cb-plan0.approve" and "tasks resolve" in review["answer_with"]
    [page] = h.sent()
    assert page.ability == "escalate.human" and page.ordinal in action_ids.PLAN
    assert h.status(request) is TaskStatus.NEEDS_HUMAN  # type: ignore[arg-type]  # a person's, while it waits
    runner.answers["plan0.approve"] = json.dumps({"approved": True, "by": "maintainer", "note": "approved"})
    summary = h.engine.run(request, runner)  # type: ignore[arg-type]
    assert summary["status"] == "DISPATCHED"
    abilities = [a.ability for a in h.sent()]
    assert abilities == ["escalate.human", "github.close", "github.comment"]  # the page is not sent again


def test_a_declined_review_stops_the_plan_with_the_reason() -> None:
    h = make_harness()
    request = _close_request(h)
    runner = MemoryRunner(answers={"plan0.approve": json.dumps({"approved": False, "note": "keep it open"})})
    summary = h.engine.run(request, runner)  # type: ignore[arg-type]
    assert summary["status"] == "DROPPED"
    assert h.tasks.get(request.task_id).reason == "a person declined: keep it open"  # type: ignore[attr-defined]
    assert [a.ability for a in h.sent()] == ["escalate.human"]


def test_an_unanswered_review_ends_with_a_person() -> None:
    h = make_harness()
    request = _close_request(h)
    runner = MemoryRunner(answers={"plan0.approve": ReviewTimedOut("timed out")})
    assert h.engine.run(request, runner)["status"] == "NEEDS_HUMAN"  # type: ignore[arg-type]


def test_without_a_review_a_stranger_s_close_is_refused_by_the_validator(harness: Harness) -> None:
    from switchboard.plans.model import Plan
    from switchboard.plans.validate import PlanRejected

    plan = Plan.model_validate(
        {
            "goal": "close",
            "steps": [{"id": "close", "kind": "action", "ability": "github.close", "params": {}}],
        }
    )
    with pytest.raises(PlanRejected, match="refused by policy"):
        harness.engine.validator.validate(plan, github_event("close it"))


def test_a_hard_failure_replans_into_a_different_plan(harness: Harness) -> None:
    request = harness.open(slack_event(SIGN_IN_QUESTION))
    summary = harness.engine.run(request, MemoryRunner())
    assert summary["status"] == "DISPATCHED"
    _first, second = harness.notes(request, "plan")
    assert second["replan"]["step"] == "search" and "found" in second["replan"]["why"]
    queries = [params["query"] for name, params in harness.lookups.calls if name == "tickets.search"]
    assert queries == ["sign-in timeouts", "timeouts"]  # a different path, not a retry
    assert "TCK-42" in harness.sent()[0].params["text"]
    assert harness.sent()[0].ordinal == action_ids.plan_step(1, 3)


def test_a_critical_failure_halts_and_hands_the_full_context_to_a_person(harness: Harness) -> None:
    harness.lookups.fail.add("tickets.get")
    request = harness.open(slack_event(STATUS_QUESTION))
    summary = harness.engine.run(request, MemoryRunner())
    assert summary["status"] == "NEEDS_HUMAN"
    task = harness.tasks.get(request.task_id)
    assert "halted at read" in (task.reason or "")
    [escalation] = harness.queue.actions(act_queue_url(Service.ESCALATE))
    assert escalation.ordinal == action_ids.escalation()
    detail = task.history[-1]["detail"]
    assert detail["tried"] and detail["decision_needed"] and detail["alternatives"]
    assert any("TCK-42" in line for line in detail["found"])


def test_a_plan_over_its_budget_stops_and_goes_to_a_person() -> None:
    # The first plan's call fits; its search finds nothing, and the replan's call would pass the budget.
    # With today's requests the planner call reserves ~4,400 tokens and uses ~1,800, and the replan reserves
    # ~5,100: a cap between 4,400 and 6,800 admits only the first.
    h = make_harness(Limits(max_tokens=6_000))
    request = h.open(slack_event(SIGN_IN_QUESTION))
    summary = h.engine.run(request, MemoryRunner())
    assert summary["outcome"] == "budget" and summary["status"] == "NEEDS_HUMAN"
    assert h.sdk.tools_called() == ["submit_plan"]  # the refused call was never made
    assert [a.ability for a in h.sent()] == ["escalate.human"]
    assert h.ledger.tokens[request.task_id] <= 6_000
    assert "budget" in (h.tasks.get(request.task_id).reason or "")


def test_a_plan_over_its_dollar_budget_stops_before_the_call() -> None:
    # The planner call reserves ~$0.034 and costs ~$0.006; the replan reserves ~$0.036 (cap: $0.034-0.041).
    h = make_harness(Limits(max_usd=0.038))
    request = h.open(slack_event(SIGN_IN_QUESTION))
    summary = h.engine.run(request, MemoryRunner())
    assert summary["outcome"] == "budget" and h.sdk.tools_called() == ["submit_plan"]
    assert h.ledger.micro_usd[f"plan#{request.task_id}"] <= 38_000


def _clean_run(event_factory: object, intent: str) -> tuple[int, list[str], int]:
    h = make_harness()
    request = h.open(event_factory(), intent=intent)  # type: ignore[operator]
    runner = MemoryRunner()
    h.engine.run(request, runner)
    return len(runner.ran), [a.action_id for a in h.sent()], len(h.sdk.requests)


@pytest.mark.parametrize(
    ("factory", "intent"),
    [(lambda: slack_event(STATUS_QUESTION), "question"), (bug_report, "bug_report")],
    ids=["slack-status", "github-duplicate"],
)
@pytest.mark.parametrize("when", ["after", "before"])
def test_a_crash_at_every_step_boundary_repeats_no_model_call_and_no_action(
    factory: object, intent: str, when: str
) -> None:
    steps, actions, calls = _clean_run(factory, intent)
    assert steps >= 4
    for crash_at in range(1, steps + 1):
        h = make_harness()
        request = h.open(factory(), intent=intent)  # type: ignore[operator]
        runner = MemoryRunner(crash_at=crash_at, crash_when=when)
        with pytest.raises(Crash):
            h.engine.run(request, runner)
        runner.crash_at = None
        summary = h.engine.run(request, runner)  # the replay: completed steps are read back
        assert summary["status"] == "DISPATCHED"
        sent_ids = [a.action_id for a in h.sent()]
        if when == "after":  # checkpointed before the crash: nothing runs twice
            assert sorted(sent_ids) == sorted(actions) and len(h.sdk.requests) == calls
            assert len(runner.ran) == steps
        else:  # the crashed step runs again; an action is re-sent with the same id (the act layer dedups)
            assert sorted(set(sent_ids)) == sorted(actions)
            assert len(h.sdk.requests) <= calls + 1
        assert h.status(request) is TaskStatus.DISPATCHED


def test_a_plan_ends_even_when_its_actions_complete_on_the_item_while_it_ends(harness: Harness) -> None:
    # The act layer records a completion on the task item (its version moves) between the plan's last read
    # and its final move: the move conflicts once, reloads the task and is written.
    request = harness.open(slack_event(STATUS_QUESTION))
    read = harness.engine.lifecycle.get
    raced: list[str] = []

    def stale_read(task_id: str) -> Any:
        task = read(task_id)
        if not raced:
            raced.append(task_id)
            harness.tasks.complete_action(task_id, f"{task_id}#9999", "act", {})
        return task

    harness.engine.lifecycle.get = stale_read  # type: ignore[method-assign]
    summary = harness.engine.run(request, MemoryRunner())
    assert raced, "the race was staged"
    assert summary["status"] == "DISPATCHED"
    assert harness.tasks.get(request.task_id).status is TaskStatus.DISPATCHED
