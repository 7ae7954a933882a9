"""Synthesize the app once per session, with cdk-nag on, exactly as ``app.py`` does."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Template

from infra.stack import STACK_NAME, SwitchboardStack, build_app
from tests.infra.support import Synthesized

ALERT_EMAIL = "alerts@example.com"


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    outdir = tmp_path_factory.mktemp("cdk.out")
    app, stack = build_app(outdir=str(outdir), context={"alertEmail": ALERT_EMAIL})
    try:
        app.synth()
        error = None
    except RuntimeError as exc:  # jsii raises cdk-nag's validation failure as a RuntimeError
        error = str(exc)
    return Synthesized(
        stack=stack,
        outdir=outdir,
        template_path=outdir / f"{STACK_NAME}.template.json",
        synth_error=error,
    )


@pytest.fixture(scope="session")
def stack(synthesized: Synthesized) -> SwitchboardStack:
    return synthesized.stack


@pytest.fixture(scope="session")
def template(synthesized: Synthesized) -> Template:
    if synthesized.synth_error is not None:
        pytest.fail(f"synth failed (see test_compliance for the cdk-nag report): {synthesized.synth_error}")
    return Template.from_stack(synthesized.stack)
