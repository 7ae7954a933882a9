"""An action's idempotency record on its task item (``switchboard.dynamo.idempotency``), on moto server
through the real boto3 client, under the real act service and Powertools' ``idempotent_function``.

The record is the action's in-flight mark while its call runs and its completion afterwards: the completion
write removes the mark, so the guard costs one request per action (the mark) where Powertools' memory-table
record cost two. Whatever the order of deliveries, racing copies and crashes, the service sees one call, the
task records one completion and ends DONE, and no mark is left behind.

A crash is a ``BaseException`` raised inside the guard: it passes Powertools' ``except Exception`` as a
killed process would, so no cleanup runs and the mark stays. The redelivery comes after the dead invocation's
end: the test's clock (the layer's, and the Lambda context's remaining time with it) moves past the mark.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyPersistenceLayerError
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from switchboard.act import ActService
from switchboard.actions.http import HttpCall
from switchboard.actworker import idempotent_runner
from switchboard.dynamo.idempotency import TaskActionRecords, task_of
from switchboard.errors import RecordFailed, TaskNotFound, TransientActionError
from switchboard.killswitch import KillSwitches
from switchboard.lifecycle import Lifecycle
from switchboard.models import ActionRequest, InboundEvent, Platform, Service, TaskStatus
from switchboard.retry import Delivery, RetryPolicy
from switchboard.state import TaskStore, in_flight_attribute

LABELS = {"repo": "octo-org/demo", "number": 7, "labels": ["bug"]}
#: Longer than any test step could take on a loaded machine: a live worker's mark never lapses by itself.
INVOCATION_SECONDS = 600


class Crash(BaseException):
    """The process dies here (no ``except Exception`` sees it)."""


class Clock:
    """The time as the layer and the Lambda context see it: real time plus ``offset``, which ``pass_time``
    moves past every mark written so far."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return datetime.now(UTC).timestamp() + self.offset

    def pass_time(self) -> None:
        self.offset += 2 * INVOCATION_SECONDS


class Context:
    """A Lambda context whose invocation ends INVOCATION_SECONDS after ``clock``'s now."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def get_remaining_time_in_millis(self) -> int:
        return int((INVOCATION_SECONDS + self.clock.offset) * 1000)


@dataclass
class FakeService:
    """The external service: its effects by action id; ``during_call`` runs inside the call after the effect
    (a racing worker, or a crash), ``fail_next`` fails that many calls before any effect."""

    effects: Counter[str] = field(default_factory=Counter)
    calls: int = 0
    during_call: list[Callable[[], None]] = field(default_factory=list)
    fail_next: int = 0

    base_url = "https://service.invalid"

    def describe(self, action: ActionRequest) -> HttpCall | None:
        return None

    def execute(self, action: ActionRequest) -> dict[str, Any]:
        self.calls += 1
        if self.fail_next:
            self.fail_next -= 1
            raise TransientActionError("github", "503 from the fake")
        self.effects[action.action_id] += 1
        while self.during_call:
            self.during_call.pop(0)()
        return {"labels": LABELS["labels"]}

    def find_effect(self, action: ActionRequest) -> dict[str, Any] | None:
        return {"labels": LABELS["labels"]} if self.effects[action.action_id] else None


class CrashingStore(TaskStore):
    """The task store, with a crash before the completion write when ``crash_before_record`` is set."""

    crash_before_record = False

    def complete_action(self, *args: Any, **kwargs: Any) -> Any:
        if self.crash_before_record:
            self.crash_before_record = False
            raise Crash
        return super().complete_action(*args, **kwargs)


class Visibility:
    def __init__(self) -> None:
        self.changes: list[int] = []

    def change(self, queue_url: str, receipt_handle: str, seconds: int) -> None:
        self.changes.append(seconds)


@dataclass
class World:
    store: CrashingStore
    memory: str
    dynamodb: Any
    clock: Clock = field(default_factory=Clock)
    service: FakeService = field(default_factory=FakeService)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (operation, table)

    def worker(
        self, *, policy: RetryPolicy | None = None, switches: KillSwitches | None = None
    ) -> ActService:
        """One execution environment's act service, with its record on the task item."""
        config = IdempotencyConfig(expires_after_seconds=86_400)
        config.register_lambda_context(Context(self.clock))  # type: ignore[arg-type]
        once = idempotent_runner(TaskActionRecords(self.store, clock=self.clock), config)
        return ActService(
            self.store,
            self.service,
            once=once,
            policy=policy or RetryPolicy(max_attempts=100, base_seconds=1, cap_seconds=1),
            visibility=Visibility(),
            switches=switches,
        )

    def dispatched(self) -> ActionRequest:
        """A new task, DISPATCHED with one action (as classify leaves it)."""
        event = InboundEvent(
            platform=Platform.GITHUB,
            event_id=str(uuid.uuid4()),
            event_type="issue_comment.created",
            author="mona",
            conversation=f"octo-org/demo#7-{uuid.uuid4().hex[:6]}",
            text="/label bug",
            received_at=datetime.now(UTC),
            context={"repo": "octo-org/demo", "number": "7"},
        )
        action = ActionRequest.for_task(event, 0, "github.add_labels", Service.GITHUB, LABELS)
        task = self.store.claim_and_open(event, owner="test").task
        assert task is not None
        task = self.store.transition(task, TaskStatus.CLASSIFIED, "classify", {}, actions=[action])
        self.store.transition(task, TaskStatus.DISPATCHED, "classify", {})
        return action

    def item(self, action: ActionRequest) -> dict[str, Any]:
        key = {"pk": {"S": f"task#{action.task_id}"}}
        item: dict[str, Any] = self.dynamodb.get_item(TableName=self.store.tasks_table, Key=key)["Item"]
        return item

    def deliver(self, worker: ActService, action: ActionRequest, attempt: int) -> str:
        """One delivery: the task's status, ``retry`` (the record failed: it comes back) or ``crash``."""
        try:
            return str(worker.process(action, Delivery("queue", f"receipt-{attempt}", attempt)))
        except RecordFailed:
            return "retry"
        except Crash:
            return "crash"


@pytest.fixture
def world(aws: Callable[[str], Any], tables: tuple[str, str]) -> World:
    dynamodb = aws("dynamodb")
    made = World(CrashingStore(*tables, dynamodb=dynamodb), tables[1], dynamodb)

    def count(params: dict[str, Any], model: Any, **_: Any) -> None:
        made.requests.append((model.name, params.get("TableName", "")))

    dynamodb.meta.events.register("provide-client-params.dynamodb.*", count)
    return made


def completions(world: World, action: ActionRequest) -> list[dict[str, Any]]:
    task = world.store.get(action.task_id)
    return [
        entry
        for entry in task.history
        if (entry.get("detail") or {}).get("action_id") == action.action_id and "result" in entry["detail"]
    ]


def assert_done_once(world: World, action: ActionRequest) -> None:
    task = world.store.get(action.task_id)
    assert world.service.effects[action.action_id] == 1, "one effect at the service"
    assert task.status is TaskStatus.DONE
    assert task.completed_actions == [action.action_id]
    assert len(completions(world, action)) == 1, "one completion recorded"
    assert in_flight_attribute(action.task_id, action.action_id) not in world.item(action), "no mark left"


# -- the record's states ---------------------------------------------------------------------------------


def test_the_task_id_is_read_from_the_action_id() -> None:
    assert task_of("tsk_0123456789abcdef01234567#20003") == "tsk_0123456789abcdef01234567"
    with pytest.raises(ValueError, match="not an action id"):
        task_of("no-ordinal")


def test_an_action_is_marked_in_flight_and_its_completion_removes_the_mark(world: World) -> None:
    action = world.dispatched()
    marks: list[bool] = []
    world.service.during_call.append(
        lambda: marks.append(in_flight_attribute(action.task_id, action.action_id) in world.item(action))
    )
    assert world.deliver(world.worker(), action, 1) == "DONE"
    assert marks == [True], "the mark is on the task while the call runs"
    assert_done_once(world, action)
    assert world.item(action)["version"] == {"N": "4"}, "the mark moved no version: opened, 2 moves, done"


def test_a_redelivery_after_the_completion_reads_the_result_from_the_refusal(world: World) -> None:
    action = world.dispatched()
    assert world.deliver(world.worker(), action, 1) == "DONE"
    world.requests.clear()
    assert world.deliver(world.worker(), action, 2) == "DONE"
    tasks = world.store.tasks_table
    # the refused mark brings the item back (ALL_OLD): no read for the record, one for settling the task
    assert world.requests == [("UpdateItem", tasks), ("GetItem", tasks)]
    assert_done_once(world, action)


def test_a_record_read_finds_the_completed_result(world: World) -> None:
    action = world.dispatched()
    world.deliver(world.worker(), action, 1)
    record = TaskActionRecords(world.store)._get_record(action.action_id)
    assert record.status == "COMPLETED"
    assert record.response_json_as_dict() == {"labels": ["bug"]}


def test_a_failed_call_removes_the_mark_and_the_retry_calls_again(world: World) -> None:
    action = world.dispatched()
    world.service.fail_next = 1
    assert world.deliver(world.worker(), action, 1) == "retry"
    assert in_flight_attribute(action.task_id, action.action_id) not in world.item(action)
    assert world.deliver(world.worker(), action, 2) == "DONE"
    assert world.service.calls == 2
    assert_done_once(world, action)


def test_a_copy_racing_the_call_is_told_to_come_back(world: World) -> None:
    action = world.dispatched()
    racer: list[str] = []
    world.service.during_call.append(lambda: racer.append(world.deliver(world.worker(), action, 1)))
    assert world.deliver(world.worker(), action, 1) == "DONE"
    assert racer == ["retry"]
    task = world.store.get(action.task_id)
    assert any((entry.get("detail") or {}).get("kind") == "contention" for entry in task.history)
    assert world.deliver(world.worker(), action, 2) == "DONE"  # the copy, back later: no second call
    assert_done_once(world, action)


def test_an_action_of_a_task_that_is_gone_makes_no_call_and_no_item(world: World) -> None:
    action = world.dispatched()
    missing = action.model_copy(update={"task_id": "tsk_gone", "action_id": "tsk_gone#0"})
    with pytest.raises(IdempotencyPersistenceLayerError) as raised:
        world.worker().process(missing, Delivery("queue", "receipt", 1))
    assert isinstance(raised.value.__cause__, TaskNotFound)
    assert world.service.calls == 0
    key = {"pk": {"S": "task#tsk_gone"}}
    assert "Item" not in world.dynamodb.get_item(TableName=world.store.tasks_table, Key=key)


def test_a_redriven_action_of_a_failed_task_reopens_and_finishes_it(world: World) -> None:
    action = world.dispatched()
    world.service.fail_next = 2
    worker = world.worker(policy=RetryPolicy(max_attempts=2, base_seconds=1, cap_seconds=1))
    assert world.deliver(worker, action, 1) == "retry"
    assert world.deliver(worker, action, 2) == "retry"  # the last attempt: to the DLQ, the task FAILED
    assert world.store.get(action.task_id).status is TaskStatus.FAILED
    assert world.deliver(worker, action, 1) == "DONE"  # redriven from the DLQ: a new message
    assert_done_once(world, action)
    task = world.store.get(action.task_id)
    assert any((entry.get("detail") or {}).get("reopened") for entry in task.history)


# -- one request fewer per action ------------------------------------------------------------------------


def test_the_act_path_makes_one_request_fewer_than_with_the_memory_table_record(world: World) -> None:
    tasks, memory = world.store.tasks_table, world.memory

    action = world.dispatched()
    world.requests.clear()
    assert world.deliver(world.worker(), action, 1) == "DONE"
    on_task = list(world.requests)

    action = world.dispatched()
    config = IdempotencyConfig(expires_after_seconds=86_400)
    config.register_lambda_context(Context(world.clock))  # type: ignore[arg-type]
    persistence = DynamoDBPersistenceLayer(
        table_name=memory,
        key_attr="pk",
        sort_key_attr="sk",
        expiry_attr="expires_at",
        boto3_client=world.dynamodb,
    )
    before = ActService(world.store, world.service, once=idempotent_runner(persistence, config))
    world.requests.clear()
    assert str(before.process(action)) == "DONE"
    in_memory = list(world.requests)

    assert on_task == [("UpdateItem", tasks), ("UpdateItem", tasks)]  # the mark; the completion, DONE
    # the record in progress; the completion, DONE (written inside the guard); the record completed
    assert in_memory == [("PutItem", memory), ("UpdateItem", tasks), ("UpdateItem", memory)]
    assert len(on_task) == len(in_memory) - 1


# -- interleavings: deliveries, racing copies and crashes ------------------------------------------------

FATES = ("ok", "transient", "crash_after_call", "crash_before_record", "race", "race_then_crash")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fates=st.lists(st.sampled_from(FATES), min_size=1, max_size=5))
@example(fates=["crash_after_call"])
@example(fates=["crash_before_record"])
@example(fates=["race_then_crash", "race"])
def test_whatever_the_interleaving_one_call_one_completion(world: World, fates: list[str]) -> None:
    """Deliveries of one action in turn, each with its fate; then the message comes back until it is done,
    and the copies that raced come back too. Attempt > 1 asks the service first (``find_effect``)."""
    action = world.dispatched()
    world.service = FakeService()
    copies = 0
    attempt = 0
    for fate in fates:
        if world.store.get(action.task_id).status is TaskStatus.DONE:
            break
        attempt += 1
        if fate == "transient":
            world.service.fail_next = 1
        if fate in ("race", "race_then_crash"):
            copies += 1
            world.service.during_call.append(lambda: _race(world, action))
        if fate in ("crash_after_call", "race_then_crash"):
            world.service.during_call.append(_crash)
        if fate == "crash_before_record":
            world.store.crash_before_record = True
        outcome = world.deliver(world.worker(), action, attempt)
        world.service.during_call.clear()
        world.store.crash_before_record = False
        if outcome == "crash":
            world.clock.pass_time()  # the redelivery comes after the dead invocation's end
    while world.store.get(action.task_id).status is not TaskStatus.DONE:
        attempt += 1
        assert attempt < 20, "the action never finished"
        world.deliver(world.worker(), action, attempt)
    for _ in range(copies):  # each copy that was told to come back, later
        assert world.deliver(world.worker(), action, 2) == "DONE"
    assert_done_once(world, action)


def _race(world: World, action: ActionRequest) -> None:
    """A copy of the action on another worker while the call runs: told to come back (in progress)."""
    assert world.deliver(world.worker(), action, 1) == "retry"


def _crash() -> None:
    raise Crash


def test_shadow_mode_records_the_description_under_the_same_guard(world: World) -> None:
    class Shadow(KillSwitches):
        def __init__(self) -> None:
            pass

        def disabled(self, ability: str) -> bool:
            return False

        def shadow_mode(self) -> bool:
            return True

    action = world.dispatched()
    worker = world.worker(switches=Shadow())
    assert world.deliver(worker, action, 1) == "DONE"
    assert world.deliver(worker, action, 2) == "DONE"
    assert world.service.calls == 0
    [completion] = completions(world, action)
    assert completion["detail"]["result"]["shadow"] is True
    assert in_flight_attribute(action.task_id, action.action_id) not in world.item(action)


def test_the_lifecycle_completion_alone_clears_a_mark(world: World) -> None:
    """Whatever records an action's completion removes its mark (a follow-up's own completion has none)."""
    action = world.dispatched()
    assert world.store.start_action(action.task_id, action.action_id, until_ms=2**40, now_ms=0) is None
    state = world.store.start_action(action.task_id, action.action_id, until_ms=2**40, now_ms=0)
    assert state is not None and state.in_flight_until_ms == 2**40 and not state.completed
    Lifecycle(world.store).complete(action.task_id, action.action_id, "act", {"result": {}}, action=True)
    assert in_flight_attribute(action.task_id, action.action_id) not in world.item(action)
    state = world.store.start_action(action.task_id, action.action_id, until_ms=2**40, now_ms=0)
    assert state is not None and state.completed and state.result == {}
