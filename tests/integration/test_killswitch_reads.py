"""The kill switches are read together (moto server, the real client): one GetParameters request for both,
cached for ``max_age``, and a change is seen once it has passed."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.parameters import SSMProvider

from switchboard.killswitch import KillSwitches


def _switches(aws: Callable[[str], Any], max_age: int) -> tuple[KillSwitches, Any, list[str]]:
    ssm = aws("ssm")
    prefix = f"/switchboard/{uuid.uuid4().hex[:8]}"
    shadow, disabled = f"{prefix}/shadow-mode", f"{prefix}/disabled-abilities"
    ssm.put_parameter(Name=shadow, Value="false", Type="String")
    ssm.put_parameter(Name=disabled, Value="github.close", Type="String")
    sent: list[str] = []
    ssm.meta.events.register(
        "before-send.ssm", lambda request, **_: sent.append(request.headers["X-Amz-Target"].decode())
    )
    provider = SSMProvider(boto3_client=ssm)
    return KillSwitches(shadow, disabled, max_age_seconds=max_age, provider=provider), ssm, sent


def test_both_switches_cost_one_request_until_max_age(aws: Callable[[str], Any]) -> None:
    switches, _, sent = _switches(aws, 60)
    assert switches.shadow_mode() is False
    assert switches.disabled("github.close") and not switches.disabled("github.add_labels")
    assert switches.shadow_mode() is False
    assert sent == ["AmazonSSM.GetParameters"]


def test_a_switch_changed_is_seen_once_max_age_has_passed(aws: Callable[[str], Any]) -> None:
    switches, ssm, sent = _switches(aws, 0)
    assert switches.shadow_mode() is False
    ssm.put_parameter(Name=switches.shadow_parameter, Value="true", Type="String", Overwrite=True)
    ssm.put_parameter(Name=switches.disabled_parameter, Value="*", Type="String", Overwrite=True)
    assert switches.shadow_mode() is True and switches.disabled("slack.reply")
    assert sent.count("AmazonSSM.GetParameters") == 3
