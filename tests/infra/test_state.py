"""Tables: on-demand, encrypted, point-in-time recovery, TTL, kept on delete, keys as in the contract."""

from __future__ import annotations

from aws_cdk.assertions import Match, Template

from infra.stack import SwitchboardStack
from tests.infra.support import logical_id


def test_every_table_is_on_demand_encrypted_recoverable_and_expiring(template: Template) -> None:
    template.all_resources_properties(
        "AWS::DynamoDB::Table",
        Match.object_like(
            {
                "BillingMode": "PAY_PER_REQUEST",
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
                "SSESpecification": {"SSEEnabled": True},
            }
        ),
    )


def test_tables_are_retained_when_the_stack_is_deleted(template: Template) -> None:
    template.all_resources(
        "AWS::DynamoDB::Table", {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
    )


def test_tasks_table_is_keyed_by_pk_with_only_the_attention_index(
    stack: SwitchboardStack, template: Template
) -> None:
    tasks = template.find_resources("AWS::DynamoDB::Table")[logical_id(stack.state.tasks_table)]
    assert tasks["Properties"]["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert tasks["Properties"]["GlobalSecondaryIndexes"] == [
        {
            "IndexName": "by-attention",
            "KeySchema": [
                {"AttributeName": "attention", "KeyType": "HASH"},
                {"AttributeName": "updated_at", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        },
    ]


def test_memory_table_is_keyed_by_pk_and_sk(stack: SwitchboardStack, template: Template) -> None:
    memory = template.find_resources("AWS::DynamoDB::Table")[logical_id(stack.state.memory_table)]
    assert memory["Properties"]["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert "GlobalSecondaryIndexes" not in memory["Properties"]
