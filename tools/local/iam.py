"""The template's IAM, created in the local moto server: each function runs as its own role.

`provision_iam` creates, while moto still serves unchecked requests:
- an admin user (`ADMIN_USER`, `*` on `*`) with an access key, for the runtime's own calls and the operator
  tools (the CLI, the tests' direct queue and table access), written into `local.json`;
- every `AWS::IAM::Role` of the template, under its logical id (the name `tools.local.model` registers), with
  its trust policy, its inline `Policies`, its `ManagedPolicyArns`, and every `AWS::IAM::Policy` and
  `AWS::IAM::ManagedPolicy` that names it in `Roles`; Refs and GetAtts resolve to the local ARNs;
- for each role, temporary credentials from `sts:AssumeRole`, which is what Lambda does with a function's
  execution role and what moto's enforcement evaluates as that role (an assumed role's key collects the role's
  inline and attached policies: `moto/iam/access_control.py`, `AssumedRoleAccessKey`). An IAM user with copies
  of the policies would work too, but it would be a second identity to keep in step with the role.

Then `tools.local.moto_iam.enforce` switches moto's IAM enforcement on. A function's worker gets its role's
credentials (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, as Lambda sets them), and the
SQS poller of its event source mapping receives and deletes with them too, as Lambda's event source mapping
uses the function's execution role.

A policy statement is translated for moto only where moto cannot evaluate it as written: a resource that does
not exist locally (a log group) is left out, and a statement left with none is dropped; a `Condition` (moto
evaluates it against an empty request context, so an Allow with one would deny) is dropped from an Allow and
drops a Deny, so conditions are only checked on AWS.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from tools.local import moto_iam
from tools.local.moto_credentials import Credentials
from tools.local.template import ACCOUNT_ID, Resolver, Resource, Template, TemplateError, references

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_sts import STSClient

logger = logging.getLogger("switchboard.local")

ADMIN_USER: Final = "switchboard-local-admin"
#: The longest session `sts:AssumeRole` grants a role by default (moto does not expire it either).
SESSION_SECONDS: Final = 43200
_ADMIN_POLICY: Final = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


@dataclass
class Identities:
    """Who signs what locally: the admin key, and each role's (and so each function's) credentials."""

    admin: Credentials
    roles: dict[str, Credentials] = field(default_factory=dict)  # role logical id → its session
    function_roles: dict[str, str] = field(default_factory=dict)  # function logical id → role logical id
    policies: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # role → documents, as created

    def for_function(self, function: str) -> Credentials:
        """The credentials of the function's execution role."""
        try:
            return self.roles[self.function_roles[function]]
        except KeyError:
            raise TemplateError(f"{function} has no execution role in the template") from None


def provision_iam(template: Template, resolver: Resolver, iam: IAMClient, sts: STSClient) -> Identities:
    """Create the admin user, the roles with their policies, and a session for each role (see above)."""
    iam.create_user(UserName=ADMIN_USER)
    iam.put_user_policy(
        UserName=ADMIN_USER, PolicyName="local-admin", PolicyDocument=json.dumps(_ADMIN_POLICY)
    )
    key = iam.create_access_key(UserName=ADMIN_USER)["AccessKey"]
    identities = Identities(admin=Credentials(key["AccessKeyId"], key["SecretAccessKey"]))
    roles = {resource.logical_id: resource for resource in template.of_type("AWS::IAM::Role")}
    for logical_id, role in roles.items():
        trust = resolver.resolve(role.properties.get("AssumeRolePolicyDocument") or {}, logical_id)
        iam.create_role(RoleName=logical_id, AssumeRolePolicyDocument=json.dumps(trust))
        for inline in role.properties.get("Policies") or []:
            _put(iam, identities, resolver, logical_id, inline["PolicyName"], inline["PolicyDocument"], role)
        for arn in resolver.resolve(role.properties.get("ManagedPolicyArns") or [], logical_id):
            moto_iam.load_aws_managed_policy(arn, ACCOUNT_ID)  # AWS's own, e.g. the durable execution one
            iam.attach_role_policy(RoleName=logical_id, PolicyArn=arn)
    for policy in template.of_type("AWS::IAM::Policy"):
        name = resolver.resolve_str(policy.properties.get("PolicyName", policy.logical_id), policy.logical_id)
        for role_id in _roles_of(policy, roles):
            _put(iam, identities, resolver, role_id, name, policy.properties["PolicyDocument"], policy)
    for managed in template.of_type("AWS::IAM::ManagedPolicy"):
        document = local_policy(resolver, managed.properties["PolicyDocument"], managed.logical_id)
        name = resolver.resolve_str(managed.properties.get("ManagedPolicyName", managed.logical_id), "policy")
        arn = iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(document))["Policy"]["Arn"]
        resolver.register(managed.logical_id, arn, PolicyArn=arn)
        for role_id in _roles_of(managed, roles):
            iam.attach_role_policy(RoleName=role_id, PolicyArn=arn)
            identities.policies.setdefault(role_id, []).append(document)
    for logical_id in roles:
        arn = resolver.physical[logical_id].attributes["Arn"]
        session = sts.assume_role(
            RoleArn=arn, RoleSessionName=logical_id[:64], DurationSeconds=SESSION_SECONDS
        )["Credentials"]
        identities.roles[logical_id] = Credentials(
            session["AccessKeyId"], session["SecretAccessKey"], session["SessionToken"]
        )
    for function in template.of_type("AWS::Lambda::Function"):
        role_ids = references(function.properties.get("Role")) & roles.keys()
        if role_ids:
            identities.function_roles[function.logical_id] = next(iter(role_ids))
    return identities


def local_policy(resolver: Resolver, document: Any, where: str) -> dict[str, Any]:
    """The policy document with every Ref/GetAtt resolved, translated where moto cannot evaluate it."""
    statements = document.get("Statement") or []
    statements = [statements] if isinstance(statements, dict) else statements
    local = []
    for statement in statements:
        translated = _local_statement(resolver, statement, where)
        if translated is not None:
            local.append(translated)
    return {"Version": document.get("Version", "2012-10-17"), "Statement": local}


def _local_statement(resolver: Resolver, statement: dict[str, Any], where: str) -> dict[str, Any] | None:
    statement = dict(statement)
    if "Condition" in statement:
        if statement.get("Effect") == "Deny":
            logger.debug("%s: a conditional Deny is only evaluated on AWS: left out locally", where)
            return None
        del statement["Condition"]  # moto would evaluate it against no request context, and deny
    for element in ("Resource", "NotResource"):
        if element not in statement:
            continue
        values = statement[element] if isinstance(statement[element], list) else [statement[element]]
        resolved = []
        for value in values:
            try:
                resolved.append(resolver.resolve_str(value, where))
            except TemplateError as exc:  # a resource the runtime does not create (a log group)
                logger.debug("%s: %s", where, exc)
        if not resolved:
            return None
        statement[element] = resolved
    return statement


def _put(
    iam: IAMClient,
    identities: Identities,
    resolver: Resolver,
    role: str,
    name: str,
    document: Any,
    source: Resource,
) -> None:
    local = local_policy(resolver, document, source.logical_id)
    iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(local))
    identities.policies.setdefault(role, []).append(local)


def _roles_of(policy: Resource, roles: Iterable[str]) -> list[str]:
    named = references(policy.properties.get("Roles") or [])
    unknown = [role for role in policy.properties.get("Roles") or [] if not references(role)]
    if unknown:
        logger.warning("%s attaches to roles outside the template: %s", policy.logical_id, unknown)
    return [role for role in roles if role in named]
