"""The local runtime, in-process, against a hand-written template of the synthesized stack's shape.

One runtime serves the whole module (visibility timeouts capped at 1 s, schedules fired by hand). The fixture
functions live in `fixtures/local_runtime/functions/`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.local_process import process_alive
from tools.local import moto_credentials
from tools.local.provision import DEV_LLM_KEY, DEV_TOKEN, DEV_WEBHOOK_SECRETS
from tools.local.runtime import LocalRuntime
from tools.standin.sink import fingerprint

FIXTURES = Path(__file__).parent / "fixtures" / "local_runtime"
TEMPLATE = FIXTURES / "Switchboard.template.json"
LLM_STAND_IN = "http://127.0.0.1:9/llm-stand-in"


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    environ = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("SWITCHBOARD_") and name != "ANTHROPIC_API_KEY"
    }
    environ["LEAK_CANARY"] = "must-not-reach-a-function"
    local = LocalRuntime(
        TEMPLATE,
        port=0,
        state_dir=tmp_path_factory.mktemp("switchboard"),
        schedules=False,
        visibility_timeout_cap=1,
        llm_url=LLM_STAND_IN,
        environ=environ,
    )
    with local:
        yield local


def http(
    method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, Any, bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def wait_for(predicate: Callable[[], Any], timeout: float = 15.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def template_environment(logical_id: str) -> dict[str, Any]:
    document = json.loads(TEMPLATE.read_text())
    variables: dict[str, Any] = document["Resources"][logical_id]["Properties"]["Environment"]["Variables"]
    return variables


# -- HTTP API ------------------------------------------------------------------------------------------------


def test_route_invokes_its_function_with_an_http_api_v2_event(runtime: LocalRuntime) -> None:
    status, headers, body = http(
        "POST",
        f"{runtime.api_url}/echo?b=1&a=x&b=2",
        body=b'{"hello": "world"}',
        headers={"Content-Type": "application/json", "X-Multi": "one", "Cookie": "session=abc; theme=dark"},
    )

    assert status == 201
    echoed = json.loads(body)
    event = echoed["event"]
    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /echo"
    assert event["rawPath"] == "/echo"
    assert event["rawQueryString"] == "b=1&a=x&b=2"
    assert event["queryStringParameters"] == {"b": "1,2", "a": "x"}
    assert event["headers"]["content-type"] == "application/json"
    assert event["headers"]["x-multi"] == "one"
    assert all(name == name.lower() for name in event["headers"])
    assert "cookie" not in event["headers"]
    assert event["cookies"] == ["session=abc", "theme=dark"]
    assert event["body"] == '{"hello": "world"}'
    assert event["isBase64Encoded"] is False
    assert "pathParameters" not in event
    context = event["requestContext"]
    assert context["accountId"] == "123456789012"
    assert context["stage"] == "$default"
    assert context["routeKey"] == "POST /echo"
    assert context["http"] == {
        "method": "POST",
        "path": "/echo",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": event["headers"]["user-agent"],
    }
    assert context["requestId"] == headers["apigw-requestid"]
    assert abs(context["timeEpoch"] / 1000 - time.time()) < 30
    assert set(context) >= {"apiId", "domainName", "time"}


def test_response_maps_status_headers_and_cookies_and_the_context_is_lambdas(runtime: LocalRuntime) -> None:
    status, headers, body = http("GET", f"{runtime.api_url}/echo")

    assert status == 201
    assert headers["x-echo"] == "yes"
    assert headers.get_all("set-cookie") == ["a=1; Path=/", "b=2"]
    echoed = json.loads(body)
    assert "body" not in echoed["event"]
    context = echoed["context"]
    assert context["function_name"] == "EchoFunction"
    assert context["function_version"] == "$LATEST"
    assert context["invoked_function_arn"] == "arn:aws:lambda:us-east-1:123456789012:function:EchoFunction"
    assert context["memory_limit_in_mb"] == "256"
    assert context["log_group_name"] == "/aws/lambda/EchoFunction"
    assert "[$LATEST]" in context["log_stream_name"]
    assert 0 < context["remaining_ms"] <= 5000


def test_path_parameters_and_the_most_specific_route(runtime: LocalRuntime) -> None:
    _, _, item = http("GET", f"{runtime.api_url}/items/42%2A")
    _, _, special = http("GET", f"{runtime.api_url}/items/special")
    _, _, files = http("GET", f"{runtime.api_url}/files/a/b/c.txt")

    assert json.loads(item)["event"]["pathParameters"] == {"id": "42*"}
    assert json.loads(item)["event"]["routeKey"] == "GET /items/{id}"
    assert set(json.loads(special)) == {"pid", "child"}  # the literal route goes to SlowFunction
    assert json.loads(files)["event"]["pathParameters"] == {"path": "a/b/c.txt"}


def test_a_body_that_is_not_utf8_arrives_base64_encoded(runtime: LocalRuntime) -> None:
    payload = b"\xff\xfe\x00binary"

    _, _, body = http("POST", f"{runtime.api_url}/echo", body=payload)

    event = json.loads(body)["event"]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == payload


def test_a_result_without_status_code_is_200_json(runtime: LocalRuntime) -> None:
    status, headers, body = http("GET", f"{runtime.api_url}/plain")

    assert status == 200
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"hello": "world"}


def test_a_base64_result_is_decoded(runtime: LocalRuntime) -> None:
    status, headers, body = http("GET", f"{runtime.api_url}/binary")

    assert status == 200
    assert headers["content-type"] == "application/octet-stream"
    assert body == b"\x00\xffbinary"


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/nowhere"), ("DELETE", "/echo"), ("GET", "/items/1/2")]
)
def test_no_matching_route_is_404_like_api_gateway(runtime: LocalRuntime, method: str, path: str) -> None:
    status, _, body = http(method, f"{runtime.api_url}{path}")

    assert (status, json.loads(body)) == (404, {"message": "Not Found"})


def test_a_function_error_is_500_and_lambdas_error_payload(runtime: LocalRuntime) -> None:
    status, _, body = http("PUT", f"{runtime.api_url}/boom")
    result = runtime.invoke("EchoFunction", {"rawPath": "/boom"})

    assert (status, json.loads(body)) == (500, {"message": "Internal Server Error"})
    assert result.error is not None
    assert result.error["errorType"] == "RuntimeError"
    assert result.error["errorMessage"] == "boom"
    assert any("handler.py" in frame for frame in result.error["stackTrace"])


def test_a_payload_over_10_mb_is_413(runtime: LocalRuntime) -> None:
    status, _, body = http("POST", f"{runtime.api_url}/echo", body=b"x" * (10 * 1024 * 1024 + 1))

    assert status == 413
    assert json.loads(body) == {"message": "Request Entity Too Large"}


# -- functions -----------------------------------------------------------------------------------------------


def test_each_function_sees_exactly_its_own_environment(runtime: LocalRuntime) -> None:
    a = runtime.invoke("EnvAFunction", {}).payload
    b = runtime.invoke("EnvBFunction", {}).payload

    overrides = {
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_LAMBDA",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_TIMEOUT",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "LAMBDA_TASK_ROOT",
        "_HANDLER",
        "TZ",
        "POWERTOOLS_TRACE_DISABLED",
        "PYTHONPATH",
        "PYTHONUNBUFFERED",
    } | {name for name in ("PATH", "HOME", "LANG") if name in runtime.environ}
    interpreter_additions = {"LC_CTYPE"}  # PEP 538 locale coercion, added by Python itself
    assert set(a["env"]) - interpreter_additions == set(template_environment("EnvAFunction")) | overrides
    assert set(b["env"]) - interpreter_additions == set(template_environment("EnvBFunction")) | overrides
    assert "ONLY_IN_B" not in a["env"]
    assert b["env"]["ONLY_IN_B"] == "b"
    assert "LEAK_CANARY" not in a["env"]
    assert a["env"]["AWS_ENDPOINT_URL"] == runtime.aws_endpoint_url
    assert a["env"]["AWS_ENDPOINT_URL_LAMBDA"] == runtime.lambda_url  # the local Lambda API, not moto
    assert a["env"]["AWS_LAMBDA_FUNCTION_NAME"] == "EnvAFunction"
    assert a["env"]["AWS_LAMBDA_FUNCTION_TIMEOUT"] == "5"
    assert a["env"]["POWERTOOLS_TRACE_DISABLED"] == "true"
    assert a["env"]["PYTHONPATH"].split(":")[0] == str(FIXTURES.resolve() / "functions" / "env_a")
    assert (a["helper"], b["helper"]) == ("a", "b")
    assert Path(a["helper_file"]).parent.name == "env_a"
    assert a["pid"] != b["pid"]


def test_environment_refs_resolve_to_the_local_resources(runtime: LocalRuntime) -> None:
    env = runtime.invoke("EnvAFunction", {}).payload["env"]
    queue_url = runtime.resources["WorkQueue"]

    assert env["QUEUE_URL"] == queue_url
    assert queue_url.startswith(runtime.aws_endpoint_url)
    assert env["QUEUE_ARN"] == "arn:aws:sqs:us-east-1:123456789012:fixture-work.fifo"
    assert env["QUEUE_NAME"] == "fixture-work.fifo"
    assert env["DLQ_URL"].endswith("/WorkDlq.fifo")
    assert env["TABLE_NAME"] == runtime.resources["SeenTable"]
    assert env["TABLE_ARN"].endswith(":table/SeenTable")
    assert env["MEMORY_TABLE_NAME"] == "MemoryTable"
    assert ":table/MemoryTable/stream/" in env["MEMORY_STREAM_ARN"]
    assert env["WEBHOOK_SECRET_ID"] == runtime.resources["WebhookSecretGithub"]
    assert env["WEBHOOK_SECRET_ID"].startswith("arn:aws:secretsmanager:us-east-1:123456789012:secret:")
    assert env["ALERT_TOPIC_ARN"] == "arn:aws:sns:us-east-1:123456789012:AlertTopic"
    assert env["PARAMETER_NAME"] == "WorkQueueNameParameter"
    assert env["OWN_NAME_VIA_REF"] == "EchoFunction"
    assert env["ECHO_ARN"] == "arn:aws:lambda:us-east-1:123456789012:function:EchoFunction"
    assert env["STACK"] == "Switchboard-us-east-1-123456789012-aws-amazonaws.com"
    assert env["SUB_GETATT"] == f"queue fixture-work.fifo at {queue_url}, literal ${{NotAVariable}}"
    assert env["SUB_VARIABLES"] == "tasks/SeenTable"
    assert env["SELECTED"] == "one"
    assert json.loads(env["DLQ_URLS"]) == {"work": env["DLQ_URL"], "idle": runtime.resources["IdleDlq"]}
    assert env["SERVICE_API_URL"] == f"{runtime.sink_url}/github"
    assert env["LLM_API_URL"] == LLM_STAND_IN


def test_a_timeout_kills_the_worker_and_the_next_invoke_starts_a_new_one(runtime: LocalRuntime) -> None:
    first = runtime.invoke("SlowFunction", {"sleep": 0, "spawn": True})

    started = time.monotonic()
    timed_out = runtime.invoke("SlowFunction", {"sleep": 30})
    elapsed = time.monotonic() - started
    after = runtime.invoke("SlowFunction", {"sleep": 0})

    assert timed_out.timed_out
    assert timed_out.error is not None
    assert timed_out.error["errorMessage"].endswith("Task timed out after 1.00 seconds")
    assert elapsed < 5
    assert timed_out.worker_pid is not None
    assert not process_alive(timed_out.worker_pid)
    if timed_out.worker_pid == first.payload["pid"]:
        assert not process_alive(first.payload["child"])  # the whole process group went
    assert after.ok
    assert after.payload["pid"] != timed_out.worker_pid


def test_concurrent_invocations_run_in_at_most_concurrency_workers(runtime: LocalRuntime) -> None:
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda _: runtime.invoke("SlowFunction", {"sleep": 0.6}), range(3)))
    elapsed = time.monotonic() - started

    assert all(result.ok for result in results)
    assert len({result.payload["pid"] for result in results}) == 2  # DEFAULT_CONCURRENCY workers
    assert 1.2 <= elapsed < 3  # two ran side by side, the third waited for a free worker


def test_function_output_goes_to_its_log_file_not_the_protocol(runtime: LocalRuntime) -> None:
    status, _, _ = http("GET", f"{runtime.api_url}/echo?logged=1")

    log = runtime.log_path("EchoFunction").read_text()
    assert status == 201
    assert "echo handler saw /echo" in log
    assert "START RequestId:" in log
    assert "REPORT RequestId:" in log


# -- resources -----------------------------------------------------------------------------------------------


def test_queues_are_fifo_with_their_redrive_policy_and_capped_visibility(runtime: LocalRuntime) -> None:
    sqs = runtime.client("sqs")

    attributes = sqs.get_queue_attributes(QueueUrl=runtime.resources["WorkQueue"], AttributeNames=["All"])[
        "Attributes"
    ]

    assert attributes["FifoQueue"] == "true"
    assert attributes["ContentBasedDeduplication"] == "false"
    assert attributes["VisibilityTimeout"] == "1"
    assert attributes["MessageRetentionPeriod"] == "1209600"
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": "arn:aws:sqs:us-east-1:123456789012:WorkDlq.fifo",
        "maxReceiveCount": 2,
    }


def test_tables_have_their_keys_indexes_and_ttl(runtime: LocalRuntime) -> None:
    dynamodb = runtime.client("dynamodb")

    seen = dynamodb.describe_table(TableName="SeenTable")["Table"]
    memory = dynamodb.describe_table(TableName="MemoryTable")["Table"]

    assert seen["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert seen["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    [index] = seen["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "by-event"
    assert index["KeySchema"] == [{"AttributeName": "event_id", "KeyType": "HASH"}]
    assert memory["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    for table in ("SeenTable", "MemoryTable"):
        ttl = dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
        assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")


def test_secrets_hold_the_documented_dev_values(runtime: LocalRuntime) -> None:
    secrets = runtime.client("secretsmanager")

    def value(logical_id: str) -> str:
        return str(secrets.get_secret_value(SecretId=runtime.resources[logical_id])["SecretString"])

    assert value("WebhookSecretGithub") == DEV_WEBHOOK_SECRETS["github"]
    standard = value("WebhookSecretStandard")
    assert standard == DEV_WEBHOOK_SECRETS["standard"]
    assert standard.startswith("whsec_")
    assert len(base64.b64decode(standard.removeprefix("whsec_"))) == 24
    assert value("TokenSecretSlack") == DEV_TOKEN
    assert value("LlmSecret") == DEV_LLM_KEY


def test_ssm_parameters_and_topics_exist(runtime: LocalRuntime) -> None:
    parameter = runtime.client("ssm").get_parameter(Name="WorkQueueNameParameter")["Parameter"]
    topics = runtime.client("sns").list_topics()["Topics"]

    assert parameter["Value"] == "fixture-work.fifo"
    assert {"TopicArn": runtime.resources["AlertTopic"]} in topics


# -- IAM, enforced ------------------------------------------------------------------------------------------


def role_client(runtime: LocalRuntime, service: str, function: str = "QueueFunction") -> Any:
    return moto_credentials.client(service, runtime.aws_endpoint_url, runtime.function_credentials(function))


def access_denied(call: Callable[[], Any]) -> str:
    with pytest.raises(ClientError) as raised:
        call()
    return str(raised.value.response["Error"]["Code"])


def test_each_function_runs_with_a_session_of_its_own_role(runtime: LocalRuntime) -> None:
    env = runtime.invoke("EnvAFunction", {}).payload["env"]
    session = runtime.function_credentials("EnvAFunction")
    sts = moto_credentials.client(
        "sts",
        runtime.aws_endpoint_url,
        moto_credentials.Credentials(
            env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env["AWS_SESSION_TOKEN"]
        ),
    )

    assert env["AWS_ACCESS_KEY_ID"] == session.access_key_id
    assert env["AWS_SESSION_TOKEN"] == session.session_token
    assert sts.get_caller_identity()["Arn"].startswith("arn:aws:sts::123456789012:assumed-role/FunctionRole/")


def test_a_role_may_do_what_its_policies_grant_on_the_resources_they_name(runtime: LocalRuntime) -> None:
    secrets, sqs = role_client(runtime, "secretsmanager"), role_client(runtime, "sqs")
    table = role_client(runtime, "dynamodb")

    token = secrets.get_secret_value(SecretId=runtime.resources["TokenSecretSlack"])["SecretString"]
    sqs.send_message(QueueUrl=runtime.resources["WorkQueue"], MessageBody="iam-ok", MessageGroupId="iam",
                     MessageDeduplicationId=str(time.time_ns()))  # fmt: skip
    table.put_item(TableName="SeenTable", Item={"pk": {"S": "iam-ok"}, "sk": {"S": "1"}})

    assert token == DEV_TOKEN


def test_moto_refuses_a_role_what_its_policies_do_not_grant(runtime: LocalRuntime) -> None:
    secrets, sqs = role_client(runtime, "secretsmanager"), role_client(runtime, "sqs")
    table = role_client(runtime, "dynamodb")
    other_secret = runtime.resources["WebhookSecretGithub"]

    def send_to_idle() -> Any:
        return sqs.send_message(QueueUrl=runtime.resources["IdleQueue"], MessageBody="x", MessageGroupId="g",
                                MessageDeduplicationId=str(time.time_ns()))  # fmt: skip

    assert access_denied(lambda: secrets.get_secret_value(SecretId=other_secret)) == "AccessDeniedException"
    assert access_denied(send_to_idle) == "AccessDeniedException"  # granted on WorkQueue only
    key = {"pk": {"S": "a"}, "sk": {"S": "b"}}
    assert access_denied(lambda: table.get_item(TableName="SeenTable", Key=key)) == "AccessDeniedException"
    assert access_denied(lambda: role_client(runtime, "dynamodb").list_tables()) == "AccessDeniedException"


def test_a_transaction_is_authorized_as_its_items_actions_on_their_tables(runtime: LocalRuntime) -> None:
    table = role_client(runtime, "dynamodb")
    put = {"Put": {"TableName": "SeenTable", "Item": {"pk": {"S": "iam-tx"}, "sk": {"S": "1"}}}}
    check = {"ConditionCheck": {"TableName": "SeenTable", "Key": {"pk": {"S": "iam-tx"}, "sk": {"S": "0"}},
                                "ConditionExpression": "attribute_not_exists(pk)"}}  # fmt: skip

    table.transact_write_items(
        TransactItems=[put]
    )  # dynamodb:PutItem is granted; TransactWriteItems is no action

    assert access_denied(lambda: table.transact_write_items(TransactItems=[check])) == "AccessDeniedException"


def test_with_enforcement_on_only_known_keys_sign(runtime: LocalRuntime) -> None:
    admin = moto_credentials.from_state(json.loads(runtime.local_json_path.read_text()))
    moto_default = moto_credentials.client("sqs", runtime.aws_endpoint_url)

    assert moto_credentials.client("sqs", runtime.aws_endpoint_url, admin).list_queues()["QueueUrls"]
    assert access_denied(moto_default.list_queues) == "InvalidClientTokenId"


# -- SQS event source mapping --------------------------------------------------------------------------------


def _send(runtime: LocalRuntime, body: str, group: str, **attributes: Any) -> str:
    message_attributes = {
        name: {"DataType": "Binary", "BinaryValue": value}
        if isinstance(value, bytes)
        else {"DataType": "String", "StringValue": str(value)}
        for name, value in attributes.items()
    }
    response = runtime.client("sqs").send_message(
        QueueUrl=runtime.resources["WorkQueue"],
        MessageBody=body,
        MessageGroupId=group,
        MessageDeduplicationId=hashlib.sha256(body.encode()).hexdigest(),
        MessageAttributes=message_attributes,
    )
    return str(response["MessageId"])


def _deliveries(runtime: LocalRuntime, body: str) -> list[dict[str, Any]]:
    table = runtime.client("dynamodb")
    items = table.query(
        TableName="SeenTable",
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": body}},
        ConsistentRead=True,
    )["Items"]
    return [json.loads(item["record"]["S"]) for item in items]


def _in_dlq(runtime: LocalRuntime, body: str) -> dict[str, Any] | None:
    messages = runtime.client("sqs").receive_message(
        QueueUrl=runtime.resources["WorkDlq"],
        MaxNumberOfMessages=10,
        VisibilityTimeout=0,
        MessageSystemAttributeNames=["All"],
    )
    for message in messages.get("Messages", []):
        if message["Body"] == body:
            return dict(message)
    return None


def test_the_consumer_gets_an_exact_lambda_sqs_event(runtime: LocalRuntime) -> None:
    body = f"ok-shape-{time.time_ns()}"
    message_id = _send(runtime, body, "shape", kind="greeting", blob=b"\x00\x01")

    deliveries = wait_for(lambda: _deliveries(runtime, body), what="the delivery")

    # At-least-once: this module caps visibility at 1 s, and a worker's cold start on a loaded machine can
    # outlast that, so SQS may hand the message out again while the first invoke runs. A redelivery is the
    # same message (same id); the first delivery is the one whose shape is checked.
    assert {delivery["messageId"] for delivery in deliveries} == {message_id}
    [record] = [
        delivery for delivery in deliveries if delivery["attributes"]["ApproximateReceiveCount"] == "1"
    ]
    assert record["messageId"] == message_id
    assert record["body"] == body
    assert record["md5OfBody"] == hashlib.md5(body.encode()).hexdigest()  # noqa: S324 (SQS's checksum)
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == "arn:aws:sqs:us-east-1:123456789012:fixture-work.fifo"
    assert record["awsRegion"] == "us-east-1"
    assert record["receiptHandle"]
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["attributes"]["MessageGroupId"] == "shape"
    assert record["attributes"]["MessageDeduplicationId"] == hashlib.sha256(body.encode()).hexdigest()
    assert {"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp", "SequenceNumber"} <= set(
        record["attributes"]
    )
    assert record["messageAttributes"] == {
        "kind": {
            "stringValue": "greeting",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "String",
        },
        "blob": {
            "binaryValue": base64.b64encode(b"\x00\x01").decode(),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "Binary",
        },
    }


def test_a_partial_batch_failure_deletes_only_the_successes(runtime: LocalRuntime) -> None:
    run = time.time_ns()
    ok_first, failing, ok_last = f"ok-a-{run}", f"fail-b-{run}", f"ok-c-{run}"
    for index, body in enumerate((ok_first, failing, ok_last)):
        _send(runtime, body, f"partial-{index}")

    wait_for(lambda: _in_dlq(runtime, failing), what="the failed message in the DLQ")

    assert len(_deliveries(runtime, ok_first)) == 1
    assert len(_deliveries(runtime, ok_last)) == 1
    assert len(_deliveries(runtime, failing)) == 2  # maxReceiveCount


def test_a_message_that_keeps_failing_moves_to_the_dlq_after_max_receive_count(runtime: LocalRuntime) -> None:
    body = f"fail-redrive-{time.time_ns()}"
    _send(runtime, body, "redrive-group")

    moved = wait_for(lambda: _in_dlq(runtime, body), what="the message in the DLQ")

    counts = sorted(record["attributes"]["ApproximateReceiveCount"] for record in _deliveries(runtime, body))
    assert counts == ["1", "2"]
    assert moved["Attributes"]["MessageGroupId"] == "redrive-group"
    assert moved["Attributes"]["MessageDeduplicationId"] == hashlib.sha256(body.encode()).hexdigest()


def test_a_function_error_deletes_none_of_the_batch(runtime: LocalRuntime) -> None:
    body = f"crash-{time.time_ns()}"
    _send(runtime, body, "crash-group")

    wait_for(lambda: _in_dlq(runtime, body), what="the crashing message in the DLQ")

    assert len(_deliveries(runtime, body)) == 2


def test_moto_blocks_a_fifo_group_while_one_of_its_messages_is_in_flight(runtime: LocalRuntime) -> None:
    sqs, url = runtime.client("sqs"), runtime.resources["IdleQueue"]
    for body, group in (("A1", "A"), ("A2", "A"), ("B1", "B")):
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=group, MessageDeduplicationId=body)

    def receive(count: int) -> list[Any]:
        return sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=count, VisibilityTimeout=30).get(
            "Messages", []
        )

    [a1] = receive(1)
    assert a1["Body"] == "A1"
    assert [message["Body"] for message in receive(10)] == ["B1"]  # A2 waits behind A1
    sqs.delete_message(QueueUrl=url, ReceiptHandle=a1["ReceiptHandle"])
    assert [message["Body"] for message in receive(10)] == ["A2"]


def test_moto_keeps_fifo_order_when_a_failed_batch_comes_back(runtime: LocalRuntime) -> None:
    """The case `tools.local.moto_fixes` corrects: the head of the group goes to the DLQ first, in order."""
    sqs, url, dlq = runtime.client("sqs"), runtime.resources["IdleQueue"], runtime.resources["IdleDlq"]
    for body in ("G1", "G2"):
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="G", MessageDeduplicationId=body)

    def receive_all() -> list[str]:
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
        )
        return [message["Body"] for message in messages.get("Messages", [])]

    def release() -> None:  # the batch failed: its messages become visible again together
        time.sleep(1.1)

    first = receive_all()
    release()
    second = receive_all()
    release()
    third = receive_all()
    dead = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", [])

    assert first == ["G1", "G2"]
    assert second == ["G1", "G2"]
    assert third == []  # both reached maxReceiveCount 2 and moved, G1 first
    assert [message["Body"] for message in dead] == ["G1", "G2"]


def test_moto_transactions_roll_back_only_what_they_touched(runtime: LocalRuntime) -> None:
    """`moto_fixes` snapshots just the items a transaction touches: a cancelled transaction leaves every item
    as it was, a committed one writes them all, and items it never named are untouched either way."""
    from botocore.exceptions import ClientError

    dynamodb = runtime.client("dynamodb")
    name = "fixture-transactions"
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    )
    for pk in ("a", "bystander"):
        dynamodb.put_item(
            TableName=name, Item={"pk": {"S": pk}, "n": {"N": "1"}, "tags": {"L": [{"S": "x"}]}}
        )

    def items() -> dict[str, Any]:
        return {item["pk"]["S"]: item for item in dynamodb.scan(TableName=name, ConsistentRead=True)["Items"]}

    before = items()
    update_a = {
        "Update": {
            "TableName": name,
            "Key": {"pk": {"S": "a"}},
            "UpdateExpression": "SET n = :two, tags = list_append(tags, :more)",
            "ExpressionAttributeValues": {":two": {"N": "2"}, ":more": {"L": [{"S": "y"}]}},
        }
    }
    put_b_only_if_new = {
        "Put": {
            "TableName": name,
            "Item": {"pk": {"S": "b"}},
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }
    dynamodb.put_item(TableName=name, Item={"pk": {"S": "b"}})  # the condition on b will fail
    with pytest.raises(ClientError, match="TransactionCanceled"):
        dynamodb.transact_write_items(TransactItems=[update_a, put_b_only_if_new])
    after_cancel = items()
    assert after_cancel["a"] == before["a"], "the update of a is rolled back"
    assert after_cancel["bystander"] == before["bystander"]

    dynamodb.delete_item(TableName=name, Key={"pk": {"S": "b"}})
    dynamodb.transact_write_items(TransactItems=[update_a, put_b_only_if_new])
    committed = items()
    assert committed["a"]["n"] == {"N": "2"} and committed["a"]["tags"] == {"L": [{"S": "x"}, {"S": "y"}]}
    assert committed["b"] == {"pk": {"S": "b"}}
    assert committed["bystander"] == before["bystander"]


# -- schedules, sink, state ----------------------------------------------------------------------------------


def test_fire_schedule_sends_the_scheduled_event_or_the_targets_input(runtime: LocalRuntime) -> None:
    [every_five] = runtime.fire_schedule("TickEveryFiveMinutes")
    [daily] = runtime.fire_schedule("fixture-daily-triage")

    event = every_five.payload["event"]
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["resources"] == ["arn:aws:events:us-east-1:123456789012:rule/TickEveryFiveMinutes"]
    assert (event["version"], event["account"], event["region"], event["detail"]) == (
        "0",
        "123456789012",
        "us-east-1",
        {},
    )
    assert set(event) == {
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    }
    assert daily.payload == {"event": {"job": "triage"}, "function": "TickFunction"}


def test_the_control_endpoint_lists_and_fires_schedules(runtime: LocalRuntime) -> None:
    _, _, listed = http("GET", f"{runtime.api_url}/_local/schedules")
    status, _, fired = http("POST", f"{runtime.api_url}/_local/schedules/TickDaily")
    missing, _, _ = http("POST", f"{runtime.api_url}/_local/schedules/nope")

    assert {entry["logicalId"]: entry["expression"] for entry in json.loads(listed)} == {
        "TickEveryFiveMinutes": "rate(5 minutes)",
        "TickDaily": "cron(0 6 * * ? *)",
    }
    assert status == 200
    [invocation] = json.loads(fired)["invocations"]
    assert invocation["ok"] is True
    assert invocation["result"]["event"] == {"job": "triage"}
    assert missing == 404


def test_calls_to_external_services_reach_the_recording_sink(runtime: LocalRuntime) -> None:
    runtime.sink.clear()

    result = runtime.invoke("NotifyFunction", {"channel": "C123", "text": "hello"})

    assert result.ok, result.error
    assert result.payload["ok"] is True
    [call] = runtime.sink.calls()
    assert (call["service"], call["method"], call["path"]) == ("slack", "POST", "/chat.postMessage")
    assert call["body"] == {"channel": "C123", "text": "hello"}
    assert call["headers"]["authorization"] == f"Bearer {fingerprint(DEV_TOKEN)}"
    assert call["status"] == 200


def test_local_json_describes_the_running_stack(runtime: LocalRuntime) -> None:
    info = json.loads(runtime.local_json_path.read_text())

    assert info["api_url"] == runtime.api_url
    assert info["aws_endpoint_url"] == runtime.aws_endpoint_url
    assert info["sink_url"] == runtime.sink_url
    assert info["llm_url"] == LLM_STAND_IN
    assert info["region"] == "us-east-1"
    assert info["resources"]["WorkQueue"] == runtime.resources["WorkQueue"]
    assert info["resources"]["SeenTable"] == "SeenTable"
    assert info["resources"]["EchoFunction"] == "EchoFunction"
    assert info["resources"]["TokenSecretSlack"].startswith("arn:aws:secretsmanager:")
    assert "FunctionRole" not in info["resources"]
    assert info["outputs"] == {
        "ApiUrl": f"{runtime.api_url}/",
        "TasksTableName": "SeenTable",
        "DlqUrls": json.dumps({"work": runtime.resources["WorkDlq"]}, separators=(",", ":")),
    }
