"""The HTTP API: a webhook route per platform, health routes, a throttled $default stage with access logs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Final

import jsii
from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.lambda_defaults import LOG_RETENTION, pascal

THROTTLE_RATE_LIMIT: Final = 50
THROTTLE_BURST_LIMIT: Final = 100
HEALTH_PATHS: Final = ("/health", "/openapi.json")

# HTTP API context variables, one JSON object per request.
ACCESS_LOG_FIELDS: Final[Mapping[str, str]] = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod",
    "routeKey": "$context.routeKey",
    "path": "$context.path",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationLatency": "$context.integrationLatency",
    "integrationError": "$context.integrationErrorMessage",
    "error": "$context.error.message",
    "userAgent": "$context.identity.userAgent",
}


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogSettings:
    """``IAccessLogSettings`` is a jsii interface, not a struct: it needs a class that implements it."""

    def __init__(
        self, destination: apigwv2.IAccessLogDestination, log_format: apigateway.AccessLogFormat
    ) -> None:
        self._destination = destination
        self._format = log_format

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigateway.AccessLogFormat:
        return self._format


class Api(Construct):
    """``http_api``, its ``stage``, its ``routes`` by route key (``POST /webhooks/github``), its ``url``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        ingest_functions: Mapping[str, lambda_.IFunction],
        health_function: lambda_.IFunction,
    ) -> None:
        super().__init__(scope, construct_id)
        self.http_api = self._build_http_api()
        self.access_logs = self._build_access_log_group()
        self.stage = self._build_stage()
        self.routes: dict[str, apigwv2.HttpRoute] = {}
        for platform, fn in ingest_functions.items():
            self._build_webhook_route(platform, fn)
        self._build_health_routes(health_function)

    @property
    def url(self) -> str:
        return self.stage.url

    def _build_http_api(self) -> apigwv2.HttpApi:
        return apigwv2.HttpApi(
            self,
            "HttpApi",
            api_name=Stack.of(self).stack_name,
            description="Switchboard: platform webhooks and health",
            create_default_stage=False,
        )

    def _build_access_log_group(self) -> logs.LogGroup:
        return logs.LogGroup(
            self,
            "AccessLogs",
            retention=LOG_RETENTION,
            removal_policy=RemovalPolicy.DESTROY,
        )

    def _build_stage(self) -> apigwv2.HttpStage:
        return apigwv2.HttpStage(
            self,
            "DefaultStage",
            http_api=self.http_api,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(
                rate_limit=THROTTLE_RATE_LIMIT, burst_limit=THROTTLE_BURST_LIMIT
            ),
            access_log_settings=_AccessLogSettings(
                apigwv2.LogGroupLogDestination(self.access_logs),
                apigateway.AccessLogFormat.custom(json.dumps(dict(ACCESS_LOG_FIELDS))),
            ),
        )

    def _build_webhook_route(self, platform: str, fn: lambda_.IFunction) -> None:
        integration = integrations.HttpLambdaIntegration(f"Ingest{pascal(platform)}Integration", fn)
        self._build_route(apigwv2.HttpMethod.POST, f"/webhooks/{platform}", integration)

    def _build_health_routes(self, fn: lambda_.IFunction) -> None:
        integration = integrations.HttpLambdaIntegration("HealthIntegration", fn)
        for path in HEALTH_PATHS:
            self._build_route(apigwv2.HttpMethod.GET, path, integration)

    def _build_route(
        self, method: apigwv2.HttpMethod, path: str, integration: apigwv2.HttpRouteIntegration
    ) -> None:
        (route,) = self.http_api.add_routes(path=path, methods=[method], integration=integration)
        self.routes[f"{method.value} {path}"] = route
