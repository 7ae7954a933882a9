"""The local durable execution service's pure parts: the pin of the testing SDK it extends, the template's
DurableConfig, qualifiers, execution ARNs and the idempotency of a start by name."""

from __future__ import annotations

import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest

from tools.local.durable import (
    VERIFIED_TESTING_SDK,
    DurableConfig,
    _same_payload,
    durable_functions,
    execution_arn,
    split_qualifier,
)
from tools.local.functions import FunctionSpec
from tools.local.template import Template

ROOT = Path(__file__).resolve().parents[2]
TESTING_SDK = "aws-durable-execution-sdk-python-testing"


def test_the_testing_sdk_is_the_release_the_executor_extension_was_verified_against() -> None:
    dev = tomllib.loads((ROOT / "pyproject.toml").read_text())["dependency-groups"]["dev"]
    assert f"{TESTING_SDK}=={VERIFIED_TESTING_SDK}" in [spec.split("#")[0].strip() for spec in dev]
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    assert next(p["version"] for p in lock["package"] if p["name"] == TESTING_SDK) == VERIFIED_TESTING_SDK
    assert version(TESTING_SDK) == VERIFIED_TESTING_SDK


def _spec(logical_id: str) -> FunctionSpec:
    return FunctionSpec(logical_id, logical_id, "handler.handler", None, 3, 128, {})


def test_durable_config_is_read_from_the_template_as_cdk_writes_it(tmp_path: Path) -> None:
    template = Template(
        document={
            "Resources": {
                "Plan": {
                    "Type": "AWS::Lambda::Function",
                    "Properties": {"DurableConfig": {"ExecutionTimeout": 3600, "RetentionPeriodInDays": 7}},
                },
                "Plain": {"Type": "AWS::Lambda::Function", "Properties": {}},
            }
        },
        path=tmp_path / "t.template.json",
    )

    found = durable_functions(template, {"Plan": _spec("Plan"), "Plain": _spec("Plain")})

    assert found == {"Plan": DurableConfig(execution_timeout=3600, retention_period_in_days=7)}


@pytest.mark.parametrize(
    ("function", "expected"),
    [
        ("plan", ("plan", None)),
        ("plan:live", ("plan", "live")),
        ("plan:$LATEST", ("plan", "$LATEST")),
        ("arn:aws:lambda:us-east-1:123456789012:function:plan", ("plan", None)),
        ("arn:aws:lambda:us-east-1:123456789012:function:plan:7", ("plan", "7")),
        ("123456789012:function:plan:live", ("plan", "live")),
    ],
)
def test_a_function_identifier_splits_into_name_and_qualifier(
    function: str, expected: tuple[str, str | None]
) -> None:
    assert split_qualifier(function) == expected


def test_an_execution_arn_is_a_sub_resource_of_the_function_version() -> None:
    arn = execution_arn("arn:aws:lambda:us-east-1:123456789012:function:plan", "task-1", "abc")

    assert arn == "arn:aws:lambda:us-east-1:123456789012:function:plan:$LATEST/durable-execution/task-1/abc"


def test_the_same_json_payload_is_the_same_start_whatever_its_spacing() -> None:
    assert _same_payload('{"a": 1, "b": [2]}', '{"b":[2],"a":1}')
    assert _same_payload(None, "")
    assert not _same_payload('{"a": 1}', '{"a": 2}')
    assert not _same_payload(None, '{"a": 1}')
