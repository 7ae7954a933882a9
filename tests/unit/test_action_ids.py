"""The allocator's guarantee: named ranges that never overlap, every allocation inside its range, and a
person's actions numbered from the append-only history, so no two actions of a task ever share an id."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard import action_ids
from switchboard.action_ids import (
    ACCESS_ESCALATION,
    ESCALATION,
    PERSON,
    PLANNED,
    RANGES,
    REPLY,
    send_action,
)
from switchboard.errors import OrdinalOutOfRange
from switchboard.lifecycle import Lifecycle
from switchboard.models import ActionRequest, InboundEvent, Platform, Service, TaskStatus
from switchboard.operations import resolve_with_action
from tests.fakes.tasks import InMemoryQueue, InMemoryTaskRepository

staged_ordinals = st.one_of(
    st.integers(PLANNED.start, PLANNED.stop - 1), st.integers(PERSON.start, PERSON.stop - 1)
)
escalatable_ordinals = st.one_of(staged_ordinals, st.integers(REPLY.start, REPLY.stop - 1))


def test_the_ranges_never_overlap() -> None:
    for first, second in itertools.combinations(RANGES, 2):
        assert first.stop <= second.start or second.stop <= first.start, (first, second)
    assert len({r.name for r in RANGES}) == len(RANGES)


@given(st.integers(-1_000, 100_000))
def test_every_ordinal_is_in_at_most_one_range(ordinal: int) -> None:
    assert sum(ordinal in r for r in RANGES) <= 1


@given(st.integers(PLANNED.start, PLANNED.stop - 1))
def test_a_planned_action_lands_in_the_planned_range(position: int) -> None:
    assert action_ids.range_of(action_ids.planned(position)) is PLANNED


def test_the_escalation_of_a_task_is_one_ordinal_of_its_own() -> None:
    assert action_ids.range_of(action_ids.escalation()) is ESCALATION
    assert action_ids.escalation() == action_ids.escalation()


@given(staged_ordinals)
def test_a_reply_lands_in_the_reply_range_one_per_staged_action(staged: int) -> None:
    reply = action_ids.reply_to(staged)
    assert action_ids.range_of(reply) is REPLY
    assert reply == action_ids.reply_to(staged)  # deterministic: a retry computes the same id


@given(escalatable_ordinals, escalatable_ordinals)
def test_access_escalations_land_in_their_range_one_per_failed_action(first: int, second: int) -> None:
    one, other = action_ids.access_escalation(first), action_ids.access_escalation(second)
    assert action_ids.range_of(one) is ACCESS_ESCALATION
    assert (one == other) == (first == second)


@pytest.mark.parametrize("position", [-1, PLANNED.stop, 10_000])
def test_an_allocation_that_would_leave_its_range_is_refused(position: int) -> None:
    with pytest.raises(OrdinalOutOfRange):
        action_ids.planned(position)


@pytest.mark.parametrize("source", [ESCALATION.start, REPLY.start, ACCESS_ESCALATION.start, 500])
def test_a_reply_only_follows_a_planned_or_chosen_action(source: int) -> None:
    with pytest.raises(OrdinalOutOfRange):
        action_ids.reply_to(source)


@pytest.mark.parametrize("source", [ESCALATION.start, ACCESS_ESCALATION.start, ACCESS_ESCALATION.stop])
def test_an_escalation_is_never_escalated_again(source: int) -> None:
    with pytest.raises(OrdinalOutOfRange):
        action_ids.access_escalation(source)


def test_a_person_range_runs_out_loudly() -> None:
    history = [{"detail": {"resolution": "action"}}] * (PERSON.stop - PERSON.start)
    with pytest.raises(OrdinalOutOfRange):
        action_ids.person(history)


@given(
    st.lists(st.sampled_from(["planned", "escalation", "reply", "access", "person"]), max_size=60),
    st.data(),
)
def test_no_two_allocations_of_different_sources_share_an_ordinal(
    kinds: list[str], data: st.DataObject
) -> None:
    """Whatever a task goes through, each (kind, source) has its own ordinal."""
    allocated: dict[int, tuple[str, int]] = {}
    people = 0
    for kind in kinds:
        if kind == "planned":
            source = data.draw(st.integers(PLANNED.start, PLANNED.stop - 1))
            ordinal = action_ids.planned(source)
        elif kind == "escalation":
            source, ordinal = 0, action_ids.escalation()
        elif kind == "reply":
            source = data.draw(staged_ordinals)
            ordinal = action_ids.reply_to(source)
        elif kind == "access":
            source = data.draw(escalatable_ordinals)
            ordinal = action_ids.access_escalation(source)
        else:
            history = [{"detail": {"resolution": "action"}}] * people
            source, ordinal = people, action_ids.person(history)
            people += 1
        assert allocated.setdefault(ordinal, (kind, source)) == (kind, source)


def event() -> InboundEvent:
    return InboundEvent(
        platform=Platform.GITHUB,
        event_id="delivery-people",
        event_type="issues.opened",
        author="mona",
        conversation="octo-org/demo#7",
        text="Something is odd.",
        received_at=datetime.now(UTC),
        context={"repo": "octo-org/demo", "number": "7"},
    )


def url(service: Service | str) -> str:
    return f"https://sqs.local/act-{Service(service).value}.fifo"


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.sampled_from(["github.comment", "github.add_labels", "tickets.create"]), min_size=1, max_size=12
    )
)
def test_a_persons_actions_are_unique_across_many_resolutions(abilities: list[str]) -> None:
    """Each resolution replaces ``task.actions``; the history still counts every earlier choice."""
    tasks, queue = InMemoryTaskRepository(), InMemoryQueue()
    inbound = event()
    task = tasks.claim_and_open(inbound, owner="m-1", actor="classify").task
    assert task is not None
    tasks.transition(task, TaskStatus.NEEDS_HUMAN, "classify", {}, reason="unsure")
    params: dict[str, dict[str, Any]] = {
        "github.comment": {"body": "answered"},
        "github.add_labels": {"labels": ["bug"]},
        "tickets.create": {"title": "A ticket", "body": "by hand"},
    }
    chosen: list[str] = []
    for name in abilities:
        resolved = resolve_with_action(
            tasks, queue, url, inbound.task_id, by="ada", ability_name=name, params=params[name]
        )
        [action] = resolved.action_requests()
        assert action_ids.range_of(action.ordinal) is PERSON
        chosen.append(action.action_id)
        Lifecycle(tasks).end(inbound.task_id, TaskStatus.FAILED, "act", {"kind": "permanent"}, "refused")
    assert len(set(chosen)) == len(chosen)
    assert [m.dedup_id for m in queue.sent] == chosen  # none was dropped at the queue as a duplicate


def test_send_action_sends_to_the_services_queue_keyed_by_the_action() -> None:
    queue = InMemoryQueue()
    action = ActionRequest.for_task(
        event(), 3, "github.comment", Service.GITHUB, {"repo": "o/r", "number": 1, "body": "hi"}
    )
    message_id = send_action(queue, url, action)
    [sent] = queue.sent
    assert message_id == "msg-1"
    assert (sent.queue_url, sent.group_id, sent.dedup_id) == (
        url(Service.GITHUB),
        action.conversation,
        action.action_id,
    )
    assert ActionRequest.model_validate_json(sent.body) == action
