"""GitHub discussions are refused with a reason on the task: the abilities act through the REST Issues API,
where a discussion's number names another thing (or nothing), so no action is ever planned for one."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from switchboard.adapters import Accepted, WebhookRequest, adapter_for
from switchboard.classify import ClassifyService
from switchboard.models import TaskStatus
from switchboard.rules import DiscussionsUnsupported, default_chain
from tests.conftest import load_event
from tests.fakes import act_queue_url, github_event
from tests.fakes.tasks import InMemoryQueue, InMemoryTaskRepository


@pytest.mark.parametrize("kind", ["discussion.created", "discussion_comment.created"])
@pytest.mark.parametrize(
    "text", ["/label security, approved", "/close", "/assign me", "help", "Is this a bug?"]
)
def test_a_discussion_event_ends_dropped_with_the_reason_and_sends_nothing(kind: str, text: str) -> None:
    payload = load_event(f"github/{kind}.json")
    payload["comment" if "comment" in payload else "discussion"]["body"] = text
    headers = {"x-github-delivery": "d-1", "x-github-event": kind.split(".")[0]}
    request = WebhookRequest(headers, json.dumps(payload).encode(), datetime.now(UTC))
    result = adapter_for("github").interpret(request, payload)
    assert isinstance(result, Accepted)
    tasks, queue = InMemoryTaskRepository(), InMemoryQueue()
    service = ClassifyService(
        tasks, queue, act_queue_url, "https://sqs.local/decide.fifo", default_chain(), None
    )
    # Without a model a task that reached classification would go to a person: DROPPED is the rule's.
    assert service.process(result.event, "m-1") is TaskStatus.DROPPED
    task = tasks.get(result.event.task_id)
    assert task.reason == "discussions are not supported yet"
    assert task.history[-1]["detail"]["rule"] == DiscussionsUnsupported.name
    assert queue.sent == []


def test_issues_and_pull_requests_are_not_refused() -> None:
    assert DiscussionsUnsupported().evaluate(github_event(), None) is None  # type: ignore[arg-type]
