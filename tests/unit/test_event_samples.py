"""Every sample in events/ goes through its platform's door, signed the way `switchboard send` signs it."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from switchboard.adapters import adapter_for
from switchboard.ingest import Enqueuer, IngestService
from tests.conftest import EVENTS
from tests.fakes import FakeDeliveryLog, FakeQueue
from tools.cli import signed_headers

SECRETS = {"github": "gh-secret", "slack": "slack-secret", "standard": "whsec_c3dpdGNoYm9hcmQtdGVzdC1rZXk="}
SAMPLES = sorted(path for platform in SECRETS for path in (EVENTS / platform).glob("*.json"))


@pytest.mark.parametrize("path", SAMPLES, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_sample_is_signed_by_the_cli_and_accepted_by_its_door(path: Path) -> None:
    platform = path.parent.name
    body = path.read_bytes()
    headers = signed_headers(platform, body, path.name.split(".")[0], str(uuid.uuid4()), SECRETS[platform])
    queue = FakeQueue()
    door = IngestService(
        adapter_for(platform), lambda: [SECRETS[platform]], Enqueuer(queue, "q", FakeDeliveryLog())
    )
    response = door.handle(headers, body.decode(), False)
    assert response.status in (200, 202), response.body
    if response.status == 202 and response.body["status"] == "accepted":
        assert len(queue.sent) == 1


def test_every_accepted_github_event_type_has_a_sample() -> None:
    from switchboard.adapters.github import ACCEPTED_EVENTS

    have = {path.name.split(".")[0] for path in (EVENTS / "github").glob("*.json")}
    assert set(ACCEPTED_EVENTS) <= have


def test_the_adapter_registry_is_discovered_and_every_platform_has_samples() -> None:
    from switchboard.adapters import ADAPTERS

    assert set(ADAPTERS) == {"github", "slack", "standard"}
    for platform in ADAPTERS:
        assert list((EVENTS / platform).glob("*.json")), f"events/{platform}/ has no sample"
