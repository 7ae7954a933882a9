"""The template, read as what the local runtime runs: functions, SQS event sources, HTTP routes, schedules.

Also registers the physical ids of what the runtime runs itself (function names and ARNs, rule ARNs, the API's
endpoint, ...) so that `Ref`s and `Fn::GetAtt`s to them resolve in function environments.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import uuid
from pathlib import Path
from typing import Any, Final

from tools.local.artifact import LocalLayers, is_powertools_layer, layer_paths
from tools.local.functions import DEFAULT_CONCURRENCY, FunctionSpec, function_arn
from tools.local.http_api import Route
from tools.local.pollers import EventSourceMapping
from tools.local.provision import PROVISIONED_TYPES
from tools.local.schedules import RuleTarget, ScheduledRule, ScheduleError, parse_schedule_expression
from tools.local.template import ACCOUNT_ID, REGION, Properties, Resolver, Resource, Template, TemplateError

logger = logging.getLogger("switchboard.local")

#: Resource types the runtime knows and deliberately does not run (permissions, logs, alarms, deployment).
NOT_RUN_LOCALLY: Final = frozenset(
    {
        "AWS::CDK::Metadata",
        "AWS::IAM::Role",
        "AWS::IAM::Policy",
        "AWS::IAM::ManagedPolicy",
        "AWS::Logs::LogGroup",
        "AWS::Logs::MetricFilter",
        "AWS::Logs::SubscriptionFilter",
        "AWS::CloudWatch::Alarm",
        "AWS::CloudWatch::CompositeAlarm",
        "AWS::CloudWatch::Dashboard",
        "AWS::ApiGatewayV2::Stage",
        "AWS::ApiGatewayV2::Deployment",
        "AWS::Lambda::Permission",
        "AWS::Lambda::LayerVersion",
        "AWS::Lambda::Version",
        "AWS::Lambda::Alias",
        "AWS::Lambda::EventInvokeConfig",
        "AWS::SQS::QueuePolicy",
        "AWS::SNS::TopicPolicy",
        "AWS::SNS::Subscription",
        "AWS::KMS::Key",
        "AWS::KMS::Alias",
        "AWS::SecretsManager::RotationSchedule",
        "AWS::SecretsManager::ResourcePolicy",
        "AWS::Scheduler::ScheduleGroup",
        "AWS::CloudFormation::CustomResource",
    }
)
#: Types the runtime runs itself, besides the ones it creates in moto (`PROVISIONED_TYPES`).
RUN_BY_RUNTIME: Final = frozenset(
    {
        "AWS::Lambda::Function",
        "AWS::Lambda::EventSourceMapping",
        "AWS::ApiGatewayV2::Api",
        "AWS::ApiGatewayV2::Route",
        "AWS::ApiGatewayV2::Integration",
        "AWS::Events::Rule",
    }
)


def unknown_types(template: Template) -> list[str]:
    """Resource types of the template that the runtime neither runs nor knows to skip."""
    known = PROVISIONED_TYPES | RUN_BY_RUNTIME | NOT_RUN_LOCALLY
    return sorted(
        {
            resource.type
            for resource in template.resources.values()
            if resource.type not in known and not resource.type.startswith("Custom::")
        }
    )


def api_id(template: Template) -> str:
    """A stable, API Gateway-shaped id (10 lowercase alphanumerics)."""
    apis = template.of_type("AWS::ApiGatewayV2::Api")
    seed = apis[0].logical_id if apis else template.stack_name
    return hashlib.sha256(seed.encode()).hexdigest()[:10]


def register_runtime_resources(template: Template, resolver: Resolver, api_url: str) -> dict[str, str]:
    """Register the physical ids of what the runtime runs itself. Returns function logical id → name."""
    names = {}
    for resource in template.of_type("AWS::Lambda::Function"):
        name = resolver.resolve_str(
            resource.properties.get("FunctionName", resource.logical_id), resource.logical_id
        )
        resolver.register(resource.logical_id, name, Arn=function_arn(name))
        names[resource.logical_id] = name
    for resource in template.of_type("AWS::Events::Rule"):
        name = resolver.resolve_str(resource.properties.get("Name", resource.logical_id), resource.logical_id)
        resolver.register(resource.logical_id, name, Arn=f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{name}")
    for resource in template.of_type("AWS::ApiGatewayV2::Api"):
        resolver.register(resource.logical_id, api_id(template), ApiId=api_id(template), ApiEndpoint=api_url)
    for resource in template.of_type("AWS::ApiGatewayV2::Integration", "AWS::ApiGatewayV2::Stage"):
        resolver.register(resource.logical_id, resource.logical_id)
    for resource in template.of_type("AWS::KMS::Key"):
        key_id = str(uuid.uuid5(uuid.NAMESPACE_URL, resource.logical_id))
        arn = f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/{key_id}"
        resolver.register(resource.logical_id, key_id, Arn=arn, KeyId=key_id)
    for resource in template.of_type("AWS::IAM::Role"):
        arn = f"arn:aws:iam::{ACCOUNT_ID}:role/{resource.logical_id}"
        resolver.register(resource.logical_id, resource.logical_id, Arn=arn)
    for resource in template.of_type("AWS::Lambda::LayerVersion"):
        arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:layer:{resource.logical_id}:1"
        resolver.register(resource.logical_id, arn, LayerVersionArn=arn)
    return names


class AssetLocator:
    """Finds what Lambda would load for a function: its staged code asset (the template's
    `Metadata.aws:asset:path`, relative to the template's folder), its layers' contents and the runtime's
    libraries, as one import path (see `tools.local.artifact`)."""

    def __init__(self, project_root: Path) -> None:
        self.project_root = project_root
        self.layers = LocalLayers(project_root)
        self._deps_layer: dict[Path, bool] = {}

    def code_dir(self, template: Template, resource: Resource) -> Path | None:
        return self._asset(template, resource, "code")

    def python_path(self, template: Template, resolver: Resolver, resource: Resource) -> tuple[Path, ...]:
        """The function's code asset, its layers (the last one first: it overwrites the others in /opt), then
        the runtime's libraries. Raises `ArtifactError` when a local stand-in cannot be built."""
        code = self.code_dir(template, resource)
        layers: list[Path] = []
        for index, layer in enumerate(resource.properties.get("Layers") or []):
            layers[:0] = self._layer_paths(template, resolver, resource, layer, index)
        return tuple([*([code] if code else []), *layers, self.layers.runtime()])

    def _layer_paths(
        self, template: Template, resolver: Resolver, function: Resource, layer: Any, index: int
    ) -> list[Path]:
        where = f"{function.logical_id}.Layers[{index}]"
        if isinstance(layer, dict) and set(layer) == {"Ref"} and layer["Ref"] in template.resources:
            resource = template.get(str(layer["Ref"]))
            asset = self._asset(template, resource, "layer")
            if asset is None:
                return []
            if self._is_deps_layer(asset):
                # Built for arm64/Python 3.13: the same packages, built for this machine, stand in for it.
                return layer_paths(self.layers.deps().parent)
            return layer_paths(asset)
        arn = resolver.resolve_str(layer, where)
        if is_powertools_layer(arn):
            return [self.layers.powertools()]
        logger.warning("%s: layer %s is not available locally; the function runs without it", where, arn)
        return []

    def _is_deps_layer(self, asset: Path) -> bool:
        if asset not in self._deps_layer:
            self._deps_layer[asset] = self.layers.is_deps_layer(asset)
        return self._deps_layer[asset]

    @staticmethod
    def _asset(template: Template, resource: Resource, what: str) -> Path | None:
        asset = resource.metadata.get("aws:asset:path")
        if not asset:
            logger.warning(
                "%s has no aws:asset:path metadata: its %s is not loaded", resource.logical_id, what
            )
            return None
        path = Path(asset) if Path(asset).is_absolute() else template.assets_dir / asset
        if not path.is_dir():
            logger.warning(
                "%s: asset %s is not a folder: its %s is not loaded", resource.logical_id, path, what
            )
            return None
        return path.resolve()


def function_specs(template: Template, resolver: Resolver, assets: AssetLocator) -> dict[str, FunctionSpec]:
    """Every Python `AWS::Lambda::Function`, with its environment resolved."""
    specs = {}
    for resource in template.of_type("AWS::Lambda::Function"):
        props = resource.properties
        runtime = str(props.get("Runtime", ""))
        if not runtime.startswith("python"):
            logger.debug("%s: runtime %r is not run locally", resource.logical_id, runtime)
            continue
        variables = (props.get("Environment") or {}).get("Variables") or {}
        environment = {
            name: resolver.resolve_str(value, f"{resource.logical_id} environment {name}")
            for name, value in variables.items()
        }
        specs[resource.logical_id] = FunctionSpec(
            logical_id=resource.logical_id,
            name=resolver.physical[resource.logical_id].ref,
            handler=str(props.get("Handler", "handler.handler")),
            code_dir=assets.code_dir(template, resource),
            python_path=assets.python_path(template, resolver, resource),
            timeout=int(props.get("Timeout", 3)),
            memory_size=int(props.get("MemorySize", 128)),
            environment=environment,
            runtime=runtime,
        )
    return specs


def function_id(functions: dict[str, FunctionSpec], function: str) -> str:
    """The logical id of a function given by logical id, name or (partial) ARN. KeyError if there is none."""
    if function in functions:
        return function
    name = function.split(":function:", 1)[1].split(":", 1)[0] if ":function:" in function else function
    for logical_id, spec in functions.items():
        if spec.name == name:
            return logical_id
    raise KeyError(f"no local function {function!r}")


def _template_function(functions: dict[str, FunctionSpec], function: str, where: str) -> str:
    try:
        return function_id(functions, function)
    except KeyError:
        raise TemplateError(f"{where}: {function!r} is not a function the local runtime runs") from None


def event_source_mappings(
    template: Template, resolver: Resolver, functions: dict[str, FunctionSpec]
) -> list[EventSourceMapping]:
    """The SQS event source mappings (others are skipped with a warning)."""
    queues_by_arn = {
        physical.attributes["Arn"]: physical
        for physical in resolver.physical.values()
        if physical.resource_type == "AWS::SQS::Queue"
    }
    mappings = []
    for resource in template.of_type("AWS::Lambda::EventSourceMapping"):
        props = Properties(resolver, resource)
        queue = queues_by_arn.get(str(props.get("EventSourceArn")))
        if queue is None:
            logger.warning("%s: only SQS event sources run locally; skipped", resource.logical_id)
            continue
        scaling = props.get("ScalingConfig") or {}
        mappings.append(
            EventSourceMapping(
                logical_id=resource.logical_id,
                function=_template_function(functions, str(props["FunctionName"]), resource.logical_id),
                queue_url=queue.ref,
                queue_arn=queue.attributes["Arn"],
                batch_size=min(int(props.get("BatchSize", 10)), 10),
                report_batch_item_failures="ReportBatchItemFailures"
                in (props.get("FunctionResponseTypes") or []),
                maximum_concurrency=int(scaling.get("MaximumConcurrency", DEFAULT_CONCURRENCY)),
                enabled=props.get("Enabled", True) not in (False, "false"),
            )
        )
    return mappings


def routes(template: Template, resolver: Resolver, functions: dict[str, FunctionSpec]) -> list[Route]:
    """The HTTP API's routes that integrate a Lambda function (others are skipped with a warning)."""
    found = []
    for resource in template.of_type("AWS::ApiGatewayV2::Route"):
        props = Properties(resolver, resource)
        target = str(props.get("Target", ""))
        if not target.startswith("integrations/"):
            logger.warning("%s: route %s has no integration; skipped", resource.logical_id, props["RouteKey"])
            continue
        integration = Properties(resolver, template.get(target.removeprefix("integrations/")))
        uri = str(integration.get("IntegrationUri", ""))
        if integration.get("IntegrationType") not in (None, "AWS_PROXY") or ":function:" not in uri:
            logger.warning("%s: only Lambda proxy integrations run locally; skipped", resource.logical_id)
            continue
        if str(integration.get("PayloadFormatVersion", "2.0")) != "2.0":
            logger.warning("%s: payload format %s is served as 2.0", resource.logical_id, uri)
        name = re.split(r"[/:]", uri.split(":function:", 1)[1], maxsplit=1)[0]
        function = _template_function(functions, name, resource.logical_id)
        found.append(Route(route_key=str(props["RouteKey"]), function=function))
    return found


def scheduled_rules(
    template: Template, resolver: Resolver, functions: dict[str, FunctionSpec]
) -> dict[str, ScheduledRule]:
    """The `AWS::Events::Rule`s with a `ScheduleExpression` and their function targets."""
    rules = {}
    for resource in template.of_type("AWS::Events::Rule"):
        props = Properties(resolver, resource)
        expression = props.get("ScheduleExpression")
        if not expression:
            logger.debug("%s: event-pattern rules are not run locally", resource.logical_id)
            continue
        targets = []
        for index, target in enumerate(resource.properties.get("Targets") or []):
            where = f"{resource.logical_id}.Targets[{index}]"
            arn = resolver.resolve_str(target.get("Arn", ""), where)
            if ":function:" not in arn:
                logger.warning("%s: target %s is not a function; skipped", resource.logical_id, arn)
                continue
            has_input = "Input" in target
            targets.append(
                RuleTarget(
                    function=_template_function(functions, arn, resource.logical_id),
                    input=json.loads(resolver.resolve_str(target["Input"], where)) if has_input else None,
                    has_input=has_input,
                )
            )
        try:
            schedule = parse_schedule_expression(str(expression))
        except ScheduleError as exc:
            raise TemplateError(f"{resource.logical_id}: {exc}") from exc
        rules[resource.logical_id] = ScheduledRule(
            logical_id=resource.logical_id,
            name=resolver.physical[resource.logical_id].ref,
            expression=str(expression),
            schedule=schedule,
            targets=tuple(targets),
            enabled=props.get("State", "ENABLED") == "ENABLED",
        )
    return rules
