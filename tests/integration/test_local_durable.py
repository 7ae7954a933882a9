"""Lambda durable functions on the local runtime (`tools.local.durable`), with a toy durable function.

The template (`fixtures/durable/`) is hand-written in the shape CDK synthesizes for `aws_lambda.DurableConfig`
(the `DurableConfig` property, the AWS managed `AWSLambdaBasicDurableExecutionRolePolicy` on the role) and for
`grant_invoke`. The toy (`fixtures/durable/functions/toy`) runs the official SDK in a worker, as deployed: two
steps, a parallel block, a wait, and a callback with a timeout; it appends one line per side effect to a file,
so the tests count what ran. One runtime serves the module; a failed invocation is retried after 1 s.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tools.local import moto_credentials
from tools.local.runtime import LocalRuntime

TEMPLATE = Path(__file__).parent / "fixtures" / "durable" / "Durable.template.json"


@pytest.fixture(scope="module")
def effects_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("effects")


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory, effects_dir: Path) -> Iterator[LocalRuntime]:
    local = LocalRuntime(
        TEMPLATE,
        port=0,
        state_dir=tmp_path_factory.mktemp("switchboard"),
        schedules=False,
        extra_environment={"SIDE_EFFECTS_DIR": str(effects_dir)},
        durable_retry_backoff=1,
    )
    with local:
        yield local


@pytest.fixture(scope="module")
def admin(runtime: LocalRuntime) -> Any:
    """A Lambda client for the local Lambda API, as the operator tools sign (the runtime's admin user)."""
    return moto_credentials.client("lambda", runtime.lambda_url, runtime.admin_credentials)


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def effects(effects_dir: Path, tag: str) -> list[dict[str, Any]]:
    path = effects_dir / f"{tag}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def counts(effects_dir: Path, tag: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for line in effects(effects_dir, tag):
        found[line["effect"]] = found.get(line["effect"], 0) + 1
    return found


def callback_id(effects_dir: Path, tag: str) -> str:
    def announced() -> str | None:
        return next(
            (line["value"] for line in effects(effects_dir, tag) if line["effect"] == "callback"), None
        )

    value: str = wait_for(announced, what=f"{tag}'s callback")
    return value


def start(runtime: LocalRuntime, name: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Start the toy as a producer would: the starter function's async Invoke with the execution name."""
    result = runtime.invoke("StarterFunction", {"name": name, "payload": payload})
    assert result.ok, result.error
    started: dict[str, Any] = result.payload
    return started


def closed(runtime: LocalRuntime, admin: Any, arn: str, timeout: float = 20.0) -> dict[str, Any]:
    assert runtime.durable.wait(arn, timeout), f"{arn} did not close"
    execution: dict[str, Any] = admin.get_durable_execution(DurableExecutionArn=arn)
    return execution


def test_toy_runs_end_to_end_with_steps_parallel_wait_and_callback(
    runtime: LocalRuntime, admin: Any, effects_dir: Path
) -> None:
    tag = f"e2e-{uuid.uuid4().hex[:8]}"
    started = start(runtime, tag, {"tag": tag, "n": 1})

    assert started["status"] == 202
    assert started["arn"].startswith(
        "arn:aws:lambda:us-east-1:123456789012:function:ToyFunction:$LATEST/durable-execution/" + tag + "/"
    )
    approval = callback_id(effects_dir, tag)
    admin.send_durable_execution_callback_heartbeat(CallbackId=approval)  # the callback is still open
    assert admin.get_durable_execution(DurableExecutionArn=started["arn"])["Status"] == "RUNNING"
    admin.send_durable_execution_callback_success(
        CallbackId=approval, Result=json.dumps({"approved": True}).encode()
    )
    execution = closed(runtime, admin, started["arn"])

    assert execution["Status"] == "SUCCEEDED"
    assert json.loads(execution["Result"]) == {
        "first": 2,
        "second": 4,
        "parallel": [5, 6],
        "approval": json.dumps({"approved": True}),
    }
    assert execution["DurableExecutionName"] == tag
    assert json.loads(execution["InputPayload"]) == {"tag": tag, "n": 1}
    # Every step ran once, across the invocations the wait and the callback took (replays skip them).
    assert counts(effects_dir, tag) == {"first": 1, "second": 1, "left": 1, "right": 1, "callback": 1}
    log = runtime.log_path("ToyFunction").read_text()
    assert log.count("START RequestId") >= 3  # the first run, after the wait, after the callback


def test_same_execution_name_starts_one_execution(
    runtime: LocalRuntime, admin: Any, effects_dir: Path
) -> None:
    tag = f"twice-{uuid.uuid4().hex[:8]}"
    first = start(runtime, tag, {"tag": tag, "n": 5})
    second = start(runtime, tag, {"tag": tag, "n": 5})

    assert second["arn"] == first["arn"]
    listed = admin.list_durable_executions_by_function(FunctionName="ToyFunction", DurableExecutionName=tag)
    assert [execution["DurableExecutionArn"] for execution in listed["DurableExecutions"]] == [first["arn"]]
    with pytest.raises(ClientError) as refused:
        admin.invoke(
            FunctionName="ToyFunction:live",
            InvocationType="Event",
            DurableExecutionName=tag,
            Payload=json.dumps({"tag": tag, "n": 6}).encode(),
        )
    assert refused.value.response["Error"]["Code"] == "DurableExecutionAlreadyStartedException"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409

    admin.send_durable_execution_callback_success(CallbackId=callback_id(effects_dir, tag), Result=b'"ok"')
    assert closed(runtime, admin, first["arn"])["Status"] == "SUCCEEDED"
    assert counts(effects_dir, tag)["first"] == 1


def test_crash_resumes_from_the_last_checkpoint_without_rerunning_a_completed_step(
    runtime: LocalRuntime, admin: Any, effects_dir: Path
) -> None:
    tag = f"crash-{uuid.uuid4().hex[:8]}"
    (effects_dir / f"{tag}.crash").touch()  # step `second` SIGKILLs its worker once
    started = start(runtime, tag, {"tag": tag, "n": 10})

    admin.send_durable_execution_callback_success(CallbackId=callback_id(effects_dir, tag), Result=b'"go"')
    execution = closed(runtime, admin, started["arn"])

    assert execution["Status"] == "SUCCEEDED"
    assert json.loads(execution["Result"])["second"] == 22
    assert not (effects_dir / f"{tag}.crash").exists()  # the crash happened
    lines = effects(effects_dir, tag)
    assert counts(effects_dir, tag) == {"first": 1, "second": 1, "left": 1, "right": 1, "callback": 1}
    first_pid = next(line["pid"] for line in lines if line["effect"] == "first")
    second_pid = next(line["pid"] for line in lines if line["effect"] == "second")
    assert first_pid != second_pid  # `second` ran in the worker that replaced the killed one


def test_callback_failure_fails_the_execution_with_its_error(
    runtime: LocalRuntime, admin: Any, effects_dir: Path
) -> None:
    tag = f"refused-{uuid.uuid4().hex[:8]}"
    started = start(runtime, tag, {"tag": tag, "n": 0})

    admin.send_durable_execution_callback_failure(
        CallbackId=callback_id(effects_dir, tag),
        Error={"ErrorType": "ReviewRejected", "ErrorMessage": "a maintainer said no"},
    )
    execution = closed(runtime, admin, started["arn"])

    assert execution["Status"] == "FAILED"
    assert "a maintainer said no" in execution["Error"]["ErrorMessage"]


def test_the_plan_watchs_adapter_reads_how_an_execution_stands_from_the_lambda_api(
    runtime: LocalRuntime, admin: Any, effects_dir: Path
) -> None:
    """``LambdaDurableExecutions`` (the plan watch's port) over the local Lambda API: RUNNING while the toy
    waits, then FAILED with its error; an ARN Lambda does not know is ``ExecutionState(None)``."""
    from switchboard.plans.watch import ExecutionState, LambdaDurableExecutions

    executions = LambdaDurableExecutions("ToyFunction", admin)
    tag = f"watched-{uuid.uuid4().hex[:8]}"
    started = start(runtime, tag, {"tag": tag, "n": 0})
    approval = callback_id(effects_dir, tag)
    assert executions.state(started["arn"]) == ExecutionState("RUNNING")
    admin.send_durable_execution_callback_failure(
        CallbackId=approval, Error={"ErrorType": "ReviewRejected", "ErrorMessage": "no"}
    )
    closed(runtime, admin, started["arn"])
    ended = executions.state(started["arn"])
    assert ended.status == "FAILED" and "no" in ended.error and not ended.going
    unknown = started["arn"].rsplit("/", 1)[0] + "/" + uuid.uuid4().hex
    assert executions.state(unknown) == ExecutionState(None)


def test_callback_timeout_fails_the_waiting_step(
    runtime: LocalRuntime, admin: Any, effects_dir: Path
) -> None:
    tag = f"timeout-{uuid.uuid4().hex[:8]}"
    started = start(runtime, tag, {"tag": tag, "n": 0, "callback_timeout": 1})
    late = callback_id(effects_dir, tag)

    execution = closed(runtime, admin, started["arn"])

    assert execution["Status"] == "FAILED"
    assert "CallbackTimeout" in execution["Error"]["ErrorType"]
    with pytest.raises(ClientError) as too_late:
        admin.send_durable_execution_callback_success(CallbackId=late, Result=b'"too late"')
    assert too_late.value.response["Error"]["Code"] == "CallbackTimeoutException"


def test_a_role_without_the_durable_grants_cannot_checkpoint(runtime: LocalRuntime, admin: Any) -> None:
    response = admin.invoke(
        FunctionName="UngrantedFunction",
        Qualifier="$LATEST",
        InvocationType="Event",
        DurableExecutionName=f"ungranted-{uuid.uuid4().hex[:8]}",
        Payload=json.dumps({"tag": "ungranted", "n": 0}).encode(),
    )
    execution = closed(runtime, admin, response["DurableExecutionArn"])

    assert execution["Status"] == "FAILED"
    assert "AccessDenied" in json.dumps(execution["Error"])


def test_invoke_and_callbacks_are_authorized_against_the_callers_role(runtime: LocalRuntime) -> None:
    ungranted = moto_credentials.client(
        "lambda", runtime.lambda_url, runtime.function_credentials("UngrantedFunction")
    )
    with pytest.raises(ClientError) as denied:
        ungranted.invoke(FunctionName="ToyFunction:live", InvocationType="Event", Payload=b"{}")
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"

    starter = moto_credentials.client(
        "lambda", runtime.lambda_url, runtime.function_credentials("StarterFunction")
    )
    with pytest.raises(ClientError) as no_callbacks:
        starter.send_durable_execution_callback_success(
            CallbackId="eyJhcm4iOiJ4Iiwib3AiOiJ5In0=", Result=b"1"
        )
    assert no_callbacks.value.response["Error"]["Code"] == "AccessDeniedException"

    stranger = moto_credentials.client("lambda", runtime.lambda_url, moto_credentials.MOTO_DEFAULT)
    with pytest.raises(ClientError) as unknown:
        stranger.invoke(FunctionName="ToyFunction:live", InvocationType="Event", Payload=b"{}")
    assert unknown.value.response["Error"]["Code"] == "UnrecognizedClientException"


@pytest.mark.parametrize(
    ("function", "outcome"),
    [
        # `function:<name>:*` matches the execution ARN (`function:<name>:$LATEST/durable-execution/...`): the
        # checkpoints go through and the toy reaches its callback, which times out.
        ("ScopedFunction", "CallbackTimeout"),
        # An unqualified function ARN never matches a durable execution ARN ("Security and permissions for
        # Lambda durable functions"): the SDK's first call is refused.
        ("UnqualifiedFunction", "AccessDenied"),
    ],
)
def test_durable_grants_are_matched_against_the_execution_arn(
    runtime: LocalRuntime, admin: Any, function: str, outcome: str
) -> None:
    response = admin.invoke(
        FunctionName=f"{function}:$LATEST",
        InvocationType="Event",
        Payload=json.dumps({"tag": f"grant-{function}", "n": 0, "callback_timeout": 1}).encode(),
    )
    execution = closed(runtime, admin, response["DurableExecutionArn"])

    assert execution["Status"] == "FAILED"
    assert outcome in json.dumps(execution["Error"])


def test_the_execution_timeout_of_durable_config_ends_the_execution(
    runtime: LocalRuntime, admin: Any
) -> None:
    response = admin.invoke(
        FunctionName="ShortLivedFunction",  # ExecutionTimeout: 2 s; the toy waits for a callback
        Qualifier="$LATEST",
        InvocationType="Event",
        Payload=json.dumps({"tag": "short-lived", "n": 0}).encode(),
    )
    execution = closed(runtime, admin, response["DurableExecutionArn"], timeout=15)

    assert execution["Status"] == "TIMED_OUT"


def test_a_durable_function_is_invoked_qualified(runtime: LocalRuntime, admin: Any) -> None:
    with pytest.raises(ClientError) as unqualified:
        admin.invoke(FunctionName="ToyFunction", InvocationType="Event", Payload=b"{}")
    assert unqualified.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "unqualified ARN" in unqualified.value.response["Error"]["Message"]

    with pytest.raises(ClientError) as unknown:
        admin.invoke(FunctionName="ToyFunction", Qualifier="staging", InvocationType="Event", Payload=b"{}")
    assert unknown.value.response["Error"]["Code"] == "ResourceNotFoundException"

    with pytest.raises(ClientError) as mismatched:
        admin.invoke(
            FunctionName="ToyFunction:live", Qualifier="$LATEST", InvocationType="Event", Payload=b"{}"
        )
    assert mismatched.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert (
        runtime.resources["ToyLiveAlias"] == "arn:aws:lambda:us-east-1:123456789012:function:ToyFunction:live"
    )


def test_the_plan_watch_finds_an_execution_by_its_name_when_no_arn_was_noted(
    runtime: LocalRuntime, admin: Any, effects_dir: Path
) -> None:
    """``LambdaDurableExecutions.named`` (the plan watch's lookup for a start that noted no ARN) against the
    local Lambda API: a running execution reads RUNNING, so its task is left alone; once it ends, its status;
    a name no execution has, unknown."""
    from switchboard.plans.watch import LambdaDurableExecutions

    tag = f"named-{uuid.uuid4().hex[:8]}"
    started = start(runtime, tag, {"tag": tag, "n": 7})
    executions = LambdaDurableExecutions("ToyFunction", admin)
    callback = callback_id(effects_dir, tag)  # the toy waits for it: the execution is running
    assert executions.named(tag).status == "RUNNING"
    assert executions.named(tag[:-1]).status is None  # a prefix of the name is another name

    admin.send_durable_execution_callback_success(CallbackId=callback, Result=b'"ok"')
    closed(runtime, admin, started["arn"])
    assert executions.named(tag).status == "SUCCEEDED"
    assert executions.named(f"never-{tag}").status is None
