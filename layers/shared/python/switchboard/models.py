"""The contracts between layers, as pydantic models.

The door's contracts (``InboundEvent``, ``IngestAnswer``) are built at import: the ingest function, whose
cold start is every webhook's, validates with them on every request. The others are ``defer_build``: pydantic
builds a model's validator and serializer on its first validation, so a function that never validates one
(ingest never sees an ``ActionRequest``) does not pay for it at cold start.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from switchboard import catalog
from switchboard.fields import EVENT_TEXT_LIMIT


class Platform(StrEnum):
    GITHUB = "github"
    SLACK = "slack"
    STANDARD = "standard"
    FEED = "feed"


if TYPE_CHECKING:

    class Service(StrEnum):
        """The external services: built from ``catalog.SERVICES`` at import. This declaration is what the type
        checker reads; a test holds it to the catalog (``tests/unit/test_catalog.py``)."""

        GITHUB = "github"
        SLACK = "slack"
        TICKETS = "tickets"
        ESCALATE = "escalate"

else:
    Service = StrEnum(
        "Service",
        [(name.upper().replace("-", "_"), name) for name in catalog.service_names()],
        module=__name__,
    )


class TaskStatus(StrEnum):
    RECEIVED = "RECEIVED"
    CLASSIFIED = "CLASSIFIED"
    DECIDING = "DECIDING"
    DECIDED = "DECIDED"
    DISPATCHED = "DISPATCHED"
    WAITING = "WAITING"
    DONE = "DONE"
    DROPPED = "DROPPED"
    NEEDS_HUMAN = "NEEDS_HUMAN"
    FAILED = "FAILED"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset(
    {TaskStatus.DONE, TaskStatus.DROPPED, TaskStatus.NEEDS_HUMAN, TaskStatus.FAILED}
)


class InboundEvent(BaseModel):
    """One event from any platform, normalized and sanitized at the door. The ingest → classify contract."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    platform: Platform
    event_id: str = Field(min_length=1, max_length=256, description="the provider's delivery id")
    content_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=512,
        description="the logical event's identity, whichever delivery carried it (its task's key)",
    )
    event_type: str = Field(min_length=1, max_length=128)
    author: str | None = Field(default=None, max_length=256)
    author_is_bot: bool = False
    conversation: str = Field(min_length=1, max_length=256, description="thread or issue: the message group")
    text: str = Field(default="", max_length=EVENT_TEXT_LIMIT)
    #: A default rather than ``default_factory=list``: pydantic reads a factory's signature, and the builtin
    #: ``list``'s is parsed with ``tokenize``, whose patterns compile on first use (about 2 ms of the ingest
    #: function's cold start). Pydantic copies a default that is not hashable for each event.
    links: list[str] = Field(default=[], max_length=20)
    received_at: datetime
    raw_ref: str | None = Field(default=None, max_length=1_024, description="where the original lives")
    context: dict[str, str] = Field(
        default_factory=dict, description="platform fields an action needs (repo, issue number, channel …)"
    )

    @property
    def task_id(self) -> str:
        """The logical event's task: named by its content identity where it has one, so that every delivery
        of one logical event names one task (and the task's conditional put claims them all), else by its
        delivery id."""
        return task_id_for(self.platform, self.event_id, self.content_id)


def task_id_for(platform: str, event_id: str, content_id: str | None = None) -> str:
    """Deterministic, so every retry and every racing worker names the same task: from the content identity
    when there is one, else from the delivery id. The two never name the same task: the one begins with
    ``content`` and a NUL, the other with the platform's name, which holds no NUL. (A task opened before
    2026-12-03 is named by its delivery id alone: ``Lifecycle.open`` finds it through its old claim.)"""
    name = f"{platform}:{event_id}" if content_id is None else f"content\0{platform}\0{content_id}"
    digest = hashlib.sha256(name.encode()).hexdigest()
    return f"tsk_{digest[:24]}"


class ActionRequest(BaseModel):
    """One typed action for one external service. The classify/decide → act contract."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    action_id: str = Field(description="task id + ordinal: the idempotency key")
    task_id: str
    event_id: str
    ordinal: int = Field(ge=0)
    service: Service
    ability: str
    params: dict[str, Any]
    conversation: str

    @classmethod
    def for_task(
        cls, event: InboundEvent, ordinal: int, ability: str, service: Service, params: dict[str, Any]
    ) -> ActionRequest:
        return cls(
            action_id=f"{event.task_id}#{ordinal}",
            task_id=event.task_id,
            event_id=event.event_id,
            ordinal=ordinal,
            service=service,
            ability=ability,
            params=params,
            conversation=event.conversation,
        )


class DecideRequest(BaseModel):
    """Classify → decide: an event whose intent needs reasoning."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    task_id: str
    event: InboundEvent
    intent: str
    confidence: float
    #: The author's trust as classify read it, at ``author_read_at`` (epoch seconds): decide's gate uses it
    #: while it is fresh enough (``switchboard.policy``), else reads again. None: not read.
    author_trusted: bool | None = None
    author_read_at: float | None = None
    #: The task's version as classify's own write left it: CLASSIFIED, routed to decide, no actions. With
    #: ``event`` that is all of the task decide's path reads, so on a first receive decide works from it
    #: instead of reading the task (``DecideService.process`` says when that is safe). None: read the task
    #: (a message from an older classify, a resumed classify, decide's own resume queue).
    task_version: int | None = Field(default=None, ge=1)


class IngestAnswer(BaseModel):
    """The body of a 202 from ``POST /webhooks/{platform}``."""

    event_id: str
    status: str  # accepted | duplicate | ignored
    reason: str | None = None
    #: the event's task (accepted or duplicate): ``switchboard trace TASK_ID`` reads it directly
    task_id: str | None = None


class FeedKind(StrEnum):
    ATOM = "atom"
    RSS = "rss"
    MENTIONS = "mentions"


class FeedSpec(BaseModel):
    """One configured feed (from CDK context ``feeds``, passed to the poll function as JSON)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    kind: FeedKind
    url: str = Field(min_length=1, max_length=2_083, description="the feed's http(s) URL, as configured")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        """An absolute http(s) URL with a host, kept as configured. Checked here rather than typed
        ``HttpUrl``: that type's module, ``pydantic.networks``, would load (about 2 ms) for every function
        that imports this one, the ingest function's cold start among them."""
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("not an absolute http(s) URL")
        return value
