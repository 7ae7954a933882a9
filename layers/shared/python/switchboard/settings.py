"""One settings model per function, composed from small mixins, validated once at cold start.

Domain code never reads ``os.environ``: a handler calls the cached getter for its settings and passes what it
needs along. A missing variable fails the cold start with a clear error instead of a silent default.

A model reads its fields from the environment (``EnvSettings.from_environment``) the way pydantic-settings'
``BaseSettings`` does for these models: a variable named like the field (any case), JSON for a field of a
complex type (a list, tuple, dict, mapping or model), values passed by keyword winning. It is a pydantic
model without pydantic-settings, whose import (asyncio, argparse, dotenv and every cloud's secret sources)
was about a fifth of the ingest function's cold start. The policy gate's types are imported when a model
that has a policy needs them, so ingest does not load the abilities.
"""

from __future__ import annotations

import json
import os
import types
from collections.abc import Mapping, Sequence
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated, Any, Self, Union, get_args, get_origin
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from switchboard import catalog
from switchboard.models import FeedSpec, Platform, Service

if TYPE_CHECKING:
    from switchboard.policy import PolicyConfig

_COMPLEX_ORIGINS = (list, tuple, set, frozenset, dict, Mapping, Sequence)


def _is_complex(annotation: Any) -> bool:
    """Whether a field's value comes from the environment as JSON (what pydantic-settings calls complex)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _is_complex(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return any(_is_complex(arg) for arg in get_args(annotation) if arg is not type(None))
    kind = annotation if origin is None else origin
    if not isinstance(kind, type) or issubclass(kind, (str, bytes)):
        return False
    return issubclass(kind, (BaseModel, *_COMPLEX_ORIGINS))


class EnvSettings(BaseModel):
    """A frozen settings model whose fields are read from the environment. ``defer_build``: a function
    builds only its own model, on its first validation (ingest does not build the act workers' settings)."""

    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)

    @classmethod
    def from_environment(cls, **values: Any) -> Self:
        """Validate the model from ``os.environ`` (a variable per field, names in any case) and ``values``,
        which win. A value that is not JSON where the field needs it fails the cold start, naming the
        variable (not its value)."""
        environment = {name.lower(): value for name, value in os.environ.items()}
        found: dict[str, Any] = {}
        for name, field in cls.model_fields.items():
            if name not in environment:
                continue
            value = environment[name]
            if _is_complex(field.annotation):
                try:
                    value = json.loads(value)
                except ValueError:
                    raise ValueError(f"{name.upper()}: the value is not valid JSON") from None
            found[name] = value
        return cls.model_validate(found | values)


class ObservabilityMixin(EnvSettings):
    powertools_service_name: str
    powertools_metrics_namespace: str = "Switchboard"


class MemoryTableMixin(EnvSettings):
    memory_table_name: str


class TasksTableMixin(EnvSettings):
    tasks_table_name: str


class PolicyMixin(EnvSettings):
    """The policy gate's settings (``switchboard.policy``): ``label_policy`` is the CDK context
    ``labelPolicy`` as JSON (``{"owner/repo": ["bug", …], "*": [...]}``; empty: the default labels)."""

    label_policy: str = ""
    max_assignees: int = Field(default=3, ge=1, le=10)
    acting_rate_limit: int = Field(default=10, ge=1)
    acting_rate_window_seconds: int = Field(default=3_600, ge=1)

    @field_validator("label_policy")
    @classmethod
    def _parses(cls, value: str) -> str:
        from switchboard.policy import LabelPolicy

        LabelPolicy.parse(value)  # a malformed policy fails the cold start
        return value

    def policy_config(self) -> PolicyConfig:
        from switchboard.policy import LabelPolicy, PolicyConfig

        return PolicyConfig(
            labels=LabelPolicy.parse(self.label_policy),
            max_assignees=self.max_assignees,
            acting_rate_limit=self.acting_rate_limit,
            acting_rate_window_seconds=self.acting_rate_window_seconds,
        )


def _act_queue_urls(data: Any, *, required: bool) -> Any:
    """Read the act-queue URLs the catalog names (``ACT_<SERVICE>_QUEUE_URL``) into ``act_queue_urls``.

    A value passed by keyword (``act_github_queue_url=...``) wins over the environment. With ``required``, a
    missing variable fails the validation (the cold start) naming it.
    """
    if not isinstance(data, dict) or "act_queue_urls" in data:
        return data
    urls: dict[str, str] = {}
    for spec in catalog.services():
        name = catalog.queue_url_env(spec.act_queue)
        value = data.get(name.lower()) or os.environ.get(name)
        if value:
            urls[spec.name] = value
    missing = [catalog.queue_url_env(s.act_queue) for s in catalog.services() if s.name not in urls]
    if required and missing:
        raise ValueError(f"missing environment variable(s): {', '.join(missing)}")
    return {**data, "act_queue_urls": urls}


class ActQueuesMixin(EnvSettings):
    """Every act queue's URL, by service, from the variables the catalog names (all of them required)."""

    act_queue_urls: Mapping[Service, str]

    @model_validator(mode="before")
    @classmethod
    def _read_act_queue_urls(cls, data: Any) -> Any:
        return _act_queue_urls(data, required=True)

    def act_queue_url(self, service: Service) -> str:
        return self.act_queue_urls[service]


class LlmMixin(EnvSettings):
    """The model tiers (current Claude model ids by default), budgets and where the Messages API is."""

    llm_api_url: str
    llm_secret_id: str
    llm_tier_small: str = "claude-haiku-5-5"
    llm_tier_medium: str = "claude-sonnet-5-5"
    llm_tier_large: str = "claude-opus-5-5"
    llm_task_token_cap: int = 20_000
    llm_daily_usd_cap: Decimal = Decimal("25")
    llm_cache_ttl_seconds: int = 86_400
    # The response cache lives in each warm container (llm.ProcessLlmCache); on: DynamoDB behind it.
    llm_cache_shared: bool = False
    llm_confidence_threshold: float = 0.7
    # Work that can wait goes through the Message Batches API (switchboard.batches); off: every call is live.
    llm_batches: bool = False

    def tiers(self) -> dict[str, str]:
        return {"small": self.llm_tier_small, "medium": self.llm_tier_medium, "large": self.llm_tier_large}


class IngestSettings(ObservabilityMixin, TasksTableMixin, MemoryTableMixin):
    platform: Platform
    ingest_queue_url: str
    webhook_secret_id: str
    secret_max_age_seconds: int = 300
    seen_ttl_days: int = 7


class AgentSettings(
    ObservabilityMixin, TasksTableMixin, MemoryTableMixin, ActQueuesMixin, LlmMixin, PolicyMixin
):
    """Classify and decide share one environment."""

    decide_queue_url: str
    plan_function_name: str = ""  # decide: where multi-step requests plan (switchboard.plans); empty: never
    task_ttl_days: int = 90
    ingest_queue_url: str | None = None  # classify's own queue: a task that waited for a batch resumes there


class ActSettings(ObservabilityMixin, TasksTableMixin, MemoryTableMixin, PolicyMixin):
    """One act worker per service. The template sets the required values; the rest are tuning defaults.

    - ``max_receive_count``: the act queue's redrive ``maxReceiveCount`` (the last attempt is that one);
    - retries: exponential backoff with full jitter, ``retry_base_seconds`` * 2^(attempt-1), at most
      ``retry_cap_seconds``, at least ``retry_floor_seconds``; a ``Retry-After`` is honoured up to
      ``retry_after_cap_seconds``;
    - the circuit breaker: opens after ``breaker_failure_threshold`` transient failures within
      ``breaker_window_seconds``, stays open ``breaker_cooldown_seconds``, then one probe;
    - the kill switches: two SSM parameter names, read at most every ``kill_switch_max_age_seconds``;
    - follow-ups (act-tickets): ``followups_queue_url``, ``followup_delays_seconds`` (JSON list),
      ``tickets_public_url_template`` (``{ticket_id}``) for the last fallback;
    - where a worker may send (``catalog.sends_to``): ``act_queue_urls``, read from the
      ``ACT_<SERVICE>_QUEUE_URL`` variables the stack sets for it: the escalation queue (services that
      escalate 401/403), the platforms' act queues (services that reply, as act-tickets's follow-ups do).
    """

    service: Service
    act_queue_url: str
    service_api_url: str
    service_token_secret_id: str
    max_receive_count: int = Field(ge=1)
    shadow_mode_parameter: str
    disabled_abilities_parameter: str
    http_timeout_seconds: float = Field(default=8.0, gt=0)
    idempotency_ttl_days: int = 14
    escalation_channel: str = ""  # required by act-escalate only; its executor refuses to start without it
    kill_switch_max_age_seconds: int = Field(default=60, ge=0)
    retry_base_seconds: float = Field(default=5.0, ge=0)
    retry_cap_seconds: float = Field(default=900.0, gt=0, le=43_200)
    retry_floor_seconds: float = Field(default=1.0, ge=0)
    retry_after_cap_seconds: float = Field(default=900.0, gt=0, le=43_200)
    breaker_failure_threshold: int = Field(default=5, ge=1)
    breaker_window_seconds: float = Field(default=60.0, gt=0)
    breaker_cooldown_seconds: float = Field(default=30.0, gt=0)
    breaker_probe_lease_seconds: float = Field(default=30.0, gt=0)
    act_queue_urls: Mapping[Service, str] = Field(default_factory=dict)
    followups_queue_url: str | None = None
    followup_delays_seconds: tuple[int, ...] = (10, 30, 90)
    tickets_public_url_template: str | None = None
    # links that stay links in rendered text (``switchboard.render.LinkPolicy``): CDK context linkAllowList
    link_allow_list: str = ""
    tickets_api_url: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _read_act_queue_urls(cls, data: Any) -> Any:
        return _act_queue_urls(data, required=False)

    @model_validator(mode="after")
    def _what_the_service_needs(self) -> ActSettings:
        from switchboard.render import LinkPolicy

        spec = catalog.service(self.service.value)
        LinkPolicy.parse_hosts(self.link_allow_list)  # a malformed list fails the cold start
        if _placeholder_url(self.service_api_url):
            how = f"deploy with `-c {spec.api_url_context}=https://...`" if spec.api_url_context else "set it"
            raise ValueError(
                f"act-{self.service.value}: SERVICE_API_URL {self.service_api_url} is the catalog's "
                f"placeholder (a .invalid host never resolves), so every action would fail: {how}"
            )
        needed: set[str] = set()
        if spec.escalates:
            needed.add(catalog.escalation_service().act_queue)
        if spec.replies:
            needed |= {target.act_queue for target in catalog.reply_targets()}
        if spec.stages_followups:
            needed.add(catalog.FOLLOWUPS)
        missing = sorted(catalog.queue_url_env(name) for name in needed if not self._send_url(name))
        if missing:
            raise ValueError(f"act-{self.service.value} needs {', '.join(missing)}")
        if not self.followup_delays_seconds or not all(0 <= d <= 900 for d in self.followup_delays_seconds):
            raise ValueError("FOLLOWUP_DELAYS_SECONDS: one or more delays of 0..900 seconds")
        return self

    def _send_url(self, queue_name: str) -> str | None:
        if queue_name == catalog.FOLLOWUPS:
            return self.followups_queue_url
        return next(
            (
                url
                for service, url in self.act_queue_urls.items()
                if catalog.act_queue_name(service) == queue_name
            ),
            None,
        )

    @property
    def act_escalate_queue_url(self) -> str | None:
        """The escalation service's act queue (a refused credential pages a person), if this worker has it."""
        return self._send_url(catalog.escalation_service().act_queue)

    def reply_queue_url(self, service: Service) -> str:
        """Where this worker sends an action for ``service``: a platform's or the escalation act queue."""
        service = Service(service)
        allowed = {target.name for target in catalog.reply_targets()}
        url = self.act_queue_urls.get(service) if service.value in allowed else None
        if not url:
            raise ValueError(f"act-{self.service.value} may not send to act-{service.value}")
        return url


def _placeholder_url(url: str) -> bool:
    """A URL on the reserved ``.invalid`` TLD (RFC 2606, section 2: "obviously invalid" names), such as the
    catalog's ``DEFAULT_TICKETS_API_URL``: a service the stack was deployed without."""
    host = (urlsplit(url).hostname or "").rstrip(".")
    return host == "invalid" or host.endswith(".invalid")


class HealthSettings(ObservabilityMixin, MemoryTableMixin):
    """``queue_urls``: every main queue's URL by name (its depth is a stage's waiting work);
    ``health_stale_seconds``: how long a stage with waiting work may finish nothing
    (``switchboard.heartbeat``)."""

    switchboard_version: str
    queue_urls: dict[str, str]
    health_stale_seconds: int = Field(default=300, ge=120)


class PlanSettings(AgentSettings):
    """The plan function (``switchboard.plans``): the agent's settings plus where its lookups read:
    ``<name>_api_url`` (the local runtime points each at its recording sink) and ``lookup_token_secrets``,
    JSON, the token secret of each service by name (the same secrets the act workers read)."""

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
    return PlanSettings.from_environment()


@lru_cache(maxsize=1)
def health_settings() -> HealthSettings:
    return HealthSettings.from_environment()


class PollSettings(ObservabilityMixin, TasksTableMixin, MemoryTableMixin):
    ingest_queue_url: str
    feeds: list[FeedSpec]
    seen_ttl_days: int = 30
    feed_timeout_seconds: float = 8.0


@lru_cache(maxsize=1)
def poll_settings() -> PollSettings:
    return PollSettings.from_environment()


class BatchSettings(ObservabilityMixin, MemoryTableMixin, LlmMixin):
    """The scheduled batch function: the batch state, and the key of the Messages API."""


@lru_cache(maxsize=1)
def batch_settings() -> BatchSettings:
    return BatchSettings.from_environment()


class TriageSettings(ObservabilityMixin, TasksTableMixin, MemoryTableMixin, PolicyMixin):
    """The daily DLQ triage, and the plan watch (``switchboard.plans.watch``), which pages a person through
    the escalation service's act queue (``act_escalate_queue_url``) through the policy gate."""

    alert_topic_arn: str
    dlq_urls: dict[str, str]
    queue_urls: dict[str, str]
    act_escalate_queue_url: str = ""
    plan_watch_idle_seconds: int = Field(default=600, ge=0)  # switchboard.plans.watch.IDLE_SECONDS
    # the plan function's alias, as decide invokes it: the plan watch looks up by name an execution whose ARN
    # was not noted
    plan_function_name: str = ""


@lru_cache(maxsize=1)
def triage_settings() -> TriageSettings:
    return TriageSettings.from_environment()


@lru_cache(maxsize=1)
def ingest_settings() -> IngestSettings:
    return IngestSettings.from_environment()


@lru_cache(maxsize=1)
def agent_settings() -> AgentSettings:
    return AgentSettings.from_environment()


@lru_cache(maxsize=1)
def act_settings() -> ActSettings:
    return ActSettings.from_environment()
