"""The reliability suite's crash injection lives in the local runtime, not in the shipped layer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT
from tools.local.crashpoints import POINTS, marker_name

LIBRARY = ROOT / "layers/shared/python/switchboard"

ONE_CRASH = """
import sys
from tools.local.crashpoints import Crasher
crash = Crasher("act.after_call", sys.argv[1])
crash("act.before_record", "tsk#0")   # not armed: passes
crash("act.after_call", "other#0")    # armed, but not a target: passes
crash("act.after_call", "tsk#0")      # armed and targeted: the first time, the process dies here
print("survived")
"""

INSTALLED = """
from tools.local import crashpoints
assert crashpoints.install({}) is False
assert crashpoints.install({"SWITCHBOARD_CRASHPOINT": "*"}) is True
from switchboard import catalog
from switchboard.llm import Budget
from switchboard.plans.runner import DurableRunner
from switchboard.state import TaskStore
import importlib
wrapped = {TaskStore.claim_and_open.crashpoint, TaskStore.complete_action.crashpoint}
wrapped |= {Budget.settle.crashpoint, DurableRunner.step.crashpoint}
for spec in catalog.services():
    module, _, name = spec.executor.partition(":")
    wrapped.add(getattr(importlib.import_module(module), name).execute.crashpoint)
print(sorted(wrapped))
"""


def _run(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PYTHONPATH": f"{ROOT}:{LIBRARY.parent}", "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, cwd=ROOT, check=False
    )


def test_an_armed_target_crashes_once_like_a_killed_environment_and_its_retry_passes(tmp_path: Path) -> None:
    (tmp_path / "targets" / "act.after_call").mkdir(parents=True)
    (tmp_path / "targets" / "act.after_call" / marker_name("tsk#0")).touch()
    first = _run(ONE_CRASH, str(tmp_path))
    assert first.returncode == 137, first.stderr
    assert "survived" not in first.stdout
    second = _run(ONE_CRASH, str(tmp_path))
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == "survived"
    assert [p.name for p in (tmp_path / "fired").iterdir()] == [f"act.after_call--{marker_name('tsk#0')}"]


def test_install_wraps_every_step_boundary_and_nothing_unless_armed() -> None:
    result = _run(INSTALLED)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(sorted(POINTS))


def test_the_shipped_layer_has_no_crash_hooks() -> None:
    offenders = [
        str(path.relative_to(LIBRARY))
        for path in LIBRARY.rglob("*.py")
        if "crashpoint" in path.read_text() or "SWITCHBOARD_CRASH" in path.read_text()
    ]
    assert offenders == []
