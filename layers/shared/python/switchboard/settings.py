"""One settings model per function, composed from small mixins, validated once at cold start.

Domain code never reads ``os.environ``: a handler calls the cached getter for its settings and passes what it
needs along. A missing variable fails the cold start with a clear error instead of a silent default.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict

from switchboard.models import FeedSpec, Platform, Service


class _Base(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, extra="ignore", case_sensitive=False)


class ObservabilityMixin(_Base):
    powertools_service_name: str
    powertools_metrics_namespace: str = "Switchboard"


class MemoryTableMixin(_Base):
    memory_table_name: str


class TasksTableMixin(_Base):
    tasks_table_name: str


class ActQueuesMixin(_Base):
    act_github_queue_url: str
    act_slack_queue_url: str
    act_tickets_queue_url: str
    act_escalate_queue_url: str

    def act_queue_url(self, service: Service) -> str:
        return {
            Service.GITHUB: self.act_github_queue_url,
            Service.SLACK: self.act_slack_queue_url,
            Service.TICKETS: self.act_tickets_queue_url,
            Service.ESCALATE: self.act_escalate_queue_url,
        }[service]


class LlmMixin(_Base):
    """The model tiers (current Claude model ids by default), budgets and where the Messages API is."""

    llm_api_url: str
    llm_secret_id: str
    llm_tier_small: str = "claude-haiku-5-5"
    llm_tier_medium: str = "claude-sonnet-5-5"
    llm_tier_large: str = "claude-opus-5-5"
    llm_task_token_cap: int = 20_000
    llm_daily_usd_cap: Decimal = Decimal("25")
    llm_cache_ttl_seconds: int = 86_400
    llm_confidence_threshold: float = 0.7

    def tiers(self) -> dict[str, str]:
        return {"small": self.llm_tier_small, "medium": self.llm_tier_medium, "large": self.llm_tier_large}


class IngestSettings(ObservabilityMixin, MemoryTableMixin):
    platform: Platform
    ingest_queue_url: str
    webhook_secret_id: str
    secret_max_age_seconds: int = 300
    seen_ttl_days: int = 7


class AgentSettings(ObservabilityMixin, TasksTableMixin, MemoryTableMixin, ActQueuesMixin, LlmMixin):
    """Classify and decide share one environment."""

    decide_queue_url: str
    processed_ttl_days: int = 14
    task_ttl_days: int = 90


class ActSettings(ObservabilityMixin, TasksTableMixin, MemoryTableMixin):
    service: Service
    act_queue_url: str
    service_api_url: str
    service_token_secret_id: str
    http_timeout_seconds: float = 8.0
    idempotency_ttl_days: int = 14
    escalation_channel: str = ""  # required by act-escalate only; its executor refuses to start without it


class HealthSettings(ObservabilityMixin):
    switchboard_version: str


@lru_cache(maxsize=1)
def health_settings() -> HealthSettings:
    return HealthSettings()


class PollSettings(ObservabilityMixin, MemoryTableMixin):
    ingest_queue_url: str
    feeds: list[FeedSpec]
    seen_ttl_days: int = 30
    feed_timeout_seconds: float = 8.0


@lru_cache(maxsize=1)
def poll_settings() -> PollSettings:
    return PollSettings()


class TriageSettings(ObservabilityMixin, TasksTableMixin):
    alert_topic_arn: str
    dlq_urls: dict[str, str]


@lru_cache(maxsize=1)
def triage_settings() -> TriageSettings:
    return TriageSettings()


@lru_cache(maxsize=1)
def ingest_settings() -> IngestSettings:
    return IngestSettings()


@lru_cache(maxsize=1)
def agent_settings() -> AgentSettings:
    return AgentSettings()


@lru_cache(maxsize=1)
def act_settings() -> ActSettings:
    return ActSettings()
