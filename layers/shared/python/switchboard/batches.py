"""Work that can wait goes through the Message Batches API, at half price ([BATCH] in ``switchboard.claude``).

What can wait: the classification of a polled feed item (nobody is waiting on a webhook), and decide on a
platform where Switchboard never replies (tickets and people, not a conversation). For those, the budgeted
client (``BudgetedLlm``, given a ``Resume``) does not call the model: it reserves the budget, records the
request as pending (``switchboard.dynamo.batches``) and raises ``AwaitingBatch``; the service leaves the task
where it is (RECEIVED or DECIDING) and the message is consumed.

A scheduled function (``functions/batch``) runs ``BatchRunner``: ``collect`` reads every open batch, and once
one has ended stores each request's result and sends its task's resume message (the same message the task
came in with, to the same queue, with the claim's owner), so the service resumes from the task's status and
finds the answer where the model call would be; ``submit`` sends every pending request as one new batch. An
errored or expired result is stored too: the resumed task then makes the call live, at full price.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger

from switchboard.dynamo.batches import BatchItem, DynamoBatchStore
from switchboard.errors import AwaitingBatch
from switchboard.ports import QueueSender

logger = Logger(child=True)

MAX_REQUESTS = 10_000  # [BATCH] allows 100,000 requests or 256 MB a batch; we stay far below both


@dataclass(frozen=True)
class Resume:
    """How the task comes back once its batch answered: ``QueueSender.send``'s arguments."""

    queue_url: str
    body: str
    group_id: str
    dedup_id: str
    attributes: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "queue_url": self.queue_url,
            "body": self.body,
            "group_id": self.group_id,
            "dedup_id": self.dedup_id,
            "attributes": dict(self.attributes),
        }


@dataclass
class RunReport:
    submitted: int = 0
    collected: int = 0
    resumed: int = 0
    still_open: int = 0


class BatchRunner:
    """Submits the pending requests as one batch and collects the batches that ended."""

    def __init__(self, store: DynamoBatchStore, queue: QueueSender, sdk: Callable[[], Any]) -> None:
        self.store = store
        self.queue = queue
        self.sdk = sdk

    def run(self) -> RunReport:
        report = RunReport()
        self.collect(report)
        self.submit(report)
        return report

    def submit(self, report: RunReport | None = None) -> str | None:
        report = report if report is not None else RunReport()
        items = self.store.pending(MAX_REQUESTS)
        if not items:
            return None
        batch = self.sdk().messages.batches.create(
            requests=[{"custom_id": item.custom_id, "params": item.params} for item in items]
        )
        self.store.submitted(batch.id, items)
        report.submitted += len(items)
        logger.info("batch submitted", batch_id=batch.id, requests=len(items))
        return str(batch.id)

    def collect(self, report: RunReport | None = None) -> None:
        report = report if report is not None else RunReport()
        open_batches = self.store.open_batches()
        if not open_batches:  # a tick with nothing to collect does not build the SDK (~1 s to import)
            return
        sdk = self.sdk()
        for batch_id in open_batches:
            batch = sdk.messages.batches.retrieve(batch_id)
            if batch.processing_status != "ended":
                report.still_open += 1
                continue
            for line in sdk.messages.batches.results(batch_id):
                item = self.store.item(batch_id, line.custom_id)
                if item is None:  # collected before, by an invocation that stopped half way
                    continue
                result = line.result.model_dump(mode="json", exclude_none=True)
                self.store.answered(item, result)
                self._resume(item)
                report.collected += 1
                report.resumed += 1
            self.store.collected(batch_id)
            logger.info("batch collected", batch_id=batch_id, counts=batch.request_counts.model_dump())

    def _resume(self, item: BatchItem) -> None:
        resume = item.resume
        self.queue.send(
            resume["queue_url"],
            resume["body"],
            group_id=resume["group_id"],
            dedup_id=resume["dedup_id"],
            attributes=resume.get("attributes") or None,
        )


__all__ = ["AwaitingBatch", "BatchItem", "BatchRunner", "Resume", "RunReport"]
