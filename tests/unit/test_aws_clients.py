from __future__ import annotations

from typing import Any

import pytest

from switchboard.aws import LazyClient, client


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
