"""Lambda durable functions on loopback: the Lambda API endpoint of the local runtime.

A function whose template entry has `DurableConfig` runs as a durable execution: the official SDK
(`aws-durable-execution-sdk-python`) inside the handler calls `CheckpointDurableExecution` and
`GetDurableExecutionState` on the Lambda API, and the service re-invokes the function with the checkpointed
state after every wait, retry delay, callback or crash. This module is that service, on 127.0.0.1:
- the execution engine is the official testing SDK's (`aws-durable-execution-sdk-python-testing`, its
  `Executor`, `CheckpointProcessor`, `Scheduler` and in-memory store: checkpoint tokens, operation state,
  wait and retry timers, callback timeouts and heartbeats, execution timeouts, one invocation in flight per
  execution, re-invocation with replay, a failed invocation retried with backoff); its web layer parses and
  answers the Lambda REST routes (`/2025-12-01/durable-executions/...`,
  `/2025-12-01/durable-execution-callbacks/...`, `/2025-12-01/functions/{name}/durable-executions`);
- what this module adds: the function is invoked in the runtime's own worker processes (`RuntimeInvoker`), so
  the handler is the deployed artifact with its role and environment; durable execution ARNs in AWS's shape
  (`arn:aws:lambda:{region}:{account}:function:{name}:$LATEST/durable-execution/{name}/{id}`); `Invoke`
  (`POST /2015-03-31/functions/{name}/invocations`), which starts an execution of a durable function, once
  per `DurableExecutionName`; and IAM: every request is authenticated and authorized by moto's own evaluator
  (`moto.iam.access_control.IAMRequest`, the one the moto server applies to every other service) against the
  caller's identity policies, with the resource AWS authorizes (below).

Workers reach it through `AWS_ENDPOINT_URL_LAMBDA` (botocore's service-specific endpoint variable), so a
`boto3.client("lambda")` in a handler, the SDK's included, talks to this service and every other client
still talks to moto.

Contracts, from AWS's documentation (read 2026-12):
- "Invoking durable Lambda functions" (https://docs.aws.amazon.com/lambda/latest/dg/durable-invoking.html)
  and "Idempotency" (https://docs.aws.amazon.com/lambda/latest/dg/durable-execution-idempotency.html): an
  Invoke of a durable function starts an execution; with `DurableExecutionName` (header
  `X-Amz-Durable-Execution-Name`) the name is an idempotency key: the same name with the same payload
  returns the existing execution and starts none, with another payload it is refused with
  `DurableExecutionAlreadyStartedException` (HTTP 409, the botocore model); the page's table was read for a
  running execution, and a closed one is treated the same way here (unchecked). The response carries
  `X-Amz-Durable-Execution-Arn`; `Event` answers 202 at once, `RequestResponse` waits for the execution. A
  durable function is invoked with a qualified ARN (see `DurableService.invoke`).
- "Security and permissions for Lambda durable functions"
  (https://docs.aws.amazon.com/lambda/latest/dg/durable-security.html): most durable execution actions are
  authorized against the durable execution ARN, a sub-resource of the function version
  (`function:{name}:{qualifier}/durable-execution/...`), so an unqualified function ARN in a policy never
  matches; the execution role needs `lambda:CheckpointDurableExecution` and `lambda:GetDurableExecutionState`
  (CDK's `DurableConfig` attaches the AWS managed policy `AWSLambdaBasicDurableExecutionRolePolicy`, which
  grants both on `*`). Here: `Invoke` is `lambda:InvokeFunction` on the function ARN (with its qualifier when
  given); `ListDurableExecutionsByFunction` is checked on the function ARN; the callback actions
  (`SendDurableExecutionCallbackSuccess`/`Failure`/`Heartbeat`) on the ARN of the execution the callback
  belongs to (the page does not list them separately: an assumption, checked only on AWS); every other
  action on the execution ARN.
- API reference (https://docs.aws.amazon.com/lambda/latest/api/, `CheckpointDurableExecution`,
  `GetDurableExecutionState`, `SendDurableExecutionCallbackSuccess`, ...): the request and response shapes,
  which the testing SDK's handlers implement and the botocore model in uv.lock (1.44.x) checks on the client.

What only AWS checks: Lambda's own retry policy for failed invocations and its quotas, payload limits beyond
what the testing SDK enforces, retention (`RetentionPeriodInDays`: executions live as long as the runtime),
KMS keys, versions and aliases (every qualifier runs the current code), chained invokes (`context.invoke`),
resource policies and IAM conditions.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qs, unquote, urlparse

from aws_durable_execution_sdk_python.execution import (
    DurableExecutionInvocationInput,
    InitialExecutionState,
)
from aws_durable_execution_sdk_python_testing.checkpoint.processor import (
    DEFAULT_MAX_INVOCATION_PAGE_BYTES,
    CheckpointProcessor,
)
from aws_durable_execution_sdk_python_testing.exceptions import (
    DurableFunctionsTestError,
    ResourceNotFoundException,
    UnknownRouteError,
)
from aws_durable_execution_sdk_python_testing.execution import Execution, OperationPaginatorState
from aws_durable_execution_sdk_python_testing.executor import Executor
from aws_durable_execution_sdk_python_testing.invoker import InvokeResponse
from aws_durable_execution_sdk_python_testing.model import StartDurableExecutionInput
from aws_durable_execution_sdk_python_testing.scheduler import Scheduler
from aws_durable_execution_sdk_python_testing.stores.memory import InMemoryExecutionStore
from aws_durable_execution_sdk_python_testing.token import CallbackToken
from aws_durable_execution_sdk_python_testing.web import routes
from aws_durable_execution_sdk_python_testing.web.server import (
    RequestHandler,
    WebServer,
    WebServiceConfig,
)

from tools.local.functions import FunctionSpec, InvokeResult
from tools.local.template import ACCOUNT_ID, PARTITION, REGION, Resolver, Template

if TYPE_CHECKING:
    from aws_durable_execution_sdk_python_testing.web.models import HTTPResponse

logger = logging.getLogger("switchboard.local")

#: The testing SDK release whose executor internals `_LocalExecutor` extends (like `moto_iam.VERIFIED_MOTO`).
VERIFIED_TESTING_SDK: Final = "1.4.0"
#: `DurableConfig.ExecutionTimeout` when the template gives none (CloudFormation requires it; a guard only).
DEFAULT_EXECUTION_TIMEOUT: Final = 900
DEFAULT_RETENTION_DAYS: Final = 14
#: Lambda's limit on a synchronous invocation: a `RequestResponse` Invoke waits at most this long.
SYNC_INVOKE_LIMIT_SECONDS: Final = 900
QUALIFIER: Final = "$LATEST"

_INVOKE_PREFIX: Final = "/2015-03-31/functions/"
_INVOKE_SUFFIX: Final = "/invocations"

#: The Lambda API action each durable route is authorized as.
_ACTIONS: Final[dict[type[routes.Route], str]] = {
    routes.GetDurableExecutionRoute: "GetDurableExecution",
    routes.CheckpointDurableExecutionRoute: "CheckpointDurableExecution",
    routes.StopDurableExecutionRoute: "StopDurableExecution",
    routes.GetDurableExecutionStateRoute: "GetDurableExecutionState",
    routes.GetDurableExecutionHistoryRoute: "GetDurableExecutionHistory",
    routes.ListDurableExecutionsByFunctionRoute: "ListDurableExecutionsByFunction",
    routes.CallbackSuccessRoute: "SendDurableExecutionCallbackSuccess",
    routes.CallbackFailureRoute: "SendDurableExecutionCallbackFailure",
    routes.CallbackHeartbeatRoute: "SendDurableExecutionCallbackHeartbeat",
}
_CALLBACK_ROUTES: Final = (
    routes.CallbackSuccessRoute,
    routes.CallbackFailureRoute,
    routes.CallbackHeartbeatRoute,
)


@dataclass(frozen=True)
class DurableConfig:
    """`AWS::Lambda::Function` `DurableConfig`: what CDK's `aws_lambda.DurableConfig` writes."""

    execution_timeout: int = DEFAULT_EXECUTION_TIMEOUT
    retention_period_in_days: int = DEFAULT_RETENTION_DAYS


def durable_functions(template: Template, functions: Mapping[str, FunctionSpec]) -> dict[str, DurableConfig]:
    """The functions the runtime runs that the template declares durable (logical id → their config)."""
    found = {}
    for logical_id in functions:
        config = template.get(logical_id).properties.get("DurableConfig")
        if isinstance(config, dict):
            found[logical_id] = DurableConfig(
                execution_timeout=int(config.get("ExecutionTimeout", DEFAULT_EXECUTION_TIMEOUT)),
                retention_period_in_days=int(config.get("RetentionPeriodInDays", DEFAULT_RETENTION_DAYS)),
            )
    return found


def split_qualifier(function: str) -> tuple[str, str | None]:
    """`name`, `name:qualifier`, a partial or full ARN (with or without qualifier) → (name, qualifier)."""
    rest = function.split(":function:", 1)[1] if ":function:" in function else function
    name, _, qualifier = rest.partition(":")
    return name, qualifier or None


def function_qualifiers(template: Template, resolver: Resolver) -> dict[str, str]:
    """Register each `AWS::Lambda::Alias` and `AWS::Lambda::Version` of the template (not run locally: every
    qualifier runs the function's `$LATEST` code) so that Refs to them resolve, and return the qualified ARNs
    (logical id → ARN). An alias is `function ARN:Name`; a version gets the number 1."""
    qualified = {}
    for resource in template.of_type("AWS::Lambda::Alias", "AWS::Lambda::Version"):
        where = resource.logical_id
        function = resolver.resolve_str(resource.properties.get("FunctionName", ""), where)
        name, _ = split_qualifier(function)
        arn = f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"
        if resource.type == "AWS::Lambda::Alias":
            alias = resolver.resolve_str(resource.properties.get("Name", where), where)
            resolver.register(resource.logical_id, f"{arn}:{alias}", AliasArn=f"{arn}:{alias}")
            qualified[resource.logical_id] = f"{arn}:{alias}"
        else:
            resolver.register(resource.logical_id, f"{arn}:1", Version="1", FunctionArn=f"{arn}:1")
            qualified[resource.logical_id] = f"{arn}:1"
    return qualified


def execution_arn(function_arn: str, name: str, execution_id: str) -> str:
    """A durable execution's ARN: a sub-resource of the function version (durable-security, above)."""
    return f"{function_arn}:{QUALIFIER}/durable-execution/{name}/{execution_id}"


class DurableServiceError(Exception):
    """An error the Lambda API answers with: its error type (`x-amzn-ErrorType`), HTTP status, message."""

    def __init__(self, error_type: str, status: int, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.status = status


@dataclass(frozen=True)
class Started:
    """The outcome of an Invoke of a durable function: its execution, and whether this call started it."""

    arn: str
    started: bool


class RuntimeInvoker:
    """The testing SDK's `Invoker`, invoking the function in the local runtime's worker processes.

    The payload is the durable invocation input as Lambda sends it (`DurableExecutionArn`, `CheckpointToken`,
    `InitialExecutionState`), JSON, so the handler's SDK builds its own Lambda client from the environment.
    A failed invocation (a crash, a timeout, an error the handler raised past the SDK) raises, and the
    executor retries it with backoff, as the service does.
    """

    def __init__(
        self,
        invoke: Callable[[str, Any], InvokeResult],
        max_page_bytes: int = DEFAULT_MAX_INVOCATION_PAGE_BYTES,
    ) -> None:
        self._invoke = invoke
        self._max_page_bytes = max_page_bytes

    def create_invocation_input(self, execution: Execution) -> DurableExecutionInvocationInput:
        paginator = OperationPaginatorState.pin(execution)
        operations, next_marker = paginator.page(None, self._max_page_bytes)
        return DurableExecutionInvocationInput(
            durable_execution_arn=execution.durable_execution_arn,
            checkpoint_token=execution.get_new_checkpoint_token(),
            initial_execution_state=InitialExecutionState(
                operations=operations, next_marker=next_marker or ""
            ),
            updated_operation_ids=list(execution.updated_operation_ids),
        )

    def invoke(
        self,
        function_name: str,
        input: DurableExecutionInvocationInput,
        endpoint_url: str | None = None,
        tenant_id: str | None = None,
        account_id: str | None = None,
        region_name: str | None = None,
    ) -> InvokeResponse:
        name = function_name if ":function:" in function_name else function_name.split(":", 1)[0]
        result = self._invoke(name, dict(input.to_json_dict()))
        if not result.ok:
            error = result.error or {}
            raise DurableFunctionsTestError(f"{error.get('errorType')}: {error.get('errorMessage')}")
        return InvokeResponse.from_output(result.payload, result.request_id)

    def update_endpoint(self, endpoint_url: str, region_name: str) -> None:
        """Nothing to update: the runtime's workers are the only endpoint."""

    def inherit_endpoint(self, child_execution_arn: str, parent_execution_arn: str) -> None:
        """Nothing to inherit (see `update_endpoint`)."""


class _LocalExecutor(Executor):
    """The testing SDK's executor, with durable execution ARNs in AWS's shape (its own are opaque ids)."""

    def __init__(self, *args: Any, arns: Callable[[StartDurableExecutionInput], str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._arns = arns

    def _create_execution(
        self,
        input: StartDurableExecutionInput,
        parent_execution_arn: str | None = None,
    ) -> Execution:
        execution = Execution.new(input=input)
        execution.durable_execution_arn = self._arns(input)
        execution.region = self._region
        execution.parent_execution_arn = parent_execution_arn
        execution.start(now=self._clock.now())
        self._store.save(execution)
        return execution


class DurableService:
    """Durable executions of the template's durable functions, and the Lambda API endpoint (see above)."""

    def __init__(
        self,
        functions: Mapping[str, FunctionSpec],
        durable: Mapping[str, DurableConfig],
        invoke: Callable[[str, Any], InvokeResult],
        *,
        qualifiers: Mapping[str, str] | None = None,
        host: str = "127.0.0.1",
        retry_backoff_seconds: int | None = None,
    ) -> None:
        self.functions = dict(functions)
        self.durable = dict(durable)
        self.qualifiers = dict(qualifiers or {})  # alias and version logical ids → their qualified ARNs
        self._invoke = invoke
        self._host = host
        self._retry_backoff_seconds = retry_backoff_seconds
        self._names: dict[tuple[str, str], tuple[str, str | None]] = {}  # (function, name) → (arn, payload)
        self._names_lock = threading.Lock()
        self._store: InMemoryExecutionStore | None = None
        self._scheduler: Scheduler | None = None
        self._executor: _LocalExecutor | None = None
        self._server: _LambdaApiServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> DurableService:
        self._store = InMemoryExecutionStore()
        self._scheduler = Scheduler()
        processor = CheckpointProcessor(self._store, self._scheduler)
        longest = max((spec.timeout for spec in self.functions.values()), default=3)
        self._executor = _LocalExecutor(
            store=self._store,
            scheduler=self._scheduler,
            invoker=RuntimeInvoker(self._invoke),
            checkpoint_processor=processor,
            invocation_timeout_seconds=longest + 30,  # the worker pool enforces the function's own timeout
            region=REGION,
            arns=self._arn_for,
        )
        if self._retry_backoff_seconds is not None:
            self._executor.RETRY_BACKOFF_SECONDS = self._retry_backoff_seconds
        processor.add_execution_observer(self._executor)
        processor.set_chained_invoke_preflight(self._executor.preflight_chained_invoke)
        self._scheduler.start()
        self._server = _LambdaApiServer(WebServiceConfig(host=self._host, port=0), self._executor, self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="lambda-api", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, cancel the timers, drop the executions. Idempotent."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        if self._executor is not None:
            self._executor.shutdown()
            self._executor = None
        if self._scheduler is not None:
            with contextlib.suppress(RuntimeError):
                self._scheduler.stop()
            self._scheduler = None
        self._store = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the durable execution service is not running")
        address = self._server.server_address
        return f"http://{address[0]!s}:{address[1]}"

    @property
    def executor(self) -> Executor:
        if self._executor is None:
            raise RuntimeError("the durable execution service is not running")
        return self._executor

    # -- executions ------------------------------------------------------------------------------------------

    def start_execution(self, function: str, payload: str | None, name: str | None = None) -> Started:
        """Start a durable execution of `function` (logical id), once per execution name (Idempotency)."""
        spec = self.functions[function]
        config = self.durable[function]
        name = name or str(uuid.uuid4())
        with self._names_lock:
            existing = self._names.get((spec.name, name))
            if existing is not None:
                arn, first_payload = existing
                if _same_payload(first_payload, payload):
                    return Started(arn, started=False)
                raise DurableServiceError(
                    "DurableExecutionAlreadyStartedException",
                    409,
                    f"Durable execution with name {name} already exists for {spec.arn} with another payload",
                )
            start = StartDurableExecutionInput(
                account_id=ACCOUNT_ID,
                function_name=spec.name,
                function_qualifier=QUALIFIER,
                execution_name=name,
                execution_timeout_seconds=config.execution_timeout,
                execution_retention_period_days=config.retention_period_in_days,
                invocation_id=str(uuid.uuid4()),
                input=payload,
            )
            arn = str(self.executor.start_execution(start).execution_arn)
            self._names[(spec.name, name)] = (arn, payload)
        logger.info("durable execution %s started", arn)
        return Started(arn, started=True)

    def execution(self, arn: str) -> dict[str, Any]:
        """`GetDurableExecution`'s answer for `arn`."""
        return dict(self.executor.get_execution_details(arn).to_dict())

    def wait(self, arn: str, timeout: float) -> bool:
        """Block until the execution closes (True) or `timeout` passes (False)."""
        return bool(self.executor.wait_until_complete(arn, timeout))

    def _arn_for(self, start: StartDurableExecutionInput) -> str:
        spec = next(spec for spec in self.functions.values() if spec.name == start.function_name)
        return execution_arn(spec.arn, start.execution_name, start.invocation_id or str(uuid.uuid4()))

    def function_of(self, function: str) -> str | None:
        """The logical id of a function given by name, (partial) ARN or logical id; None if unknown."""
        if function in self.functions:
            return function
        name, _ = split_qualifier(function)
        return next((logical_id for logical_id, spec in self.functions.items() if spec.name == name), None)

    def check_qualifier(self, logical_id: str, qualifier: str | None) -> None:
        """A qualifier must name something the function has: `$LATEST`, a version, or one of its aliases in
        the template (`qualifiers`); otherwise Lambda answers ResourceNotFoundException."""
        spec = self.functions[logical_id]
        known = {
            arn.rsplit(":", 1)[1] for arn in self.qualifiers.values() if split_qualifier(arn)[0] == spec.name
        }
        if qualifier is not None and qualifier != QUALIFIER and qualifier not in known:
            raise DurableServiceError(
                "ResourceNotFoundException", 404, f"Function not found: {spec.arn}:{qualifier}"
            )

    # -- what a request is authorized on ---------------------------------------------------------------------

    def resource_of(self, route: routes.Route) -> str:
        """The ARN AWS authorizes the route's action on (see the module docstring)."""
        if isinstance(route, routes.ListDurableExecutionsByFunctionRoute):
            logical_id = self.function_of(route.function_name)
            return self.functions[logical_id].arn if logical_id else route.function_name
        if isinstance(route, _CALLBACK_ROUTES):
            try:
                return CallbackToken.from_str(route.callback_id).execution_arn
            except (ValueError, KeyError):
                return "*"  # a malformed id: the handler answers InvalidParameterValueException
        return str(getattr(route, "arn", "*"))

    def check_callback_open(self, callback_id: str) -> None:
        """Refuse a callback answer for a callback already closed (answered, timed out, or its execution
        ended) with `CallbackTimeoutException`, as the API reference documents ("The callback ID token has
        either expired or the callback associated with the token has already been closed.",
        SendDurableExecutionCallbackSuccess); the testing SDK answers ResourceNotFoundException there."""
        try:
            arn = CallbackToken.from_str(callback_id).execution_arn
        except (ValueError, KeyError):
            return  # the handler answers InvalidParameterValueException
        assert self._store is not None
        try:
            execution = self._store.load(arn)
        except (KeyError, ValueError, ResourceNotFoundException):
            return  # the handler answers ResourceNotFoundException
        operation = next(
            (
                operation
                for operation in execution.operations
                if operation.callback_details is not None
                and operation.callback_details.callback_id == callback_id
            ),
            None,
        )
        if execution.is_complete or (operation is not None and operation.status.value != "STARTED"):
            raise DurableServiceError(
                "CallbackTimeoutException",
                400,
                "The callback ID token has either expired or the callback associated with the token has "
                "already been closed.",
            )

    # -- Invoke ----------------------------------------------------------------------------------------------

    def invoke(
        self,
        function: str,
        payload: bytes,
        invocation_type: str,
        name: str | None,
        qualifier: str | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """`Invoke`: a durable function starts (or finds) an execution; any other runs once in a worker.

        A durable function is invoked with a qualifier (a version, an alias, `$LATEST`): AWS refuses an
        unqualified one with InvalidParameterValueException "You cannot invoke a durable function using an
        unqualified ARN." ("Invoking durable Lambda functions", qualified ARNs; the message as quoted in
        serverless/serverless#13589, 2026-05). Every qualifier runs `$LATEST` locally, and the execution ARN
        says `$LATEST` (on AWS it carries the version an alias resolves to)."""
        logical_id = self.function_of(function)
        if logical_id is None:
            raise DurableServiceError(
                "ResourceNotFoundException",
                404,
                f"Function not found: arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function}",
            )
        if invocation_type not in ("RequestResponse", "Event", "DryRun"):
            raise DurableServiceError(
                "InvalidParameterValueException", 400, f"Unsupported invocation type {invocation_type}"
            )
        if invocation_type == "DryRun":
            return 204, {}, b""
        if logical_id not in self.durable:
            if name:
                raise DurableServiceError(
                    "InvalidParameterValueException",
                    400,
                    "DurableExecutionName applies to durable functions only",
                )
            return self._invoke_plain(logical_id, payload, invocation_type)
        if qualifier is None:
            raise DurableServiceError(
                "InvalidParameterValueException",
                400,
                "You cannot invoke a durable function using an unqualified ARN.",
            )
        text = payload.decode("utf-8") if payload else None
        started = self.start_execution(logical_id, text, name)
        headers = {"X-Amz-Durable-Execution-Arn": started.arn, "X-Amz-Executed-Version": QUALIFIER}
        if invocation_type == "Event":
            return 202, headers, b""
        limit = min(SYNC_INVOKE_LIMIT_SECONDS, self.durable[logical_id].execution_timeout)
        if not self.wait(started.arn, limit):
            raise DurableServiceError(
                "ServiceException", 500, f"the durable execution did not close within {limit} seconds"
            )
        details = self.execution(started.arn)
        if details.get("Status") == "SUCCEEDED":
            return 200, headers, str(details.get("Result") or "null").encode()
        error = details.get("Error") or {}
        body = {"errorType": error.get("ErrorType"), "errorMessage": error.get("ErrorMessage")}
        return 200, {**headers, "X-Amz-Function-Error": "Unhandled"}, json.dumps(body).encode()

    def _invoke_plain(
        self, logical_id: str, payload: bytes, invocation_type: str
    ) -> tuple[int, dict[str, str], bytes]:
        try:
            event = json.loads(payload) if payload else {}
        except json.JSONDecodeError as exc:
            raise DurableServiceError(
                "InvalidRequestContentException", 400, f"Could not parse payload: {exc}"
            ) from exc
        if invocation_type == "Event":
            threading.Thread(target=self._invoke, args=(logical_id, event), daemon=True).start()
            return 202, {}, b""
        result = self._invoke(logical_id, event)
        headers = {"X-Amz-Executed-Version": QUALIFIER}
        if result.ok:
            return 200, headers, json.dumps(result.payload).encode()
        return 200, {**headers, "X-Amz-Function-Error": "Unhandled"}, json.dumps(result.error).encode()


def _same_payload(first: str | None, again: str | None) -> bool:
    def parsed(text: str | None) -> Any:
        if not text:
            return None
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text

    return bool(parsed(first) == parsed(again))


def authorize(
    method: str, path: str, body: bytes, headers: Mapping[str, str], action: str, resource: str
) -> None:
    """Authenticate the SigV4-signed request and authorize `lambda:<action>` on `resource` for the caller,
    with moto's evaluator against moto's IAM (the runtime's moto server shares this process). Raises
    `DurableServiceError` in the shape Lambda answers ("Common Errors", AWS API references:
    `MissingAuthenticationToken`, `UnrecognizedClientException`, `InvalidSignatureException`,
    `AccessDeniedException`)."""
    from moto.core.exceptions import AccessDeniedError, InvalidClientTokenIdError, SignatureDoesNotMatchError
    from moto.core.exceptions import _RESTError as RESTError
    from moto.iam.access_control import IAMRequest

    if "Authorization" not in headers:
        raise DurableServiceError("MissingAuthenticationTokenException", 403, "Missing Authentication Token")
    try:
        request = IAMRequest(
            account_id=ACCOUNT_ID,
            method=method,
            path=path,
            data={},
            body=body,
            headers=dict(headers),
            action=action,
        )
        request.check_signature()
        request.check_action_permitted(resource)
    except InvalidClientTokenIdError as exc:
        raise DurableServiceError("UnrecognizedClientException", 403, exc.message) from None
    except SignatureDoesNotMatchError as exc:
        raise DurableServiceError("InvalidSignatureException", 403, exc.message) from None
    except AccessDeniedError:
        raise DurableServiceError(
            "AccessDeniedException",
            403,
            f"not authorized to perform: lambda:{action} on resource: {resource}",
        ) from None
    except RESTError as exc:
        raise DurableServiceError(exc.error_type, exc.code, exc.message) from None


class _LambdaApiServer(WebServer):
    """The testing SDK's web server, serving only the Lambda API's routes, behind IAM."""

    def __init__(self, config: WebServiceConfig, executor: Executor, service: DurableService) -> None:
        self.service = service
        root = logging.getLogger()
        handlers = list(root.handlers)
        super().__init__(config, executor)
        root.handlers[:] = handlers  # WebServer calls logging.basicConfig: the runtime's logging stays as set
        self.RequestHandlerClass = _LambdaApiHandler
        # The testing SDK's own routes (start-durable-execution, health, metrics, lambda-endpoint) are not
        # Lambda's: answered as unknown.
        self.endpoint_handlers = {
            route: handler for route, handler in self.endpoint_handlers.items() if route in _ACTIONS
        }


class _LambdaApiHandler(RequestHandler):
    server: _LambdaApiServer

    def _handle_request(self, method: str) -> None:
        length = int(self.headers.get("Content-Length", 0) or 0)
        body = self.rfile.read(length) if length > 0 else b""
        path = urlparse(self.path).path
        service = self.server.service
        try:
            if method == "POST" and path.startswith(_INVOKE_PREFIX) and path.endswith(_INVOKE_SUFFIX):
                self._invoke(service, path, body)
                return
            try:
                route = self.router.find_route(path, method)
            except UnknownRouteError:
                route = None
            if route is None or type(route) not in self.endpoint_handlers:
                raise DurableServiceError(
                    "UnknownOperationException", 404, f"Unknown operation {method} {path}"
                )
            authorize(
                method, self.path, body, dict(self.headers), _ACTIONS[type(route)], service.resource_of(route)
            )
            if isinstance(route, _CALLBACK_ROUTES):
                service.check_callback_open(route.callback_id)
        except DurableServiceError as error:
            self._send_error(error)
            return
        except ResourceNotFoundException as error:
            self._send_error(DurableServiceError("ResourceNotFoundException", 404, str(error)))
            return
        self.rfile = io.BytesIO(body)
        super()._handle_request(method)

    def _invoke(self, service: DurableService, path: str, body: bytes) -> None:
        function = unquote(path[len(_INVOKE_PREFIX) : -len(_INVOKE_SUFFIX)])
        named = split_qualifier(function)[1]
        queried = (parse_qs(urlparse(self.path).query).get("Qualifier") or [""])[0] or None
        if named and queried and named != queried:
            raise DurableServiceError(
                "InvalidParameterValueException",
                400,
                "The derived qualifier from the function name does not match the specified qualifier.",
            )
        qualifier = named or queried
        logical_id = service.function_of(function)
        if logical_id is None:
            raise DurableServiceError("ResourceNotFoundException", 404, f"Function not found: {function}")
        service.check_qualifier(logical_id, qualifier)
        arn = service.functions[logical_id].arn
        authorize(
            "POST",
            self.path,
            body,
            dict(self.headers),
            "InvokeFunction",
            f"{arn}:{qualifier}" if qualifier else arn,
        )
        status, headers, payload = service.invoke(
            logical_id,
            body,
            self.headers.get("X-Amz-Invocation-Type") or "RequestResponse",
            self.headers.get("X-Amz-Durable-Execution-Name"),
            qualifier,
        )
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload:
            self.wfile.write(payload)

    def _send_error(self, error: DurableServiceError) -> None:
        body = json.dumps({"Type": "User", "message": str(error)}).encode()
        self.send_response(error.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("x-amzn-ErrorType", error.error_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send_response(self, response: HTTPResponse) -> None:
        """The testing SDK's responses, with Lambda's error-type header (botocore reads the code there)."""
        error_type = response.body.get("Type") if isinstance(response.body, dict) else None
        if response.status_code >= 400 and error_type and "x-amzn-ErrorType" not in response.headers:
            response.headers["x-amzn-ErrorType"] = str(error_type)
        super()._send_response(response)

    def log_message(self, format_string: str, *args: Any) -> None:
        logger.debug("lambda api: %s", format_string % args)
