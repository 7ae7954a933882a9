"""The local runtime, started from the synthesized template exactly as `make local` starts it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.local_process import TEMPLATE, LocalProcess


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if not TEMPLATE.exists():
        pytest.fail(f"{TEMPLATE} is missing: run `make synth` first (make test does)")
    state_dir = tmp_path_factory.mktemp("switchboard-state")
    # test aids: retries a second apart, and no breaker in the way of the DLQ scenarios
    runtime = LocalProcess(
        state_dir, settings={"RETRY_BASE_SECONDS": "1", "BREAKER_FAILURE_THRESHOLD": "1000"}
    )
    yield runtime.state | {"state_dir": state_dir, "pid": runtime.pid}
    runtime.stop()
    assert not runtime.state_file.exists(), "local.json must be removed on exit"


@pytest.fixture
def cli(local_stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the `switchboard` CLI (run in-process) at the test's runtime."""
    import tools.cli

    state_file = Path(local_stack["state_dir"]) / "local.json"
    monkeypatch.setattr(tools.cli, "STATE_FILE", state_file)
    return state_file
