"""cdk-nag, cfn-lint, CDK annotations, and a template that needs no account, region or credentials."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack, Validations
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Annotations, Match, Template
from cfnlint.api import ManualArgs, lint_file

from infra import nag
from infra.stack import SwitchboardStack
from tests.infra.support import Synthesized

# CDK makes every function DependsOn its role although the Role GetAtt already orders them; harmless.
ACCEPTED_CFN_LINT_WARNINGS = {"W3005"}
POWERTOOLS_PUBLISHER_ACCOUNT = "017000801446"


def _violations(synthesized: Synthesized) -> list[dict[str, Any]]:
    report = json.loads((synthesized.outdir / "validation-report.json").read_text())
    return [
        {
            "rule": violation["ruleName"],
            "paths": [c["constructPath"] for c in violation["violatingConstructs"]],
        }
        for plugin in report["pluginReports"]
        for violation in plugin["violations"]
    ]


def test_cdk_nag_reports_no_unacknowledged_finding(synthesized: Synthesized) -> None:
    assert _violations(synthesized) == []
    assert synthesized.synth_error is None


def test_cdk_nag_fails_the_synth_of_an_unacknowledged_finding(tmp_path: Path) -> None:
    """The plugin is really wired in: a queue without a DLQ or TLS policy must stop the synth."""
    app = App(outdir=str(tmp_path))
    sqs.Queue(Stack(app, "Bad"), "Queue")
    nag.add_checks(app)
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    rules = {v["ruleName"] for plugin in report["pluginReports"] for v in plugin["violations"]}
    assert {"AwsSolutions-SQS3", "AwsSolutions-SQS4"} <= rules


def test_every_acknowledgment_is_on_one_resource_and_gives_a_reason(stack: SwitchboardStack) -> None:
    acknowledged = 0
    for construct in stack.node.find_all():
        for entry in construct.node.metadata:
            if entry.type != Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                continue
            assert not isinstance(construct, Stack), "acknowledge on the resource, not on the whole stack"
            for rule, reason in dict(entry.data).items():
                # CDK stores an id without a plugin prefix as "Annotation::<id>"; cdk-nag strips that prefix.
                assert re.fullmatch(r"(?i:annotation::)?AwsSolutions-[A-Z]+\d+(\[.+\])?", rule), rule
                assert len(reason) >= 60, f"{construct.node.path} {rule}: give a real reason"
                acknowledged += 1
    assert acknowledged > 0


def test_cdk_reports_no_warning_or_error(stack: SwitchboardStack, template: Template) -> None:
    annotations = Annotations.from_stack(stack)
    annotations.has_no_error("*", Match.any_value())
    annotations.has_no_warning("*", Match.any_value())


def test_cfn_lint_reports_no_error(synthesized: Synthesized, template: Template) -> None:
    matches = lint_file(synthesized.template_path, config=ManualArgs(regions=["us-east-1", "eu-west-1"]))
    errors = [f"{m.rule.id} {m.path_string}: {m.message}" for m in matches if m.rule.id.startswith("E")]
    warnings = [
        f"{m.rule.id} {m.path_string}: {m.message}"
        for m in matches
        if not m.rule.id.startswith(("E", "I")) and m.rule.id not in ACCEPTED_CFN_LINT_WARNINGS
    ]
    assert errors == []
    assert warnings == []


def test_template_is_environment_agnostic(template: Template) -> None:
    text = json.dumps(template.to_json())
    assert not re.search(r"\b(us|eu|ap|sa|ca|me|af|il|mx)-[a-z]+-\d\b", text), "a region is hard-coded"
    accounts = set(re.findall(r"(?<![0-9a-f])\d{12}(?![0-9a-f])", text)) - {POWERTOOLS_PUBLISHER_ACCOUNT}
    assert accounts == set(), "an account id is hard-coded"
