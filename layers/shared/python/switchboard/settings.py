"""One settings model per function, composed from small mixins, validated once at cold start.

Domain code never reads ``os.environ``: a handler calls the cached getter for its settings and passes what it
needs along. A missing variable fails the cold start with a clear error instead of a silent default.
"""

from __future__ import annotations

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


class IngestSettings(ObservabilityMixin, MemoryTableMixin):
    platform: Platform
    ingest_queue_url: str
    webhook_secret_id: str
    secret_max_age_seconds: int = 300
    seen_ttl_days: int = 7


class ClassifySettings(ObservabilityMixin, TasksTableMixin, MemoryTableMixin, ActQueuesMixin):
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
def classify_settings() -> ClassifySettings:
    return ClassifySettings()


@lru_cache(maxsize=1)
def act_settings() -> ActSettings:
    return ActSettings()
