"""The one place that spells the credentials every local client hands moto server.

moto accepts any key pair; these are its documented defaults. Nothing local may reach a real account, so the
environment form also points the AWS config and credential files at /dev/null (no developer profile is read).
"""

from __future__ import annotations

import os
from typing import Any, Final

from tools.local.template import REGION

ACCESS_KEY_ID: Final = "testing"
SECRET_ACCESS_KEY: Final = "testing"  # noqa: S105 - moto's fixed fake secret, not a credential


def environment(endpoint_url: str | None = None) -> dict[str, str]:
    """The environment that makes botocore talk to moto (at ``endpoint_url``) and to nothing else."""
    variables = {
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    if endpoint_url:
        variables["AWS_ENDPOINT_URL"] = endpoint_url
    return variables


def client(service: str, endpoint_url: str, **kwargs: Any) -> Any:
    """A boto3 client for the moto server at ``endpoint_url``."""
    import boto3

    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
        **kwargs,
    )
