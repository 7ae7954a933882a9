"""The daily DLQ triage: read every DLQ without losing a message, join each message to its task's history,
sort the failures into deterministic categories, store a report, publish a short summary, and redrive the
transient categories whose cause has cleared (the service's breaker is closed again)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger

from switchboard.aws import LazyClient
from switchboard.breaker import breaker_is_open
from switchboard.dlq import DeadLetter, DeadLetterQueues, summarize
from switchboard.errors import TaskNotFound
from switchboard.metrics import Metric, count
from switchboard.ports import BreakerStore, ReportStore
from switchboard.state import TaskStore

logger = Logger(child=True)

REPORT_TTL_DAYS = 90


class Triage:
    def __init__(
        self,
        dead_letters: DeadLetterQueues,
        store: TaskStore,
        topic_arn: str,
        *,
        breakers: BreakerStore | None = None,
        reports: ReportStore | None = None,
        auto_redrive: bool = True,
        sns: Any = None,
    ) -> None:
        """``breakers`` and ``reports`` default to the DynamoDB ones in ``store``'s memory table (the triage
        function's composition passes only the task store)."""
        self.dead_letters = dead_letters
        self.store = store
        self.topic_arn = topic_arn
        self.auto_redrive = auto_redrive
        self._sns = sns
        from switchboard.dynamo import DynamoBreakerStore, DynamoReportStore

        if breakers is None:
            breakers = DynamoBreakerStore(store.memory_table, store.dynamodb)
        if reports is None:
            reports = DynamoReportStore(store.memory_table, REPORT_TTL_DAYS, store.dynamodb)
        self.breakers: BreakerStore = breakers
        self.reports: ReportStore = reports

    sns = LazyClient("sns")

    def history_of(self, task_id: str) -> list[dict[str, Any]] | None:
        try:
            return list(self.store.get(task_id).history)
        except TaskNotFound:
            return None

    def breaker_open(self, service: str | None) -> bool:
        return breaker_is_open(self.breakers, service)

    def run(self) -> dict[str, Any]:
        letters = self.dead_letters.read(self.history_of, self.breaker_open)
        report = summarize(letters)
        report["redriven"] = self._redrive_cleared(letters) if self.auto_redrive else {}
        report["at"] = datetime.now(UTC).isoformat(timespec="seconds")
        self._store(report, letters)
        for row in report["categories"]:
            count(Metric.DLQ_MESSAGES, row["count"])
        if letters:
            self.sns.publish(
                TopicArn=self.topic_arn, Subject="Switchboard: daily DLQ triage", Message=render(report)
            )
        logger.info("triage finished", total=report["total"], redriven=report["redriven"])
        return report

    def _redrive_cleared(self, letters: list[DeadLetter]) -> dict[str, int]:
        """Transient categories are redriven once their cause is gone; the others wait for a person."""
        redriven: dict[str, int] = {}
        for queue in sorted({letter.queue for letter in letters}):
            categories = sorted(
                {
                    letter.category
                    for letter in letters
                    if letter.queue == queue
                    and ":transient:" in letter.category
                    and not self.breaker_open(letter.service)
                }
            )
            for category in categories:
                result = self.dead_letters.redrive(
                    queue, self.history_of, self.breaker_open, category=category
                )
                if result.moved:
                    redriven[category] = result.moved
        return redriven

    def _store(self, report: dict[str, Any], letters: list[DeadLetter]) -> None:
        self.reports.save(report["at"], report | {"messages": [letter.to_json() for letter in letters]})


def render(report: dict[str, Any]) -> str:
    lines = [f"{report['total']} message(s) in dead-letter queues at {report['at']}."]
    for row in report["categories"]:
        lines.append(
            f"- {row['count']} x {row['category']} (e.g. {', '.join(row['example_tasks']) or 'no task'})"
        )
    if report.get("redriven"):
        lines.append(
            "Redriven automatically (cause cleared): "
            + ", ".join(f"{k}: {v}" for k, v in report["redriven"].items())
        )
    lines.append(
        "Look closer: switchboard dlq triage --stack <name>; fix, then switchboard dlq redrive <queue>."
    )
    return "\n".join(lines)
