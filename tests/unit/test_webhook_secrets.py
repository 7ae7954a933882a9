"""Secrets as the providers define them: a secret is used verbatim, spaces and all, and several active
secrets (a rotation) come as a JSON list of strings, on every platform. Standard Webhooks keeps its older
space-separated ``whsec_`` form, only where every part starts with ``whsec_``."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.adapters import WebhookRequest, adapter_for
from switchboard.adapters.github import GitHubAdapter, sign
from switchboard.errors import BadSignature
from switchboard.ingest import Enqueuer, IngestService, split_secrets
from tests.fakes import FakeDeliveryLog, FakeQueue
from tools.cli import CliError, signed_headers

# GitHub's test values, "Validating webhook deliveries" (docs.github.com/en/webhooks/using-webhooks/
# validating-webhook-deliveries, "Testing the webhook payload validation", read 2026): this secret and
# payload give this signature.
GITHUB_SECRET = "It's a Secret to Everybody"
GITHUB_PAYLOAD = b"Hello, World!"
GITHUB_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
PLATFORMS = ["github", "slack", "standard"]


def whsec(raw: bytes) -> str:
    return "whsec_" + base64.b64encode(raw).decode()


def request(body: bytes, headers: dict[str, str]) -> WebhookRequest:
    return WebhookRequest({k.lower(): v for k, v in headers.items()}, body, datetime.now(UTC))


def verifies(platform: str, stored: str, signer: str, body: bytes = b'{"type": "x", "data": {}}') -> bool:
    headers = adapter_for(platform).signed_headers(body, signer, "msg_1", "issue_comment")
    try:
        adapter_for(platform).verify(request(body, headers), split_secrets(stored, platform))
    except BadSignature:
        return False
    return True


def test_githubs_documented_example_secret_verifies_its_documented_signature() -> None:
    assert sign(GITHUB_SECRET, GITHUB_PAYLOAD) == GITHUB_SIGNATURE
    secrets = split_secrets(GITHUB_SECRET, "github")
    assert secrets == [GITHUB_SECRET]
    GitHubAdapter().verify(request(GITHUB_PAYLOAD, {"X-Hub-Signature-256": GITHUB_SIGNATURE}), secrets)


def test_the_door_accepts_a_delivery_signed_with_a_secret_that_has_spaces(label_bug_body: bytes) -> None:
    queue = FakeQueue()
    door = IngestService(
        GitHubAdapter(),
        lambda: split_secrets(GITHUB_SECRET, "github"),
        Enqueuer(queue, "https://sqs.local/ingest.fifo", FakeDeliveryLog()),
    )
    headers = signed_headers("github", label_bug_body, "issue_comment", "d-1", GITHUB_SECRET)
    response = door.handle(headers, label_bug_body.decode(), False)
    assert (response.status, response.body["status"]) == (202, "accepted")
    assert len(queue.sent) == 1


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_json_list_rotates_on_every_platform(platform: str) -> None:
    old, new, other = (
        [
            whsec(b"old-secret-24-bytes-long"),
            whsec(b"new-secret-24-bytes-long"),
            whsec(b"not-ours-24-bytes-long!!"),
        ]
        if platform == "standard"
        else ["old secret", "new secret", "not ours"]
    )
    stored = json.dumps([old, new])
    assert split_secrets(stored, platform) == [old, new]
    assert verifies(platform, stored, old) and verifies(platform, stored, new)
    assert not verifies(platform, stored, other)
    # switchboard send signs with the first of them
    body = b'{"type": "x", "data": {}}'
    headers = signed_headers(platform, body, "issue_comment", "msg_1", stored)
    adapter_for(platform).verify(request(body, headers), [old])


def test_the_older_space_separated_form_is_read_only_for_standard_webhooks_whsec_secrets() -> None:
    one, two = whsec(b"a" * 24), whsec(b"b" * 24)
    assert split_secrets(f"{one} {two}", "standard") == [one, two]
    assert split_secrets(f"{one}\n{two}", "standard") == [one, two]
    assert split_secrets(f"{one} {two}", "github") == [f"{one} {two}"]  # GitHub's secret is verbatim
    assert split_secrets(f"{one} not-whsec", "standard") == [f"{one} not-whsec"]


@pytest.mark.parametrize(
    "value",
    [
        '"quoted"',
        "42",
        '{"a": "b"}',
        "null",
        "[not json",
        "  padded  ",
        "tab\tand\nnewline",
        "whsec_x whsec_y",
    ],
)
def test_anything_but_a_json_list_is_one_verbatim_secret(value: str) -> None:
    assert split_secrets(value, "github") == [value]


@pytest.mark.parametrize("value", ["", "   ", "\n", "[]", '[""]', '["ok", 3]', '[["nested"]]', "[null]"])
def test_an_empty_value_or_a_malformed_list_is_refused_loudly(value: str) -> None:
    with pytest.raises(RuntimeError):
        split_secrets(value, "github")
    with pytest.raises(CliError):
        signed_headers("github", b"{}", "issue_comment", "d-1", value)


def _not_a_list(text: str) -> bool:
    try:
        return not isinstance(json.loads(text), list)
    except ValueError:
        return True


printable = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x10FFFF, exclude_categories=["Cs"]), min_size=1
)


@settings(max_examples=200, deadline=None)
@given(
    secret=printable.filter(lambda s: s.strip() != "" and _not_a_list(s)),
    platform=st.sampled_from(["github", "slack"]),
)
def test_any_printable_secret_round_trips_sign_then_verify(secret: str, platform: str) -> None:
    assert split_secrets(secret, platform) == [secret]
    assert verifies(platform, secret, secret)


@settings(max_examples=100, deadline=None)
@given(
    secrets=st.lists(printable, min_size=1, max_size=4, unique=True),
    platform=st.sampled_from(["github", "slack"]),
    pick=st.integers(0, 3),
)
def test_any_list_of_secrets_verifies_each_of_them(secrets: list[str], platform: str, pick: int) -> None:
    stored = json.dumps(secrets)
    assert split_secrets(stored, platform) == secrets
    assert verifies(platform, stored, secrets[pick % len(secrets)])


@settings(max_examples=100, deadline=None)
@given(
    raws=st.lists(st.binary(min_size=16, max_size=64), min_size=1, max_size=3, unique=True),
    pick=st.integers(0, 2),
)
def test_standard_webhooks_secrets_round_trip_as_a_list(raws: list[bytes], pick: int) -> None:
    secrets = [whsec(raw) for raw in raws]
    assert verifies("standard", json.dumps(secrets), secrets[pick % len(secrets)])
    assert verifies("standard", " ".join(secrets), secrets[pick % len(secrets)])
