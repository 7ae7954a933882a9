"""`collect_after_first_call`: collection comes back on when the first call ends, however it ends, and what
the process holds by then is frozen. Each case runs in a fresh interpreter (the collector is global)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

PROGRAM = """
import gc, json
gc.disable()
from switchboard.coldstart import collect_after_first_call

calls = []

@collect_after_first_call
def handler(event, context):
    calls.append(event)
    if event == "fail":
        raise RuntimeError("the first call failed")
    return event

seen = [gc.isenabled()]
try:
    handler({first!r}, None)
except RuntimeError:
    seen.append("raised")
seen += [gc.isenabled(), gc.get_freeze_count() > 0]
gc.disable()  # a later call leaves the collector alone
seen += [handler("again", None), gc.isenabled(), calls]
print(json.dumps(seen))
"""


@pytest.mark.parametrize("first", ["ok", "fail"])
def test_collection_resumes_when_the_first_call_ends_and_later_calls_leave_it_alone(first: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "layers/shared/python")}
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM.format(first=first)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    seen = json.loads(result.stdout)
    raised = ["raised"] if first == "fail" else []
    assert seen == [False, *raised, True, True, "again", False, [first, "again"]]
