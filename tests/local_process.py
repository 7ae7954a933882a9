"""One `switchboard local` process, started from the synthesized template exactly as `make local` starts it.

The e2e tests, the reliability suite and the benchmark's pipeline sections all run the agent this way: a
subprocess with its own state directory, the runtime's development secrets (never a developer's real tokens),
`--set-env` settings for the functions, and local.json as the sign that everything is up."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from switchboard.policy import DEFAULT_LABELS
from tools.local import moto_credentials

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "cdk.out" / "Switchboard.template.json"

#: The policy gate's label allow-list for the suites: the default labels and the generated names that the
#: reliability suite and the benchmark apply (`chaos-<run>-<n>`, `bench-…`, `idle-…`, `warm-up`). A run may
#: pass another.
SUITE_LABEL_POLICY = json.dumps(
    {"*": [*DEFAULT_LABELS, "chaos-*", "bench-*", "idle-*", "warm-up", "x"]}, separators=(",", ":")
)


def batch_get(
    dynamodb: Any, table: str, keys: Iterable[dict[str, Any]], projection: Iterable[str] = ()
) -> list[dict[str, Any]]:
    """Strongly consistent BatchGetItem of `keys` (any number, 100 per request, unprocessed keys retried):
    how the suites poll for their own tasks without scanning a table that other workers are writing."""
    wanted = list(keys)
    names = {f"#a{n}": name for n, name in enumerate(projection)}
    found: list[dict[str, Any]] = []
    for start in range(0, len(wanted), 100):
        request: dict[str, Any] = {table: {"Keys": wanted[start : start + 100], "ConsistentRead": True}}
        if names:
            request[table] |= {"ProjectionExpression": ", ".join(names), "ExpressionAttributeNames": names}
        while request:
            answer = dynamodb.batch_get_item(RequestItems=request)
            found += answer["Responses"].get(table, [])
            request = answer.get("UnprocessedKeys") or {}
    return found


def process_alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie (Linux /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LocalProcess:
    """Starts on construction (bounded by `startup_timeout`); `stop()` is Ctrl-C, then a kill if it hangs."""

    def __init__(
        self,
        state_dir: Path,
        *,
        settings: dict[str, str] | None = None,
        environ: dict[str, str] | None = None,
        visibility_cap: int | None = None,
        startup_timeout: float = 90,
        template: Path = TEMPLATE,
    ) -> None:
        if not template.exists():
            raise RuntimeError(f"{template} is missing: run `make synth` first")
        self.state_dir = state_dir
        self.state_file = state_dir / "local.json"
        env = {**os.environ, "SWITCHBOARD_STATE_DIR": str(state_dir), **(environ or {})}
        for key in [k for k in env if k.startswith("SWITCHBOARD_") and k.endswith(("_SECRET", "_TOKEN"))]:
            del env[key]
        command = [
            sys.executable, "-m", "tools.cli", "local", "--template", str(template),
            "--port", str(free_port()), "--state-dir", str(state_dir), "--no-schedules",
        ]  # fmt: skip
        if visibility_cap is not None:
            command += ["--visibility-timeout-cap", str(visibility_cap)]
        for key, value in ({"LABEL_POLICY": SUITE_LABEL_POLICY} | (settings or {})).items():
            command += ["--set-env", f"{key}={value}"]
        self.log_path = state_dir / "runtime.out"
        self._log = self.log_path.open("w")
        started = time.monotonic()
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )
        while not self.state_file.exists():
            if self.process.poll() is not None or time.monotonic() - started > startup_timeout:
                self.stop()
                raise RuntimeError("the local runtime did not start:\n" + self.log_path.read_text()[-4000:])
            time.sleep(0.2)
        self.startup_s = time.monotonic() - started
        self.state: dict[str, Any] = json.loads(self.state_file.read_text())

    @property
    def pid(self) -> int:
        return self.process.pid

    def client(self, service: str, **kwargs: Any) -> Any:
        """A boto3 client for the runtime's moto server, as the runtime's admin user (moto enforces IAM)."""
        credentials = moto_credentials.from_state(self.state)
        return moto_credentials.client(service, self.state["aws_endpoint_url"], credentials, **kwargs)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
