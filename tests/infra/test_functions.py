"""Functions: the shared defaults, the timeouts, the layers, the SQS triggers and the environment contract."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from infra.stack import SwitchboardStack
from tests.infra.support import Resource, logical_id, target

# From the issue; deliberately not imported from infra/, so that a change there has to change this too.
TIMEOUTS = {
    "ingest": 10,
    "health": 5,
    "classify": 30,
    "decide": 60,
    "act": 30,
    "poll": 60,
    "triage": 300,
    "batch": 120,  # issue 15: the Message Batches submitter and collector
    "plan": 120,
}
POWERTOOLS_LAYER = re.compile(
    r"^\{\{resolve:ssm:/aws/service/powertools/python/arm64/python3\.13/\d+\.\d+\.\d+\}\}$"
)
SECRET_LIKE_NAME = re.compile(r"(SECRET|TOKEN|PASSWORD|API_KEY|PRIVATE_KEY)$")


def _functions(template: Template) -> Mapping[str, Resource]:
    return template.find_resources("AWS::Lambda::Function")


def _environment(template: Template, stack: SwitchboardStack, name: str) -> dict[str, Any]:
    function = _functions(template)[logical_id(stack.functions.all[name])]
    return dict(function["Properties"]["Environment"]["Variables"])


def test_every_function_uses_the_shared_lambda_defaults(template: Template) -> None:
    template.all_resources_properties(
        "AWS::Lambda::Function",
        Match.object_like(
            {
                "Runtime": "python3.13",
                "Architectures": ["arm64"],
                "Handler": "handler.handler",
                "MemorySize": 256,
                "TracingConfig": {"Mode": "Active"},
                "LoggingConfig": Match.object_like({"LogFormat": "JSON"}),
            }
        ),
    )


def test_each_function_logs_to_its_own_log_group_kept_one_month(template: Template) -> None:
    log_groups = template.find_resources("AWS::Logs::LogGroup")
    used = [target(fn["Properties"]["LoggingConfig"]["LogGroup"]) for fn in _functions(template).values()]
    assert len(used) == len(set(used)), "two functions share a log group"
    for log_group_id in used:
        assert log_groups[log_group_id]["Properties"]["RetentionInDays"] == 30


def test_timeouts_follow_the_function_role(template: Template) -> None:
    for function in _functions(template).values():
        role = function["Properties"]["Environment"]["Variables"]["SWITCHBOARD_FUNCTION"]
        assert function["Properties"]["Timeout"] == TIMEOUTS[role], role


def test_layers_are_powertools_then_dependencies_then_shared_library(
    stack: SwitchboardStack, template: Template
) -> None:
    factory = stack.functions.defaults
    deps, sdk, shared = (
        {"Ref": logical_id(layer)} for layer in (factory.deps_layer, factory.sdk_layer, factory.shared_layer)
    )
    plan = logical_id(stack.functions.plan)
    for function_id, function in _functions(template).items():
        powertools, *rest = function["Properties"]["Layers"]
        assert POWERTOOLS_LAYER.match(powertools)
        # only the plan function ships its own boto3 (the durable execution SDK's); the others: the runtime's
        assert rest == ([deps, sdk, shared] if function_id == plan else [deps, shared]), function_id


def test_one_code_asset_per_function_folder(stack: SwitchboardStack, template: Template) -> None:
    functions = _functions(template)

    def code_of(name: str) -> Any:
        return functions[logical_id(stack.functions.all[name])]["Properties"]["Code"]["S3Key"]

    assert len({code_of(f"ingest-{p}") for p in ("github", "slack", "standard")}) == 1
    assert len({code_of(f"act-{s}") for s in ("github", "slack", "tickets", "escalate")}) == 1
    folders = ["ingest-github", "health", "classify", "decide", "act-github", "poll", "triage", "batch"]
    assert len({code_of(name) for name in folders}) == len(folders)


def test_queue_triggers_report_partial_batch_failures(template: Template) -> None:
    for mapping in template.find_resources("AWS::Lambda::EventSourceMapping").values():
        properties = mapping["Properties"]
        assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert properties["BatchSize"] <= 10
        assert properties["ScalingConfig"] == {"MaximumConcurrency": 2}
        assert "MaximumBatchingWindowInSeconds" not in properties, "FIFO triggers take no batching window"


def test_queue_triggers_use_the_contract_batch_sizes(stack: SwitchboardStack, template: Template) -> None:
    batch_sizes = {
        target(m["Properties"]["FunctionName"]): m["Properties"]["BatchSize"]
        for m in template.find_resources("AWS::Lambda::EventSourceMapping").values()
    }
    expected = {
        "classify": 10,
        "decide": 10,
        **{f"act-{s}": 5 for s in ("github", "slack", "tickets", "escalate")},
    }
    assert {name: batch_sizes[logical_id(stack.functions.all[name])] for name in expected} == expected


@pytest.mark.parametrize("platform", ["github", "slack", "standard"])
def test_ingest_environment(stack: SwitchboardStack, template: Template, platform: str) -> None:
    environment = _environment(template, stack, f"ingest-{platform}")
    assert environment["PLATFORM"] == platform
    assert environment["SWITCHBOARD_FUNCTION"] == "ingest"
    assert environment["POWERTOOLS_SERVICE_NAME"] == "switchboard-ingest"
    assert environment["INGEST_QUEUE_URL"] == {"Ref": logical_id(stack.queues.ingest)}
    assert environment["MEMORY_TABLE_NAME"] == {"Ref": logical_id(stack.state.memory_table)}
    assert environment["WEBHOOK_SECRET_ID"] == {"Ref": logical_id(stack.secrets.webhook(platform))}


@pytest.mark.parametrize("name", ["classify", "decide"])
def test_reasoning_environment(stack: SwitchboardStack, template: Template, name: str) -> None:
    environment = _environment(template, stack, name)
    queues = stack.queues
    assert environment["TASKS_TABLE_NAME"] == {"Ref": logical_id(stack.state.tasks_table)}
    assert environment["MEMORY_TABLE_NAME"] == {"Ref": logical_id(stack.state.memory_table)}
    assert environment["DECIDE_QUEUE_URL"] == {"Ref": logical_id(queues.decide)}
    for service in ("github", "slack", "tickets", "escalate"):
        assert environment[f"ACT_{service.upper()}_QUEUE_URL"] == {"Ref": logical_id(queues.act(service))}
    assert environment["LLM_API_URL"] == "https://api.anthropic.com"
    assert environment["LLM_SECRET_ID"] == {"Ref": logical_id(stack.secrets.llm)}


@pytest.mark.parametrize(
    ("service", "api_url", "token"),
    [
        ("github", "https://api.github.com", "github"),
        ("slack", "https://slack.com/api", "slack"),
        ("tickets", "https://tickets.example.invalid/api", "tickets"),
        ("escalate", "https://slack.com/api", "slack"),
    ],
)
def test_act_environment(
    stack: SwitchboardStack, template: Template, service: str, api_url: str, token: str
) -> None:
    environment = _environment(template, stack, f"act-{service}")
    assert environment["SERVICE"] == service
    assert environment["ACT_QUEUE_URL"] == {"Ref": logical_id(stack.queues.act(service))}
    assert environment["SERVICE_API_URL"] == api_url
    assert environment["SERVICE_TOKEN_SECRET_ID"] == {"Ref": logical_id(stack.secrets.token(token))}
    assert environment["TASKS_TABLE_NAME"] == {"Ref": logical_id(stack.state.tasks_table)}
    assert environment["MEMORY_TABLE_NAME"] == {"Ref": logical_id(stack.state.memory_table)}


def test_poll_health_and_triage_environment(stack: SwitchboardStack, template: Template) -> None:
    poll = _environment(template, stack, "poll")
    assert poll["INGEST_QUEUE_URL"] == {"Ref": logical_id(stack.queues.ingest)}
    assert poll["MEMORY_TABLE_NAME"] == {"Ref": logical_id(stack.state.memory_table)}
    assert _environment(template, stack, "health")["SWITCHBOARD_VERSION"]
    triage = _environment(template, stack, "triage")
    assert triage["TASKS_TABLE_NAME"] == {"Ref": logical_id(stack.state.tasks_table)}
    assert triage["ALERT_TOPIC_ARN"] == {"Ref": logical_id(stack.monitoring.alert_topic)}
    dlq_refs = {part["Ref"] for part in triage["DLQ_URLS"]["Fn::Join"][1] if isinstance(part, dict)}
    assert dlq_refs == {logical_id(dlq) for dlq in stack.queues.dlqs.values()}


def test_every_function_has_the_common_observability_environment(template: Template) -> None:
    for function in _functions(template).values():
        environment = function["Properties"]["Environment"]["Variables"]
        assert environment["POWERTOOLS_SERVICE_NAME"] == f"switchboard-{environment['SWITCHBOARD_FUNCTION']}"
        assert environment["POWERTOOLS_METRICS_NAMESPACE"] == "Switchboard"
        assert environment["POWERTOOLS_LOG_LEVEL"] == "INFO"


def test_no_secret_value_is_in_an_environment_variable(template: Template) -> None:
    secret_ids = set(template.find_resources("AWS::SecretsManager::Secret"))
    for function in _functions(template).values():
        for name, value in function["Properties"]["Environment"]["Variables"].items():
            assert "resolve:secretsmanager" not in str(value), name
            assert "SecretString" not in str(value), name
            if name.endswith("_SECRET_ID"):
                assert target(value) in secret_ids, f"{name} is not the id of a secret"
            else:
                assert not SECRET_LIKE_NAME.search(name), f"{name} looks like a secret value"


def test_functions_carry_their_construct_path_and_code_asset_in_metadata(template: Template) -> None:
    """The local runtime finds each function's code through this metadata, as the CDK CLI writes it."""
    template.all_resources(
        "AWS::Lambda::Function",
        {
            "Metadata": Match.object_like(
                {
                    "aws:cdk:path": Match.string_like_regexp(r"^Switchboard/Functions/\w+/Resource$"),
                    "aws:asset:path": Match.string_like_regexp(r"^asset\.[0-9a-f]{64}$"),
                    "aws:asset:property": "Code",
                }
            )
        },
    )
