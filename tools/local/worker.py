"""One Lambda execution environment: a process that imports one handler and serves its invocations.

Started by the runtime as `python -S -P tools/local/worker.py --handler handler.handler`, with the
function's code folder as working directory and exactly the function's environment. Standard library only,
so the handler's interpreter holds nothing but what the handler imports.

Protocol (JSON lines): the runtime writes requests to the worker's stdin; the worker answers on its ORIGINAL
stdout, which it duplicates to a private descriptor before pointing descriptor 1 and `sys.stdout` at stderr.
So whatever the handler prints (Powertools JSON logs included) lands in the function's log, never in the
protocol.
- worker → `{"type": "ready", "ok": true, "pid": ...}` once the handler module is imported (the init phase),
  or `{"type": "ready", "ok": false, "error": {...}}` and exit;
- runtime → `{"id": <request id>, "event": ..., "deadline_ms": ..., "invoked_function_arn": ...}`;
- worker → `{"type": "result", "id": ..., "ok": true, "result": ...}` or `{..., "ok": false, "error": {...}}`,
  where an error is `{"errorType", "errorMessage", "stackTrace"}` as Lambda reports it.

The runtime enforces the timeout by killing the worker's process group. End of stdin ends the worker.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import resource
import sys
import time
import traceback
from collections.abc import Callable
from typing import IO, Any


class CognitoIdentity:
    """`context.identity`, as the Python runtime builds it for a call without Cognito."""

    cognito_identity_id: str | None = None
    cognito_identity_pool_id: str | None = None


class LambdaContext:
    """The context object of the Python Lambda runtime (same attributes, same types)."""

    def __init__(self, request_id: str, deadline_ms: int, invoked_function_arn: str) -> None:
        self.aws_request_id = request_id
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = invoked_function_arn
        # The real runtime reads this from the environment too, so it is a string there as well.
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = CognitoIdentity()
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(self._deadline_ms - int(time.time() * 1000), 0)


class InitError(Exception):
    """The handler could not be loaded; carries Lambda's error type."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


def load_handler(spec: str) -> Callable[[Any, LambdaContext], Any]:
    """`handler.handler` → the function `handler` of the module `handler` (`pkg/mod.fn` also works)."""
    module_path, _, function_name = spec.rpartition(".")
    if not module_path:
        raise InitError("Runtime.MalformedHandlerName", f"Bad handler '{spec}': not enough values to unpack")
    module_name = module_path.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except SyntaxError as exc:
        raise InitError(
            "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}"
        ) from exc
    except ImportError as exc:
        raise InitError(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}"
        ) from exc
    function = getattr(module, function_name, None)
    if not callable(function):
        raise InitError(
            "Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'"
        )
    return function


def error_payload(exc: BaseException, error_type: str | None = None, skip_frames: int = 0) -> dict[str, Any]:
    frames = traceback.extract_tb(exc.__traceback__)[skip_frames:]
    return {
        "errorType": error_type or type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_list(frames),
    }


def _log_error(payload: dict[str, Any]) -> None:
    print(f"[ERROR] {payload['errorType']}: {payload['errorMessage']}", file=sys.stderr)
    print("Traceback (most recent call last):\n" + "".join(payload["stackTrace"]), end="", file=sys.stderr)


def invoke(handler: Callable[[Any, LambdaContext], Any], request: dict[str, Any]) -> dict[str, Any]:
    request_id = str(request["id"])
    context = LambdaContext(request_id, int(request["deadline_ms"]), str(request["invoked_function_arn"]))
    print(f"START RequestId: {request_id} Version: {context.function_version}", file=sys.stderr)
    started = time.monotonic()
    response: dict[str, Any] = {"type": "result", "id": request_id}
    try:
        result = handler(request["event"], context)
    # The runtime boundary: Lambda reports any exception from the handler as the invocation's error.
    except Exception as exc:  # noqa: BLE001
        response.update(ok=False, error=error_payload(exc, skip_frames=1))
        _log_error(response["error"])
    else:
        try:
            json.dumps(result)
        except (TypeError, ValueError) as exc:
            response.update(
                ok=False,
                error={
                    "errorType": "Runtime.MarshalError",
                    "errorMessage": f"Unable to marshal response: {exc}",
                    "stackTrace": [],
                },
            )
            _log_error(response["error"])
        else:
            response.update(ok=True, result=result)
    duration_ms = (time.monotonic() - started) * 1000
    memory_mb = _peak_memory_mb()
    print(f"END RequestId: {request_id}", file=sys.stderr)
    print(
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
        f"Billed Duration: {math.ceil(duration_ms)} ms\tMemory Size: {context.memory_limit_in_mb} MB\t"
        f"Max Memory Used: {memory_mb} MB",
        file=sys.stderr,
        flush=True,
    )
    return response


def _peak_memory_mb() -> int:
    """Peak resident memory of this process (`VmHWM`: `ru_maxrss` survives exec and counts the parent)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def _send(channel: IO[str], message: dict[str, Any]) -> None:
    channel.write(json.dumps(message) + "\n")
    channel.flush()


def _take_over_stdio() -> tuple[IO[str], IO[str]]:
    """Keep private copies of stdin/stdout for the protocol; stdout now goes to stderr, stdin is empty."""
    sys.stdout.flush()
    protocol_out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    protocol_in = os.fdopen(os.dup(0), "r", encoding="utf-8")
    os.dup2(2, 1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    sys.stdout = sys.stderr
    sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115 (replaces the process's stdin for good)
    return protocol_in, protocol_out


def _load_sibling(name: str) -> Any:
    """A module beside this file. The worker runs as a script under ``-S -P`` with only the function's
    artifact on its path (as Lambda would), so the runtime's own helpers are loaded by their file."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        f"switchboard_local_{name}", Path(__file__).with_name(f"{name}.py")
    )
    if spec is None or spec.loader is None:
        raise ImportError(f"no {name}.py beside {__file__}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--handler", required=True, help="the function's Handler, e.g. handler.handler")
    args = parser.parse_args(argv)
    requests, responses = _take_over_stdio()
    started = time.monotonic()
    try:
        if os.environ.get("SWITCHBOARD_CRASHPOINT"):  # the reliability suite's crash injection, never shipped
            _load_sibling("crashpoints").install()
        handler = load_handler(args.handler)
    except InitError as exc:
        error = {"errorType": exc.error_type, "errorMessage": str(exc), "stackTrace": []}
        _log_error(error)
        _send(responses, {"type": "ready", "ok": False, "error": error})
        return 1
    # The init boundary: any exception while importing user code fails the init phase, as on Lambda.
    except Exception as exc:  # noqa: BLE001
        error = error_payload(exc)
        _log_error(error)
        _send(responses, {"type": "ready", "ok": False, "error": error})
        return 1
    init_ms = (time.monotonic() - started) * 1000
    print(f"INIT_REPORT Init Duration: {init_ms:.2f} ms", file=sys.stderr, flush=True)
    _send(responses, {"type": "ready", "ok": True, "pid": os.getpid()})
    for line in requests:
        if line.strip():
            _send(responses, invoke(handler, json.loads(line)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
