"""`tools.local.moto_server`: moto's app on keep-alive connections (the local runtime's AWS endpoint), with
`tools.local.moto_fixes` applied (here: the SQS model's cheaper clock)."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator

import boto3
import pytest

from tools.local import moto_fixes
from tools.local.moto_server import MotoServer


@pytest.fixture(scope="module")
def server() -> Iterator[MotoServer]:
    moto_fixes.apply()  # as the runtime serves it
    moto = MotoServer().start()
    yield moto
    moto.stop()


def _connection(server: MotoServer) -> http.client.HTTPConnection:
    host, port = server.url.removeprefix("http://").split(":")
    return http.client.HTTPConnection(host, int(port), timeout=10)


def _dynamodb(
    connection: http.client.HTTPConnection, target: str, body: dict[str, object]
) -> tuple[int, dict]:
    connection.request(
        "POST",
        "/",
        body=json.dumps(body),
        headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": f"DynamoDB_20120810.{target}",
            "Authorization": "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20261202/us-east-1/dynamodb/"
            "aws4_request, SignedHeaders=host, Signature=0",
        },
    )
    response = connection.getresponse()
    assert response.getheader("Connection") != "close"
    assert int(response.getheader("Content-Length") or "-1") >= 0
    return response.status, json.loads(response.read() or b"{}")


def test_one_connection_serves_many_requests_answers_and_errors_alike(server: MotoServer) -> None:
    connection = _connection(server)
    status, _ = _dynamodb(connection, "ListTables", {})
    assert status == 200
    first = connection.sock
    status, error = _dynamodb(connection, "DescribeTable", {"TableName": "missing"})
    assert status == 400 and error["__type"].endswith("ResourceNotFoundException")
    status, tables = _dynamodb(connection, "ListTables", {})
    assert status == 200 and "TableNames" in tables
    assert connection.sock is first  # never reconnected: the server kept the connection open
    connection.close()


def test_a_client_that_asks_to_close_and_a_chunked_upload_get_a_closed_connection(server: MotoServer) -> None:
    connection = _connection(server)
    connection.request("GET", "/moto-api/data.json", headers={"Connection": "close"})
    response = connection.getresponse()
    assert response.status == 200 and response.getheader("Connection") == "close"
    response.read()
    chunked = _connection(server)
    chunked.request("POST", "/moto-api/reset", body=iter([b""]), encode_chunked=True)
    response = chunked.getresponse()
    assert response.status == 200 and response.getheader("Connection") == "close"  # werkzeug's own path


def test_the_sdks_work_through_it(server: MotoServer) -> None:
    sqs = boto3.client(
        "sqs",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="a",
        aws_secret_access_key="b",
    )
    url = sqs.create_queue(QueueName="keepalive.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    for n in range(5):
        sqs.send_message(QueueUrl=url, MessageBody=str(n), MessageGroupId="g", MessageDeduplicationId=str(n))
        [message] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        assert message["Body"] == str(n)
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages") is None


def test_the_sqs_clock_fix_keeps_what_a_queue_counts_and_delivers(server: MotoServer) -> None:
    """`moto_fixes` reads the SQS model's clock with `time.time()`: visible, delayed and in-flight messages
    are told apart as before (ApproximateNumberOfMessages*, "GetQueueAttributes", Amazon SQS API
    Reference)."""
    import time

    import moto.sqs.models as sqs_models

    assert abs(sqs_models.unix_time_millis() - time.time() * 1000) < 1000
    sqs = boto3.client(
        "sqs",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="a",
        aws_secret_access_key="b",
    )
    url = sqs.create_queue(QueueName="clock")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=60)
    sqs.send_message(QueueUrl=url, MessageBody="now")
    sqs.send_message(QueueUrl=url, MessageBody="also now")
    [taken] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=60)["Messages"]
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    assert attributes == {
        "ApproximateNumberOfMessages": "1",
        "ApproximateNumberOfMessagesNotVisible": "1",
        "ApproximateNumberOfMessagesDelayed": "1",
    }
    [rest] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)["Messages"]
    assert {taken["Body"], rest["Body"]} == {"now", "also now"}  # the delayed one is not delivered
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=rest["ReceiptHandle"], VisibilityTimeout=0)
    [again] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)["Messages"]
    assert again["Body"] == rest["Body"]  # visible again at once
