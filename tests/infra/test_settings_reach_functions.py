"""The CDK context settings reach the functions that read them: ``linkAllowList`` the act workers that render
text, and ``labelPolicy`` every function that asks the gate, with the stack's ``LabelPolicy`` output holding
the same value (what ``switchboard tasks resolve`` checks a person's action against)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra.stack import build_app
from tools.cli import Target, deployed_gate

POLICY = {"octo-org/demo": ["bug", "area/*"], "*": ["question"]}


@pytest.fixture(scope="module")
def configured(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    context = {"linkAllowList": "docs.example.org, status.example.org", "labelPolicy": json.dumps(POLICY)}
    _, stack = build_app(outdir=str(tmp_path_factory.mktemp("out")), context=context, nag_checks=False)
    return dict(Template.from_stack(stack).to_json())


def environments(document: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {
        logical_id: body["Properties"].get("Environment", {}).get("Variables", {})
        for logical_id, body in document["Resources"].items()
        if body["Type"] == "AWS::Lambda::Function"
    }


def test_the_link_allow_list_reaches_the_act_workers_that_render_text(configured: dict[str, Any]) -> None:
    seen = {
        env["SERVICE"]: env.get("LINK_ALLOW_LIST")
        for env in environments(configured).values()
        if "SERVICE" in env
    }
    hosts = '["docs.example.org", "status.example.org"]'
    assert seen == {"github": hosts, "slack": hosts, "escalate": hosts, "tickets": None}


def test_the_label_policy_output_is_what_every_function_gets(
    configured: dict[str, Any], template: Template
) -> None:
    for document in (configured, dict(template.to_json())):
        output = document["Outputs"]["LabelPolicy"]["Value"]
        given = {env["LABEL_POLICY"] for env in environments(document).values() if "LABEL_POLICY" in env}
        assert given == {output}


def test_tasks_resolve_checks_against_the_deployed_policy(configured: dict[str, Any]) -> None:
    gate = deployed_gate(Target({"LabelPolicy": configured["Outputs"]["LabelPolicy"]["Value"]}, None, None))
    assert gate.config.labels.admits("octo-org/demo", "area/api")
    assert not gate.config.labels.admits("octo-org/demo", "security")
    assert gate.config.labels.admits("other/repo", "question") and not gate.config.labels.admits(
        "other/repo", "bug"
    )
