"""Exactly once means once per logical event: every delivery of one message is one task and one action.

Slack sends a ``message`` and an ``app_mention`` (two ``event_id``s) for one message that mentions the bot,
and may resend either under a new ``event_id``; GitHub does not sign ``X-GitHub-Delivery``, so one signed
body can arrive under any number of delivery ids. The adapters give each event its content identity, the
claim records it as a second key, and classify skips every delivery after the first, whichever id it came
with.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from switchboard import classify as classify_module
from switchboard.adapters import Accepted, WebhookRequest, adapter_for
from switchboard.catalog import Metric
from switchboard.classify import ClassifyService
from switchboard.models import InboundEvent, TaskStatus
from switchboard.rules import default_chain
from tests.conftest import load_event
from tests.fakes import act_queue_url
from tests.fakes.tasks import InMemoryQueue, InMemoryTaskRepository

DECIDE_URL = "https://sqs.local/decide.fifo"
SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

ids = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", min_size=6, max_size=12)
slack_ts = st.builds(
    lambda s, u: f"{s}.{u:06d}", st.integers(1_600_000_000, 1_900_000_000), st.integers(0, 999_999)
)


def interpret(platform: str, payload: dict[str, Any], headers: dict[str, str] | None = None) -> InboundEvent:
    request = WebhookRequest(headers or {}, json.dumps(payload).encode(), datetime.now(UTC))
    result = adapter_for(platform).interpret(request, payload)
    assert isinstance(result, Accepted), result
    return result.event


def slack_payload(kind: str, event_id: str, team: str, channel: str, ts: str, text: str) -> dict[str, Any]:
    payload = load_event("slack/event_callback.message.json")
    payload |= {"event_id": event_id, "team_id": team}
    payload["event"] |= {"type": kind, "channel": channel, "ts": ts, "event_ts": ts, "text": text}
    return payload


def github_delivery(delivery: str, comment_id: int, updated_at: str) -> tuple[dict[str, Any], dict[str, str]]:
    payload = copy.deepcopy(load_event("github/issue_comment.label_bug.json"))
    payload["comment"] |= {"id": comment_id, "updated_at": updated_at}
    return payload, {"x-github-delivery": delivery, "x-github-event": "issue_comment"}


@pytest.fixture
def duplicates(monkeypatch: pytest.MonkeyPatch) -> list[Metric]:
    counted: list[Metric] = []
    monkeypatch.setattr(classify_module, "count", lambda metric, *_, **__: counted.append(metric))
    return counted


def run(events: list[InboundEvent]) -> tuple[InMemoryTaskRepository, InMemoryQueue, list[TaskStatus | None]]:
    """Each delivery is its own queue message (its own message id), as the door enqueues them."""
    tasks, queue = InMemoryTaskRepository(), InMemoryQueue()
    service = ClassifyService(tasks, queue, act_queue_url, DECIDE_URL, default_chain(), llm=None)
    outcomes = [service.process(event, f"msg-{n}") for n, event in enumerate(events)]
    return tasks, queue, outcomes


def opened(tasks: InMemoryTaskRepository, events: list[InboundEvent]) -> set[str]:
    return {task.task_id for event in events for task in tasks.find_by_event(event.event_id)}


@SETTINGS
@given(
    team=ids,
    channel=ids,
    ts=slack_ts,
    kinds=st.lists(st.sampled_from(["message", "app_mention"]), min_size=2, max_size=4),
    event_ids=st.lists(ids, min_size=4, max_size=4, unique=True),
)
def test_every_slack_delivery_of_one_message_is_one_task_and_one_reply(
    duplicates: list[Metric], team: str, channel: str, ts: str, kinds: list[str], event_ids: list[str]
) -> None:
    duplicates.clear()
    events = [
        interpret("slack", slack_payload(kind, f"Ev{event_id}", f"T{team}", f"C{channel}", ts, "help"))
        for kind, event_id in zip(kinds, event_ids, strict=False)
    ]
    assert len({event.event_id for event in events}) == len(events)
    assert len({event.content_id for event in events}) == 1
    tasks, queue, outcomes = run(events)
    assert outcomes[0] is TaskStatus.DISPATCHED
    assert outcomes[1:] == [None] * (len(events) - 1)
    assert opened(tasks, events) == {events[0].task_id}
    [reply] = queue.actions()
    assert (reply.ability, reply.task_id) == ("slack.reply", events[0].task_id)
    assert duplicates.count(Metric.EVENTS_DUPLICATE) == len(events) - 1


@SETTINGS
@given(
    comment_id=st.integers(1, 2**53),
    updated_at=st.datetimes(timezones=st.just(UTC)).map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ")),
    deliveries=st.lists(st.uuids().map(str), min_size=2, max_size=5, unique=True),
)
def test_one_signed_github_body_under_any_delivery_ids_is_one_task_and_one_action(
    duplicates: list[Metric], comment_id: int, updated_at: str, deliveries: list[str]
) -> None:
    duplicates.clear()
    events = [interpret("github", *github_delivery(d, comment_id, updated_at)) for d in deliveries]
    tasks, queue, outcomes = run(events)
    assert outcomes == [TaskStatus.DISPATCHED] + [None] * (len(events) - 1)
    assert opened(tasks, events) == {events[0].task_id}
    [label] = queue.actions()
    assert (label.ability, label.params["labels"]) == ("github.add_labels", ["bug"])
    assert duplicates.count(Metric.EVENTS_DUPLICATE) == len(events) - 1


@SETTINGS
@given(comment_ids=st.lists(st.integers(1, 2**53), min_size=2, max_size=4, unique=True))
def test_distinct_github_comments_are_distinct_tasks(
    duplicates: list[Metric], comment_ids: list[int]
) -> None:
    events = [
        interpret("github", *github_delivery(f"d-{n}", comment_id, "2025-11-21T08:00:00Z"))
        for n, comment_id in enumerate(comment_ids)
    ]
    tasks, queue, outcomes = run(events)
    assert outcomes == [TaskStatus.DISPATCHED] * len(events)
    assert len(opened(tasks, events)) == len(events) == len(queue.actions())


def test_a_redelivery_of_the_same_queue_message_still_resumes_its_task() -> None:
    """The owner decides: the message that took the claims resumes its task after a crash; another message
    carrying the same logical event under a new id is a duplicate."""
    first = interpret("github", *github_delivery("d-1", 42, "2025-11-21T08:00:00Z"))
    again = interpret("github", *github_delivery("d-2", 42, "2025-11-21T08:00:00Z"))
    tasks, queue = InMemoryTaskRepository(), InMemoryQueue(fail_next=1)
    service = ClassifyService(tasks, queue, act_queue_url, DECIDE_URL, default_chain(), llm=None)
    with pytest.raises(ConnectionError):
        service.process(first, "msg-1")
    # The classification is written with the dispatch (one write), so a failed send leaves the task as
    # the claim opened it, and the redelivery classifies it again.
    assert tasks.get(first.task_id).status is TaskStatus.RECEIVED
    assert service.process(again, "msg-2") is None
    assert service.process(first, "msg-1") is TaskStatus.DISPATCHED
    assert len(queue.actions()) == 1


def test_each_kind_names_its_logical_event_by_its_subject() -> None:
    comment = interpret("github", *github_delivery("d-1", 42, "2025-11-21T08:00:00Z"))
    edited = interpret("github", *github_delivery("d-2", 42, "2025-11-21T09:30:00Z"))
    assert comment.content_id == "issue_comment.created:42:2025-11-21T08:00:00Z"
    assert edited.content_id != comment.content_id  # a later edit is a new logical event
    for name, subject in [
        ("issues.opened", "issue"),
        ("discussion.created", "discussion"),
        ("discussion_comment.created", "comment"),
        ("pull_request_review_comment.created", "comment"),
    ]:
        payload = load_event(f"github/{name}.json")
        headers = {"x-github-delivery": "d-9", "x-github-event": name.split(".")[0]}
        event = interpret("github", payload, headers)
        assert event.content_id == f"{name}:{payload[subject]['id']}:{payload[subject]['updated_at']}"
    slack = interpret("slack", load_event("slack/event_callback.message.json"))
    assert slack.content_id == "T061EG9R6:C024BE91L:1763712000.000200"
    standard = interpret("standard", load_event("standard/comment.created.json"), {"webhook-id": "msg_1"})
    assert standard.content_id == "msg_1"


def test_a_github_body_without_ids_is_named_by_its_digest() -> None:
    payload, headers = github_delivery("d-1", 42, "2025-11-21T08:00:00Z")
    del payload["comment"]["id"]
    one = interpret("github", payload, headers)
    two = interpret("github", payload, {**headers, "x-github-delivery": "d-2"})
    payload["comment"]["body"] = "/label other"
    three = interpret("github", payload, headers)
    assert one.content_id == two.content_id != three.content_id
    assert one.content_id is not None and ":sha256:" in one.content_id
