"""The one place that spells the credentials every local client hands moto server.

Two kinds of identity talk to the local runtime's moto server, which enforces IAM (see `tools.local.iam`):
- each function runs with the temporary credentials of its own role (`sts:AssumeRole` on the template's role);
- the runtime's provisioning and the operator tools (the CLI, the tests' direct queue and table access) use
  the runtime's admin user, whose access key the runtime writes into `local.json` (`admin_credentials`):
  `from_state(state)` reads it back.

`MOTO_DEFAULT` (moto's documented `testing` key pair) is what a moto server that enforces nothing accepts: the
integration tests' own moto server and the benchmarks use it. Nothing local may reach a real account, so the
environment form also points the AWS config and credential files at /dev/null (no developer profile is read).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from tools.local.template import REGION

#: The `local.json` key that holds the runtime's admin access key.
STATE_KEY: Final = "admin_credentials"


@dataclass(frozen=True)
class Credentials:
    """An access key for the local moto server (with a session token when it is a role's)."""

    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    def as_state(self) -> dict[str, str]:
        state = {"access_key_id": self.access_key_id, "secret_access_key": self.secret_access_key}
        if self.session_token:
            state["session_token"] = self.session_token
        return state


#: moto's fixed fake key pair, accepted by a moto server that enforces no IAM.
MOTO_DEFAULT: Final = Credentials("testing", "testing")


def from_state(state: Mapping[str, Any]) -> Credentials:
    """The admin credentials a running local runtime wrote into its `local.json`."""
    try:
        entry = state[STATE_KEY]
    except KeyError:
        raise KeyError(f"local.json has no {STATE_KEY!r}: the runtime that wrote it is too old") from None
    return Credentials(entry["access_key_id"], entry["secret_access_key"], entry.get("session_token"))


def environment(endpoint_url: str | None = None, credentials: Credentials = MOTO_DEFAULT) -> dict[str, str]:
    """The environment that makes botocore talk to moto (at ``endpoint_url``) and to nothing else."""
    variables = {
        "AWS_ACCESS_KEY_ID": credentials.access_key_id,
        "AWS_SECRET_ACCESS_KEY": credentials.secret_access_key,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    if credentials.session_token:
        variables["AWS_SESSION_TOKEN"] = credentials.session_token
    if endpoint_url:
        variables["AWS_ENDPOINT_URL"] = endpoint_url
    return variables


def client(service: str, endpoint_url: str, credentials: Credentials = MOTO_DEFAULT, **kwargs: Any) -> Any:
    """A boto3 client for the moto server at ``endpoint_url``, signing with ``credentials``."""
    import boto3

    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        aws_session_token=credentials.session_token,
        **kwargs,
    )
