"""Lambda functions run locally: one worker process per execution environment, a pool per function.

Each function gets its own pool of worker processes (`tools.local.worker`), started lazily on first invoke, up
to the function's concurrency. A worker runs with exactly the function's environment (see
`function_environment`), in its own process group, so that a timeout or `stop()` kills it and everything it
started, like Lambda.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import secrets
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Final

from switchboard.catalog import Env
from tools.local import moto_credentials
from tools.local.template import ACCOUNT_ID, REGION

logger = logging.getLogger("switchboard.local")

#: Worker processes per function when no event source mapping sets `ScalingConfig.MaximumConcurrency`.
DEFAULT_CONCURRENCY: Final = 2
#: Lambda's init phase limit: importing the handler module must finish within it.
INIT_TIMEOUT_SECONDS: Final = 10.0
#: How long `stop()` waits after SIGTERM before it sends SIGKILL to a worker's process group.
TERMINATE_GRACE_SECONDS: Final = 2.0

TIMEOUT_ERROR_TYPE: Final = "Sandbox.Timedout"
#: The worker runs as a script, so that the project's packages (`tools`, the venv) need not be importable.
WORKER_SCRIPT: Final = Path(__file__).resolve().with_name("worker.py")


@dataclass(frozen=True)
class FunctionSpec:
    """An `AWS::Lambda::Function` of the template, resolved for local use."""

    logical_id: str
    name: str
    handler: str
    code_dir: Path | None
    timeout: int
    memory_size: int
    environment: dict[str, str]
    runtime: str = "python3.13"
    #: What the worker imports, in order: the code asset, the layers, the runtime's libraries.
    python_path: tuple[Path, ...] = ()

    @property
    def arn(self) -> str:
        return function_arn(self.name)


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"


@dataclass(frozen=True)
class InvokeResult:
    """The outcome of one invocation: the handler's return value, or Lambda's error payload."""

    function: str
    request_id: str
    payload: Any = None
    error: dict[str, Any] | None = None
    duration_ms: float = 0.0
    worker_pid: int | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def timed_out(self) -> bool:
        return self.error is not None and self.error.get("errorType") == TIMEOUT_ERROR_TYPE


def _error(error_type: str, message: str) -> dict[str, Any]:
    return {"errorType": error_type, "errorMessage": message, "stackTrace": []}


@dataclass(frozen=True)
class LocalEndpoints:
    """Where the local stand-ins listen, and the environment the runtime reads tokens from."""

    aws_endpoint_url: str
    sink_url: str
    llm_url: str | None
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    #: The local Lambda API (`tools.local.durable`): durable execution checkpoints, callbacks, Invoke.
    lambda_url: str | None = None


def function_environment(
    spec: FunctionSpec,
    endpoints: LocalEndpoints,
    *,
    python_path: list[Path],
    credentials: moto_credentials.Credentials,
    real_service: bool,
) -> dict[str, str]:
    """Exactly the template's environment for the function, plus the local overrides.

    Overrides: the moto endpoint and the role's `credentials`, `AWS_ENDPOINT_URL_LAMBDA` (the local Lambda
    API, when one is given), the Lambda runtime variables,
    `POWERTOOLS_TRACE_DISABLED` (there is no X-Ray daemon), `PYTHONPATH` (the code asset, its layers and the
    runtime's libraries: `FunctionSpec.python_path`),
    `PATH`/`HOME`/`LANG` from the runtime's environment, and the `*_API_URL` rewrite: `LLM_API_URL` → the LLM
    stand-in (when one is given and no `ANTHROPIC_API_KEY` is set); `SERVICE_API_URL` → `{sink}/{SERVICE}`
    and `<NAME>_API_URL` → `{sink}/<name>`, unless `real_service` (a real token is configured).
    """
    environment = dict(spec.environment)
    for name in [key for key in environment if key.endswith("_API_URL")]:
        if name == Env.LLM_API_URL:
            if endpoints.llm_url and not endpoints.environ.get("ANTHROPIC_API_KEY"):
                environment[name] = endpoints.llm_url
            continue
        if real_service:
            continue
        service = environment.get(Env.SERVICE) if name == Env.SERVICE_API_URL else None
        service = service or name.removesuffix("_API_URL").lower().replace("_", "-")
        environment[name] = f"{endpoints.sink_url.rstrip('/')}/{service}"
    # moto's endpoint and the role's session, never a developer's AWS profile: nothing local reaches a real
    # account, and the function can do only what its role allows (moto enforces IAM).
    environment.update(moto_credentials.environment(endpoints.aws_endpoint_url, credentials))
    if endpoints.lambda_url:
        # botocore's service-specific endpoint: `boto3.client("lambda")` (the durable SDK's included) talks to
        # the local Lambda API, every other client to moto.
        environment["AWS_ENDPOINT_URL_LAMBDA"] = endpoints.lambda_url
    environment.update(
        {
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(spec.timeout),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
            "LAMBDA_TASK_ROOT": str(spec.code_dir or ""),
            "_HANDLER": spec.handler,
            "TZ": ":UTC",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "PYTHONPATH": os.pathsep.join(str(path) for path in python_path),
            "PYTHONUNBUFFERED": "1",
        }
    )
    for name in ("PATH", "HOME", "LANG"):
        if name in endpoints.environ:
            environment[name] = endpoints.environ[name]
    return environment


class Worker:
    """One execution environment: a `python -S -P tools/local/worker.py` process in its own process group."""

    def __init__(
        self, spec: FunctionSpec, environment: dict[str, str], log_path: Path, echo: IO[str] | None
    ) -> None:
        self.spec = spec
        stream = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{secrets.token_hex(16)}"
        environment = {**environment, "AWS_LAMBDA_LOG_STREAM_NAME": stream}
        with open(log_path, "ab") as log:
            self._process = subprocess.Popen(
                # -S: no site-packages (the venv stays out), -P: not the script's folder either; the
                # environment's PYTHONPATH (the artifact, see tools.local.artifact) is all it imports from.
                [sys.executable, "-S", "-P", str(WORKER_SCRIPT), "--handler", spec.handler],
                cwd=spec.code_dir,
                env=environment,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE if echo else log,
                start_new_session=True,
            )
        self._messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._ready = False
        self._lock = threading.Lock()
        threading.Thread(target=self._read_protocol, name=f"worker-{self.pid}-out", daemon=True).start()
        if echo is not None:
            threading.Thread(
                target=self._tee_log, args=(log_path, echo), name=f"worker-{self.pid}-log", daemon=True
            ).start()

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def _read_protocol(self) -> None:
        assert self._process.stdout is not None
        with self._process.stdout:
            for line in self._process.stdout:
                try:
                    self._messages.put(json.loads(line))
                except json.JSONDecodeError:
                    logger.warning("worker %s wrote a malformed protocol line: %r", self.pid, line[:200])
        self._messages.put(None)

    def _tee_log(self, log_path: Path, echo: IO[str]) -> None:
        assert self._process.stderr is not None
        with self._process.stderr, open(log_path, "ab") as log:
            for line in self._process.stderr:
                log.write(line)
                log.flush()
                echo.write(f"[{self.spec.logical_id}] {line.decode('utf-8', 'replace')}")
                echo.flush()

    def _next_message(self, timeout: float) -> dict[str, Any] | None:
        """The worker's next protocol message; None when it exited. Raises `queue.Empty` on timeout."""
        return self._messages.get(timeout=timeout)

    def invoke(self, event: Any, request_id: str) -> InvokeResult:
        started = time.monotonic()

        def result(payload: Any = None, error: dict[str, Any] | None = None) -> InvokeResult:
            duration = (time.monotonic() - started) * 1000
            return InvokeResult(self.spec.logical_id, request_id, payload, error, duration, self.pid)

        with self._lock:
            if not self._ready:
                try:
                    ready = self._next_message(INIT_TIMEOUT_SECONDS)
                except queue.Empty:
                    self.kill()
                    return result(
                        error=_error("Runtime.InitError", f"Init timed out after {INIT_TIMEOUT_SECONDS}s")
                    )
                if ready is None:
                    return result(error=self._exit_error(request_id))
                if not ready.get("ok"):
                    self.kill()
                    return result(error=ready.get("error") or _error("Runtime.InitError", "init failed"))
                self._ready = True
            request = {
                "id": request_id,
                "event": event,
                "deadline_ms": int(time.time() * 1000) + self.spec.timeout * 1000,
                "invoked_function_arn": self.spec.arn,
            }
            try:
                assert self._process.stdin is not None
                self._process.stdin.write(json.dumps(request).encode() + b"\n")
                self._process.stdin.flush()
            except (BrokenPipeError, OSError):
                return result(error=self._exit_error(request_id))
            try:
                response = self._next_message(self.spec.timeout)
            except queue.Empty:
                self.kill()
                return result(
                    error=_error(
                        TIMEOUT_ERROR_TYPE,
                        f"RequestId: {request_id} Error: "
                        f"Task timed out after {self.spec.timeout:.2f} seconds",
                    )
                )
            if response is None:
                return result(error=self._exit_error(request_id))
            if response.get("ok"):
                return result(payload=response.get("result"))
            return result(error=response.get("error") or _error("Runtime.Unknown", "no error payload"))

    def _exit_error(self, request_id: str) -> dict[str, Any]:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(timeout=1)
        code = self._process.returncode
        status = (
            f"signal: {signal.Signals(-code).name}"
            if code is not None and code < 0
            else f"exit status {code}"
        )
        return _error(
            "Runtime.ExitError", f"RequestId: {request_id} Error: Runtime exited with error: {status}"
        )

    def kill(self) -> None:
        """SIGKILL the worker's whole process group (what Lambda does to a timed-out sandbox)."""
        self._signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(timeout=5)
        if self._process.stdin is not None:
            with contextlib.suppress(OSError):
                self._process.stdin.close()

    def terminate(self, grace: float = TERMINATE_GRACE_SECONDS) -> None:
        """SIGTERM the process group, then SIGKILL it if the worker is still there after `grace` seconds."""
        self._signal_group(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(timeout=grace)
        # Children the handler started share the group; they go too, even when the worker itself is gone.
        self.kill()

    def _signal_group(self, signum: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, signum)


class PoolClosedError(Exception):
    """The runtime is stopping; no more invocations."""


class WorkerPool:
    """At most `size` workers for one function; an invoke takes an idle one or starts a new one."""

    def __init__(
        self,
        spec: FunctionSpec,
        environment: dict[str, str],
        *,
        size: int,
        log_path: Path,
        echo: IO[str] | None = None,
    ) -> None:
        self.spec = spec
        self.environment = environment
        self.size = max(1, size)
        self._log_path = log_path
        self._echo = echo
        self._idle: list[Worker] = []
        self._workers: set[Worker] = set()
        self._starting = 0
        self._closed = False
        self._condition = threading.Condition()

    def pids(self) -> list[int]:
        with self._condition:
            return sorted(worker.pid for worker in self._workers)

    def invoke(self, event: Any) -> InvokeResult:
        request_id = str(uuid.uuid4())
        if self.spec.code_dir is None:
            return InvokeResult(
                self.spec.logical_id,
                request_id,
                error=_error("Runtime.InvalidEntrypoint", f"{self.spec.logical_id} has no local code folder"),
            )
        try:
            worker = self._acquire()
        except PoolClosedError:
            return InvokeResult(
                self.spec.logical_id,
                request_id,
                error=_error("Runtime.Shutdown", "the local runtime is stopping"),
            )
        except OSError as exc:
            message = f"cannot start a worker for {self.spec.logical_id}: {exc}"
            return InvokeResult(
                self.spec.logical_id, request_id, error=_error("Runtime.InvalidEntrypoint", message)
            )
        try:
            return worker.invoke(event, request_id)
        finally:
            self._release(worker)

    def _acquire(self) -> Worker:
        with self._condition:
            while True:
                if self._closed:
                    raise PoolClosedError
                while self._idle:
                    worker = self._idle.pop()
                    if worker.alive:
                        return worker
                    self._workers.discard(worker)
                if len(self._workers) + self._starting < self.size:
                    self._starting += 1
                    break
                self._condition.wait()
        try:
            worker = Worker(self.spec, self.environment, self._log_path, self._echo)
        finally:
            with self._condition:
                self._starting -= 1
                self._condition.notify()
        with self._condition:
            if self._closed:
                worker.kill()
                raise PoolClosedError
            self._workers.add(worker)
        logger.debug("started worker %s for %s", worker.pid, self.spec.logical_id)
        return worker

    def _release(self, worker: Worker) -> None:
        with self._condition:
            if worker.alive and not self._closed:
                self._idle.append(worker)
            else:
                self._workers.discard(worker)
            self._condition.notify()

    def close(self) -> None:
        """Refuse new invocations and terminate every worker, busy or idle."""
        with self._condition:
            self._closed = True
            workers = list(self._workers)
            self._idle.clear()
            self._condition.notify_all()
        threads = [threading.Thread(target=worker.terminate, daemon=True) for worker in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with self._condition:
            self._workers.clear()
