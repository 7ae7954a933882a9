"""Secrets: generated in AWS, never in the template, each tagged so that the local runtime knows it."""

from __future__ import annotations

from aws_cdk.assertions import Template

SECRET_TAGS = {
    "webhook:github",
    "webhook:slack",
    "webhook:standard",
    "token:github",
    "token:slack",
    "token:tickets",
    "llm:anthropic",
}


def test_every_secret_is_generated_and_tagged_once(template: Template) -> None:
    tags: list[str] = []
    for secret in template.find_resources("AWS::SecretsManager::Secret").values():
        properties = secret["Properties"]
        assert "GenerateSecretString" in properties
        assert "SecretString" not in properties
        tags += [tag["Value"] for tag in properties["Tags"] if tag["Key"] == "switchboard:secret"]
    assert sorted(tags) == sorted(SECRET_TAGS)
