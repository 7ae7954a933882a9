"""The Switchboard stack: it only composes the constructs, in the order of the diagram in DESIGN.md."""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from typing import Any, Final

from aws_cdk import App, CfnOutput, Stack
from constructs import Construct

from infra import nag
from infra.api import Api
from infra.functions import DEFAULT_ESCALATION_CHANNEL, DEFAULT_LLM_DAILY_USD_CAP, Functions
from infra.lambda_defaults import REPO_ROOT, pascal
from infra.monitoring import Monitoring, Watch
from infra.queues import Queues
from infra.schedules import Schedules
from infra.secrets import Secrets
from infra.state import State
from infra.switches import KillSwitches
from switchboard import catalog

STACK_NAME: Final = "Switchboard"
DEFAULT_OUTDIR: Final = REPO_ROOT / "cdk.out"
CDK_JSON: Final = REPO_ROOT / "cdk.json"
PYPROJECT: Final = REPO_ROOT / "pyproject.toml"
# What the CDK CLI passes to the app (with cdk.json's versionReporting: false), so that a plain
# ``python app.py`` writes the same template as ``cdk synth``: construct paths and asset paths in Metadata
# (the local runtime finds each function's code through them), no AWS::CDK::Metadata resource.
CLI_CONTEXT: Final = {
    "aws:cdk:enable-path-metadata": True,
    "aws:cdk:enable-asset-metadata": True,
    "aws:cdk:version-reporting": False,
}


def project_version() -> str:
    """The version in pyproject.toml, reported by the health function."""
    with PYPROJECT.open("rb") as file:
        return str(tomllib.load(file)["project"]["version"])


def cdk_json_context() -> dict[str, Any]:
    """cdk.json's context (feature flags): ``python app.py`` and ``cdk synth`` build the same stack."""
    return dict(json.loads(CDK_JSON.read_text()).get("context", {}))


def secret_output_id(name: str) -> str:
    """The output that names a secret's ARN: ``webhook:github`` -> ``SecretArnWebhookGithub``."""
    return f"SecretArn{pascal(name)}"


class SwitchboardStack(Stack):
    """Platforms -> API -> ingest -> queues -> classify/decide -> act, plus state, secrets, kill switches,
    schedules, alarms.

    The stack is environment-agnostic: the region and account are CloudFormation pseudo parameters.
    CDK context: ``alertEmail`` (optional e-mail subscription to the alert topic), each service's API URL
    where the catalog makes it configurable (``ticketsApiUrl``: ``ServiceSpec.api_url_context``),
    ``escalationChannel`` (the Slack channel people are paged in), ``llmDailyUsdCap`` (dollars a day for the
    models, enforced by the budgeted client and watched by an alarm at 80 %), and ``feeds`` (a JSON list of
    ``{"name", "kind": "atom"|"rss"|"mentions", "url"}`` for the poll function).
    """

    def __init__(self, scope: Construct, construct_id: str = STACK_NAME) -> None:
        super().__init__(
            scope,
            construct_id,
            description="Switchboard: an event-driven agent on AWS Lambda + SQS",
        )
        self.secrets = Secrets(self, "Secrets")
        self.state = State(self, "State")
        self.queues = Queues(self, "Queues")
        self.switches = KillSwitches(self, "KillSwitches")
        self.monitoring = Monitoring(
            self, "Monitoring", dlqs=self.queues.dlqs, alert_email=self._context_str("alertEmail")
        )
        self.functions = Functions(
            self,
            "Functions",
            queues=self.queues,
            state=self.state,
            secrets=self.secrets,
            switches=self.switches,
            alert_topic=self.monitoring.alert_topic,
            version=project_version(),
            service_api_urls=self._service_api_urls(),
            feeds=self._feeds(),
            escalation_channel=self._context_str("escalationChannel") or DEFAULT_ESCALATION_CHANNEL,
            llm_daily_usd_cap=self._llm_daily_usd_cap(),
            label_policy=self._label_policy(),
            link_allow_list=self._link_allow_list(),
        )
        self.watch = Watch(
            self,
            "Watch",
            topic=self.monitoring.alert_topic,
            functions=self.functions.all,
            queues=self.queues.queues,
            dlqs=self.queues.dlqs,
            llm_daily_usd_cap=self._llm_daily_usd_cap(),
        )
        self.api = Api(
            self, "Api", ingest_functions=self.functions.ingest, health_function=self.functions.health
        )
        self.schedules = Schedules(
            self,
            "Schedules",
            poll=self.functions.poll,
            triage=self.functions.triage,
            batch=self.functions.batch,
        )
        self._build_outputs()
        nag.acknowledge(self)

    def _feeds(self) -> list[dict[str, str]]:
        feeds = self.node.try_get_context("feeds") or []
        if isinstance(feeds, str):
            feeds = json.loads(feeds)
        if not isinstance(feeds, list) or not all(isinstance(feed, dict) for feed in feeds):
            raise ValueError('context "feeds" must be a JSON list of {"name", "kind", "url"} objects')
        return feeds

    def _service_api_urls(self) -> dict[str, str]:
        """The API URLs that CDK context overrides (the others are the catalog's defaults)."""
        urls = {}
        for spec in catalog.services():
            value = self._context_str(spec.api_url_context) if spec.api_url_context else None
            if value:
                urls[spec.name] = value
        return urls

    def _label_policy(self) -> str:
        """Context ``labelPolicy``: the labels that may be applied, per repository (JSON object or text)."""
        value = self.node.try_get_context("labelPolicy")
        if value is None or value == "":
            return ""
        return value if isinstance(value, str) else json.dumps(value)

    def _link_allow_list(self) -> str:
        """Context ``linkAllowList``: hosts whose links stay links (a JSON list, or names and commas)."""
        value = self.node.try_get_context("linkAllowList")
        if value is None or value == "":
            return ""
        return value if isinstance(value, str) else json.dumps(value)

    def _llm_daily_usd_cap(self) -> float:
        value = self.node.try_get_context("llmDailyUsdCap")
        return float(value) if value is not None else DEFAULT_LLM_DAILY_USD_CAP

    def _context_str(self, key: str) -> str | None:
        value = self.node.try_get_context(key)
        return str(value) if value else None

    def _build_outputs(self) -> None:
        """The outputs that ``switchboard --stack NAME`` reads."""
        outputs = {
            "ApiUrl": (self.api.url, "Base URL of the HTTP API"),
            "TasksTableName": (self.state.tasks_table.table_name, "Tasks table"),
            "MemoryTableName": (self.state.memory_table.table_name, "Memory table"),
            "IngestQueueUrl": (self.queues.ingest.queue_url, "Ingest queue"),
            "ShadowModeParameter": (
                self.switches.shadow_mode.parameter_name,
                "Kill switch: SSM parameter, true = no external calls",
            ),
            "DisabledAbilitiesParameter": (
                self.switches.disabled_abilities.parameter_name,
                "Kill switch: SSM parameter, abilities not to carry out",
            ),
            "AlertTopicArn": (self.monitoring.alert_topic.topic_arn, "Alert topic"),
            "LabelPolicy": (
                self.functions.label_policy,
                "The label allow-list the functions get (LABEL_POLICY): what `tasks resolve` checks",
            ),
            "DlqUrls": (
                self.to_json_string({name: dlq.queue_url for name, dlq in self.queues.dlqs.items()}),
                "Dead-letter queue URLs by queue name (JSON)",
            ),
            "QueueUrls": (
                self.to_json_string({name: queue.queue_url for name, queue in self.queues.queues.items()}),
                "Main queue URLs by queue name (JSON): where redrives and resolutions send",
            ),
        }
        # Every secret's ARN, for the operator's first `aws secretsmanager put-secret-value` (README).
        for name, secret in self.secrets.secrets.items():
            outputs[secret_output_id(name)] = (secret.secret_arn, f"Secret {name}: put its real value here")
        for output_id, (value, description) in outputs.items():
            CfnOutput(self, output_id, value=value, description=description)


def build_app(
    *, outdir: str | None = None, context: Mapping[str, Any] | None = None, nag_checks: bool = True
) -> tuple[App, SwitchboardStack]:
    """The CDK app with the one stack and cdk-nag's AWS Solutions checks.

    Run by the CDK CLI, the CLI chooses the output directory (``CDK_OUTDIR``); run as ``python app.py``, it is
    ``cdk.out`` at the repository root.
    """
    if outdir is None and "CDK_OUTDIR" not in os.environ:
        outdir = str(DEFAULT_OUTDIR)
    app = App(outdir=outdir, context={**CLI_CONTEXT, **cdk_json_context(), **(context or {})})
    stack = SwitchboardStack(app, STACK_NAME)
    if nag_checks:
        nag.add_checks(app)
    return app, stack
