from __future__ import annotations

from typing import Any

import pytest

from switchboard.aws import LazyClient, client, secrets, session


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
    loader = session()._session.get_component("data_loader")
    assert client("dynamodb")._loader is loader
    assert client("sqs")._loader is loader


def test_secrets_are_read_through_the_shared_session(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    assert secrets().client is client("secretsmanager")
    assert secrets() is secrets()  # one provider: its cache (max_age) lives as long as the environment


def test_the_library_and_boto3_client_share_boto3s_default_session(monkeypatch: pytest.MonkeyPatch) -> None:
    """`boto3.client(...)` (the durable execution SDK's Lambda client) uses the same session as the library's
    clients, so an execution environment builds one session, not one per client."""
    import boto3

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    assert session() is boto3.DEFAULT_SESSION
    assert boto3.client("lambda")._loader is client("dynamodb")._loader


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
