"""The plan watch (``switchboard.plans.watch``): a started plan's task that went idle is handed to a person
when its durable execution ended (any status but RUNNING or paused, or unknown to Lambda), and left alone
while it runs; a task that moved on in the meantime is never touched; a second run pages nobody again."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.lifecycle import Lifecycle
from switchboard.models import Service, TaskStatus
from switchboard.plans.watch import STILL_GOING, ExecutionState, PlanWatch, execution_of
from switchboard.state import Task
from tests.fakes import act_queue_url, github_event
from tests.fakes.tasks import InMemoryQueue, InMemoryTaskRepository

ARN = "arn:aws:lambda:eu-west-1:123456789012:function:Plan:7/durable-execution/{task}/run-1"
#: Every status the botocore model (1.44) lists for a durable execution.
STATUSES = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "STOPPED", "DELETING", "PAUSING", "PAUSED")


@dataclass
class Executions:
    """Lambda's answer per execution ARN (an external API: this double only answers what a test sets)."""

    states: dict[str, ExecutionState] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)
    by_name: dict[str, ExecutionState] = field(default_factory=dict)

    def state(self, execution_arn: str) -> ExecutionState:
        self.asked.append(execution_arn)
        return self.states.get(execution_arn, ExecutionState(None))

    def named(self, execution_name: str) -> ExecutionState:
        self.asked.append(f"name:{execution_name}")
        return self.by_name.get(execution_name, ExecutionState(None))


@dataclass
class World:
    tasks: InMemoryTaskRepository = field(default_factory=InMemoryTaskRepository)
    queue: InMemoryQueue = field(default_factory=InMemoryQueue)
    executions: Executions = field(default_factory=Executions)
    now: float = 0.0

    def __post_init__(self) -> None:
        self.lifecycle = Lifecycle(self.tasks, self.queue, act_queue_url)

    def watch(self) -> PlanWatch:
        import time

        self.now = time.time() + 3_600  # every task written so far is idle
        return PlanWatch(self.lifecycle, self.executions, clock=lambda: self.now)

    def planning(self, n: int, *, steps: int = 0, noted_arn: bool = True) -> Task:
        event = github_event("Please look into the flaky upload", event_id=f"d-{n}")
        task = self.tasks.claim_and_open(event, owner="m", actor="classify").task
        assert task is not None
        task = self.lifecycle.classify(task, "classify", {"intent": "bug"}, route="decide")
        task = self.lifecycle.start_deciding(task, "decide", {})
        # without an ARN from Invoke, the start notes the execution's name, the task id (plans.start)
        arn = ARN.format(task=task.task_id) if noted_arn else task.task_id
        self.lifecycle.plan_started(task.task_id, "decide", {"plan_started": {"why": "x", "execution": arn}})
        for i in range(steps):
            output = {"status": "done"}
            step = {"plan": 0, "step": f"s{i}", "kind": "action", "output": output, "action_id": f"a{i}"}
            self.lifecycle.note(task.task_id, "plan", {"plan_step": step})
        return self.tasks.get(task.task_id)

    def pages(self) -> list[str]:
        return [a.task_id for a in self.queue.actions(act_queue_url(Service.ESCALATE))]


@pytest.mark.parametrize("status", [s for s in STATUSES if s not in STILL_GOING] + [None])
def test_an_ended_execution_hands_its_task_to_a_person_with_what_the_plan_did(status: str | None) -> None:
    world = World()
    task = world.planning(1, steps=2)
    arn = execution_of(task)
    assert arn is not None
    if status is not None:
        world.executions.states[arn] = ExecutionState(status, "Crashed: worker exited 137")
    report = world.watch().run()
    stored = world.tasks.get(task.task_id)
    assert stored.status is TaskStatus.NEEDS_HUMAN
    assert report["ended"] == [{"task_id": task.task_id, "execution": status, "task": "NEEDS_HUMAN"}]
    why = stored.reason or ""
    assert (status or "unknown to Lambda") in why and "before the plan finished" in why
    if status is not None:
        assert "Crashed: worker exited 137" in why
    detail = stored.history[-1]["detail"]
    assert detail["plan_watch"] == {
        "execution": arn,
        "status": status,
        "error": "Crashed: worker exited 137" if status else "",
    }
    assert "plan step 0.s0: done" in detail["tried"]
    assert "actions sent before it stopped: a0, a1" in detail["tried"]
    assert world.pages() == [task.task_id]
    # The move removed the watch mark: the next run asks nothing and pages nobody again.
    world.executions.asked.clear()
    assert world.watch().run() == {"idle": 0, "running": 0, "ended": []}
    assert world.executions.asked == [] and world.pages() == [task.task_id]


@pytest.mark.parametrize("status", sorted(STILL_GOING))
def test_a_running_execution_is_left_alone(status: str) -> None:
    world = World()
    task = world.planning(1)
    world.executions.states[ARN.format(task=task.task_id)] = ExecutionState(status)
    report = world.watch().run()
    assert report == {"idle": 1, "running": 1, "ended": []}
    assert world.tasks.get(task.task_id).status is TaskStatus.DECIDING and world.pages() == []


@pytest.mark.parametrize("status", sorted(STILL_GOING))
def test_a_running_execution_whose_arn_was_not_noted_is_found_by_name_and_left_alone(status: str) -> None:
    world = World()
    task = world.planning(1, noted_arn=False)
    assert execution_of(task) is None
    world.executions.by_name[task.task_id] = ExecutionState(status)
    assert world.watch().run() == {"idle": 1, "running": 1, "ended": []}
    assert world.executions.asked == [f"name:{task.task_id}"]
    assert world.tasks.get(task.task_id).status is TaskStatus.DECIDING and world.pages() == []


@pytest.mark.parametrize("status", [s for s in STATUSES if s not in STILL_GOING] + [None])
def test_an_ended_execution_whose_arn_was_not_noted_hands_its_task_over(status: str | None) -> None:
    world = World()
    task = world.planning(1, noted_arn=False)
    if status is not None:
        world.executions.by_name[task.task_id] = ExecutionState(status, "Sandbox.Timedout")
    report = world.watch().run()
    assert report["ended"] == [{"task_id": task.task_id, "execution": status, "task": "NEEDS_HUMAN"}]
    stored = world.tasks.get(task.task_id)
    assert stored.status is TaskStatus.NEEDS_HUMAN and world.pages() == [task.task_id]
    assert (status or "unknown to Lambda") in (stored.reason or "")


def test_a_task_that_changed_recently_is_not_asked_about() -> None:
    world = World()
    task = world.planning(1)
    watch = PlanWatch(world.lifecycle, world.executions)  # the real clock: the task changed just now
    assert watch.run() == {"idle": 0, "running": 0, "ended": []}
    assert world.executions.asked == [] and world.tasks.get(task.task_id).status is TaskStatus.DECIDING


def test_a_task_that_moved_on_between_the_query_and_the_hand_over_is_left_as_it_is() -> None:
    world = World()
    task = world.planning(1)
    watch = world.watch()

    class MovesFirst(Executions):
        def state(self, execution_arn: str) -> ExecutionState:  # the plan's own last step lands meanwhile
            world.lifecycle.drop(world.tasks.get(task.task_id), "plan", {}, "the plan sent nothing")
            return ExecutionState("SUCCEEDED")

    watch.executions = MovesFirst()
    report = watch.run()
    assert report["ended"] == [{"task_id": task.task_id, "execution": "SUCCEEDED", "task": "DROPPED"}]
    assert world.tasks.get(task.task_id).status is TaskStatus.DROPPED and world.pages() == []


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from((*STATUSES, None)), min_size=1, max_size=8))
def test_every_mix_of_executions_ends_each_task_once_or_leaves_it_running(
    statuses: list[str | None],
) -> None:
    world = World()
    tasks = [world.planning(n) for n in range(len(statuses))]
    for task, status in zip(tasks, statuses, strict=True):
        if status is not None:
            world.executions.states[ARN.format(task=task.task_id)] = ExecutionState(status)
    watch = world.watch()
    first, second = watch.run(), watch.run()
    ended = [t.task_id for t, s in zip(tasks, statuses, strict=True) if s not in STILL_GOING]
    assert sorted(e["task_id"] for e in first["ended"]) == sorted(ended)
    assert second["ended"] == [] and sorted(world.pages()) == sorted(ended)  # each paged once, ever
    for task, status in zip(tasks, statuses, strict=True):
        expected = TaskStatus.DECIDING if status in STILL_GOING else TaskStatus.NEEDS_HUMAN
        assert world.tasks.get(task.task_id).status is expected


def test_the_lookup_by_name_names_the_alias_apart_from_the_function() -> None:
    from switchboard.plans.watch import split_qualifier

    arn = "arn:aws:lambda:eu-west-1:123456789012:function:Plan"
    assert split_qualifier(f"{arn}:live") == (arn, "live")
    assert split_qualifier(arn) == (arn, None)
    assert split_qualifier("Plan") == ("Plan", None)
