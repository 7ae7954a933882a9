"""The catalog agrees with the enums, the adapter registry, the settings and the metrics the library emits."""

from __future__ import annotations

import ast
import importlib
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from switchboard import catalog, settings
from switchboard.adapters import ADAPTERS
from switchboard.catalog import Env, Metric
from switchboard.metrics import count, emit
from switchboard.models import Platform, Service
from tests.conftest import ROOT

LIBRARY = ROOT / "layers/shared/python/switchboard"


def test_the_service_enum_is_the_catalog() -> None:
    assert [service.value for service in Service] == list(catalog.service_names())


def test_the_declared_service_members_are_the_catalog() -> None:
    """What the type checker reads (the TYPE_CHECKING declaration in models.py) names the same services."""
    tree = ast.parse((LIBRARY / "models.py").read_text())
    (declared,) = (
        node for node in ast.walk(tree) if isinstance(node, ast.ClassDef) and node.name == "Service"
    )
    values = [
        statement.value.value
        for statement in declared.body
        if isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Constant)
    ]
    assert values == list(catalog.service_names())


def test_the_platforms_are_the_adapters_plus_the_polled_ones() -> None:
    assert catalog.webhook_platforms() == tuple(sorted(ADAPTERS))
    assert set(catalog.platforms()) == {platform.value for platform in Platform}


@pytest.mark.parametrize("spec", catalog.services(), ids=lambda spec: spec.name)
def test_every_service_names_an_executor_that_exists(spec: catalog.ServiceSpec) -> None:
    module, _, name = spec.executor.partition(":")
    assert isinstance(getattr(importlib.import_module(module), name), type)


def test_the_services_reads_the_tokens_they_should() -> None:
    assert catalog.token_secrets() == ("github", "slack", "tickets")
    assert catalog.service("escalate").token_secret == "slack"
    assert catalog.escalation_service().name == "escalate"
    assert {spec.name for spec in catalog.reply_targets()} == {"github", "slack", "escalate"}
    assert catalog.sends_to(catalog.service("github")) == ("act-escalate",)
    assert catalog.sends_to(catalog.service("tickets")) == (
        "act-github",
        "act-slack",
        "act-tickets",
        "act-escalate",
        "followups",
    )


def test_queue_url_variables_are_named_once() -> None:
    assert catalog.queue_url_env("act-github") == "ACT_GITHUB_QUEUE_URL"
    assert [spec.name for spec in catalog.queues() if not spec.fifo] == ["followups"]


def test_every_catalog_variable_is_read_by_a_settings_model_or_a_tool() -> None:
    fields = {
        name
        for model in vars(settings).values()
        if isinstance(model, type) and issubclass(model, settings.EnvSettings)
        for name in model.model_fields
    }
    unread = {variable.value for variable in Env if variable.value.lower() not in fields}
    assert unread == {Env.SWITCHBOARD_FUNCTION}  # read by the tools (benchmarks, tests), not by a function


def test_a_missing_act_queue_variable_fails_the_cold_start_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    for spec in catalog.services():
        monkeypatch.setenv(catalog.queue_url_env(spec.act_queue), f"https://sqs.local/{spec.act_queue}.fifo")
    monkeypatch.delenv("ACT_TICKETS_QUEUE_URL")
    values: dict[str, Any] = {
        "powertools_service_name": "switchboard-classify",
        "tasks_table_name": "tasks",
        "memory_table_name": "memory",
        "llm_api_url": "https://api.anthropic.com",
        "llm_secret_id": "arn:llm",
        "decide_queue_url": "https://sqs.local/decide.fifo",
    }
    with pytest.raises(ValidationError, match="ACT_TICKETS_QUEUE_URL"):
        settings.AgentSettings(**values)
    monkeypatch.setenv("ACT_TICKETS_QUEUE_URL", "https://sqs.local/act-tickets.fifo")
    agent = settings.AgentSettings(**values)
    assert agent.act_queue_url(Service.TICKETS) == "https://sqs.local/act-tickets.fifo"


# -- metrics -----------------------------------------------------------------------------------------------


def _metric_calls(path: Path) -> list[tuple[str, ast.Call]]:
    """Every call of ``add_metric``, ``single_metric`` or ``count`` in a module, with the function's name."""
    calls = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            func = node.func
            name = (
                func.attr
                if isinstance(func, ast.Attribute)
                else func.id
                if isinstance(func, ast.Name)
                else ""
            )
            if name in {"add_metric", "single_metric", "count", "emit"}:
                calls.append((name, node))
    return calls


def _literal_names(call: ast.Call) -> list[str]:
    candidates = [keyword.value for keyword in call.keywords if keyword.arg == "name"] + call.args[:1]
    return [
        node.value for node in candidates if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]


def _metric_members_used(path: Path) -> set[str]:
    """The ``Metric.X`` members a module refers to."""
    return {
        node.attr
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "Metric"
    }


def test_every_metric_in_the_catalog_is_emitted_by_the_library() -> None:
    """No catalog entry is dead: each is referred to by a module that emits through the façade."""
    used = {
        member
        for path in LIBRARY.rglob("*.py")
        if path.name not in {"catalog.py", "metrics.py"}
        for member in _metric_members_used(path)
    }
    assert used, "the scan found no Metric members at all: it no longer sees the calls"
    assert {metric.name for metric in Metric} - used == set()
    assert used <= {metric.name for metric in Metric}


def test_no_module_names_a_metric_with_a_string() -> None:
    offenders = sorted(
        f"{path.relative_to(LIBRARY)}:{call.lineno}"
        for path in LIBRARY.rglob("*.py")
        if path.name != "metrics.py"
        for function, call in _metric_calls(path)
        if function in {"add_metric", "single_metric"} or _literal_names(call)
    )
    assert offenders == []


def test_the_facade_refuses_dimensions_the_catalog_does_not_name() -> None:
    with pytest.raises(ValueError, match="RuleHitsByRule"):
        count(Metric.RULE_HITS_BY_RULE)
    with pytest.raises(ValueError, match="EventsAccepted"):
        count(Metric.EVENTS_ACCEPTED, platform="github")


def test_a_metric_with_dimensions_is_its_own_emf_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Switchboard")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "switchboard-classify")
    emit({Metric.RULE_HITS_BY_RULE: 2}, rule="label")
    (line,) = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "RuleHitsByRule" in line]
    assert line["RuleHitsByRule"] == [2.0]
    assert line["rule"] == "label"
    (directive,) = line["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "Switchboard"
    assert directive["Metrics"] == [{"Name": "RuleHitsByRule", "Unit": "Count"}]
