"""An act worker whose settings cannot work fails its init (the cold start), not each record: act-tickets
deployed with the catalog's placeholder tickets URL stops at import with the error naming the CDK context key,
logged once, the way a Lambda execution environment reports a failed init (``tools/local/worker.py``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from switchboard import catalog

ROOT = Path(__file__).resolve().parents[2]

ENVIRONMENT = {
    "POWERTOOLS_SERVICE_NAME": "act",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "AWS_DEFAULT_REGION": "us-east-1",
    "SERVICE": "tickets",
    "TASKS_TABLE_NAME": "tasks",
    "MEMORY_TABLE_NAME": "memory",
    "ACT_QUEUE_URL": "https://sqs.local/act-tickets.fifo",
    "MAX_RECEIVE_COUNT": "5",
    "SERVICE_TOKEN_SECRET_ID": "token",
    "SHADOW_MODE_PARAMETER": "/switchboard/shadow",
    "DISABLED_ABILITIES_PARAMETER": "/switchboard/disabled",
    "FOLLOWUPS_QUEUE_URL": "https://sqs.local/followups",
    "ACT_GITHUB_QUEUE_URL": "https://sqs.local/act-github.fifo",
    "ACT_SLACK_QUEUE_URL": "https://sqs.local/act-slack.fifo",
    "ACT_ESCALATE_QUEUE_URL": "https://sqs.local/act-escalate.fifo",
}


def start_worker(service_api_url: str) -> tuple[dict[str, object], str]:
    """Start one execution environment of the act function and read its ready line and its log."""
    code = [ROOT / "functions/act", ROOT / "layers/shared/python", sysconfig.get_paths()["purelib"]]
    path = os.pathsep.join(map(str, code))
    environment = {**ENVIRONMENT, "SERVICE_API_URL": service_api_url, "PYTHONPATH": path, "PATH": os.defpath}
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools/local/worker.py"), "--handler", "handler.handler"],
        cwd=ROOT / "functions/act",
        env=environment,
        input="",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    ready = json.loads(done.stdout.splitlines()[0])
    return ready, done.stderr


@pytest.mark.parametrize("url", [catalog.DEFAULT_TICKETS_API_URL, "https://tickets.invalid/api"])
def test_a_placeholder_tickets_url_fails_the_init_naming_the_context_key_once(url: str) -> None:
    ready, log = start_worker(url)
    assert ready["type"] == "ready" and ready["ok"] is False
    message = ready["error"]["errorMessage"]  # type: ignore[index]
    assert "placeholder" in message and "-c ticketsApiUrl=https://" in message
    assert log.count("-c ticketsApiUrl=https://") == 1, log


def test_a_configured_tickets_url_inits_without_calling_anything() -> None:
    ready, log = start_worker("https://tickets.example.com/api")
    assert ready == {"type": "ready", "ok": True, "pid": ready["pid"]}, log
