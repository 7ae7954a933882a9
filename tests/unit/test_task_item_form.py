"""The task item's stored form (``switchboard.state``): small, and read back exactly as it was written; an
item of the older plain form (the event as a JSON string, whole actions and ids, ISO times) still reads."""

from __future__ import annotations

import json
import zlib
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.dynamo import to_item
from switchboard.models import ActionRequest, InboundEvent, Platform, Service, TaskStatus
from switchboard.state import (
    EVENT_DICTIONARIES,
    EVENT_DICTIONARY,
    Task,
    history_entry,
    now_iso,
    read_actions,
    read_entry,
    stored_actions,
    stored_entry,
    stored_event,
    stored_item,
)
from tests.fakes import github_event

TASK = "tsk_0123456789abcdef01234567"
text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=60)
short = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=40)

events = st.builds(
    InboundEvent,
    platform=st.sampled_from(list(Platform)),
    event_id=short,
    content_id=st.none() | short,
    event_type=short,
    author=st.none() | text,
    author_is_bot=st.booleans(),
    conversation=short,
    text=text,
    links=st.lists(text, max_size=3),
    received_at=st.datetimes(timezones=st.sampled_from([UTC])),
    raw_ref=st.none() | text,
    context=st.dictionaries(text, text, max_size=4),
)


def plain_task(event: InboundEvent, **attributes: Any) -> dict[str, Any]:
    """A new task's attributes as ``TaskStore.claim_and_open`` builds them."""
    entry = history_entry(TaskStatus.RECEIVED, "classify", {"event_type": event.event_type})
    return {
        "task_id": event.task_id,
        "event_id": event.event_id,
        "platform": event.platform.value,
        "conversation": event.conversation,
        "author": event.author,
        "status": "RECEIVED",
        "version": 1,
        "history": [entry],
        "created_at": entry["at"],
        "expires_at": 1_900_000_000,
        "event": event.model_dump_json(),
        **attributes,
    }


@settings(max_examples=150, deadline=None)
@given(events)
def test_any_event_round_trips_through_the_stored_form(event: InboundEvent) -> None:
    plain = plain_task(event)
    item = {"pk": {"S": f"task#{event.task_id}"}, **stored_item(plain, event)}
    assert set(item["event"]) == {"B"} and set(item["history"]["L"][0]["M"]) == {"t", "a", "s"}  # no detail
    task = Task.from_item(item)
    assert task.inbound_event() == event
    assert task.history == plain["history"] and task.history[0]["detail"] == {"event_type": event.event_type}
    assert (task.task_id, task.event_id, task.platform) == (event.task_id, event.event_id, event.platform)


def test_the_stored_event_holds_only_what_the_item_does_not_and_deflates_with_its_dictionary() -> None:
    event = github_event("/label bug", content_id="issue_comment.created:1:2026-11-21T08:30:00Z")
    blob = stored_event(event)
    assert zlib.adler32(EVENT_DICTIONARY) in EVENT_DICTIONARIES and blob[1] & 0x20
    body = json.loads(zlib.decompressobj(zdict=EVENT_DICTIONARY).decompress(blob))
    assert not {"event_id", "platform", "author", "conversation", "links", "author_is_bot"} & set(body)
    assert len(blob) < len(event.model_dump_json()) / 2


def test_an_event_deflated_without_a_dictionary_reads_too() -> None:
    event = github_event()
    item = to_item({key: value for key, value in plain_task(event).items() if key != "event"})
    item["event"] = {"B": zlib.compress(event.model_dump_json().encode())}
    assert Task.from_item(item).inbound_event() == event


ids = st.sampled_from([f"{TASK}#0", f"{TASK}#12", f"{TASK}#plan:3", "tsk_other#1", "x", "#5-not-ours"])


@settings(max_examples=200, deadline=None)
@given(
    action_id=ids,
    ids=st.lists(ids, max_size=3),
    other=st.dictionaries(st.sampled_from(["note", "reason", "result", "attempt"]), text, max_size=3),
    status=st.none() | st.sampled_from(list(TaskStatus)),
)
def test_history_entries_read_back_as_they_were_written(
    action_id: str, ids: list[str], other: dict[str, str], status: TaskStatus | None
) -> None:
    detail: dict[str, Any] = {
        **other,
        "action_id": action_id,
        "actions": ids,
        "sent": [{"action_id": each, "service": "github"} for each in ids],
        "policy": [{"action_id": each, "allowed": True} for each in ids] + ["not a verdict"],
    }
    if "#5-not-ours" in [action_id, *ids]:  # no action id begins with "#" (they begin with their task id)
        detail = other
    entry = history_entry(status, "act", detail)
    stored = stored_entry(entry, TASK)
    assert isinstance(stored["t"], int) and set(stored) <= {"t", "a", "s", "f", "d"}  # one-letter names
    assert read_entry(stored, TASK) == entry
    assert TASK not in json.dumps(stored)  # the task's own ids without it


def test_a_time_of_another_form_is_kept_as_it_is() -> None:
    for at in (
        "2026-12-02T06:24:33.695123+00:00",
        "2026-12-02T06:24:33Z",
        "yesterday",
        "2026-12-02T06:24:33",
    ):
        entry: dict[str, Any] = {"at": at, "actor": "x", "detail": {}}
        assert stored_entry(entry, TASK) == {"t": at, "a": "x", "d": {}}  # the time as it is
        assert read_entry(stored_entry(entry, TASK), TASK) == entry
    at = now_iso()
    assert read_entry(stored_entry({"at": at}, TASK), TASK) == {"at": at}
    # an entry of another shape (a name outside the entry's own) is stored and read as it is
    odd = {"at": at, "actor": "x", "extra": 1}
    assert stored_entry(odd, TASK)["extra"] == 1 and read_entry(stored_entry(odd, TASK), TASK) == odd


def test_actions_read_back_whole() -> None:
    event = github_event()
    own = ActionRequest.for_task(event, 0, "github.add_labels", Service.GITHUB, {"labels": ["bug"]})
    foreign = ActionRequest(
        action_id=f"{event.task_id}#reply:0",
        task_id=event.task_id,
        event_id="another-delivery",
        ordinal=7,
        service=Service.SLACK,
        ability="slack.reply",
        params={"text": "hi"},
        conversation="C1:1.0",
    )
    actions = [action.model_dump(mode="json") for action in (own, foreign)]
    item = {"task_id": event.task_id, "event_id": event.event_id, "conversation": event.conversation}
    stored = stored_actions(actions, item)
    assert stored[0] == {
        "ordinal": 0,
        "service": "github",
        "ability": "github.add_labels",
        "params": {"labels": ["bug"]},
    }
    assert stored[1]["event_id"] == "another-delivery" and "action_id" in stored[1]
    assert [ActionRequest.model_validate(each) for each in read_actions(stored, item)] == [own, foreign]


def test_an_item_of_the_older_plain_form_still_reads() -> None:
    event = github_event()
    action = ActionRequest.for_task(event, 0, "github.add_labels", Service.GITHUB, {"labels": ["bug"]})
    at = datetime(2026, 11, 30, 9, 0, tzinfo=UTC).isoformat(timespec="milliseconds")
    old = plain_task(
        event,
        status="DONE",
        version=3,
        history=[
            {"at": at, "actor": "classify", "detail": {"event_type": event.event_type}, "status": "RECEIVED"},
            {"at": at, "actor": "act", "detail": {"action_id": action.action_id, "result": {"status": 200}}},
            {"at": at, "actor": "act", "detail": {"actions": [action.action_id]}, "status": "DONE"},
        ],
        actions=[action.model_dump(mode="json")],
    )
    item = {"pk": {"S": f"task#{event.task_id}"}, **to_item(old)}
    item["completed_actions"] = {"SS": [action.action_id]}
    task = Task.from_item(item)
    assert task.inbound_event() == event
    assert task.history == old["history"] and task.action_requests() == [action]
    assert task.completed_actions == [action.action_id]
