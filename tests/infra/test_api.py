"""HTTP API: the contract's routes, each on the right function, and a throttled, logged $default stage."""

from __future__ import annotations

import json
from collections.abc import Mapping

import pytest
from aws_cdk.assertions import Match, Template

from infra.stack import SwitchboardStack
from tests.infra.support import Resource, logical_id, target

ROUTES = {
    "POST /webhooks/github": "ingest-github",
    "POST /webhooks/slack": "ingest-slack",
    "POST /webhooks/standard": "ingest-standard",
    "GET /health": "health",
    "GET /openapi.json": "health",
}


def _route_targets(template: Template) -> Mapping[str, Resource]:
    """Route key -> the integration behind it."""
    integrations = template.find_resources("AWS::ApiGatewayV2::Integration")
    return {
        route["Properties"]["RouteKey"]: integrations[route["Properties"]["Target"]["Fn::Join"][1][1]["Ref"]]
        for route in template.find_resources("AWS::ApiGatewayV2::Route").values()
    }


def test_the_api_has_exactly_the_contract_routes(template: Template) -> None:
    assert set(_route_targets(template)) == set(ROUTES), "no other route, no $default catch-all (404)"


@pytest.mark.parametrize(("route_key", "function"), ROUTES.items())
def test_route_is_a_lambda_proxy_to_its_function(
    stack: SwitchboardStack, template: Template, route_key: str, function: str
) -> None:
    integration = _route_targets(template)[route_key]["Properties"]
    assert integration["IntegrationType"] == "AWS_PROXY"
    assert integration["PayloadFormatVersion"] == "2.0"
    assert target(integration["IntegrationUri"]) == logical_id(stack.functions.all[function])


def test_default_stage_is_throttled_and_auto_deployed(template: Template) -> None:
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Stage",
        {
            "StageName": "$default",
            "AutoDeploy": True,
            "DefaultRouteSettings": {
                "ThrottlingBurstLimit": Match.any_value(),
                "ThrottlingRateLimit": Match.any_value(),
            },
        },
    )


def test_default_stage_writes_json_access_logs_to_a_retained_log_group(template: Template) -> None:
    (stage,) = template.find_resources("AWS::ApiGatewayV2::Stage").values()
    settings = stage["Properties"]["AccessLogSettings"]
    fields = json.loads(settings["Format"])
    assert fields["requestId"] == "$context.requestId"
    assert fields["status"] == "$context.status"
    log_group = template.find_resources("AWS::Logs::LogGroup")[target(settings["DestinationArn"])]
    assert log_group["Properties"]["RetentionInDays"] == 30


def test_api_gateway_may_invoke_each_routed_function(stack: SwitchboardStack, template: Template) -> None:
    permitted = {
        target(permission["Properties"]["FunctionName"])
        for permission in template.find_resources(
            "AWS::Lambda::Permission", {"Properties": {"Principal": "apigateway.amazonaws.com"}}
        ).values()
    }
    assert permitted == {logical_id(stack.functions.all[name]) for name in ROUTES.values()}
