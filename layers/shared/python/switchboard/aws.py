"""boto3 clients, created lazily and once per execution environment, never at import time.

botocore's standard retry mode does the retrying; nothing here loops on top of it. ``AWS_ENDPOINT_URL`` (set
by the local runtime) points every client at moto server.
"""

from __future__ import annotations

from functools import cache
from typing import Any

_CONFIG: dict[str, Any] = {
    "retries": {"mode": "standard", "max_attempts": 3},
    "connect_timeout": 2,
    "read_timeout": 5,
}


@cache
def client(service: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(service, config=Config(**_CONFIG))  # type: ignore[call-overload]


class LazyClient:
    """A class attribute for an AWS client: the instance's injected one (``self._<name>``), or the real one,
    built on first use through ``client()``. Every class that talks to AWS declares it the same way::

        class TaskStore:
            dynamodb = LazyClient("dynamodb")

            def __init__(self, ..., dynamodb: Any = None) -> None:
                self._dynamodb = dynamodb
    """

    def __init__(self, service: str) -> None:
        self.service = service
        self.slot = f"_{service}"

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = f"_{name}"

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        if instance is None:
            return self
        value = getattr(instance, self.slot, None)
        if value is None:
            value = client(self.service)
            setattr(instance, self.slot, value)
        return value
