"""The catalog is what the stack is built from: a new service is one entry, and it is wired everywhere; every
metric the monitoring watches is one the catalog names; every variable the stack sets is one it names."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra.lambda_defaults import TIMEOUT_SECONDS
from infra.queues import MAX_RECEIVE_COUNT, VISIBILITY_TIMEOUT_FACTOR
from infra.stack import STACK_NAME
from switchboard import catalog
from switchboard.catalog import METRICS_NAMESPACE, Env, Metric
from tests.conftest import ROOT
from tests.infra.support import actions_on, policy_statements_of_role, references, target

SEND = "sqs:SendMessage"
CONSUME = "sqs:ReceiveMessage"


def _by_path(template: dict[str, Any], path: str) -> tuple[str, dict[str, Any]]:
    (found,) = (
        (logical_id, resource)
        for logical_id, resource in template["Resources"].items()
        if resource.get("Metadata", {}).get("aws:cdk:path") == f"{STACK_NAME}/{path}"
    )
    return found


@pytest.fixture(scope="module")
def extended(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    """The template and facts of ``tests.infra.catalog_extension``: the catalog plus a made-up ``pager``."""
    outdir = tmp_path_factory.mktemp("extended")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "layers/shared/python")]),
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
    }
    result = subprocess.run(
        [sys.executable, "-m", "tests.infra.catalog_extension", str(outdir)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    template = json.loads((outdir / f"{STACK_NAME}.template.json").read_text())
    return template, json.loads((outdir / "facts.json").read_text())


def test_a_new_service_gets_its_fifo_act_queue_and_dlq_with_redrive(extended: Any) -> None:
    template, _ = extended
    queue_id, queue = _by_path(template, "Queues/ActPagerQueue/Resource")
    dlq_id, dlq = _by_path(template, "Queues/ActPagerDlq/Resource")
    assert queue["Properties"]["FifoQueue"] is True
    assert dlq["Properties"]["FifoQueue"] is True
    redrive = queue["Properties"]["RedrivePolicy"]
    assert target(redrive["deadLetterTargetArn"]) == dlq_id
    assert redrive["maxReceiveCount"] == MAX_RECEIVE_COUNT
    assert queue["Properties"]["VisibilityTimeout"] == VISIBILITY_TIMEOUT_FACTOR * TIMEOUT_SECONDS["act"]
    _, alarm = _by_path(template, "Monitoring/ActPagerDlqAlarm/Resource")
    assert dlq_id in set(references(alarm["Properties"]["Dimensions"]))
    for watch in ("ActPagerAgeAlarm", "ActPagerErrorsAlarm", "ActPagerThrottlesAlarm"):
        _by_path(template, f"Watch/{watch}/Resource")
    assert queue_id


def test_a_new_service_gets_its_act_function_environment_trigger_and_only_its_own_grants(
    extended: Any,
) -> None:
    template, _ = extended
    queue_id, _ = _by_path(template, "Queues/ActPagerQueue/Resource")
    escalate_id, _ = _by_path(template, "Queues/ActEscalateQueue/Resource")
    function_id, function = _by_path(template, "Functions/ActPager/Resource")
    (secret_id,) = (
        logical_id
        for logical_id, resource in template["Resources"].items()
        if {"Key": "switchboard:secret", "Value": "token:pager"}
        in resource.get("Properties", {}).get("Tags", [])
    )
    variables = function["Properties"]["Environment"]["Variables"]
    assert variables[Env.SERVICE] == "pager"
    assert variables[Env.SERVICE_API_URL] == "https://pager.example.test/v2"  # its CDK context key
    assert target(variables[Env.ACT_QUEUE_URL]) == queue_id
    assert target(variables[Env.SERVICE_TOKEN_SECRET_ID]) == secret_id
    assert target(variables[catalog.queue_url_env("act-escalate")]) == escalate_id
    sends = {name for name in variables if name.endswith("_QUEUE_URL")} - {Env.ACT_QUEUE_URL}
    assert sends == {"ACT_ESCALATE_QUEUE_URL"}  # it escalates; it neither replies nor stages follow-ups
    (mapping,) = (
        resource["Properties"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Lambda::EventSourceMapping"
        and target(resource["Properties"]["FunctionName"]) == function_id
    )
    assert target(mapping["EventSourceArn"]) == queue_id
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    statements = policy_statements_of_role(
        Template.from_json(template), target(function["Properties"]["Role"])
    )
    queues = {
        logical_id
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::SQS::Queue" and actions_on(statements, logical_id)
    }
    assert queues == {queue_id, escalate_id}
    assert CONSUME in actions_on(statements, queue_id)
    assert SEND in actions_on(statements, escalate_id) and CONSUME not in actions_on(statements, escalate_id)
    secrets = {
        logical_id
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::SecretsManager::Secret" and actions_on(statements, logical_id)
    }
    assert secrets == {secret_id}


def test_the_functions_that_send_to_every_act_queue_get_the_new_one(extended: Any) -> None:
    template, _ = extended
    queue_id, _ = _by_path(template, "Queues/ActPagerQueue/Resource")
    for name in ("Classify", "Decide", "ActTickets", "ActEscalate"):
        _, function = _by_path(template, f"Functions/{name}/Resource")
        assert target(function["Properties"]["Environment"]["Variables"]["ACT_PAGER_QUEUE_URL"]) == queue_id
    _, github = _by_path(template, "Functions/ActGithub/Resource")
    assert "ACT_PAGER_QUEUE_URL" not in github["Properties"]["Environment"]["Variables"]


def test_a_new_service_validates_in_fresh_settings_and_runs_its_executor(extended: Any) -> None:
    _, facts = extended
    assert facts["service_enum"] == "pager"
    assert facts["settings"] == {
        "service": "pager",
        "service_api_url": "https://pager.example.test/v2",
        "act_queue_url": "resolved:ACT_QUEUE_URL",
        "service_token_secret_id": "resolved:SERVICE_TOKEN_SECRET_ID",
        "act_queue_urls": {"escalate": "resolved:ACT_ESCALATE_QUEUE_URL"},
        "act_escalate_queue_url": "resolved:ACT_ESCALATE_QUEUE_URL",
        "followups_queue_url": None,
    }
    assert facts["executor"] == "PagerExecutor"
    assert facts["executor_base_url"] == "https://pager.example.test/v2"


def test_the_local_runtime_and_the_cli_know_a_new_service(extended: Any) -> None:
    _, facts = extended
    assert facts["local"] == {
        "token_env": "SWITCHBOARD_PAGER_TOKEN",
        "token_value": "a-real-token",
        "real_token_configured": True,
        "sink_status": 201,  # the sink answers it like the API its entry speaks (tickets)
    }
    assert "act-pager" in facts["cli_redrive_help"]


# -- the real catalog --------------------------------------------------------------------------------------


def _dashboard_metric_names(template: Template) -> set[str]:
    names: set[str] = set()
    for dashboard in template.find_resources("AWS::CloudWatch::Dashboard").values():
        body = dashboard["Properties"]["DashboardBody"]
        parts = body["Fn::Join"][1] if isinstance(body, dict) else [body]
        text = "".join(part if isinstance(part, str) else "0" for part in parts)
        for widget in json.loads(text)["widgets"]:
            for metric in widget["properties"].get("metrics", []):
                if metric and metric[0] == METRICS_NAMESPACE:
                    names.add(metric[1])
    return names


def _alarm_metric_names(template: Template) -> set[str]:
    names: set[str] = set()
    for alarm in template.find_resources("AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        if props.get("Namespace") == METRICS_NAMESPACE:
            names.add(props["MetricName"])
        for query in props.get("Metrics", []):
            stat = query.get("MetricStat", {}).get("Metric", {})
            if stat.get("Namespace") == METRICS_NAMESPACE:
                names.add(stat["MetricName"])
    return names


def test_every_metric_an_alarm_or_the_dashboard_watches_is_in_the_catalog(template: Template) -> None:
    watched = _dashboard_metric_names(template) | _alarm_metric_names(template)
    assert Metric.LLM_COST_USD in _alarm_metric_names(template)
    assert {Metric.EVENTS_ACCEPTED, Metric.RULE_HITS, Metric.ACTIONS_SUCCEEDED} <= watched
    assert watched <= {metric.value for metric in Metric}


def test_every_variable_the_stack_sets_is_named_by_the_catalog(template: Template) -> None:
    queue_variables = {spec.url_env for spec in catalog.queues()}
    named = {variable.value for variable in Env} | queue_variables
    for logical_id, function in template.find_resources("AWS::Lambda::Function").items():
        variables = set(function["Properties"].get("Environment", {}).get("Variables", {}))
        ours = {name for name in variables if not re.match(r"^(POWERTOOLS_|PYDANTIC_|AWS_|PYTHON)", name)}
        assert ours <= named, (logical_id, ours - named)
