"""cdk-nag: the AWS Solutions checks, and every acknowledged finding, on its own construct, with a reason.

cdk-nag 3.x replaced ``NagSuppressions`` with CDK's own ``Validations.of(construct).acknowledge(...)``. An
acknowledgment applies to the construct and its children, and each finding of a granular rule (IAM5) is
acknowledged by its full id, e.g. ``AwsSolutions-IAM5[Resource::*]``: there is no blanket suppression here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import Acknowledgment, App, CfnResource, Stack, Validations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

if TYPE_CHECKING:
    from infra.stack import SwitchboardStack


def add_checks(app: App) -> None:
    """cdk-nag 3.x is a validation plugin: any unacknowledged finding fails the synth and writes a report."""
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))


def _ack(construct: IConstruct, rule: str, reason: str) -> None:
    Validations.of(construct).acknowledge(Acknowledgment(id=f"AwsSolutions-{rule}", reason=reason))


def _index_wildcard(table: dynamodb.Table) -> str:
    """The IAM5 finding for the ``<table arn>/index/*`` resource that ``Table.grant_*`` adds for a GSI."""
    stack = Stack.of(table)
    logical_id = stack.resolve(stack.get_logical_id(_cfn(table)))
    return f"IAM5[Resource::<{logical_id}.Arn>/index/*]"


def _cfn(construct: IConstruct) -> CfnResource:
    child = construct.node.default_child
    if not isinstance(child, CfnResource):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource")
    return child


def _role(fn: lambda_.Function) -> iam.IRole:
    if fn.role is None:
        raise TypeError(f"{fn.node.path} has no role")
    return fn.role


def acknowledge(stack: SwitchboardStack) -> None:
    """Acknowledge the deliberate findings of every construct of the stack."""
    _acknowledge_secrets(stack)
    _acknowledge_functions(stack)
    _acknowledge_api(stack)


def _acknowledge_secrets(stack: SwitchboardStack) -> None:
    for name, secret in stack.secrets.secrets.items():
        if name.startswith("webhook:"):
            reason = (
                f"The {name} secret is shared with the provider, who must be told of any change, so it "
                "is rotated by hand; Standard Webhooks lets several secrets be active during a rotation."
            )
        else:
            reason = (
                f"The {name} secret is issued by the external service; it cannot be rotated by a "
                "Secrets Manager rotation function, so it is rotated by hand at the provider."
            )
        _ack(secret, "SMG4", reason)


def _acknowledge_functions(stack: SwitchboardStack) -> None:
    tasks_index_wildcard = _index_wildcard(stack.state.tasks_table)
    for name, fn in stack.functions.all.items():
        _ack(
            fn,
            "L1",
            f"{name} pins Python 3.13 on purpose: the Powertools layer and the dependency layer are built "
            "for python3.13/arm64; the runtime moves with them, in one change.",
        )
        _ack(
            _role(fn),
            "IAM5[Resource::*]",
            f"{name} traces with X-Ray: xray:PutTraceSegments and xray:PutTelemetryRecords do not support "
            "resource-level permissions, so their resource must be '*'.",
        )
    reading_tasks = [
        *(f"act-{service}" for service in stack.functions.act),
        "classify",
        "decide",
        "triage",
        "plan",
    ]
    for name in reading_tasks:
        _ack(
            _role(stack.functions.all[name]),
            tasks_index_wildcard,
            f"{name} reads and writes the tasks table, which has an index (by-attention): Table.grant_* adds "
            "that one table's indexes (<tasks table arn>/index/*) to the grant, not other tables'.",
        )
    plan = stack.functions.plan
    _ack(
        _role(stack.functions.decide),
        f"IAM5[Resource::<{Stack.of(plan).get_logical_id(_cfn(plan))}.Arn>:*]",
        "decide starts plans: Function.grant_invoke on the plan function adds its qualified ARN "
        "(<plan arn>:*), since a durable execution runs a version of that one function, and no other.",
    )
    _ack(
        plan.node.scope.node.find_child("PlanDurableExecution"),  # type: ignore[union-attr]
        f"IAM5[Resource::<{Stack.of(plan).get_logical_id(_cfn(plan))}.Arn>:*]",
        "the plan function checkpoints its own durable executions: they are sub-resources of its versions "
        "(<plan arn>:*), the scope AWS documents for lambda:CheckpointDurableExecution and "
        "lambda:GetDurableExecutionState (https://docs.aws.amazon.com/lambda/latest/dg/durable-security.html).",
    )
    _ack(
        _role(stack.functions.triage),
        f"IAM5[Resource::<{Stack.of(plan).get_logical_id(_cfn(plan))}.Arn>:*]",
        "the plan watch reads how each idle plan's durable execution ended (lambda:GetDurableExecution): "
        "the executions are sub-resources of the plan function's versions (<plan arn>:*), that one "
        "function's and no other's (https://docs.aws.amazon.com/lambda/latest/dg/durable-security.html).",
    )
    _ack(
        _role(stack.functions.triage),
        "IAM5[Action::kms:GenerateDataKey*]",
        "triage publishes to the alert topic, which is encrypted with its own key: Topic.grant_publish "
        "grants kms:GenerateDataKey* on that one key only.",
    )


def _acknowledge_api(stack: SwitchboardStack) -> None:
    for route_key, route in stack.api.routes.items():
        reason = (
            "the ingest function authenticates every request by the platform's HMAC signature (GitHub, "
            "Slack, Standard Webhooks) and rejects stale timestamps (replay); providers cannot send IAM or "
            "JWT credentials."
            if route_key.startswith("POST /webhooks/")
            else "public by design: it exposes liveness and the API description, no data."
        )
        _ack(route, "APIG4", f"{route_key}: {reason}")
