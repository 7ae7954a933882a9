"""What each handler imports at cold start: the ingest path never loads `anthropic`, and classify and
decide load it only when they really ask a model (lazily, inside the budgeted client). act, whose work is
deterministic, never does; its handler imports its composition module as a sibling (the code folder is on
the path, as in Lambda)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

ENVIRONMENT = {
    "POWERTOOLS_SERVICE_NAME": "switchboard-test",
    "PLATFORM": "github",
    "INGEST_QUEUE_URL": "https://sqs.local/ingest.fifo",
    "MEMORY_TABLE_NAME": "memory",
    "TASKS_TABLE_NAME": "tasks",
    "WEBHOOK_SECRET_ID": "arn:secret",
    "DECIDE_QUEUE_URL": "https://sqs.local/decide.fifo",
    **{
        f"ACT_{s}_QUEUE_URL": f"https://sqs.local/act-{s.lower()}.fifo"
        for s in ("GITHUB", "SLACK", "TICKETS", "ESCALATE")
    },
    "LLM_API_URL": "https://api.anthropic.com",
    "LLM_SECRET_ID": "arn:llm",
    "AWS_DEFAULT_REGION": "us-east-1",
    # act validates its settings at init (the cold start): a worker's environment, as the template sets it
    "SERVICE": "github",
    "ACT_QUEUE_URL": "https://sqs.local/act-github.fifo",
    "MAX_RECEIVE_COUNT": "5",
    "SERVICE_API_URL": "https://api.github.com",
    "SERVICE_TOKEN_SECRET_ID": "arn:token",
    "SHADOW_MODE_PARAMETER": "/switchboard/shadow-mode",
    "DISABLED_ABILITIES_PARAMETER": "/switchboard/disabled-abilities",
}


@pytest.mark.parametrize("function", ["ingest", "classify", "decide", "act"])
def test_no_handler_imports_anthropic_at_cold_start(function: str) -> None:
    code = "import handler, sys; print('anthropic' in sys.modules)"
    env = {
        **os.environ,
        **ENVIRONMENT,
        "PYTHONPATH": f"{ROOT / 'functions' / function}{os.pathsep}{ROOT / 'layers/shared/python'}",
    }
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


#: What the ingest handler (every webhook's cold start) must not load: the X-Ray SDK (Lambda's active tracing
#: records the invocation without it), pydantic-settings and what it drags in (asyncio, argparse, gettext),
#: the model SDK, the policy gate and abilities (classify's and act's), Powertools' event data classes, and
#: pydantic's URL types (``pydantic.networks``: the feed settings check their URL without them).
NOT_ON_THE_INGEST_PATH = (
    "aws_xray_sdk",
    "pydantic_settings",
    "anthropic",
    "argparse",
    "gettext",
    "asyncio",
    "dotenv",
    "switchboard.abilities",
    "switchboard.policy",
    "aws_lambda_powertools.utilities.data_classes",
    "pydantic.networks",
)
#: What no handler loads at import.
NOT_IN_ANY_HANDLER = ("aws_xray_sdk", "pydantic_settings", "anthropic", "argparse", "dotenv")


def _run_beside(function: str, code: str) -> str:
    """The last line ``code`` prints, run in a fresh interpreter beside ``function``'s handler module."""
    env = {
        **os.environ,
        **ENVIRONMENT,
        "PYTHONPATH": f"{ROOT / 'functions' / function}{os.pathsep}{ROOT / 'layers/shared/python'}",
    }
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    lines = result.stdout.strip().splitlines()
    return lines[-1] if lines else ""


def _loaded(function: str, modules: tuple[str, ...]) -> list[str]:
    code = f"import handler, sys; print(','.join(m for m in {modules!r} if m in sys.modules))"
    return [name for name in _run_beside(function, code).split(",") if name]


def test_the_ingest_handler_imports_only_what_a_webhook_needs() -> None:
    assert _loaded("ingest", NOT_ON_THE_INGEST_PATH) == []


#: Imports the ingest handler, then makes one call the door answers before any AWS request (415: not JSON).
_COLLECTION_AROUND_THE_FIRST_CALL = """
import gc, json, handler

class Context:
    function_name, memory_limit_in_mb, aws_request_id = "ingest", 256, "first"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:ingest"

after_import = (gc.isenabled(), gc.get_freeze_count())
event = {"headers": {"content-type": "text/plain"}, "body": "hello", "isBase64Encoded": False}
status = handler.handler(event, Context())["statusCode"]
print(json.dumps([*after_import, status, gc.isenabled(), gc.get_freeze_count()]))
"""


def test_the_ingest_handler_collects_no_garbage_until_its_first_call_ends_then_freezes_it() -> None:
    """The import and the first call build what lives as long as the environment; collections there would walk
    it and free next to nothing (`switchboard.coldstart`)."""
    enabled_after_import, frozen_after_import, status, enabled_after_call, frozen_after_call = json.loads(
        _run_beside("ingest", _COLLECTION_AROUND_THE_FIRST_CALL)
    )
    assert (enabled_after_import, frozen_after_import) == (False, 0)
    assert status == 415
    assert enabled_after_call
    assert frozen_after_call > 10_000  # the import's objects and the call's, not a handful


#: Imports a queue consumer's handler, then makes one call on an empty batch (answered or refused, it ends).
_QUEUE_HANDLER_FIRST_CALL = """
import gc, json, handler

class Context:
    function_name, memory_limit_in_mb, aws_request_id = "fn", 256, "first"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:fn"

    def get_remaining_time_in_millis(self):
        return 30_000

after_import = (gc.isenabled(), gc.get_freeze_count())
try:
    handler.handler({"Records": []}, Context())
except Exception:  # the call's outcome is not what is checked here
    pass
print(json.dumps([*after_import, gc.isenabled(), gc.get_freeze_count()]))
"""


@pytest.mark.parametrize("function", ["classify", "act"])
def test_a_queue_handler_collects_no_garbage_until_its_first_call_ends(function: str) -> None:
    """As the ingest handler: ``gc.disable()`` first, ``collect_after_first_call`` around the handler."""
    enabled_after_import, frozen_after_import, enabled_after_call, frozen_after_call = json.loads(
        _run_beside(function, _QUEUE_HANDLER_FIRST_CALL)
    )
    assert (enabled_after_import, frozen_after_import) == (False, 0)
    assert enabled_after_call and frozen_after_call > 10_000


@pytest.mark.parametrize(
    "function", ["health", "classify", "decide", "act", "poll", "triage", "batch", "plan"]
)
def test_no_handler_loads_the_xray_sdk_or_pydantic_settings(function: str) -> None:
    assert _loaded(function, NOT_IN_ANY_HANDLER) == []


#: After `import handler`: how many botocore sessions exist (boto3's default one or any other).
_SESSIONS_AT_IMPORT = (
    "import handler, gc; "
    "print(sum(type(o).__module__ == 'botocore.session' and type(o).__name__ == 'Session' "
    "for o in gc.get_objects()))"
)


@pytest.mark.parametrize(
    "function", ["ingest", "health", "classify", "decide", "act", "poll", "triage", "batch", "plan"]
)
def test_no_handler_builds_an_aws_session_at_import(function: str) -> None:
    """Clients are built on first use, from the one shared session (`switchboard.aws.session`), never at
    import: a session built there would be a second one, loading botocore's data again."""
    env = {
        **os.environ,
        **ENVIRONMENT,
        "PYTHONPATH": f"{ROOT / 'functions' / function}{os.pathsep}{ROOT / 'layers/shared/python'}",
    }
    result = subprocess.run(
        [sys.executable, "-c", _SESSIONS_AT_IMPORT], env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "0"
