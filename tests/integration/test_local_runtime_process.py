"""The local runtime's lifecycle: as `switchboard local` runs it (a subprocess, SIGTERM) and in-process.

Both prove the same promises: `local.json` exists exactly while the runtime runs, and stopping leaves no
worker process (nor anything a handler started) behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.local_process import process_alive
from tools.local.runtime import LocalRuntime, main

FIXTURES = Path(__file__).parent / "fixtures" / "local_runtime"
TEMPLATE = FIXTURES / "Switchboard.template.json"
REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process state from /proc")


def _children(pid: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            children.append(int(stat.parent.name))
    return children


def _post(url: str, document: dict[str, Any]) -> Any:
    request = urllib.request.Request(url, data=json.dumps(document).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_switchboard_local_writes_local_json_and_sigterm_stops_everything(tmp_path: Path) -> None:
    state = tmp_path / "state"
    local_json = state / "local.json"
    with (tmp_path / "stdout").open("w") as stdout, (tmp_path / "stderr").open("w") as stderr:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "tools.local.runtime", "--template", str(TEMPLATE), "--port", "0"),
                *("--state-dir", str(state), "--no-schedules", "--visibility-timeout-cap", "1"),
            ],
            cwd=REPO,
            env={key: value for key, value in os.environ.items() if key != "ANTHROPIC_API_KEY"},
            stdout=stdout,
            stderr=stderr,
        )
    try:
        deadline = time.monotonic() + 30
        while not local_json.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert local_json.exists(), (tmp_path / "stderr").read_text()
        info = json.loads(local_json.read_text())
        spawned = _post(f"{info['api_url']}/slow", {"spawn": True})
        echoed = _post(f"{info['api_url']}/echo", {"hello": "world"})
        workers = _children(process.pid)

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert set(info) >= {"api_url", "aws_endpoint_url", "sink_url", "llm_url", "region", "pid", "resources"}
    assert info["pid"] == process.pid
    assert info["region"] == "us-east-1"
    assert info["llm_url"].startswith("http://127.0.0.1:")  # no API key: the Messages API stand-in
    assert "stand-in" in (tmp_path / "stdout").read_text().lower()
    assert info["resources"]["WorkQueue"].startswith(info["aws_endpoint_url"])
    assert info["outputs"]["ApiUrl"] == info["api_url"] + "/"
    assert echoed["event"]["body"] == '{"hello": "world"}'
    assert {spawned["pid"], echoed["pid"]} <= set(workers)
    assert not local_json.exists()
    assert [pid for pid in [*workers, spawned["child"]] if process_alive(pid)] == []
    banner = (tmp_path / "stdout").read_text()
    assert info["api_url"] in banner
    assert "logs" in banner.lower()


def test_stop_terminates_every_worker_and_removes_local_json(tmp_path: Path) -> None:
    runtime = LocalRuntime(TEMPLATE, port=0, state_dir=tmp_path, schedules=False)
    with runtime:
        spawned = runtime.invoke("SlowFunction", {"spawn": True}).payload
        runtime.invoke("EchoFunction", {"rawPath": "/plain"})
        runtime.invoke("TickFunction", {})
        pids = [pid for pids in runtime.worker_pids().values() for pid in pids]
        assert runtime.local_json_path.exists()
        with pytest.raises(RuntimeError, match="already running"):
            LocalRuntime(TEMPLATE, port=0, state_dir=tmp_path / "other").start()

    assert len(pids) == 3
    assert [pid for pid in [*pids, spawned["child"]] if process_alive(pid)] == []
    assert not runtime.local_json_path.exists()
    assert os.getpid() not in pids


def test_a_missing_template_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["--template", str(tmp_path / "cdk.out" / "Switchboard.template.json"), "--state-dir", str(tmp_path)]
    )

    assert code == 1
    assert "make synth" in capsys.readouterr().err
    assert not (tmp_path / "local.json").exists()
