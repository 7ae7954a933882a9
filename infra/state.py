"""DynamoDB: the tasks table (task state machine) and the memory table (dedup marks, memory, idempotency)."""

from __future__ import annotations

from typing import Final

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from switchboard.dynamo.keys import TASKS_BY_ATTENTION_INDEX

TTL_ATTRIBUTE: Final = "expires_at"
# The index name is the library's (switchboard.dynamo.keys), which queries it. `by-attention` is sparse:
# only tasks that need a person (NEEDS_HUMAN, FAILED) carry `attention`, so listing them reads just those
# items, however many tasks ended DONE.


class State(Construct):
    """The two tables: on-demand, encrypted, point-in-time recovery, TTL, kept when the stack is deleted."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.tasks_table = self._build_tasks_table()
        self.memory_table = self._build_memory_table()

    def _build_tasks_table(self) -> dynamodb.Table:
        table = self._build_table(
            "TasksTable",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
        )
        table.add_global_secondary_index(
            index_name=TASKS_BY_ATTENTION_INDEX,
            partition_key=dynamodb.Attribute(name="attention", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="updated_at", type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.ALL,
        )
        return table

    def _build_memory_table(self) -> dynamodb.Table:
        return self._build_table(
            "MemoryTable",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
        )

    def _build_table(
        self,
        construct_id: str,
        *,
        partition_key: dynamodb.Attribute,
        sort_key: dynamodb.Attribute | None = None,
    ) -> dynamodb.Table:
        return dynamodb.Table(
            self,
            construct_id,
            partition_key=partition_key,
            sort_key=sort_key,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=TTL_ATTRIBUTE,
            removal_policy=RemovalPolicy.RETAIN,
        )
