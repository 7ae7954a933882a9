"""Helpers to read the synthesized template: follow Refs and GetAtts, find a role's policies."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import CfnResource, Stack
from aws_cdk.assertions import Template
from constructs import IConstruct

from infra.stack import SwitchboardStack

Resource = Mapping[str, Any]


@dataclass(frozen=True)
class Synthesized:
    """One synthesis of the app, shared by the whole session."""

    stack: SwitchboardStack
    outdir: Path
    template_path: Path
    synth_error: str | None


def logical_id(construct: IConstruct) -> str:
    """The logical id of a construct's CloudFormation resource (or of the resource itself)."""
    resource = construct if isinstance(construct, CfnResource) else construct.node.default_child
    assert isinstance(resource, CfnResource), f"{construct.node.path} has no CloudFormation resource"
    stack = Stack.of(resource)
    return str(stack.resolve(stack.get_logical_id(resource)))


def target(value: Any) -> str:
    """The logical id that ``{"Ref": id}`` or ``{"Fn::GetAtt": [id, attribute]}`` points to."""
    assert isinstance(value, dict), f"not a Ref/GetAtt: {value!r}"
    if "Ref" in value:
        return str(value["Ref"])
    if "Fn::GetAtt" in value:
        return str(value["Fn::GetAtt"][0])
    raise AssertionError(f"not a Ref/GetAtt: {value!r}")


def references(value: Any) -> Iterator[str]:
    """Every logical id referenced anywhere inside a template value (Ref, GetAtt, Sub)."""
    if isinstance(value, dict):
        if "Ref" in value and isinstance(value["Ref"], str):
            yield value["Ref"]
        if "Fn::GetAtt" in value:
            yield str(value["Fn::GetAtt"][0])
        for item in value.values():
            yield from references(item)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)


def policy_statements_of_role(template: Template, role_id: str) -> list[Resource]:
    """Every statement of every AWS::IAM::Policy attached to the role."""
    statements: list[Resource] = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def actions_on(statements: list[Resource], resource_id: str) -> set[str]:
    """The actions that the statements allow on the resource with this logical id."""
    actions: set[str] = set()
    for statement in statements:
        if statement["Effect"] == "Allow" and resource_id in set(references(statement["Resource"])):
            actions.update(as_list(statement["Action"]))
    return actions
