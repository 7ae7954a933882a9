"""Truthful health: a stage is stuck (and GET /health answers 503) only when work waits for it and it has
finished nothing for longer than its threshold; the markers cost at most one write per stage per minute."""

from __future__ import annotations

from typing import Any

from switchboard.heartbeat import BEAT_INTERVAL_SECONDS, Heartbeat, assess, finished_any, stages

NOW = 1_800_000_000.0


def by_stage(report: list[Any]) -> dict[str, Any]:
    return {stage.stage: stage for stage in report}


def test_every_stage_is_reported_ingest_classify_decide_each_act_service_and_poll() -> None:
    names = [stage.name for stage in stages()]
    assert names[:3] == ["ingest", "classify", "decide"] and names[-1] == "poll"
    assert {"act-github", "act-slack", "act-tickets", "act-escalate"} <= set(names)
    assert "followups" in dict((s.name, s.queues) for s in stages())["act-tickets"]


def test_a_stage_with_waiting_work_that_finished_nothing_for_too_long_is_stuck() -> None:
    report = by_stage(assess({"classify": NOW - 301}, {"ingest": 3}, NOW, threshold_seconds=300))
    assert report["classify"].stuck and report["classify"].waiting == 3
    assert report["classify"].to_json()["state"] == "stuck"


def test_recent_work_or_an_empty_queue_is_healthy() -> None:
    recent = by_stage(assess({"classify": NOW - 299}, {"ingest": 3}, NOW, threshold_seconds=300))
    idle = by_stage(assess({"classify": NOW - 10_000}, {"ingest": 0}, NOW, threshold_seconds=300))
    assert not recent["classify"].stuck and not idle["classify"].stuck


def test_a_stage_that_never_finished_anything_is_stuck_once_work_waits() -> None:
    report = by_stage(assess({}, {"act-github": 1}, NOW))
    assert report["act-github"].stuck and report["act-github"].last_finished is None
    assert not report["decide"].stuck  # nothing waits for it


def test_stages_without_a_queue_are_never_stuck() -> None:
    report = by_stage(assess({}, {}, NOW))
    assert report["ingest"].waiting is None and not report["ingest"].stuck
    assert report["poll"].waiting is None and not report["poll"].stuck


def test_a_follow_up_waiting_counts_for_the_tickets_worker() -> None:
    report = by_stage(assess({"act-tickets": NOW - 1_000}, {"followups": 2}, NOW, threshold_seconds=300))
    assert report["act-tickets"].stuck and report["act-tickets"].waiting == 2


class Dynamo:
    def __init__(self, fail: Exception | None = None) -> None:
        self.puts: list[dict[str, Any]] = []
        self.fail = fail

    def put_item(self, **request: Any) -> dict[str, Any]:
        if self.fail is not None:
            raise self.fail
        self.puts.append(request)
        return {}


def test_a_stage_marks_at_most_once_a_minute_with_a_condition_against_other_environments() -> None:
    clock = [NOW]
    dynamo = Dynamo()
    heartbeat = Heartbeat("memory", dynamodb=dynamo, clock=lambda: clock[0])
    for _ in range(100):
        heartbeat.beat("classify")
        clock[0] += 0.5  # 100 batches in 50 s
    assert len(dynamo.puts) == 1
    clock[0] = NOW + BEAT_INTERVAL_SECONDS
    heartbeat.beat("classify")
    heartbeat.beat("decide")
    assert [p["Item"]["pk"]["S"] for p in dynamo.puts] == ["heartbeat#classify"] * 2 + ["heartbeat#decide"]
    put = dynamo.puts[1]
    assert put["ConditionExpression"] == "attribute_not_exists(pk) OR #at <= :older"
    assert put["ExpressionAttributeValues"][":older"]["N"] == str(int(NOW))


def test_a_throttled_marker_does_not_fail_the_work_and_is_tried_again() -> None:
    from botocore.exceptions import ClientError

    throttled = ClientError({"Error": {"Code": "ThrottlingException"}}, "PutItem")
    dynamo = Dynamo(fail=throttled)
    heartbeat = Heartbeat("memory", dynamodb=dynamo, clock=lambda: NOW)
    heartbeat.beat("classify")  # no exception
    dynamo.fail = None
    heartbeat.beat("classify")
    assert len(dynamo.puts) == 1


def test_a_batch_finished_work_when_any_record_succeeded() -> None:
    records: dict[str, Any] = {"Records": [{}, {}]}
    assert finished_any(records, {"batchItemFailures": [{"itemIdentifier": "1"}]})
    assert not finished_any(
        records, {"batchItemFailures": [{"itemIdentifier": "1"}, {"itemIdentifier": "2"}]}
    )
