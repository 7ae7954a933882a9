"""Decide's handler tells the service whether SQS delivers a message for the first time: only then may the
task carried by the message stand in for a read of it (``DecideService.process``)."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from switchboard.models import DecideRequest, InboundEvent, Platform

HANDLER = Path(__file__).parents[2] / "functions" / "decide" / "handler.py"


def _handler() -> ModuleType:
    spec = importlib.util.spec_from_file_location("decide_handler_under_test", HANDLER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Service:
    def __init__(self) -> None:
        self.seen: list[tuple[str, bool]] = []

    def process(self, request: DecideRequest, *, first_receive: bool = False) -> None:
        self.seen.append((request.task_id, first_receive))


def _record(receive_count: str) -> SQSRecord:
    event = InboundEvent(
        platform=Platform.GITHUB,
        event_id="d-1",
        event_type="issue_comment.created",
        conversation="octo-org/demo#7",
        text="How do I configure the webhook secret?",
        received_at=datetime(2026, 12, 2, tzinfo=UTC),
    )
    request = DecideRequest(
        task_id=event.task_id, event=event, intent="question", confidence=0.9, task_version=2
    )
    raw: dict[str, Any] = {
        "messageId": f"m-{receive_count}",
        "body": request.model_dump_json(),
        "attributes": {"ApproximateReceiveCount": receive_count, "MessageGroupId": event.conversation},
    }
    return SQSRecord(raw)


@pytest.mark.parametrize(("receive_count", "first"), [("1", True), ("2", False), ("7", False)])
def test_only_the_first_receive_is_passed_as_one(
    monkeypatch: pytest.MonkeyPatch, receive_count: str, first: bool
) -> None:
    handler = _handler()
    service = Service()
    monkeypatch.setattr(handler, "service", lambda: service)
    handler.decide_record(_record(receive_count))
    [(_, seen)] = service.seen
    assert seen is first
