"""What the task list, the timeline and the costs page show, computed in `switchboard.operations` (the console
renders these values and decides nothing): the route of a task, the filters, the timeline's kinds (a history
kind it does not know is shown as it is), the spend per day and tier."""

from __future__ import annotations

from typing import Any

from switchboard.models import TaskStatus
from switchboard.operations import TaskFilter, costs, route_of, row_of, timeline
from switchboard.state import Task


def task(*details: dict[str, Any], route: str | None = None, actor: str = "classify") -> Task:
    history = [
        {"at": "2026-12-01T10:00:00.000+00:00", "actor": "classify", "status": "RECEIVED", "detail": {}}
    ]
    history += [{"at": "2026-12-01T10:00:01.000+00:00", "actor": actor, "detail": d} for d in details]
    return Task("tsk_1", "d-1", "github", TaskStatus.DONE, 3, "o/r#1", history=history, route=route)


def call(tier: str, usd: float) -> dict[str, Any]:
    return {"tier": tier, "model": f"m-{tier}", "input_tokens": 1, "output_tokens": 1, "usd": usd}


def test_the_route_says_rule_small_model_escalated_plan_or_person() -> None:
    assert route_of(task({"route": "rule", "rule": "command_label"})) == "rule"
    assert route_of(task({"route": "llm", "llm": [call("small", 0.001)]})) == "small-model"
    assert (
        route_of(task({"route": "llm", "llm": [call("small", 0.001), call("medium", 0.01)]})) == "escalated"
    )
    assert route_of(task({"route": "llm", "llm": [call("small", 0.001)]}, route="decide")) == "escalated"
    assert route_of(task({"plan": {"steps": []}})) == "plan"
    assert route_of(task({"resolution": "action"}, actor="human:ada")) == "person"
    assert route_of(task()) == "none"


def test_a_row_carries_the_cost_of_every_model_call() -> None:
    row = row_of(task({"llm": [call("small", 0.25)]}, {"llm": [call("medium", 0.5)]}))
    assert row.cost_usd == 0.75 and row.at == "2026-12-01T10:00:00.000+00:00"


def test_the_filters_match_each_field_and_the_time_range() -> None:
    row = row_of(task({"route": "rule"}))
    assert TaskFilter().admits(row)
    assert TaskFilter(platform="github", status="DONE", route="rule", conversation="r#1").admits(row)
    assert not TaskFilter(platform="slack").admits(row)
    assert not TaskFilter(route="escalated").admits(row)
    assert TaskFilter(since="2026-12-01T09", until="2026-12-01T11").admits(row)
    assert not TaskFilter(since="2026-12-02").admits(row)


def test_the_timeline_names_each_kind_and_keeps_unknown_kinds_as_they_are() -> None:
    entries = timeline(
        task(
            {"llm": [call("small", 0.1)], "policy": [{"ability": "github.comment", "allowed": True}]},
            {
                "action_id": "tsk_1#0",
                "result": {"status": 201, "html_url": "https://github.com/o/r/issues/1#c"},
            },
            {"plan": {"steps": [{"id": "a", "status": "DONE"}, {"id": "b", "after": ["a"]}]}},
            {"something_new": {"x": 1}},
        )
    )
    assert [e["kind"] for e in entries] == ["transition", "model", "action", "plan", "note"]
    assert entries[1]["llm"][0]["tier"] == "small" and entries[1]["policy"][0]["allowed"] is True
    assert entries[2]["links"] == ["https://github.com/o/r/issues/1#c"]
    assert [s["id"] for s in entries[3]["steps"]] == ["a", "b"]
    assert entries[4]["detail"] == {"something_new": {"x": 1}}


class Ledger:
    def spent_micro_usd(self, day: str) -> int:
        return 1_500_000


class Tasks:
    def recent(self, limit: int = 1_000) -> list[Task]:
        return [task({"llm": [call("small", 0.5), call("medium", 1.0)]}), task({"route": "rule"})]


def test_costs_are_per_day_and_tier_against_the_cap_with_the_share_settled_without_a_model() -> None:
    report = costs(Tasks(), Ledger(), daily_cap_usd=10.0)
    [day] = report["days"]
    assert day["day"] == "2026-12-01" and day["tiers"] == {"small": 0.5, "medium": 1.0}
    assert (day["usd"], day["ledger_usd"], day["share_of_cap"]) == (1.5, 1.5, 0.15)
    assert (report["settled_without_model"], report["tasks"], report["share_without_model"]) == (1, 2, 0.5)
