"""Run as ``python -m tests.infra.catalog_extension OUTDIR``: add one made-up service to the catalog, then
build everything from it, in a fresh process (``Service`` is built from the catalog at import).

The hook is the one documented in ``switchboard.catalog``: a new ``ServiceSpec`` in ``SERVICES`` (here set
before anything else imports the catalog). The process synthesizes the stack (cdk-nag on) into OUTDIR, then
writes ``OUTDIR/facts.json``: what the act worker's settings, its executor, the local runtime and the CLI
make of the new service. ``tests/infra/test_catalog.py`` asserts on both.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import urllib.request
from pathlib import Path
from typing import Any

from switchboard import catalog

PAGER = catalog.ServiceSpec(
    "pager",
    executor="tests.infra.catalog_extension:PagerExecutor",
    api_url="https://pager.example.invalid/api",
    api_url_context="pagerApiUrl",
    api="tickets",
)
PAGER_API_URL = "https://pager.example.test/v2"
if PAGER not in catalog.SERVICES:  # the act worker imports this module again, for the executor
    catalog.SERVICES = (*catalog.SERVICES, PAGER)


class PagerExecutor:
    """The new service's executor (its real one would call the pager's API)."""

    def __init__(self, base_url: str, token: str, timeout: float) -> None:
        self.base_url, self.token, self.timeout = base_url, token, timeout


def _placeholder(name: str, value: Any) -> str:
    """A function's environment value, with the Refs of the template replaced by a name that says what."""
    return value if isinstance(value, str) else f"resolved:{name}"


def main(outdir: Path) -> dict[str, Any]:
    from infra.stack import STACK_NAME, build_app

    app, _ = build_app(outdir=str(outdir), context={"pagerApiUrl": PAGER_API_URL})
    app.synth()
    template = json.loads((outdir / f"{STACK_NAME}.template.json").read_text())
    (function,) = (
        resource
        for resource in template["Resources"].values()
        if resource.get("Metadata", {}).get("aws:cdk:path") == f"{STACK_NAME}/Functions/ActPager/Resource"
    )
    variables = function["Properties"]["Environment"]["Variables"]
    environment = {name: _placeholder(name, value) for name, value in variables.items()}

    os.environ.update(environment)
    from switchboard.actworker import make_executor
    from switchboard.models import Service
    from switchboard.settings import ActSettings
    from tools.cli import build_parser
    from tools.local.provision import real_token_configured, secret_value, token_env
    from tools.local.template import Template
    from tools.standin.sink import RecordingSink

    settings = ActSettings.from_environment()
    executor = make_executor(settings, "pager-token")
    local = Template.load(outdir / f"{STACK_NAME}.template.json")
    (local_function,) = (
        resource
        for resource in local.of_type("AWS::Lambda::Function")
        if resource.metadata.get("aws:cdk:path") == f"{STACK_NAME}/Functions/ActPager/Resource"
    )
    with RecordingSink() as sink:
        request = urllib.request.Request(
            f"{sink.url}/pager/tickets",
            data=json.dumps({"title": "page"}).encode(),
            headers={"Authorization": "Bearer pager-token", "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as answer:
            sink_status = answer.status
    redrive_help = io.StringIO()
    with contextlib.redirect_stdout(redrive_help), contextlib.suppress(SystemExit):
        build_parser().parse_args(["dlq", "redrive", "--help"])
    return {
        "service_enum": Service("pager").value,
        "settings": {
            "service": settings.service.value,
            "service_api_url": settings.service_api_url,
            "act_queue_url": settings.act_queue_url,
            "service_token_secret_id": settings.service_token_secret_id,
            "act_queue_urls": {str(key): value for key, value in settings.act_queue_urls.items()},
            "act_escalate_queue_url": settings.act_escalate_queue_url,
            "followups_queue_url": settings.followups_queue_url,
        },
        "executor": type(executor).__name__,
        "executor_base_url": executor.base_url,
        "local": {
            "token_env": token_env("pager"),
            "token_value": secret_value("token:pager", {token_env("pager"): "a-real-token"}),
            "real_token_configured": real_token_configured(
                local, local_function, environment, {token_env("pager"): "a-real-token"}
            ),
            "sink_status": sink_status,
        },
        "cli_redrive_help": " ".join(redrive_help.getvalue().split()),
    }


if __name__ == "__main__":
    target = Path(sys.argv[1])
    facts = main(target)
    (target / "facts.json").write_text(json.dumps(facts, indent=2))
