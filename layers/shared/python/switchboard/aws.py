"""The adapters' tools: AWS clients, created lazily and once per execution environment (never at import
time), the webhook and token secrets, and the one translation of AWS's errors into the library's.

botocore's standard retry mode does the retrying; nothing here loops on top of it. ``AWS_ENDPOINT_URL`` (set
by the local runtime) points every client at moto server. Only the adapters (``switchboard.dynamo``,
``switchboard.sqs``) use this module.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from switchboard.errors import DependencyRefused, DependencyUnavailable

#: A conditional write's condition did not hold, or cancelled the transaction it was part of.
CONDITION_CODES: Final = frozenset({"ConditionalCheckFailedException", "TransactionCanceledException"})
#: AWS is throttling or failing (after botocore's own retries): the same request may succeed later.
TRANSIENT_CODES: Final = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
        "TransactionConflictException",
        "TransactionInProgressException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)

_CONFIG: dict[str, Any] = {
    "retries": {"mode": "standard", "max_attempts": 3},
    "connect_timeout": 2,
    "read_timeout": 5,
}


#: Clients are made under this lock: the shared session is not thread safe, and a plan's parallel steps run
#: on the durable execution SDK's threads, which may make a client on first use (an action's first send).
_MAKING: Final = threading.RLock()


@cache
def session() -> Any:
    """One botocore session per execution environment. Its clients share what botocore loads once per session
    (the endpoint rules and partitions, the list of service models, the event handlers); a session per client
    read them all again on every first call.

    It is botocore's own, not boto3's: boto3's import (its resource layer and docs, s3transfer) would be about
    15 ms of the ingest function's first call, for nothing a client needs. Where boto3 is loaded before this
    session is made (the plan function: the durable execution SDK imports it), the session is boto3's default
    session's, so that ``boto3.client`` (that SDK's Lambda client) builds on it too, whichever client comes
    first; a boto3 imported only later would make a default session of its own.

    "Session objects are not thread safe" (boto3's "Session" guide,
    https://boto3.amazonaws.com/v1/documentation/api/1.19.2/guide/session.html, read 2026-12-02): every client
    of ours is made under ``_MAKING`` (the durable execution SDK runs a plan's parallel steps on threads);
    the clients themselves may be shared ("Low-level clients are thread safe", boto3's "Clients" guide,
    Multithreading or multiprocessing with clients, https://boto3.amazonaws.com/v1/documentation/api/latest/
    guide/clients.html)."""
    with _MAKING:
        boto3 = sys.modules.get("boto3")
        if boto3 is None:
            import botocore.session

            return botocore.session.get_session()
        if boto3.DEFAULT_SESSION is None:
            boto3.setup_default_session()
        return boto3.DEFAULT_SESSION._session


def client(service: str) -> Any:
    """The one client of ``service`` for this execution environment, made on first use."""
    with _MAKING:
        return _client(service)


@cache
def _client(service: str) -> Any:
    from botocore.config import Config

    return session().create_client(service, config=Config(**_CONFIG))


@cache
def secrets() -> SecretCache:
    """The secrets of this execution environment, read through the shared session's client."""
    return SecretCache()


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


class ConditionFailed(Exception):  # an answer inside the adapters, never raised past them
    """Inside the adapters only: the write's condition did not hold (or cancelled the transaction).

    ``item``: the item as it stood, when the write asked for it (``ReturnValuesOnConditionCheckFailure``)."""

    def __init__(self, code: str, item: dict[str, Any] | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.item = item


@contextmanager
def translated(service: str, operation: str) -> Iterator[None]:
    """Run AWS calls; their errors leave as the library's: ``ConditionFailed`` (for the adapter to answer),
    ``DependencyUnavailable`` (throttling, 5xx, connection errors, timeouts) or ``DependencyRefused``
    (validation, access, a missing resource: a bug or a misconfiguration)."""
    try:
        yield
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", "ClientError"))
        if code in CONDITION_CODES:
            item = exc.response.get("Item")  # the item as it stood, when ALL_OLD was asked for
            raise ConditionFailed(code, item if isinstance(item, dict) else None) from None
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code in TRANSIENT_CODES or status >= 500:
            raise DependencyUnavailable(service, operation, code) from exc
        raise DependencyRefused(service, operation, code) from exc
    except BotoCoreError as exc:  # connection refused, read timeouts …: botocore's retries are spent
        raise DependencyUnavailable(service, operation, type(exc).__name__) from exc


class SecretCache:
    """Secrets Manager's values, each read once and kept for the ``max_age`` its caller gives (a rotated
    webhook secret or token reaches a warm environment within it).

    Powertools' ``SecretsProvider`` did the same; its package loads boto3 and every parameter provider
    (AppConfig, SSM, DynamoDB), which the ingest function's first call paid for one ``GetSecretValue``. A
    failed read leaves as the library's error (``translated``), like every other AWS call, and is not
    cached: the next call tries again."""

    secretsmanager = LazyClient("secretsmanager")

    def __init__(self, secretsmanager: Any = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._secretsmanager = secretsmanager
        self.clock = clock
        self._held: dict[str, tuple[float, str | bytes]] = {}

    def get(self, secret_id: str, max_age: float) -> str | bytes:
        """The secret's value: ``SecretString``, or ``SecretBinary`` for a binary secret."""
        now = self.clock()
        held = self._held.get(secret_id)
        if held is not None and now - held[0] < max_age:
            return held[1]
        with translated("secretsmanager", "GetSecretValue"):
            answer = self.secretsmanager.get_secret_value(SecretId=secret_id)
        value: str | bytes = answer["SecretString"] if "SecretString" in answer else answer["SecretBinary"]
        self._held[secret_id] = (now, value)
        return value

    def text(self, secret_id: str, max_age: float) -> str:
        """The secret's value as text (a binary secret decoded as UTF-8): a token, a key, webhook secrets."""
        value = self.get(secret_id, max_age)
        return value if isinstance(value, str) else value.decode()
