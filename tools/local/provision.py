"""Create the template's stateful resources in the moto server: queues, tables, secrets, topics, parameters.

Secret values follow the `switchboard:secret` tag (see the contract):
- `webhook:<platform>`: env `SWITCHBOARD_<PLATFORM>_SECRET`, else `DEV_WEBHOOK_SECRETS[platform]`;
- `token:<service>`: env `SWITCHBOARD_<SERVICE>_TOKEN`, else `DEV_TOKEN`;
- `llm:anthropic`: env `ANTHROPIC_API_KEY`, else `DEV_LLM_KEY`.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from switchboard.catalog import Env
from tools.local.template import (
    ACCOUNT_ID,
    REGION,
    Properties,
    Resolver,
    Resource,
    Template,
    TemplateError,
    dependency_order,
    references,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.literals import QueueAttributeNameType
    from mypy_boto3_ssm import SSMClient

logger = logging.getLogger("switchboard.local")

SECRET_TAG: Final = "switchboard:secret"  # noqa: S105 (a tag key, not a secret)

#: Webhook signing secrets used when `SWITCHBOARD_<PLATFORM>_SECRET` is not set. Sign local test webhooks with
#: these. `github` is GitHub's own documented example secret, spaces included, so every local run checks
#: that a secret is used verbatim. `standard` is a Standard Webhooks secret: `whsec_` + base64 of the 24-byte
#: string `switchboard-local-dev-24`.
DEV_WEBHOOK_SECRETS: Final[Mapping[str, str]] = {
    "github": "It's a Secret to Everybody",
    "slack": "local-dev-slack-signing-secret",
    "standard": "whsec_" + base64.b64encode(b"switchboard-local-dev-24").decode(),
}
#: API token stored for `token:<service>` secrets when `SWITCHBOARD_<SERVICE>_TOKEN` is not set.
DEV_TOKEN: Final = "local-dev-token"  # noqa: S105 (a documented local placeholder)
#: Anthropic key stored for `llm:anthropic` without `ANTHROPIC_API_KEY` (only the stand-in accepts it).
DEV_LLM_KEY: Final = "local-stand-in-key"

PROVISIONED_TYPES: Final = frozenset(
    {
        "AWS::SQS::Queue",
        "AWS::DynamoDB::Table",
        "AWS::DynamoDB::GlobalTable",
        "AWS::SecretsManager::Secret",
        "AWS::SNS::Topic",
        "AWS::SSM::Parameter",
    }
)


def secret_value(tag: str, environ: Mapping[str, str]) -> str:
    """The local value of a secret tagged `switchboard:secret=<tag>`."""
    kind, _, name = tag.partition(":")
    if kind == "webhook":
        return environ.get(webhook_secret_env(name)) or DEV_WEBHOOK_SECRETS.get(
            name, f"local-dev-{name}-webhook-secret"
        )
    if kind == "token":
        return environ.get(token_env(name)) or DEV_TOKEN
    if kind == "llm":
        return environ.get("ANTHROPIC_API_KEY") or DEV_LLM_KEY
    raise TemplateError(f"unknown {SECRET_TAG} tag value {tag!r}")


def real_token_configured(
    template: Template, function: Resource, environment: Mapping[str, str], environ: Mapping[str, str]
) -> bool:
    """Whether `SWITCHBOARD_<S>_TOKEN` is set for each `token:<s>` secret the function's environment refers to
    (or, when it refers to none, for its `SERVICE`): then its `*_API_URL` stays the real one."""
    services = set()
    for logical_id in references((function.properties.get("Environment") or {}).get("Variables") or {}):
        referenced = template.resources.get(logical_id)
        tag = referenced.tag(SECRET_TAG) if referenced is not None else None
        if tag and tag.startswith("token:"):
            services.add(tag.removeprefix("token:"))
    if not services and environment.get(Env.SERVICE):
        services.add(environment[Env.SERVICE])
    return bool(services) and all(environ.get(token_env(service)) for service in services)


def webhook_secret_env(platform: str) -> str:
    """Where the local runtime and `switchboard send` read a platform's webhook secret from."""
    return f"SWITCHBOARD_{_env_name(platform)}_SECRET"


def token_env(service: str) -> str:
    """Where the local runtime reads a service's real API token from (`token:<service>` secrets)."""
    return f"SWITCHBOARD_{_env_name(service)}_TOKEN"


def _env_name(name: str) -> str:
    return name.upper().replace("-", "_")


@dataclass(frozen=True)
class Clients:
    sqs: SQSClient
    dynamodb: DynamoDBClient
    secretsmanager: SecretsManagerClient
    sns: SNSClient
    ssm: SSMClient


@dataclass
class Provisioner:
    """Creates each stateful resource in moto and registers its physical id with the resolver."""

    template: Template
    resolver: Resolver
    clients: Clients
    environ: Mapping[str, str]
    visibility_timeout_cap: int | None = None
    created: dict[str, str] = field(default_factory=dict)

    def provision(self) -> dict[str, str]:
        """Create everything, referenced resources first. Returns logical id → physical id."""
        for resource in dependency_order(self.template.of_type(*PROVISIONED_TYPES)):
            create = {
                "AWS::SQS::Queue": self._queue,
                "AWS::DynamoDB::Table": self._table,
                "AWS::DynamoDB::GlobalTable": self._table,
                "AWS::SecretsManager::Secret": self._secret,
                "AWS::SNS::Topic": self._topic,
                "AWS::SSM::Parameter": self._parameter,
            }[resource.type]
            create(resource, Properties(self.resolver, resource))
            self.created[resource.logical_id] = self.resolver.physical[resource.logical_id].ref
        return dict(self.created)

    def _queue(self, resource: Resource, props: Properties) -> None:
        fifo = _is_true(props.get("FifoQueue"))
        name = props.get("QueueName") or resource.logical_id + (".fifo" if fifo else "")
        attributes: dict[QueueAttributeNameType, str] = {}
        if fifo:
            attributes["FifoQueue"] = "true"
        for key in (
            "ContentBasedDeduplication",
            "DeduplicationScope",
            "FifoThroughputLimit",
            "MessageRetentionPeriod",
            "DelaySeconds",
            "MaximumMessageSize",
            "ReceiveMessageWaitTimeSeconds",
        ):
            if key in props:
                attributes[key] = _attribute(props[key])
        visibility = int(props.get("VisibilityTimeout", 30))
        if self.visibility_timeout_cap is not None:
            visibility = min(visibility, self.visibility_timeout_cap)
        attributes["VisibilityTimeout"] = str(visibility)
        redrive = props.get("RedrivePolicy")
        if redrive:
            redrive = json.loads(redrive) if isinstance(redrive, str) else redrive
            attributes["RedrivePolicy"] = json.dumps(
                {
                    "deadLetterTargetArn": redrive["deadLetterTargetArn"],
                    "maxReceiveCount": int(redrive["maxReceiveCount"]),
                }
            )
        url = self.clients.sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{name}"
        self.resolver.register(resource.logical_id, url, Arn=arn, QueueName=name, QueueUrl=url)

    def _table(self, resource: Resource, props: Properties) -> None:
        name = props.get("TableName") or resource.logical_id
        billing = props.get("BillingMode", "PROVISIONED")
        request: dict[str, Any] = {
            "TableName": name,
            "KeySchema": props["KeySchema"],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "BillingMode": billing,
        }
        throughput = {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
        if billing == "PROVISIONED":
            request["ProvisionedThroughput"] = props.get("ProvisionedThroughput", throughput)
        indexes = []
        for index in props.get("GlobalSecondaryIndexes") or []:
            entry = {key: index[key] for key in ("IndexName", "KeySchema", "Projection") if key in index}
            if billing == "PROVISIONED":
                entry["ProvisionedThroughput"] = index.get("ProvisionedThroughput", throughput)
            indexes.append(entry)
        if indexes:
            request["GlobalSecondaryIndexes"] = indexes
        local_indexes = props.get("LocalSecondaryIndexes")
        if local_indexes:
            request["LocalSecondaryIndexes"] = local_indexes
        stream = props.get("StreamSpecification") or {}
        if stream.get("StreamViewType"):
            request["StreamSpecification"] = {
                "StreamEnabled": True,
                "StreamViewType": stream["StreamViewType"],
            }
        description = self.clients.dynamodb.create_table(**request)["TableDescription"]
        ttl = props.get("TimeToLiveSpecification") or {}
        if _is_true(ttl.get("Enabled")) and ttl.get("AttributeName"):
            self.clients.dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )
        attributes = {
            "Arn": description.get("TableArn", f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{name}")
        }
        if description.get("LatestStreamArn"):
            attributes["StreamArn"] = description["LatestStreamArn"]
        self.resolver.register(resource.logical_id, name, **attributes)

    def _secret(self, resource: Resource, props: Properties) -> None:
        name = props.get("Name") or resource.logical_id
        tag = resource.tag(SECRET_TAG)
        if tag is not None:
            value = secret_value(tag, self.environ)
        elif "SecretString" in props:
            value = str(props["SecretString"])
        else:
            generate = props.get("GenerateSecretString") or {}
            value = f"local-dev-secret-{resource.logical_id}"
            if generate.get("SecretStringTemplate") and generate.get("GenerateStringKey"):
                document = json.loads(generate["SecretStringTemplate"])
                document[generate["GenerateStringKey"]] = value
                value = json.dumps(document)
        tags = [{"Key": tag_["Key"], "Value": tag_["Value"]} for tag_ in props.get("Tags") or []]
        request: dict[str, Any] = {"Name": name, "SecretString": value}
        if tags:
            request["Tags"] = tags
        if props.get("Description"):
            request["Description"] = props["Description"]
        arn = self.clients.secretsmanager.create_secret(**request)["ARN"]
        self.resolver.register(resource.logical_id, arn, Id=arn)

    def _topic(self, resource: Resource, props: Properties) -> None:
        fifo = _is_true(props.get("FifoTopic"))
        name = props.get("TopicName") or resource.logical_id + (".fifo" if fifo else "")
        attributes = {"FifoTopic": "true"} if fifo else {}
        if fifo and "ContentBasedDeduplication" in props:
            attributes["ContentBasedDeduplication"] = _attribute(props["ContentBasedDeduplication"])
        arn = self.clients.sns.create_topic(Name=name, Attributes=attributes)["TopicArn"]
        self.resolver.register(resource.logical_id, arn, TopicArn=arn, TopicName=name)

    def _parameter(self, resource: Resource, props: Properties) -> None:
        name = props.get("Name") or resource.logical_id
        kind = props.get("Type", "String")
        value = props["Value"]
        if isinstance(value, list):
            value = ",".join(str(item) for item in value)
        self.clients.ssm.put_parameter(Name=name, Value=str(value), Type=kind, Overwrite=True)
        self.resolver.register(resource.logical_id, name, Type=kind, Value=str(value))


def _is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _attribute(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
