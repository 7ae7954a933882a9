"""Truthful health: per stage, when it last finished work and how much is waiting.

Each stage (``stages()``: ingest, classify, decide, each act service, poll) marks that it finished work with
``Heartbeat.beat``: at most one conditional write per stage per minute and per execution environment, and a
write whose marker is younger than a minute is refused by its condition, so the table holds one small item
per stage (``Keys.heartbeat``) and no event costs a write of its own. The health function reads the markers
(one BatchGetItem) and the queues' depths (GetQueueAttributes), and ``assess`` decides: a stage is stuck when
work waits for it and it has finished nothing for longer than its threshold (a marker that was never written
counts as never). ``GET /health`` answers 503 when any stage is stuck.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from switchboard import catalog
from switchboard.aws import LazyClient, translated
from switchboard.dynamo import ConditionFailed, Table
from switchboard.dynamo.keys import Keys
from switchboard.errors import DependencyUnavailable

#: The fewest seconds between two markers of one stage.
BEAT_INTERVAL_SECONDS: Final = 60
#: Finished nothing for longer than this while work waits: stuck (well above the beat interval).
DEFAULT_THRESHOLD_SECONDS: Final = 300


@dataclass(frozen=True)
class Stage:
    name: str
    queues: tuple[str, ...]  # the main queues whose waiting messages are this stage's work


def stages() -> tuple[Stage, ...]:
    return (
        Stage("ingest", ()),
        Stage(catalog.queue(catalog.INGEST).consumer, (catalog.INGEST,)),
        Stage(catalog.queue(catalog.DECIDE).consumer, (catalog.DECIDE,)),
        *(Stage(f"act-{spec.name}", catalog.consumes(spec)) for spec in catalog.services()),
        Stage("poll", ()),
    )


class Heartbeat:
    """Marks that a stage finished work (cheaply: see the module's docstring)."""

    dynamodb = LazyClient("dynamodb")

    def __init__(self, table_name: str, dynamodb: Any = None, clock: Callable[[], float] = time.time) -> None:
        self._dynamodb = dynamodb
        self.table = Table(table_name, dynamodb)
        self.clock = clock
        self._last: dict[str, float] = {}

    def beat(self, stage: str) -> None:
        now = self.clock()
        if now - self._last.get(stage, float("-inf")) < BEAT_INTERVAL_SECONDS:
            return
        self._last[stage] = now
        item = {**Keys.heartbeat(stage), "at": {"N": str(int(now))}}
        try:
            self.table.put(
                item,
                ConditionExpression="attribute_not_exists(pk) OR #at <= :older",
                ExpressionAttributeNames={"#at": "at"},
                ExpressionAttributeValues={":older": {"N": str(int(now) - BEAT_INTERVAL_SECONDS)}},
            )
        except ConditionFailed:
            return  # another environment marked this minute already
        except DependencyUnavailable:
            self._last.pop(stage, None)  # a throttled marker is tried again next time; the work stands

    def read(self, names: list[str]) -> dict[str, float]:
        """The last marker of each stage that has one (epoch seconds)."""
        keys = [Keys.heartbeat(name) for name in names]
        request: dict[str, Any] = {self.table.name: {"Keys": keys}}
        found: dict[str, float] = {}
        while request:
            with translated("dynamodb", "BatchGetItem"):
                answer = self.dynamodb.batch_get_item(RequestItems=request)
            for item in answer.get("Responses", {}).get(self.table.name, []):
                found[item["pk"]["S"].split("#", 1)[1]] = float(item["at"]["N"])
            request = answer.get("UnprocessedKeys") or {}
        return found


@dataclass(frozen=True)
class StageHealth:
    stage: str
    last_finished: float | None
    waiting: int | None  # None: the stage has no queue (a door, a schedule)
    threshold_seconds: int
    stuck: bool

    def to_json(self) -> dict[str, Any]:
        last = self.last_finished
        return {
            "stage": self.stage,
            "state": "stuck" if self.stuck else "ok",
            "last_finished": None if last is None else datetime.fromtimestamp(last, UTC).isoformat(),
            "waiting": self.waiting,
            "threshold_seconds": self.threshold_seconds,
        }


def assess(
    beats: Mapping[str, float],
    waiting: Mapping[str, int],
    now: float,
    threshold_seconds: int = DEFAULT_THRESHOLD_SECONDS,
) -> list[StageHealth]:
    """Each stage's health: stuck when work waits for it and it has finished nothing for longer than the
    threshold (or never)."""
    report = []
    for stage in stages():
        last = beats.get(stage.name)
        pending = sum(waiting.get(queue, 0) for queue in stage.queues) if stage.queues else None
        idle_too_long = last is None or now - last > threshold_seconds
        report.append(
            StageHealth(stage.name, last, pending, threshold_seconds, bool(pending) and idle_too_long)
        )
    return report


def finished_any(event: Mapping[str, Any], response: Mapping[str, Any]) -> bool:
    """Whether an SQS batch finished any work: at least one record did not fail."""
    return len(response.get("batchItemFailures", [])) < len(event.get("Records", []))
