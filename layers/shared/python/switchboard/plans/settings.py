"""The plan function's settings: the agent's (tables, act queues, model, policy) plus where its lookups read.

``lookup_apis`` is JSON, by service: ``{"github": {"url": ..., "secret": <token secret id>}, ...}`` (the
template writes it from the catalog's API URLs and the same token secrets the act workers read).
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from pydantic import field_validator

from switchboard.settings import AgentSettings


class PlanSettings(AgentSettings):
    decide_queue_url: str = ""
    lookup_apis: str = "{}"

    @field_validator("lookup_apis")
    @classmethod
    def _parses(cls, value: str) -> str:
        data = json.loads(value or "{}")
        if not isinstance(data, dict) or not all(
            isinstance(entry, dict) and isinstance(entry.get("url"), str) for entry in data.values()
        ):
            raise ValueError('lookupApis must be {"service": {"url": ..., "secret": ...}}')
        return value

    def lookup_api(self) -> dict[str, dict[str, Any]]:
        data: dict[str, dict[str, Any]] = json.loads(self.lookup_apis or "{}")
        return data


@lru_cache(maxsize=1)
def plan_settings() -> PlanSettings:
    return PlanSettings()  # type: ignore[call-arg]  # read from the environment
