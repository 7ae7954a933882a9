"""Secrets Manager secrets: webhook signing secrets, service API tokens, the LLM API key.

Each secret is tagged ``switchboard:secret=<kind>:<name>`` so that the local runtime knows which is which.
Values are generated in AWS as placeholders; the operator puts the real value in after the first deploy.
"""

from __future__ import annotations

from typing import Final

from aws_cdk import Tags
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.lambda_defaults import pascal
from switchboard import catalog

SECRET_TAG: Final = "switchboard:secret"  # noqa: S105 - a tag key, not a secret
LLM_PROVIDER: Final = "anthropic"


class Secrets(Construct):
    """Every secret, by its tag value (``webhook:github``, ``token:slack``, ``llm:anthropic`` …)."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.secrets: dict[str, secretsmanager.Secret] = {}
        # One webhook secret per platform adapter, one token per service that has its own (the catalog's).
        for platform in catalog.webhook_platforms():
            self._build_secret(f"webhook:{platform}", f"Webhook signing secret of the {platform} platform")
        for service in catalog.token_secrets():
            self._build_secret(f"token:{service}", f"API token of the {service} service")
        self._build_secret(f"llm:{LLM_PROVIDER}", "API key of the LLM provider (Anthropic)")

    def webhook(self, platform: str) -> secretsmanager.Secret:
        return self.secrets[f"webhook:{platform}"]

    def token(self, service: str) -> secretsmanager.Secret:
        return self.secrets[f"token:{service}"]

    @property
    def llm(self) -> secretsmanager.Secret:
        return self.secrets[f"llm:{LLM_PROVIDER}"]

    def _build_secret(self, name: str, description: str) -> secretsmanager.Secret:
        secret = secretsmanager.Secret(
            self,
            f"{pascal(name)}Secret",
            description=f"Switchboard: {description}",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                exclude_punctuation=True, password_length=48
            ),
        )
        Tags.of(secret).add(SECRET_TAG, name)
        self.secrets[name] = secret
        return secret
