"""`tools.local.moto_fixes`: the SQS model's cheaper clock keeps what a queue counts and delivers."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import boto3
import pytest

from tests.local_process import free_port
from tools.local import moto_fixes


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    moto_fixes.apply()  # as the runtime serves it
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_the_sqs_clock_fix_keeps_what_a_queue_counts_and_delivers(endpoint: str) -> None:
    """`moto_fixes` reads the SQS model's clock with `time.time()`: visible, delayed and in-flight messages
    are told apart as before (ApproximateNumberOfMessages*, "GetQueueAttributes", Amazon SQS API
    Reference)."""
    import moto.sqs.models as sqs_models

    assert getattr(sqs_models, "_switchboard_clock", False)  # the patch is on
    assert abs(sqs_models.unix_time_millis() - time.time() * 1000) < 1000
    sqs = boto3.client(
        "sqs",
        endpoint_url=endpoint,
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
