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
