"""The daily triage against moto: categories from the task history, a stored report, a published summary,
and an automatic redrive only where the cause has cleared (the service's breaker is closed)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from switchboard.dlq import DeadLetter, DeadLetterQueues
from switchboard.dynamo import DynamoReportStore
from switchboard.models import ActionRequest, InboundEvent, Platform, Service, TaskStatus
from switchboard.state import TaskStore
from switchboard.triage import Triage


def fifo(aws: Callable[[str], Any], name: str) -> str:
    return str(
        aws("sqs").create_queue(
            QueueName=f"{name}-{uuid.uuid4().hex[:6]}.fifo", Attributes={"FifoQueue": "true"}
        )["QueueUrl"]
    )


def failed_action(store: TaskStore, service: Service, reason: str) -> ActionRequest:
    event = InboundEvent(
        platform=Platform.GITHUB,
        event_id=str(uuid.uuid4()),
        event_type="issue_comment.created",
        conversation="octo-org/demo#7",
        text="/label bug",
        received_at=datetime.now(UTC),
        context={"repo": "octo-org/demo", "number": "7"},
    )
    task = store.claim_and_open(event, owner="m").task
    assert task is not None
    action = ActionRequest.for_task(
        event, 0, "github.add_labels", service, {"repo": "octo-org/demo", "number": 7, "labels": ["bug"]}
    )
    task = store.transition(task, TaskStatus.CLASSIFIED, "test", actions=[action])
    task = store.transition(task, TaskStatus.DISPATCHED, "test")
    store.transition(task, TaskStatus.FAILED, "act", {"reason": reason}, reason=reason)
    return action


def test_triage_reports_and_redrives_only_what_has_cleared(
    aws: Callable[[str], Any], tables: tuple[str, str]
) -> None:
    sqs, dynamodb, sns = aws("sqs"), aws("dynamodb"), aws("sns")
    store = TaskStore(*tables, dynamodb=dynamodb)
    queues = {"act-github": fifo(aws, "act-github"), "act-slack": fifo(aws, "act-slack")}
    dlqs = {"act-github": fifo(aws, "act-github-dlq"), "act-slack": fifo(aws, "act-slack-dlq")}
    transient = failed_action(
        store, Service.GITHUB, "HTTP 503 from POST /repos/octo-org/demo/issues/7/labels"
    )
    permanent = failed_action(
        store, Service.GITHUB, "HTTP 404 from POST /repos/octo-org/demo/issues/7/labels"
    )
    breaker_down = failed_action(store, Service.SLACK, "HTTP 502 from POST /chat.postMessage")
    for queue, action in (("act-github", transient), ("act-github", permanent), ("act-slack", breaker_down)):
        sqs.send_message(
            QueueUrl=dlqs[queue],
            MessageBody=action.model_dump_json(),
            MessageGroupId=action.action_id,
            MessageDeduplicationId=action.action_id,
        )
    dynamodb.put_item(
        TableName=tables[1],
        Item={"pk": {"S": "breaker#slack"}, "sk": {"S": "breaker"}, "state": {"S": "open"}},
    )
    topic = sns.create_topic(Name=f"alerts-{uuid.uuid4().hex[:6]}")["TopicArn"]
    inbox = sqs.create_queue(QueueName=f"inbox-{uuid.uuid4().hex[:6]}")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn)

    dead = DeadLetterQueues(dlqs, queues, move_tasks=False, sqs=sqs)
    report = Triage(dead, store, topic, sns=sns).run()

    categories = {row["category"]: row["count"] for row in report["categories"]}
    assert categories == {
        "act-github:transient:http_503": 1,
        "act-github:permanent:http_404": 1,
        "act-slack:transient:breaker_open": 1,
    }
    assert report["redriven"] == {"act-github:transient:http_503": 1}
    moved = sqs.receive_message(QueueUrl=queues["act-github"], MessageAttributeNames=["All"])["Messages"]
    assert [json.loads(m["Body"])["action_id"] for m in moved] == [transient.action_id]
    assert moved[0]["MessageAttributes"]["switchboard-original-message-id"]["StringValue"]
    assert dead.depths() == {
        "act-github": 1,
        "act-slack": 1,
    }  # the permanent one and the one behind an open breaker
    stored = dynamodb.query(
        TableName=tables[1],
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"triage#{report['at'][:10]}"}},
    )["Items"]
    assert json.loads(stored[0]["report"]["S"])["total"] == 3
    [published] = sqs.receive_message(QueueUrl=inbox)["Messages"]
    summary = json.loads(published["Body"])["Message"]
    assert summary.startswith("3 message(s) in dead-letter queues")
    assert "act-github:permanent:http_404" in summary


class _InMemoryDeadLetters:
    """5,000 dead letters built in memory (pushing them through SQS would take minutes): what
    `DeadLetterQueues.read` returns after reading the queues."""

    def __init__(self, letters: list[DeadLetter]) -> None:
        self.letters = letters

    def read(self, history_of: Any, breaker_open: Any) -> list[DeadLetter]:
        return self.letters


def _item_bytes(item: dict[str, Any]) -> int:
    """DynamoDB's item size: attribute names plus values (the binary ones as their bytes)."""
    size = 0
    for name, value in item.items():
        [(kind, data)] = value.items()
        size += len(name.encode()) + (len(data) if kind == "B" else len(str(data).encode()))
    return size


def _letters(count: int) -> list[DeadLetter]:
    reason = "HTTP 404 from POST /repos/octo-org/demo/issues/7/labels: " + "Not Found. " * 8
    return [
        DeadLetter(
            queue="act-github",
            message_id=str(uuid.uuid4()),
            receipt_handle=f"handle-{index}",
            body="{}",
            group_id=f"group-{index % 50}",
            dedup_id=f"dedup-{index}",
            receive_count=5,
            original_message_id=str(uuid.uuid4()),
            task_id=f"task-{index:05d}-{uuid.uuid4().hex}",
            service="github",
            category="act-github:permanent:http_404" if index % 3 else "act-github:transient:http_503",
            reason=reason,
        )
        for index in range(count)
    ]


def test_a_report_of_5000_dead_letters_is_stored_in_chunks_and_the_summary_is_published(
    aws: Callable[[str], Any], tables: tuple[str, str]
) -> None:
    sqs, dynamodb, sns = aws("sqs"), aws("dynamodb"), aws("sns")
    store = TaskStore(*tables, dynamodb=dynamodb)
    letters = _letters(5000)
    topic = sns.create_topic(Name=f"alerts-{uuid.uuid4().hex[:6]}")["TopicArn"]
    inbox = sqs.create_queue(QueueName=f"inbox-{uuid.uuid4().hex[:6]}")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn)
    whole = len(json.dumps([letter.to_json() for letter in letters]).encode())
    assert whole > 400 * 1024 * 3  # one item could not hold it

    report = Triage(_InMemoryDeadLetters(letters), store, topic, auto_redrive=False, sns=sns).run()  # type: ignore[arg-type]

    assert report["total"] == 5000
    [published] = sqs.receive_message(QueueUrl=inbox)["Messages"]
    assert json.loads(published["Body"])["Message"].startswith("5000 message(s) in dead-letter queues")
    items = dynamodb.query(
        TableName=tables[1],
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"triage#{report['at'][:10]}"}},
    )["Items"]
    assert len(items) > 1
    assert all(_item_bytes(item) < 300 * 1024 for item in items)
    [stored] = DynamoReportStore(tables[1], dynamodb=dynamodb).on(report["at"][:10])
    assert stored["total"] == 5000
    assert [message["message_id"] for message in stored["messages"]] == [
        letter.message_id for letter in letters
    ]
