"""The local runtime, started from the synthesized template exactly as `make local` starts it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

TEMPLATE = ROOT / "cdk.out" / "Switchboard.template.json"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if not TEMPLATE.exists():
        pytest.fail(f"{TEMPLATE} is missing: run `make synth` first (make test does)")
    state_dir = tmp_path_factory.mktemp("switchboard-state")
    env = {**os.environ, "SWITCHBOARD_STATE_DIR": str(state_dir)}
    for key in [k for k in env if k.startswith("SWITCHBOARD_") and k.endswith(("_SECRET", "_TOKEN"))]:
        del env[key]  # the runtime's development defaults, never a developer's real tokens
    command = [
        sys.executable,
        "-m",
        "infra.cli",
        "local",
        "--template",
        str(TEMPLATE),
        "--port",
        str(free_port()),
        "--state-dir",
        str(state_dir),
        "--no-schedules",
        # test aids: retries a second apart, and no breaker in the way of the DLQ scenarios
        *("--set-env", "RETRY_BASE_SECONDS=1", "--set-env", "BREAKER_FAILURE_THRESHOLD=1000"),
    ]
    log = (state_dir / "runtime.out").open("w")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    state_file = state_dir / "local.json"
    deadline = time.monotonic() + 90
    while not state_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(
                "the local runtime did not start:\n" + (state_dir / "runtime.out").read_text()[-4000:]
            )
        time.sleep(0.2)
    state = json.loads(state_file.read_text()) | {"state_dir": state_dir, "pid": process.pid}
    yield state
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        log.close()
    assert not state_file.exists(), "local.json must be removed on exit"


@pytest.fixture
def cli(local_stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the `switchboard` CLI (run in-process) at the test's runtime."""
    import infra.cli

    state_file = Path(local_stack["state_dir"]) / "local.json"
    monkeypatch.setattr(infra.cli, "STATE_FILE", state_file)
    return state_file
