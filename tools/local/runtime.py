"""`switchboard local`: run the synthesized stack on this machine, from `cdk.out/Switchboard.template.json`.

It starts a moto server and creates in it the template's queues (with their redrive policies), tables (keys,
indexes, TTL), secrets (values per `tools.local.provision`), topics and SSM parameters. It serves the HTTP
API's routes on `--host:--port`, polls each SQS event source mapping, fires the schedules, and runs every
Lambda function in worker processes of its own, with the function's environment resolved to the local
resources. Calls to external services (`*_API_URL`) go to a recording sink (`tools.standin.sink`) unless a
real token is configured.

It creates the template's IAM roles with their policies in moto too, runs each function with the credentials
of its own role, and then switches moto's IAM enforcement on (`tools.local.iam`, `tools.local.moto_iam`).

Functions with `DurableConfig` run as Lambda durable functions on the runtime's local Lambda API
(`tools.local.durable`, `lambda_url`), which every worker reaches through `AWS_ENDPOINT_URL_LAMBDA`.

When it is ready it writes `{state_dir}/local.json`: `{"api_url", "aws_endpoint_url", "lambda_url",
"sink_url", "llm_url", "region", "pid", "admin_credentials", "logs_dir", "resources", "outputs", "routes",
"schedules"}`, where `resources` maps each logical id to its local physical id (queue URL, table name, secret
ARN, topic ARN, parameter name, function name), `admin_credentials` is the access key the tools use
(`tools.local.moto_credentials.from_state`), and `outputs` holds the template's Outputs resolved locally.
The file is removed on exit. Function logs go to `{state_dir}/logs/<function logical id>.log`. See
`tools/local/README.md`.

Programmatic use (tests run it in-process or as a subprocess, `python -m tools.local.runtime ...`):

    with LocalRuntime("cdk.out/Switchboard.template.json", port=0, schedules=False) as runtime:
        runtime.invoke("HealthFunction", {})
        runtime.fire_schedule("PollSchedule")

moto keeps its state per process, so one process runs one `LocalRuntime` at a time.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import logging
import os
import re
import signal
import sys
import threading
import urllib.request
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO, TYPE_CHECKING, Any, ClassVar, Final

from botocore.exceptions import ClientError

from tools.local import moto_credentials, moto_fixes, moto_iam
from tools.local.durable import DurableService, durable_functions, function_qualifiers
from tools.local.functions import (
    DEFAULT_CONCURRENCY,
    FunctionSpec,
    InvokeResult,
    LocalEndpoints,
    WorkerPool,
    function_environment,
)
from tools.local.http_api import ApiServer, Route
from tools.local.iam import ADMIN_USER, Identities, provision_iam
from tools.local.model import (
    AssetLocator,
    api_id,
    event_source_mappings,
    function_id,
    function_specs,
    register_runtime_resources,
    routes,
    scheduled_rules,
    unknown_types,
)
from tools.local.pollers import EventSourceMapping, SqsPoller
from tools.local.provision import (
    DEV_LLM_KEY,
    DEV_TOKEN,
    DEV_WEBHOOK_SECRETS,
    Clients,
    Provisioner,
    real_token_configured,
)
from tools.local.schedules import ScheduledRule, Scheduler, scheduled_event
from tools.local.template import REGION, Resolver, Template, TemplateError
from tools.standin.sink import RecordingSink

if TYPE_CHECKING:
    from moto.server import ThreadedMotoServer

__all__ = [
    "DEV_LLM_KEY",
    "DEV_TOKEN",
    "DEV_WEBHOOK_SECRETS",
    "InvokeResult",
    "LocalRuntime",
    "TemplateError",
    "main",
]

logger = logging.getLogger("switchboard.local")

DEFAULT_TEMPLATE: Final = "cdk.out/Switchboard.template.json"
DEFAULT_STATE_DIR: Final = ".switchboard"
DEFAULT_PORT: Final = 3000


class LocalRuntime:
    """The whole stack on loopback. `start()`/`stop()`, or use it as a context manager."""

    _active: ClassVar[LocalRuntime | None] = None
    _active_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self,
        template_path: str | Path = DEFAULT_TEMPLATE,
        *,
        port: int = DEFAULT_PORT,
        host: str = "127.0.0.1",
        state_dir: str | Path = DEFAULT_STATE_DIR,
        schedules: bool = True,
        visibility_timeout_cap: int | None = None,
        extra_environment: Mapping[str, str] | None = None,
        llm_url: str | None = None,
        verbose: bool = False,
        project_root: str | Path | None = None,
        environ: Mapping[str, str] | None = None,
        console_port: int | None = None,
        durable_retry_backoff: int | None = None,
    ) -> None:
        """Configure the runtime; nothing starts before `start()`.

        `port=0` picks a free port. `visibility_timeout_cap` (a test aid) caps every queue's visibility
        timeout, so that failed messages come back, and reach their DLQ, in seconds. `llm_url` is the Messages
        API stand-in that `LLM_API_URL` points to when no `ANTHROPIC_API_KEY` is set (None: leave it as is).
        `project_root` holds `functions/` and `layers/` (default: the parent of `cdk.out`, else the current
        directory). `environ` is where secrets and tokens are read from (default: `os.environ`).
        `durable_retry_backoff` (a test aid) is the delay before a failed durable invocation is retried
        (default: the testing SDK's).
        """
        self.template_path = Path(template_path)
        self.host = host
        self.port = port
        self.state_dir = Path(state_dir)
        self.schedules_enabled = schedules
        self.visibility_timeout_cap = visibility_timeout_cap
        self.extra_environment = dict(extra_environment or {})
        self.llm_url = llm_url
        self.verbose = verbose
        self.project_root = Path(project_root) if project_root else _default_project_root(self.template_path)
        self.environ: Mapping[str, str] = dict(os.environ if environ is None else environ)
        self.sink = RecordingSink(host="127.0.0.1")
        self.functions: dict[str, FunctionSpec] = {}
        self.routes: list[Route] = []
        self.mappings: list[EventSourceMapping] = []
        self.rules: dict[str, ScheduledRule] = {}
        self.resources: dict[str, str] = {}
        self._template: Template | None = None
        self._resolver: Resolver | None = None
        self._moto: ThreadedMotoServer | None = None
        self._aws_endpoint_url: str | None = None
        self._api: ApiServer | None = None
        self._api_thread: threading.Thread | None = None
        self._pools: dict[str, WorkerPool] = {}
        self._pollers: list[SqsPoller] = []
        self._scheduler: Scheduler | None = None
        self._sink_started = False
        self._identities: Identities | None = None
        self.console_port = console_port  # None: no console (``tools.console``); taken: a free port instead
        self._console: Any = None
        self.durable_retry_backoff = durable_retry_backoff
        self._durable: DurableService | None = None
        self._qualifiers: dict[str, str] = {}

    # -- lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> LocalRuntime:
        with LocalRuntime._active_lock:
            if LocalRuntime._active is not None:
                raise RuntimeError(
                    "a LocalRuntime is already running in this process (moto's state is per process); "
                    "stop it first, or run the other one as a subprocess"
                )
            LocalRuntime._active = self
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        template = Template.load(self.template_path)
        self._template = template
        self.resources = {}
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self._start_moto()
        resolver = Resolver(template)
        self._resolver = resolver
        self._api = ApiServer(
            (self.host, self.port), routes=[], invoke=self.invoke, control=self, api_id=api_id(template)
        )
        self.resources.update(register_runtime_resources(template, resolver, self.api_url))
        self._qualifiers = function_qualifiers(template, resolver)  # aliases and versions: Refs resolve
        self.resources.update(self._qualifiers)
        clients = self._clients()
        self.resources.update(
            Provisioner(template, resolver, clients, self.environ, self.visibility_timeout_cap).provision()
        )
        # moto still serves unchecked requests: create the roles and their sessions, then enforce IAM.
        self._identities = provision_iam(template, resolver, self.client("iam"), self.client("sts"))
        moto_iam.enforce(self.aws_endpoint_url)
        if unknown_types(template):
            logger.warning("not run locally (unknown resource types): %s", ", ".join(unknown_types(template)))
        self.sink.start()
        self._sink_started = True
        self.functions = function_specs(template, resolver, AssetLocator(self.project_root))
        self.mappings = event_source_mappings(template, resolver, self.functions)
        self.routes = routes(template, resolver, self.functions)
        self.rules = scheduled_rules(template, resolver, self.functions)
        self._durable = DurableService(
            self.functions,
            durable_functions(template, self.functions),
            self.invoke,
            qualifiers=self._qualifiers,
            retry_backoff_seconds=self.durable_retry_backoff,
        ).start()
        self._start_pools()
        self._api.routes = self.routes
        self._api_thread = threading.Thread(
            target=self._api.serve_forever, kwargs={"poll_interval": 0.1}, name="api", daemon=True
        )
        self._api_thread.start()
        assert self._identities is not None
        for mapping in self.mappings:
            if mapping.enabled:
                # Lambda's event source mapping polls with the function's execution role.
                credentials = self._identities.for_function(mapping.function)
                poller = SqsPoller(
                    mapping, moto_credentials.client("sqs", self.aws_endpoint_url, credentials), self.invoke
                )
                self._pollers.append(poller)
                poller.start()
        if self.schedules_enabled:
            self._scheduler = Scheduler(list(self.rules.values()), self._fire_rule)
            self._scheduler.start()
        if self.console_port is not None:
            self._start_console(self.console_port)
        self._write_local_json()

    def stop(self) -> None:
        """Stop schedules, pollers, workers (SIGTERM, then SIGKILL), HTTP servers and moto. Idempotent."""
        if self._console is not None:
            self._console.stop()
            self._console = None
        if self._scheduler is not None:
            self._scheduler.stop()
            self._scheduler = None
        for poller in self._pollers:
            poller.stop()
        if self._api is not None and self._api_thread is not None:
            self._api.shutdown()  # no new requests; the ones in flight finish when their workers stop
            self._api_thread.join(5)
            self._api_thread = None
        if self._durable is not None:
            self._durable.stop()  # no new invocations; the ones in flight end with their workers
            self._durable = None
        pools = list(self._pools.values())
        closers = [threading.Thread(target=pool.close, daemon=True) for pool in pools]
        for closer in closers:
            closer.start()
        for closer in closers:
            closer.join()
        for poller in self._pollers:
            poller.join(timeout=10)
        self._pollers.clear()
        self._pools.clear()
        if self._api is not None:
            self._api.server_close()
            self._api = None
        if self._sink_started:
            self.sink.stop()
            self._sink_started = False
        if self._moto is not None:
            if self._aws_endpoint_url is not None:
                with contextlib.suppress(OSError):
                    moto_iam.relax(self._aws_endpoint_url)  # moto's settings are per process
            self._moto.stop()
            server = getattr(self._moto, "_server", None)
            if server is not None:
                server.server_close()
            self._moto = None
            self._aws_endpoint_url = None
        self._identities = None
        self.local_json_path.unlink(missing_ok=True)
        with LocalRuntime._active_lock:
            if LocalRuntime._active is self:
                LocalRuntime._active = None

    def __enter__(self) -> LocalRuntime:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- what tests and tools use ----------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        if self._api is None:
            raise RuntimeError("the runtime is not running")
        return self._api.url

    @property
    def aws_endpoint_url(self) -> str:
        if self._aws_endpoint_url is None:
            raise RuntimeError("the runtime is not running")
        return self._aws_endpoint_url

    @property
    def lambda_url(self) -> str:
        """The local Lambda API: Invoke, durable executions and their callbacks (`tools.local.durable`)."""
        return self.durable.url

    @property
    def durable(self) -> DurableService:
        if self._durable is None:
            raise RuntimeError("the runtime is not running")
        return self._durable

    @property
    def sink_url(self) -> str:
        return self.sink.url

    @property
    def region(self) -> str:
        return REGION

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def local_json_path(self) -> Path:
        return self.state_dir / "local.json"

    def log_path(self, function: str) -> Path:
        return self.logs_dir / f"{function_id(self.functions, function)}.log"

    def client(self, service_name: str) -> Any:
        """A boto3 client for the local moto server, as the runtime's admin user (us-east-1); before the
        admin exists (while moto still serves unchecked requests), with moto's default key."""
        return moto_credentials.client(service_name, self.aws_endpoint_url, self.admin_credentials)

    @property
    def admin_credentials(self) -> moto_credentials.Credentials:
        """The access key of the runtime's admin user (also in `local.json`)."""
        if self._identities is None:
            return moto_credentials.MOTO_DEFAULT
        return self._identities.admin

    def function_credentials(self, function: str) -> moto_credentials.Credentials:
        """The session of the function's execution role (logical id, name or ARN), as its workers get it."""
        if self._identities is None:
            raise RuntimeError("the runtime is not running")
        return self._identities.for_function(function_id(self.functions, function))

    def invoke(self, function: str, event: Any) -> InvokeResult:
        """Invoke a function synchronously (logical id, name or ARN), as `RequestResponse` would."""
        logical_id = function_id(self.functions, function)
        pool = self._pools.get(logical_id)
        if pool is None:
            error = {"errorType": "Runtime.Shutdown", "errorMessage": "the local runtime is not running"}
            return InvokeResult(logical_id, str(uuid.uuid4()), error=error)
        return pool.invoke(event)

    def fire_schedule(self, name: str) -> list[InvokeResult]:
        """Fire a schedule now (by rule logical id or name): invoke each target, return the outcomes."""
        rule = self._rule(name)
        now = datetime.now(UTC)
        return [
            self.invoke(target.function, target.input if target.has_input else scheduled_event(rule, now))
            for target in rule.targets
        ]

    def schedule_summaries(self) -> list[dict[str, Any]]:
        return [
            {
                "logicalId": rule.logical_id,
                "name": rule.name,
                "expression": rule.expression,
                "enabled": rule.enabled,
                "targets": [target.function for target in rule.targets],
            }
            for rule in self.rules.values()
        ]

    def worker_pids(self) -> dict[str, list[int]]:
        """The live worker processes of each function (logical id → pids)."""
        return {logical_id: pool.pids() for logical_id, pool in self._pools.items() if pool.pids()}

    def local_info(self) -> dict[str, Any]:
        """The content of `local.json`."""
        return {
            "api_url": self.api_url,
            "aws_endpoint_url": self.aws_endpoint_url,
            "lambda_url": self.lambda_url,
            "sink_url": self.sink_url,
            "llm_url": self.llm_url,
            "region": REGION,
            "pid": os.getpid(),
            moto_credentials.STATE_KEY: self.admin_credentials.as_state(),
            "logs_dir": str(self.logs_dir.resolve()),
            "resources": dict(self.resources),
            "outputs": self.outputs(),
            "routes": [route.route_key for route in self.routes],
            "schedules": [rule.logical_id for rule in self.rules.values()],
            **({"console_url": self._console.url} if self._console is not None else {}),
        }

    def outputs(self) -> dict[str, str]:
        """The template's `Outputs`, resolved locally; the API's AWS URL becomes the local `api_url`."""
        assert self._template is not None and self._resolver is not None
        api = re.compile(r"https://[a-z0-9]+\.execute-api\.[^/]+\.amazonaws\.com/?")
        outputs = {}
        for name, output in (self._template.document.get("Outputs") or {}).items():
            try:
                value = self._resolver.resolve_str(output.get("Value"), f"output {name}")
            except TemplateError as exc:
                logger.debug("output %s is not available locally: %s", name, exc)
                continue
            outputs[name] = api.sub(
                lambda match: self.api_url + ("/" if match.group().endswith("/") else ""), value
            )
        return outputs

    def banner(self) -> str:
        if self.environ.get("ANTHROPIC_API_KEY"):
            llm = "the real Anthropic API (ANTHROPIC_API_KEY is set)"
        elif self.llm_url:
            llm = f"{self.llm_url}  (local stand-in, NOT Claude)"
        else:
            llm = "no stand-in: LLM_API_URL is left as in the template"
        routes = ", ".join(route.route_key for route in self.routes) or "none"
        schedules = "on" if self.schedules_enabled else "off (fire them: POST /_local/schedules/<name>)"
        return "\n".join(
            [
                f"Switchboard local runtime — {self.template_path}",
                f"  API         {self.api_url}   routes: {routes}",
                f"  AWS (moto)  {self.aws_endpoint_url}   region {REGION}, IAM enforced: each function "
                f"as its own role; tools as {ADMIN_USER} (key in local.json)",
                f"  Lambda API  {self.lambda_url}   Invoke, durable executions "
                f"({len(self.durable.durable)} durable functions), callbacks",
                f"  Sink        {self.sink_url}/_outbox   (recorded calls to external services)",
                f"  LLM         {llm}",
                f"  Functions   {len(self.functions)} (a worker process each, started on first invoke); "
                f"queue pollers {len(self._pollers)}; schedules {len(self.rules)} {schedules}",
                *([f"  Console     {self._console.url}   (loopback only)"] if self._console else []),
                f"  Logs        {self.logs_dir}/<function>.log",
                f"  State       {self.local_json_path}",
                "Ctrl-C stops everything.",
            ]
        )

    # -- start-up steps --------------------------------------------------------------------------------------

    def _start_moto(self) -> None:
        from moto.server import ThreadedMotoServer

        moto_fixes.apply()
        moto_iam.apply()
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._moto.start()
        host, port = self._moto.get_host_and_port()
        self._aws_endpoint_url = f"http://{host}:{port}"
        # moto's backends are process-wide: start from an empty account even after an earlier runtime.
        reset = f"{self._aws_endpoint_url}/moto-api/reset"
        request = urllib.request.Request(reset, method="POST")  # noqa: S310 (a loopback http URL we built)
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310
            pass

    def _start_console(self, port: int) -> None:
        """The operator's console beside the runtime, over the CLI's view of it (the admin user)."""
        from tools.cli import Target
        from tools.console.server import Console, ConsoleServer

        target = Target.from_state(self.local_info())
        console = Console(target, operator=getpass.getuser(), local=True, name="local runtime")
        self._console = ConsoleServer(console, port).start()

    def _clients(self) -> Clients:
        return Clients(
            sqs=self.client("sqs"),
            dynamodb=self.client("dynamodb"),
            secretsmanager=self.client("secretsmanager"),
            sns=self.client("sns"),
            ssm=self.client("ssm"),
        )

    def _start_pools(self) -> None:
        assert self._template is not None
        endpoints = LocalEndpoints(
            aws_endpoint_url=self.aws_endpoint_url,
            sink_url=self.sink_url,
            llm_url=self.llm_url,
            environ=self.environ,
            lambda_url=self.lambda_url,
        )
        concurrency: dict[str, int] = {}
        for mapping in self.mappings:
            concurrency[mapping.function] = max(
                concurrency.get(mapping.function, 0), mapping.maximum_concurrency
            )
        echo: IO[str] | None = sys.stderr if self.verbose else None
        assert self._identities is not None
        for logical_id, spec in self.functions.items():
            python_path = list(spec.python_path)
            environment = function_environment(
                spec,
                endpoints,
                python_path=python_path,
                credentials=self._identities.for_function(logical_id),
                real_service=real_token_configured(
                    self._template, self._template.get(logical_id), spec.environment, self.environ
                ),
            )
            environment.update(self.extra_environment)
            log_path = self.log_path(logical_id)
            log_path.write_text("")
            self._pools[logical_id] = WorkerPool(
                spec,
                environment,
                size=concurrency.get(logical_id, DEFAULT_CONCURRENCY),
                log_path=log_path,
                echo=echo,
            )

    def _write_local_json(self) -> None:
        temporary = self.local_json_path.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(self.local_info(), indent=2) + "\n", encoding="utf-8")
        temporary.replace(self.local_json_path)

    # -- lookups ---------------------------------------------------------------------------------------------

    def _rule(self, name: str) -> ScheduledRule:
        if name in self.rules:
            return self.rules[name]
        for rule in self.rules.values():
            if rule.name == name:
                return rule
        raise KeyError(name)

    def _fire_rule(self, rule: ScheduledRule) -> None:
        for result in self.fire_schedule(rule.logical_id):
            if not result.ok:
                logger.warning(
                    "schedule %s: %s failed: %s",
                    rule.logical_id,
                    result.function,
                    (result.error or {}).get("errorMessage"),
                )


def _default_project_root(template_path: Path) -> Path:
    parent = template_path.resolve().parent
    return parent.parent if parent.name == "cdk.out" else Path.cwd()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="switchboard local",
        description="Run the synthesized Switchboard stack on this machine (moto, loopback HTTP, workers).",
    )
    parser.add_argument("--template", default=DEFAULT_TEMPLATE, help="the synthesized template (%(default)s)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="HTTP API port, 0 for a free one (%(default)s)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="HTTP API address (%(default)s)")
    parser.add_argument("--state-dir", default=DEFAULT_STATE_DIR, help="local.json and logs/ (%(default)s)")
    parser.add_argument("--no-schedules", action="store_true", help="do not fire schedules on their own")
    parser.add_argument(
        "--visibility-timeout-cap",
        type=int,
        metavar="SECONDS",
        help="test aid: cap every queue's visibility timeout, so retries and DLQ moves take seconds",
    )
    parser.add_argument("--llm-url", help="base URL of a Messages API stand-in for LLM_API_URL")
    parser.add_argument(
        "--set-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="test aid: set a variable in every function's environment (e.g. shorter retry delays)",
    )
    parser.add_argument("--verbose", action="store_true", help="echo function logs to stderr, debug logging")
    parser.add_argument(
        "--console-port",
        type=int,
        default=3100,
        help="the console's loopback port (%(default)s; taken: a free one)",
    )
    parser.add_argument("--no-console", action="store_true", help="do not serve the console")
    return parser


def _pairs(values: list[str]) -> dict[str, str]:
    pairs = {}
    for value in values:
        key, sep, setting = value.partition("=")
        if not sep or not key:
            raise SystemExit(f"switchboard local: --set-env wants KEY=VALUE, got {value!r}")
        pairs[key] = setting
    return pairs


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("botocore", "boto3", "urllib3", "werkzeug"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    standin = None
    llm_url = args.llm_url
    if not llm_url and not os.environ.get("ANTHROPIC_API_KEY"):
        from tools.standin.messages_api import MessagesApiStandin

        standin = MessagesApiStandin(host=args.host).start()
        llm_url = standin.url
    runtime = LocalRuntime(
        args.template,
        port=args.port,
        host=args.host,
        state_dir=args.state_dir,
        schedules=not args.no_schedules,
        visibility_timeout_cap=args.visibility_timeout_cap,
        extra_environment=_pairs(args.set_env),
        llm_url=llm_url,
        verbose=args.verbose,
        console_port=None if args.no_console else args.console_port,
    )
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        previous = {signum: signal.signal(signum, on_signal) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            runtime.start()
        except (TemplateError, OSError, ClientError) as exc:
            print(f"switchboard local: {exc}", file=sys.stderr)
            return 1
        print(runtime.banner(), flush=True)
        while not stopping.wait(0.5):
            pass
        print("stopping…", file=sys.stderr, flush=True)
    finally:
        runtime.stop()
        if standin is not None:
            standin.stop()
        for signum, handler in previous.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(signum, handler)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
