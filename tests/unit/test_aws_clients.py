from __future__ import annotations

from typing import Any

import pytest

from switchboard.aws import LazyClient, SecretCache, client, secrets, session
from switchboard.errors import DependencyUnavailable
from tests.conftest import ROOT


class Store:
    dynamodb = LazyClient("dynamodb")

    def __init__(self, dynamodb: Any = None) -> None:
        self._dynamodb = dynamodb


def test_an_injected_client_is_used_as_is() -> None:
    fake = object()
    assert Store(fake).dynamodb is fake


def test_without_injection_the_client_is_built_once_on_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    store = Store()
    assert store._dynamodb is None  # nothing built at construction
    built = store.dynamodb
    assert built.meta.service_model.service_name == "dynamodb"
    assert store.dynamodb is built is client("dynamodb")


def test_every_client_comes_from_one_session_and_shares_what_it_loaded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A session per client read botocore's data (endpoint rules, partitions, the list of service models)
    again on every first call: the clients of one execution environment share one session's loader."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    loader = session().get_component("data_loader")
    assert client("dynamodb")._loader is loader
    assert client("sqs")._loader is loader


def test_secrets_are_read_through_the_shared_session(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    assert secrets().secretsmanager is client("secretsmanager")
    assert secrets() is secrets()  # one cache: it lives as long as the environment


@pytest.mark.parametrize("first", ["boto3.client", "the library"])
def test_the_library_and_boto3_client_share_one_session_where_boto3_is_loaded(
    first: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where boto3 is loaded, `boto3.client(...)` (the durable execution SDK's Lambda client, made before the
    handler runs) builds on the same session as the library's clients, whichever comes first, so an execution
    environment loads botocore's data once, not once per session."""
    import boto3

    from switchboard import aws

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    aws.session.cache_clear()
    aws._client.cache_clear()
    try:
        if first == "boto3.client":
            theirs = boto3.client("lambda")
            ours = client("dynamodb")
        else:
            ours = client("dynamodb")
            theirs = boto3.client("lambda")
        assert theirs._loader is ours._loader
    finally:
        aws.session.cache_clear()
        aws._client.cache_clear()


def test_the_session_is_botocores_own_where_nothing_loads_boto3() -> None:
    """The ingest function's path never imports boto3: its first call makes botocore clients only."""
    import subprocess
    import sys

    code = (
        "from switchboard.aws import client, secrets; import sys; "
        "client('sqs'); secrets().secretsmanager; print('boto3' in sys.modules)"
    )
    env = {"AWS_DEFAULT_REGION": "us-east-1", "PYTHONPATH": str(ROOT / "layers/shared/python")}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


class FakeSecretsManager:
    def __init__(self, answers: list[dict[str, Any]]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def get_secret_value(self, SecretId: str) -> dict[str, Any]:
        self.asked.append(SecretId)
        return self.answers.pop(0)


def test_a_secret_is_read_once_per_max_age_then_again() -> None:
    now = [100.0]
    fake = FakeSecretsManager([{"SecretString": "first"}, {"SecretString": "rotated"}])
    cache = SecretCache(fake, clock=lambda: now[0])
    assert cache.get("hook", max_age=300) == "first"
    now[0] += 299
    assert cache.get("hook", max_age=300) == "first"
    assert fake.asked == ["hook"]
    now[0] += 1
    assert cache.get("hook", max_age=300) == "rotated"
    assert fake.asked == ["hook", "hook"]


def test_a_binary_secret_is_its_bytes() -> None:
    cache = SecretCache(FakeSecretsManager([{"SecretBinary": b"\x00key"}]))
    assert cache.get("token", max_age=60) == b"\x00key"


def test_a_secret_as_text_is_its_string_or_its_bytes_decoded() -> None:
    assert SecretCache(FakeSecretsManager([{"SecretString": "t0ken"}])).text("token", max_age=60) == "t0ken"
    assert (
        SecretCache(FakeSecretsManager([{"SecretBinary": "clé".encode()}])).text("key", max_age=60) == "clé"
    )


def test_a_failed_secret_read_leaves_as_the_librarys_error_and_is_tried_again() -> None:
    from botocore.exceptions import ClientError

    class Failing(FakeSecretsManager):
        def get_secret_value(self, SecretId: str) -> dict[str, Any]:
            self.asked.append(SecretId)
            if len(self.asked) == 1:
                raise ClientError({"Error": {"Code": "ThrottlingException"}}, "GetSecretValue")
            return {"SecretString": "value"}

    fake = Failing([])
    cache = SecretCache(fake)
    with pytest.raises(DependencyUnavailable):
        cache.get("hook", max_age=300)
    assert cache.get("hook", max_age=300) == "value"  # the failure was not cached
    assert fake.asked == ["hook", "hook"]


def test_clients_made_on_many_threads_at_once_are_one_client_per_service(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The durable execution SDK runs a plan's parallel steps on threads: a first use on several at once
    makes one client (under the lock), not one per thread from a session that is not thread safe."""
    import threading

    from switchboard import aws

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    aws._client.cache_clear()
    made: list[object] = []
    start = threading.Barrier(8)

    def first_use() -> None:
        start.wait()
        made.append(aws.client("sqs"))

    threads = [threading.Thread(target=first_use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(made) == 8 and len({id(each) for each in made}) == 1
