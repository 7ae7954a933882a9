"""Crash injection at the step boundaries, for the reliability suite (``tests/chaos``). Never shipped.

The shipped layer knows nothing of it: when a local runtime worker starts with ``SWITCHBOARD_CRASHPOINT``
in its environment (the suite passes it with ``switchboard local --set-env``), ``install()`` wraps the port
adapters at the boundaries below before the handler is imported, so the handler's own composition builds the
wrapped ones. An armed point kills the process with ``os._exit(137)``, the way a Lambda execution environment
dies (no ``finally``, no flush, no batch response), so that the work must resume by redelivery.

| point | where | key |
| --- | --- | --- |
| ``classify.after_claim`` | after the task repository claimed the event and opened its task | event id |
| ``llm.after_answer`` | after the model answered, before its usage is settled or recorded | task id |
| ``act.after_call`` | after an executor's external call returned, inside the idempotency guard | action id |
| ``act.before_record`` | before the task repository records an action's completion | action id |
| ``plan.after_step`` | after a plan's durable step returned, its result checkpointed | ``{task id}:{step}`` |

A plan's step returns once the SDK checkpointed its result (the SUCCEED checkpoint is synchronous), so a crash
at ``plan.after_step`` tests the resume from the last checkpoint: the replay reads every step back.

``SWITCHBOARD_CRASHPOINT`` names the armed points (comma-separated, or ``*``). With ``SWITCHBOARD_CRASH_DIR``
set, each (point, key) crashes at most once: the first crash creates the marker ``{dir}/fired/{point}--{key}``
(an exclusive create, so two racing workers cannot both crash) and the retry passes. If the folder
``{dir}/targets/{point}/`` exists, only the keys with a file there are armed, so that one running stack can
crash chosen events and leave the others alone. A target file that reads ``always`` crashes that key every
time (no marker): a durable execution whose every invocation dies, until Lambda fails it for good.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

ARMED_VARIABLE: Final = "SWITCHBOARD_CRASHPOINT"
DIR_VARIABLE: Final = "SWITCHBOARD_CRASH_DIR"
EXIT_STATUS: Final = 137  # what a SIGKILLed process reports
ALWAYS: Final = "always"  # a target file's content: crash that key every time
POINTS: Final = (
    "classify.after_claim",
    "llm.after_answer",
    "act.after_call",
    "act.before_record",
    "plan.after_step",
)


def marker_name(key: str) -> str:
    """A file name for ``key``: readable where it can be, always unique."""
    readable = re.sub(r"[^A-Za-z0-9_.-]", "_", key)[:80]
    return f"{readable}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


class Crasher:
    """Decides whether ``(point, key)`` is armed, and if so ends the process."""

    def __init__(self, armed: str, folder: str | None) -> None:
        self.names = {part.strip() for part in armed.split(",") if part.strip()}
        self.root = Path(folder) if folder else None

    def __call__(self, point: str, key: str) -> None:
        if point not in self.names and "*" not in self.names:
            return
        if self.root is not None:
            targets = self.root / "targets" / point
            target = targets / marker_name(key)
            if targets.is_dir() and not target.exists():
                return
            if target.is_file() and target.read_text().strip() == ALWAYS:
                os._exit(EXIT_STATUS)
            fired = self.root / "fired"
            fired.mkdir(parents=True, exist_ok=True)
            try:
                marker = fired / f"{point}--{marker_name(key)}"
                os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                return  # crashed here once already: this is the retry
        os._exit(EXIT_STATUS)


def _after(method: Callable[..., Any], point: str, key: Callable[..., str], crash: Crasher) -> Any:
    @functools.wraps(method)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        result = method(*args, **kwargs)
        crash(point, key(*args, **kwargs))
        return result

    wrapped.crashpoint = point  # type: ignore[attr-defined]
    return wrapped


def _before(
    method: Callable[..., Any], point: str, key: Callable[..., str], crash: Crasher, when: Callable[..., bool]
) -> Any:
    @functools.wraps(method)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if when(*args, **kwargs):
            crash(point, key(*args, **kwargs))
        return method(*args, **kwargs)

    wrapped.crashpoint = point  # type: ignore[attr-defined]
    return wrapped


def _always(*args: Any, **kwargs: Any) -> bool:
    return True


def _answered(budget: Any, task_id: str, reserved_tokens: int, reserved_micro: int, entry: Any) -> bool:
    """``Budget.settle`` runs on both paths of a call; only an answer carries tokens."""
    return bool(entry.input_tokens or entry.output_tokens)


def _plan_step(runner: Any, name: str, *args: Any, **kwargs: Any) -> str:
    """``{task id}:{step name}``: a durable execution is named by its task id, the last-but-one part of its
    ARN (``…:function:NAME:QUALIFIER/durable-execution/EXECUTION/ID``)."""
    arn = str(runner.context.state.durable_execution_arn)
    return f"{arn.split('/durable-execution/', 1)[-1].split('/', 1)[0]}:{name}"


def install(environ: Mapping[str, str] | None = None) -> bool:
    """Wrap the adapters at every step boundary; False (and nothing wrapped) when no point is armed."""
    environ = os.environ if environ is None else environ
    armed = environ.get(ARMED_VARIABLE, "")
    if not armed.strip():
        return False
    crash = Crasher(armed, environ.get(DIR_VARIABLE))

    from switchboard import catalog
    from switchboard.llm import Budget
    from switchboard.plans.runner import DurableRunner
    from switchboard.state import TaskStore

    TaskStore.claim_and_open = _after(  # type: ignore[method-assign]
        TaskStore.claim_and_open,
        "classify.after_claim",
        lambda store, event, *args, **kwargs: event.event_id,
        crash,
    )
    TaskStore.complete_action = _before(  # type: ignore[method-assign]
        TaskStore.complete_action,
        "act.before_record",
        lambda store, task_id, action_id, *args, **kwargs: action_id,
        crash,
        _always,
    )
    Budget.settle = _before(  # type: ignore[method-assign]
        Budget.settle,
        "llm.after_answer",
        lambda budget, task_id, *args, **kwargs: task_id,
        crash,
        _answered,
    )
    DurableRunner.step = _after(DurableRunner.step, "plan.after_step", _plan_step, crash)  # type: ignore[method-assign]
    for spec in catalog.services():
        module_name, _, class_name = spec.executor.partition(":")
        executor = getattr(importlib.import_module(module_name), class_name)
        if getattr(executor.execute, "crashpoint", None):  # inherited from an executor wrapped already
            continue
        executor.execute = _after(
            executor.execute, "act.after_call", lambda self, action: action.action_id, crash
        )
    return True
