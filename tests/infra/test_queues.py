"""Queues: FIFO everywhere but the follow-ups delay queue, a DLQ of the same kind behind every queue, and the
timing rules from DESIGN.md."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk.assertions import Capture, Match, Template

from infra.stack import SwitchboardStack
from tests.infra.support import Resource, logical_id, target

DLQ_RETENTION_SECONDS = 14 * 24 * 3600


def _queues(template: Template) -> Mapping[str, Resource]:
    return template.find_resources("AWS::SQS::Queue")


def _main_queues(template: Template) -> Mapping[str, Resource]:
    return {qid: queue for qid, queue in _queues(template).items() if "RedrivePolicy" in queue["Properties"]}


def _dead_letter_queue_ids(template: Template) -> set[str]:
    return {
        target(q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"])
        for q in _main_queues(template).values()
    }


def _standard_queue_ids(stack: SwitchboardStack) -> set[str]:
    """The documented exception: follow-ups need a per-message delay, which FIFO queues lack."""
    return {logical_id(stack.queues.followups), logical_id(stack.queues.dlqs["followups"])}


def test_every_queue_but_the_follow_ups_is_fifo_and_all_are_encrypted(
    stack: SwitchboardStack, template: Template
) -> None:
    standard = _standard_queue_ids(stack)
    for queue_id, queue in _queues(template).items():
        if queue_id in standard:
            assert "FifoQueue" not in queue["Properties"], queue_id
        else:
            assert queue["Properties"]["FifoQueue"] is True, queue_id
        assert (
            queue["Properties"].get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in queue["Properties"]
        )


def test_every_queue_denies_requests_without_tls(template: Template) -> None:
    for queue_id in _queues(template):
        template.has_resource_properties(
            "AWS::SQS::QueuePolicy",
            {
                "Queues": [{"Ref": queue_id}],
                "PolicyDocument": Match.object_like(
                    {
                        "Statement": Match.array_with(
                            [
                                Match.object_like(
                                    {
                                        "Effect": "Deny",
                                        "Action": "sqs:*",
                                        "Principal": {"AWS": "*"},
                                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                                    }
                                )
                            ]
                        )
                    }
                ),
            },
        )


def test_every_queue_is_a_main_queue_with_its_own_dlq_or_the_dlq_of_one(template: Template) -> None:
    main_ids = set(_main_queues(template))
    dlq_targets = [
        target(q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"])
        for q in _main_queues(template).values()
    ]
    assert len(dlq_targets) == len(set(dlq_targets)), "two queues share a DLQ"
    assert main_ids | set(dlq_targets) == set(_queues(template)), "a queue is neither a main queue nor a DLQ"
    assert not main_ids & set(dlq_targets), "a DLQ redrives to another DLQ"


def test_main_queues_redrive_to_a_dlq_of_their_kind_after_at_least_five_receives(template: Template) -> None:
    queues = _queues(template)
    for queue_id, queue in _main_queues(template).items():
        redrive = queue["Properties"]["RedrivePolicy"]
        dlq = queues[target(redrive["deadLetterTargetArn"])]
        assert dlq["Properties"].get("FifoQueue") == queue["Properties"].get("FifoQueue"), queue_id
        assert redrive["maxReceiveCount"] >= 5


def test_dead_letter_queues_keep_messages_for_fourteen_days(template: Template) -> None:
    queues = _queues(template)
    for dlq_id in _dead_letter_queue_ids(template):
        assert queues[dlq_id]["Properties"]["MessageRetentionPeriod"] == DLQ_RETENTION_SECONDS


def test_visibility_timeout_is_at_least_six_times_the_consumer_timeout(template: Template) -> None:
    source = Capture()
    consumer = Capture()
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping", {"EventSourceArn": source, "FunctionName": consumer}
    )
    queues = _queues(template)
    functions = template.find_resources("AWS::Lambda::Function")
    consumed: set[str] = set()
    while True:
        queue_id, function_id = target(source.as_object()), target(consumer.as_object())
        visibility = queues[queue_id]["Properties"]["VisibilityTimeout"]
        timeout = functions[function_id]["Properties"]["Timeout"]
        assert visibility >= 6 * timeout, f"{queue_id}: {visibility}s < 6 x {timeout}s of {function_id}"
        consumed.add(queue_id)
        if not (source.next() and consumer.next()):
            break
    assert consumed == set(_main_queues(template)), "every main queue has a consumer, no DLQ has one"


def test_queues_are_reachable_by_name_with_their_own_dlq(stack: SwitchboardStack, template: Template) -> None:
    expected = {"ingest", "decide", "act-github", "act-slack", "act-tickets", "act-escalate", "followups"}
    assert set(stack.queues.queues) == expected
    assert set(stack.queues.dlqs) == expected
    for name, queue in stack.queues.queues.items():
        redrive = template.find_resources("AWS::SQS::Queue")[logical_id(queue)]["Properties"]["RedrivePolicy"]
        assert target(redrive["deadLetterTargetArn"]) == logical_id(stack.queues.dlqs[name])
