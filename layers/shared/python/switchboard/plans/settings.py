"""The plan function's settings: the agent's (tables, act queues, model, policy) plus where its lookups read.

``github_api_url``, ``slack_api_url`` and ``tickets_api_url`` are the services' API base URLs (the local
runtime points each ``<NAME>_API_URL`` at its recording sink); ``lookup_token_secrets`` is JSON, the token
secret of each service by name (the same secrets the act workers read).
"""

from __future__ import annotations

import json
from functools import lru_cache

from pydantic import field_validator

from switchboard.settings import AgentSettings


class PlanSettings(AgentSettings):
    decide_queue_url: str = ""
    github_api_url: str
    slack_api_url: str
    tickets_api_url: str
    lookup_token_secrets: str = "{}"  # noqa: S105 - secret ids (ARNs), not secrets

    @field_validator("lookup_token_secrets")
    @classmethod
    def _parses(cls, value: str) -> str:
        data = json.loads(value or "{}")
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise ValueError('LOOKUP_TOKEN_SECRETS must be {"service": "<secret id>"}')
        return value

    def lookup_urls(self) -> dict[str, str]:
        return {"github": self.github_api_url, "slack": self.slack_api_url, "tickets": self.tickets_api_url}

    def token_secrets(self) -> dict[str, str]:
        data: dict[str, str] = json.loads(self.lookup_token_secrets or "{}")
        return data


@lru_cache(maxsize=1)
def plan_settings() -> PlanSettings:
    return PlanSettings()  # read from the environment
