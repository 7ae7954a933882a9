"""A plan's other path (``fallback`` steps), and the route that sends a new bug report to the duplicate
plan: a duplicate is linked and labelled; with none, the bug is triaged as it is without a plan, and the
history says why."""

from __future__ import annotations

import pytest

from switchboard.models import DecideRequest, InboundEvent, TaskStatus
from switchboard.plans.model import Plan, Step
from switchboard.plans.route import plans_first, wants_plan
from switchboard.plans.validate import PlanRejected
from tests.fakes import github_event
from tests.unit.plans.conftest import Harness, MemoryRunner, bug_report, make_harness, slack_event


def new_issue(text: str, event_id: str = "d-new") -> InboundEvent:
    return github_event(text, event_id, event_type="issues.opened", number="902")


def request(event: InboundEvent, intent: str) -> DecideRequest:
    return DecideRequest(task_id=event.task_id, event=event, intent=intent, confidence=0.93)


def test_a_duplicate_found_takes_the_main_path_and_skips_the_triage(harness: Harness) -> None:
    plan_request = harness.open(bug_report(), intent="bug_report")
    summary = harness.engine.run(plan_request, MemoryRunner())
    assert [a.params["labels"] for a in harness.sent() if a.ability == "github.add_labels"] == [["duplicate"]]
    assert summary["steps"]["triage"] == "skipped"


def test_no_duplicate_found_triages_the_bug_as_without_a_plan_and_says_why(harness: Harness) -> None:
    event = new_issue("The dashboard shows a blank screen after login in Firefox\n\nConsole: TypeError.")
    plan_request = harness.open(event, intent="bug_report")
    summary = harness.engine.run(plan_request, MemoryRunner())
    assert summary["status"] == "DISPATCHED", summary  # not DROPPED: the plan's normal answer path
    [triage] = harness.sent()
    assert (triage.ability, triage.params["labels"]) == ("github.add_labels", ["bug", "needs-triage"])
    [note] = [n for n in harness.notes(plan_request, "plan_step") if n["step"] == "triage"]
    assert "search: found: the lookup read nothing" in note["output"]["because"]
    assert summary["steps"] | {"triage": "done"} == summary["steps"]
    assert harness.status(plan_request) is TaskStatus.DISPATCHED


def test_a_fallback_step_without_dependencies_is_rejected() -> None:
    h = make_harness()
    plan = Plan(
        goal="label it",
        steps=[Step(id="triage", kind="action", ability="github.add_labels",
                    params={"labels": ["bug"]}, fallback=True, criteria=["sent"])],
    )  # fmt: skip
    with pytest.raises(PlanRejected, match="fallback"):
        h.engine.validator.validate(plan, bug_report())


def test_fallback_changes_what_a_plan_does_for_the_replan_rule() -> None:
    main = Step(id="a", kind="action", ability="github.add_labels", params={"labels": ["bug"]}, deps=["s"])
    assert main.signature() != main.model_copy(update={"fallback": True}).signature()


def test_a_new_issue_that_reads_as_a_bug_report_plans_a_comment_keeps_the_direct_label() -> None:
    report = (
        "Uploading files over 2 GB crashes the app\n\nThe upload dialog closes with an out-of-memory error."
    )
    assert plans_first(new_issue(report), "bug_report") is not None
    assert wants_plan(request(new_issue(report), "bug_report")) == plans_first(
        new_issue(report), "bug_report"
    )
    assert plans_first(github_event(report, "d-comment"), "bug_report") is None  # a comment on an issue
    assert plans_first(new_issue(report), "feature_request") is None
    assert plans_first(slack_event(report), "bug_report") is None
