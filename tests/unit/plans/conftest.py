"""The plan engine on in-memory ports: the real engine, lifecycle, gate, validator, evaluator and budgeted
client; the model is the Messages API stand-in's own logic called in-process (every request checked against
the per-model contract first, as the stand-in does); lookups read the stand-in's seeded records; the runner
keeps checkpoints in a dict and can crash at any step boundary, then replay."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, TypeVar

import pytest

from switchboard import lookups
from switchboard.claude import violations
from switchboard.errors import PermanentActionError
from switchboard.lifecycle import Lifecycle
from switchboard.llm import Budget, BudgetedLlm, LlmConfig, ResponseCache
from switchboard.lookups import LookupResult
from switchboard.models import InboundEvent, Platform, TaskStatus
from switchboard.plans.budget import PlanLedger
from switchboard.plans.engine import PlanEngine, PlanRequest
from switchboard.plans.runner import RETRYABLE, ReviewRefused, ReviewTimedOut
from switchboard.plans.validate import Limits, Validator
from switchboard.policy import PolicyGate
from tests.fakes import act_queue_url, github_event
from tests.fakes.memory import MemoryBudgetLedger, MemoryLlmCache
from tests.fakes.tasks import InMemoryQueue, InMemoryTaskRepository
from tools.standin import lookup_seed
from tools.standin.messages_api import answer, choose

T = TypeVar("T")


class StandinSdk:
    """``anthropic.Anthropic`` enough for ``BudgetedLlm``: ``messages.create`` answered by the stand-in."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.messages = self

    def with_options(self, **_: Any) -> StandinSdk:
        return self

    def create(self, **request: Any) -> Any:
        request.pop("timeout", None)
        broken = violations(request)
        assert not broken, [v.message for v in broken]
        self.requests.append(request)
        name, tool_input = choose(request, malformed=False)
        body = answer(request, name, tool_input, None)
        return SimpleNamespace(**{**body, "usage": SimpleNamespace(**body["usage"])})

    def tools_called(self) -> list[str]:
        return [request["tools"][0]["name"] for request in self.requests]


@dataclass
class SeededLookups:
    """``Lookups`` over the stand-in's seeded records; ``fail`` makes a tool raise (a permanent error)."""

    fail: set[str] = field(default_factory=set)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def run(self, name: str, params: dict[str, Any], timeout: float) -> LookupResult:
        self.calls.append((name, params))
        if name in self.fail:
            raise PermanentActionError(name.split(".")[0], "HTTP 404 Not Found")
        if name == "tickets.search":
            return lookups.result(name, [_ticket(t) for t in lookup_seed.search_tickets(params["query"])])
        if name == "tickets.get":
            found = lookup_seed.ticket(params["id"])
            return lookups.result(name, [_ticket(found)] if found else [])
        if name == "github.search_issues":
            return lookups.result(
                name, [_issue(i) for i in lookup_seed.search_issues(params["repo"], params["query"])]
            )
        if name == "github.get_issue":
            issues = [i for i in lookup_seed.ISSUES if i["number"] == params["number"]]
            return lookups.result(name, [_issue(i) for i in issues])
        return lookups.result(name, [])


def _ticket(t: dict[str, Any]) -> dict[str, Any]:
    return {"ref": t["id"], **t}


def _issue(i: dict[str, Any]) -> dict[str, Any]:
    return {
        "ref": f"https://github.com/{i['repo']}/issues/{i['number']}",
        **{k: v for k, v in i.items() if k != "repo"},
    }


class Crash(BaseException):
    """The process died (not an error the code could catch)."""


class Suspended(BaseException):
    """The execution waits for a callback (the durable SDK suspends it the same way)."""


@dataclass
class MemoryRunner:
    """``Runner`` with checkpoints in ``store``: a named step's result is kept and read back on replay.

    ``crash_at``: crash right after the n-th new checkpoint (``after``) or right before it (``before``: the
    step's work is done but not checkpointed, so the replay runs it again)."""

    store: dict[str, Any] = field(default_factory=dict)
    answers: dict[str, str | BaseException] = field(default_factory=dict)
    crash_at: int | None = None
    crash_when: str = "after"
    ran: list[str] = field(default_factory=list)

    def step(self, name: str, fn: Callable[[], T], *, retries: int = 0) -> T:
        if name in self.store:
            return copy.deepcopy(self.store[name])
        for attempt in range(retries + 1):
            try:
                result = fn()
                break
            except RETRYABLE:
                if attempt == retries:
                    raise
        self.ran.append(name)
        if self.crash_at is not None and len(self.ran) == self.crash_at and self.crash_when == "before":
            raise Crash(name)
        self.store[name] = json.loads(json.dumps(result))  # the checkpoint is JSON, as the SDK's serdes
        if self.crash_at is not None and len(self.ran) == self.crash_at:
            raise Crash(name)
        return copy.deepcopy(self.store[name])

    def parallel(self, name: str, branches: list[Callable[[Any], T]]) -> list[T]:
        return [branch(self) for branch in branches]

    def wait_for_callback(self, name: str, submit: Callable[[str], None], timeout_s: int) -> str | None:
        def submitted() -> dict[str, str]:
            submit(f"cb-{name}")
            return {"callback_id": f"cb-{name}"}

        self.step(f"{name}.submit", submitted)
        if name not in self.answers:
            raise Suspended(name)
        found = self.answers[name]
        if isinstance(found, BaseException):
            raise found
        return found


@dataclass
class Harness:
    tasks: InMemoryTaskRepository
    queue: InMemoryQueue
    sdk: StandinSdk
    lookups: SeededLookups
    engine: PlanEngine
    ledger: MemoryBudgetLedger

    def open(self, event: InboundEvent, intent: str = "question") -> PlanRequest:
        task = self.tasks.claim_and_open(event, owner="m-1", actor="classify").task
        assert task is not None
        task = self.tasks.transition(
            task, TaskStatus.CLASSIFIED, "classify", {"intent": intent}, route="decide"
        )
        self.tasks.transition(task, TaskStatus.DECIDING, "decide", {"plan": "started"})
        return PlanRequest(task_id=event.task_id, event=event, intent=intent)

    def status(self, request: PlanRequest) -> TaskStatus:
        return self.tasks.get(request.task_id).status

    def sent(self) -> list[Any]:
        return self.queue.actions()

    def notes(self, request: PlanRequest, key: str) -> list[dict[str, Any]]:
        found = []
        for entry in self.tasks.get(request.task_id).history:
            detail = entry.get("detail")
            if isinstance(detail, dict) and isinstance(detail.get(key), dict):
                found.append(detail[key])
        return found


def make_harness(limits: Limits | None = None, *, trusted: set[str] | None = None) -> Harness:
    tasks, queue, sdk, seeded = InMemoryTaskRepository(), InMemoryQueue(), StandinSdk(), SeededLookups()
    limits = limits or Limits()
    config = LlmConfig(
        tiers={"small": "claude-haiku-5-5", "medium": "claude-sonnet-5-5", "large": "claude-opus-5-5"},
        task_token_cap=limits.max_tokens,
        daily_usd_cap=__import__("decimal").Decimal("10"),
        cache_ttl_seconds=60,
    )
    ledger = MemoryBudgetLedger()
    llm = BudgetedLlm(
        config,
        Budget(PlanLedger(ledger, int(limits.max_usd * 1_000_000)), config),
        ResponseCache(MemoryLlmCache(), 60),
        lambda: "test-key",
        "http://standin.invalid",
        sdk=sdk,
    )
    gate = PolicyGate()
    if trusted:
        from tests.fakes import FakeAuthorMemory

        gate = PolicyGate(authors=FakeAuthorMemory(trusted=set(trusted)))
    engine = PlanEngine(
        Lifecycle(tasks, queue, act_queue_url, gate=gate), llm, seeded, Validator(gate, limits)
    )
    return Harness(tasks, queue, sdk, seeded, engine, ledger)


@pytest.fixture
def harness() -> Harness:
    return make_harness()


def slack_event(text: str, event_id: str = "Ev-1") -> InboundEvent:
    return InboundEvent(
        platform=Platform.SLACK,
        event_id=event_id,
        event_type="app_mention",
        author="U0ASKER",
        conversation="C0SUPPORT:1700000000.000100",
        text=text,
        received_at=datetime.now(UTC),
        context={"channel": "C0SUPPORT", "thread_ts": "1700000000.000100"},
    )


def bug_report(event_id: str = "d-bug") -> InboundEvent:
    return github_event(
        "Crash when uploading large files over 2 GB\nThe app dies with out of memory.",
        event_id,
        event_type="issues.opened",
        number="901",
    )


__all__ = [
    "Crash",
    "Harness",
    "MemoryRunner",
    "ReviewRefused",
    "ReviewTimedOut",
    "Suspended",
    "bug_report",
    "make_harness",
    "slack_event",
]
