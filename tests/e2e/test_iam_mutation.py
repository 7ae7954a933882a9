"""One grant removed from the synthesized template fails the local e2e path with AccessDenied, as a deploy of
that template would fail in AWS: the local runtime runs each function as its own role, with moto's IAM
enforcement on (tools/local/iam.py). The unmutated template completes the same flow
(tests/e2e/test_github_label_slice.py).

The grant: classify's `sqs:SendMessage` on the act-github queue, which a `/label bug` comment needs (the rule
routes it straight to act-github). Only the resource is removed from the statement; classify keeps
`sqs:SendMessage` on the other act queues, so this also shows that the resource is checked, not only the
action.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EVENTS
from tests.local_process import TEMPLATE, LocalProcess
from tools import cli

LABEL_BUG = EVENTS / "github" / "issue_comment.label_bug.json"


def _function(resources: dict[str, Any], name: str, service: str | None = None) -> str:
    (logical_id,) = [
        logical_id
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::Lambda::Function"
        and resource["Properties"]["Environment"]["Variables"].get("SWITCHBOARD_FUNCTION") == name
        and resource["Properties"]["Environment"]["Variables"].get("SERVICE") == service
    ]
    return logical_id


def without_classify_send_to_act_github(document: dict[str, Any]) -> dict[str, Any]:
    """The template with classify's sqs:SendMessage on the act-github queue removed (and nothing else)."""
    resources = document["Resources"]
    classify, act_github = _function(resources, "classify"), _function(resources, "act", "github")
    role = resources[classify]["Properties"]["Role"]["Fn::GetAtt"][0]
    (queue,) = [
        resource["Properties"]["EventSourceArn"]
        for resource in resources.values()
        if resource["Type"] == "AWS::Lambda::EventSourceMapping"
        and resource["Properties"]["FunctionName"] == {"Ref": act_github}
    ]
    removed = 0
    for resource in resources.values():
        if resource["Type"] != "AWS::IAM::Policy" or {"Ref": role} not in resource["Properties"]["Roles"]:
            continue
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
            targets = (
                statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            )
            if "sqs:SendMessage" in statement["Action"] and queue in targets:
                statement["Resource"] = [target for target in targets if target != queue]
                removed += 1
    assert removed == 1, (
        f"expected one statement granting classify sqs:SendMessage on {queue}, found {removed}"
    )
    return document


@pytest.fixture(scope="module")
def mutated_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalProcess]:
    if not TEMPLATE.exists():
        pytest.fail(f"{TEMPLATE} is missing: run `make synth` first (make test does)")
    # Not a folder named cdk.out: the runtime takes the project root from the working directory, and finds
    # the code and layer assets next to the template, so they are linked in.
    synth = tmp_path_factory.mktemp("mutated-synth")
    for asset in TEMPLATE.parent.glob("asset.*"):
        (synth / asset.name).symlink_to(asset.resolve(), target_is_directory=asset.is_dir())
    template = synth / TEMPLATE.name
    template.write_text(json.dumps(without_classify_send_to_act_github(json.loads(TEMPLATE.read_text()))))
    runtime = LocalProcess(tmp_path_factory.mktemp("mutated-state"), template=template, visibility_cap=1)
    yield runtime
    runtime.stop()


def test_a_missing_grant_fails_the_e2e_path_with_access_denied(
    mutated_stack: LocalProcess, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "STATE_FILE", mutated_stack.state_file)
    classify_log = Path(mutated_stack.state["logs_dir"]) / f"{_function(_resources(), 'classify')}.log"

    delivery = str(uuid.uuid4())

    assert cli.main(["send", "github", str(LABEL_BUG), "--delivery-id", delivery]) == 0
    answer = json.loads(capsys.readouterr().out)["response"]
    assert (answer["event_id"], answer["status"]) == (delivery, "accepted")
    deadline = time.monotonic() + 30
    while "AccessDenied" not in classify_log.read_text() and time.monotonic() < deadline:
        time.sleep(0.3)

    log = classify_log.read_text()
    assert "AccessDenied" in log, log[-3000:]
    assert "sqs:SendMessage" in log
    time.sleep(2)  # a retry, had one been able to succeed
    assert cli.main(["trace", delivery, "--json"]) == 0
    task = json.loads(capsys.readouterr().out)
    statuses = [entry["status"] for entry in task["history"] if "status" in entry]
    assert "DISPATCHED" not in statuses and task["status"] != "DONE", task
    assert not [call for call in _outbox(mutated_stack) if call["service"] == "github"]


def _resources() -> dict[str, Any]:
    resources: dict[str, Any] = json.loads(TEMPLATE.read_text())["Resources"]
    return resources


def _outbox(runtime: LocalProcess) -> list[dict[str, Any]]:
    import urllib.request

    with urllib.request.urlopen(runtime.state["sink_url"] + "/_outbox", timeout=10) as response:
        calls: list[dict[str, Any]] = json.loads(response.read())
    return calls
