"""The local runtime's pure parts, no sockets: intrinsic functions, schedules, routes, event and response
mapping, batch settling, function environments, secret values."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tools.local.functions import FunctionSpec, InvokeResult, LocalEndpoints, function_environment
from tools.local.http_api import MalformedResponseError, Route, build_event, map_response, match_route
from tools.local.moto_credentials import Credentials
from tools.local.pollers import records_to_delete
from tools.local.provision import (
    DEV_LLM_KEY,
    DEV_TOKEN,
    DEV_WEBHOOK_SECRETS,
    real_token_configured,
    secret_value,
)
from tools.local.schedules import (
    CronSchedule,
    RateSchedule,
    ScheduledRule,
    ScheduleError,
    Scheduler,
    parse_schedule_expression,
)
from tools.local.template import Resolver, Template, TemplateError, dependency_order, references


def _resolver(resources: dict[str, Any] | None = None) -> Resolver:
    document = {
        "Parameters": {"Stage": {"Type": "String", "Default": "local"}},
        "Mappings": {"Sizes": {"small": {"memory": 128}}},
        "Resources": resources
        or {
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {}},
            "Role": {"Type": "AWS::IAM::Role", "Properties": {}},
        },
    }
    resolver = Resolver(Template(document=document, path=Path("cdk.out/Switchboard.template.json")))
    if "Queue" in resolver.template.resources:
        resolver.register("Queue", "http://q/Q.fifo", Arn="arn:aws:sqs:us-east-1:123456789012:Q.fifo")
    return resolver


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"Ref": "Queue"}, "http://q/Q.fifo"),
        ({"Ref": "AWS::Region"}, "us-east-1"),
        ({"Ref": "Stage"}, "local"),
        ({"Fn::GetAtt": ["Queue", "Arn"]}, "arn:aws:sqs:us-east-1:123456789012:Q.fifo"),
        ({"Fn::GetAtt": "Queue.Arn"}, "arn:aws:sqs:us-east-1:123456789012:Q.fifo"),
        ({"Fn::Join": ["-", ["a", {"Ref": "AWS::AccountId"}, "b"]]}, "a-123456789012-b"),
        (
            {"Fn::Sub": "${AWS::StackName}/${Queue.Arn}/${!Raw}"},
            "Switchboard/arn:aws:sqs:us-east-1:123456789012:Q.fifo/${Raw}",
        ),
        ({"Fn::Sub": ["${X}-${Queue}", {"X": {"Ref": "AWS::Partition"}}]}, "aws-http://q/Q.fifo"),
        ({"Fn::Select": [2, {"Fn::Split": ["/", "a/b/c"]}]}, "c"),
        ({"Fn::FindInMap": ["Sizes", "small", "memory"]}, 128),
        ({"Fn::Base64": "hi"}, base64.b64encode(b"hi").decode()),
        ({"Keep": 1, "Drop": {"Ref": "AWS::NoValue"}}, {"Keep": 1}),
    ],
)
def test_intrinsic_functions_resolve(value: Any, expected: Any) -> None:
    assert _resolver().resolve(value, "Test") == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"Ref": "Missing"}, "unknown logical id 'Missing'"),
        ({"Ref": "Role"}, "Ref to 'Role' (AWS::IAM::Role) is not supported"),
        ({"Fn::GetAtt": ["Queue", "Nope"]}, "Fn::GetAtt Queue.Nope: attribute 'Nope' of AWS::SQS::Queue"),
        ({"Fn::ImportValue": "x"}, "Fn::ImportValue is not supported"),
    ],
)
def test_unresolvable_values_name_the_logical_id(value: Any, message: str) -> None:
    with pytest.raises(TemplateError, match="MyFunction environment X") as error:
        _resolver().resolve(value, "MyFunction environment X")
    assert message in str(error.value)


def test_resources_are_ordered_after_what_they_reference() -> None:
    template = Template(
        document={
            "Resources": {
                "Main": {"Type": "AWS::SQS::Queue", "Properties": {"R": {"Fn::GetAtt": ["Dlq", "Arn"]}}},
                "Param": {"Type": "AWS::SSM::Parameter", "Properties": {"Value": {"Fn::Sub": "${Main}"}}},
                "Dlq": {"Type": "AWS::SQS::Queue", "Properties": {}},
            }
        },
        path=Path("t.json"),
    )

    ordered = [resource.logical_id for resource in dependency_order(template.resources.values())]

    assert ordered == ["Dlq", "Main", "Param"]
    assert references({"Fn::Sub": ["${A}${B.Arn}${AWS::Region}${Local}", {"Local": {"Ref": "C"}}]}) == {
        "A",
        "B",
        "C",
    }


def test_rate_expressions() -> None:
    assert parse_schedule_expression("rate(5 minutes)") == RateSchedule(300)
    assert parse_schedule_expression("rate(1 hour)") == RateSchedule(3600)
    assert parse_schedule_expression("rate(2 days)") == RateSchedule(172800)


def test_cron_expressions_match_in_utc() -> None:
    daily = parse_schedule_expression("cron(0 6 * * ? *)")
    weekdays = parse_schedule_expression("cron(*/15 9-17 ? * MON-FRI *)")

    assert isinstance(daily, CronSchedule)
    assert isinstance(weekdays, CronSchedule)
    assert daily.matches(datetime(2026, 5, 9, 6, 0, tzinfo=UTC))
    assert not daily.matches(datetime(2026, 5, 9, 6, 1, tzinfo=UTC))
    assert weekdays.matches(datetime(2026, 5, 8, 9, 45, tzinfo=UTC))  # a Friday
    assert not weekdays.matches(datetime(2026, 5, 9, 9, 45, tzinfo=UTC))  # a Saturday
    assert not weekdays.matches(datetime(2026, 5, 8, 9, 50, tzinfo=UTC))


def test_the_scheduler_fires_enabled_rate_rules_every_period() -> None:
    fired: list[tuple[str, float]] = []
    started = time.monotonic()
    every_second = ScheduledRule("Tick", "tick", "rate(1 second)", RateSchedule(1), targets=())
    disabled = ScheduledRule("Off", "off", "rate(1 second)", RateSchedule(1), targets=(), enabled=False)
    scheduler = Scheduler([every_second, disabled], lambda rule: fired.append((rule.name, time.monotonic())))

    scheduler.start()
    try:
        deadline = time.monotonic() + 10
        while len(fired) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        scheduler.stop()

    assert [name for name, _ in fired[:2]] == ["tick", "tick"]
    assert fired[0][1] - started >= 0.9  # one period after start, as on AWS
    assert fired[1][1] - fired[0][1] >= 0.9


@pytest.mark.parametrize(
    "expression",
    ["rate(0 minutes)", "rate(5 weeks)", "cron(0 6 * * * *)", "cron(0 6 L * ? *)", "cron(0 6 *)"],
)
def test_unsupported_schedules_are_refused(expression: str) -> None:
    with pytest.raises(ScheduleError):
        parse_schedule_expression(expression)


def test_the_most_specific_route_wins() -> None:
    routes = [
        Route("$default", "Fallback"),
        Route("ANY /items/{id}", "Any"),
        Route("GET /items/{id}", "Get"),
        Route("GET /items/special", "Special"),
        Route("GET /items/{rest+}", "Greedy"),
    ]

    def target(method: str, path: str) -> tuple[str, dict[str, str]] | None:
        found = match_route(routes, method, path)
        return (found[0].function, found[1]) if found else None

    assert target("GET", "/items/special") == ("Special", {})
    assert target("GET", "/items/7") == ("Get", {"id": "7"})
    assert target("POST", "/items/7") == ("Any", {"id": "7"})
    assert target("GET", "/items/7/parts") == ("Greedy", {"rest": "7/parts"})
    assert target("GET", "/other") == ("Fallback", {})
    assert match_route(routes[1:], "GET", "/other") is None


def test_the_v2_event_joins_duplicate_headers_and_query_values() -> None:
    event = build_event(
        route_key="GET /x",
        method="GET",
        target="/x?tag=a&tag=b&empty=",
        header_items=[("Host", "localhost:3000"), ("X-Tag", "1"), ("x-tag", "2"), ("Cookie", "a=1; b=2")],
        body=b"",
        source_ip="127.0.0.1",
        api_id="abc",
        path_parameters={},
        request_id="rid=",
        now=1_700_000_000.5,
        server_port=3000,
    )

    assert event["headers"].pop("x-amzn-trace-id").startswith("Root=1-6553f100-")
    assert event["headers"] == {
        "host": "localhost:3000",
        "x-tag": "1,2",
        "x-forwarded-for": "127.0.0.1",
        "x-forwarded-port": "3000",
        "x-forwarded-proto": "http",
    }
    assert event["queryStringParameters"] == {"tag": "a,b", "empty": ""}
    assert event["cookies"] == ["a=1", "b=2"]
    assert event["isBase64Encoded"] is False
    assert "body" not in event
    assert event["requestContext"]["time"] == "14/Nov/2023:22:13:20 +0000"
    assert event["requestContext"]["timeEpoch"] == 1_700_000_000_500
    assert event["requestContext"]["domainName"] == "localhost:3000"


def test_responses_map_like_api_gateway() -> None:
    plain = map_response({"ok": True})
    full = map_response(
        {
            "statusCode": 302,
            "headers": {"Location": "/next", "X-Count": 3},
            "multiValueHeaders": {"X-Many": ["1", "2"]},
            "cookies": ["c=1"],
            "body": "moved",
        }
    )
    binary = map_response(
        {"statusCode": 200, "body": base64.b64encode(b"\x00").decode(), "isBase64Encoded": True}
    )

    assert (plain.status, plain.body, plain.headers) == (
        200,
        b'{"ok": true}',
        [("content-type", "application/json")],
    )
    assert full.status == 302
    assert full.headers == [
        ("Location", "/next"),
        ("X-Count", "3"),
        ("X-Many", "1"),
        ("X-Many", "2"),
        ("set-cookie", "c=1"),
    ]
    assert full.body == b"moved"
    assert binary.body == b"\x00"
    with pytest.raises(MalformedResponseError):
        map_response({"statusCode": "abc"})
    with pytest.raises(MalformedResponseError):
        map_response({"statusCode": 200, "body": {"not": "a string"}})


def _result(payload: Any = None, error: dict[str, Any] | None = None) -> InvokeResult:
    return InvokeResult(function="F", request_id="r", payload=payload, error=error)


RECORDS = [{"messageId": "m1"}, {"messageId": "m2"}, {"messageId": "m3"}]


@pytest.mark.parametrize(
    ("result", "report_failures", "deleted"),
    [
        (_result({"batchItemFailures": [{"itemIdentifier": "m2"}]}), True, ["m1", "m3"]),
        (_result({"batchItemFailures": []}), True, ["m1", "m2", "m3"]),
        (_result({"batchItemFailures": None}), True, ["m1", "m2", "m3"]),
        (_result(None), True, ["m1", "m2", "m3"]),
        (_result({"batchItemFailures": [{"itemIdentifier": "unknown"}]}), True, []),
        (_result({"batchItemFailures": [{"itemIdentifier": ""}]}), True, []),
        (_result("not an object"), True, []),
        (_result({"batchItemFailures": [{"itemIdentifier": "m2"}]}), False, ["m1", "m2", "m3"]),
        (_result(error={"errorType": "RuntimeError"}), True, []),
        (_result(error={"errorType": "Sandbox.Timedout"}), False, []),
    ],
)
def test_batch_settling_follows_lambda(
    result: InvokeResult, report_failures: bool, deleted: list[str]
) -> None:
    assert records_to_delete(RECORDS, result, report_failures) == deleted


def _spec(**environment: str) -> FunctionSpec:
    return FunctionSpec(
        logical_id="ActGithub",
        name="ActGithub",
        handler="handler.handler",
        code_dir=Path("/code"),
        timeout=30,
        memory_size=512,
        environment=environment,
    )


def test_a_real_token_is_looked_up_by_the_token_secret_the_function_reads() -> None:
    template = Template.load(
        Path(__file__).parent / "fixtures" / "local_runtime" / "Switchboard.template.json"
    )
    notify = template.get("NotifyFunction")  # SERVICE=slack, reads the token:slack secret
    tickets = template.get("EnvBFunction")  # SERVICE=tickets, reads no token secret

    assert real_token_configured(template, notify, {"SERVICE": "slack"}, {"SWITCHBOARD_SLACK_TOKEN": "xoxb"})
    assert not real_token_configured(template, notify, {"SERVICE": "slack"}, {})
    assert real_token_configured(
        template, tickets, {"SERVICE": "tickets"}, {"SWITCHBOARD_TICKETS_TOKEN": "t"}
    )
    assert not real_token_configured(
        template, tickets, {"SERVICE": "tickets"}, {"SWITCHBOARD_SLACK_TOKEN": "x"}
    )


def test_external_service_urls_point_at_the_sink_unless_a_real_token_is_configured() -> None:
    spec = _spec(
        SERVICE="github",
        SERVICE_API_URL="https://api.github.com",
        STATUS_API_URL="https://status.example",
        LLM_API_URL="https://api.anthropic.com",
    )
    endpoints = LocalEndpoints("http://moto", "http://sink", "http://llm", environ={"PATH": "/bin"})

    role = Credentials("ASIAROLESESSION", "role-secret", "role-session-token")

    local = function_environment(
        spec, endpoints, python_path=[Path("/code")], credentials=role, real_service=False
    )
    real = function_environment(
        spec, endpoints, python_path=[Path("/code")], credentials=role, real_service=True
    )
    with_key = function_environment(
        spec,
        LocalEndpoints("http://moto", "http://sink", "http://llm", environ={"ANTHROPIC_API_KEY": "sk-real"}),
        python_path=[],
        credentials=role,
        real_service=False,
    )

    assert local["SERVICE_API_URL"] == "http://sink/github"
    assert local["STATUS_API_URL"] == "http://sink/status"
    assert local["LLM_API_URL"] == "http://llm"
    assert real["SERVICE_API_URL"] == "https://api.github.com"
    assert with_key["LLM_API_URL"] == "https://api.anthropic.com"
    assert local["PATH"] == "/bin"
    assert "HOME" not in local
    assert local["AWS_ENDPOINT_URL"] == "http://moto"
    assert (local["AWS_ACCESS_KEY_ID"], local["AWS_SECRET_ACCESS_KEY"], local["AWS_SESSION_TOKEN"]) == (
        "ASIAROLESESSION",
        "role-secret",
        "role-session-token",
    )


@pytest.mark.parametrize(
    ("tag", "environ", "expected"),
    [
        ("webhook:github", {}, DEV_WEBHOOK_SECRETS["github"]),
        ("webhook:github", {"SWITCHBOARD_GITHUB_SECRET": "real"}, "real"),
        ("webhook:standard", {}, DEV_WEBHOOK_SECRETS["standard"]),
        ("token:tickets", {}, DEV_TOKEN),
        ("token:tickets", {"SWITCHBOARD_TICKETS_TOKEN": "tok"}, "tok"),
        ("llm:anthropic", {}, DEV_LLM_KEY),
        ("llm:anthropic", {"ANTHROPIC_API_KEY": "sk-ant"}, "sk-ant"),
    ],
)
def test_secret_values_come_from_the_environment_or_dev_defaults(
    tag: str, environ: dict[str, str], expected: str
) -> None:
    assert secret_value(tag, environ) == expected


def test_the_standard_webhooks_dev_secret_is_valid() -> None:
    secret = DEV_WEBHOOK_SECRETS["standard"]

    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 24
