"""EventBridge schedules: poll the feed every five minutes, triage the dead letters every morning, watch the
running plans every quarter hour (triage's ``{"action": "plans"}``), submit and collect Message Batches every
five minutes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

POLL_EVERY_MINUTES: Final = 5
BATCH_EVERY_MINUTES: Final = 5  # a waiting task's latency floor; most batches end within the hour
TRIAGE_HOUR_UTC: Final = "6"
#: A plan whose durable execution ended without ending its task reaches a person within about this long
#: after it went idle (``switchboard.plans.watch.IDLE_SECONDS``).
PLAN_WATCH_EVERY_MINUTES: Final = 15
TARGET_RETRY_ATTEMPTS: Final = 2


class Schedules(Construct):
    """``poll_rule``, ``triage_rule``, ``plan_watch_rule`` and ``batch_rule``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        poll: lambda_.IFunction,
        triage: lambda_.IFunction,
        batch: lambda_.IFunction | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.poll_rule = self._build_rule(
            "PollSchedule",
            "Switchboard: poll the feed",
            events.Schedule.rate(Duration.minutes(POLL_EVERY_MINUTES)),
            poll,
            {"source": "switchboard.schedule", "action": "poll"},
        )
        self.triage_rule = self._build_rule(
            "TriageSchedule",
            "Switchboard: daily dead-letter triage",
            events.Schedule.cron(minute="0", hour=TRIAGE_HOUR_UTC),
            triage,
            {"source": "switchboard.schedule", "action": "triage"},
        )
        self.plan_watch_rule = self._build_rule(
            "PlanWatchSchedule",
            "Switchboard: hand plans whose durable execution ended early to a person",
            events.Schedule.rate(Duration.minutes(PLAN_WATCH_EVERY_MINUTES)),
            triage,
            {"source": "switchboard.schedule", "action": "plans"},
        )
        self.batch_rule = (
            self._build_rule(
                "BatchSchedule",
                "Switchboard: submit and collect Message Batches",
                events.Schedule.rate(Duration.minutes(BATCH_EVERY_MINUTES)),
                batch,
                {"source": "switchboard.schedule", "action": "batch"},
            )
            if batch is not None
            else None
        )

    def _build_rule(
        self,
        construct_id: str,
        description: str,
        schedule: events.Schedule,
        fn: lambda_.IFunction,
        payload: Mapping[str, Any],
    ) -> events.Rule:
        return events.Rule(
            self,
            construct_id,
            description=description,
            schedule=schedule,
            targets=[
                targets.LambdaFunction(
                    fn,
                    event=events.RuleTargetInput.from_object(dict(payload)),
                    retry_attempts=TARGET_RETRY_ATTEMPTS,
                )
            ],
        )
