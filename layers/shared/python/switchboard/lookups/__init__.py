"""Read-only lookups: the tools a plan may use to read before it answers.

Each lookup has a name, typed parameters (a pydantic model, whose schema the planner is shown), the platforms
it may be used from, and a binder: like an ability's target (``switchboard.abilities``), where a lookup reads
is bound from the event by code, never chosen by the model (a GitHub lookup reads the event's repository, a
Slack thread lookup reads the event's thread). ``check`` is the lookup's policy: an unknown tool, invalid
parameters or a platform it is not allowed on never leaves this module.

What a lookup returns is untrusted text (an issue body is written by anyone): every string in a result is
sanitized (``switchboard.sanitize.clean_text``) and cut to a bound, and a result reaches a prompt only
through ``frame``, one JSON value inside ``<lookup_result>`` with the delimiters escaped
(``switchboard.prompts.encode``), the way user text is framed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from switchboard.errors import InvalidParams, UnknownAbility
from switchboard.fields import MAX_ISSUE_NUMBER, Repo, SlackId, SlackTs
from switchboard.models import InboundEvent, Platform
from switchboard.prompts import encode
from switchboard.sanitize import clean_text

#: How much of one string field of a result a prompt carries, and how many items a search returns.
FIELD_TEXT_LIMIT = 1_500
MAX_ITEMS = 5

Query = Annotated[str, StringConstraints(min_length=2, max_length=200, strip_whitespace=True)]
TicketId = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2,10}-[0-9]{1,9}$")]


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IssueGet(_Params):
    repo: Repo
    number: int = Field(ge=1, le=MAX_ISSUE_NUMBER)


class IssueSearch(_Params):
    repo: Repo
    query: Query = Field(description="words to search for in issue titles and bodies")


class TicketSearch(_Params):
    query: Query = Field(description="words to search for in ticket titles and bodies")


class TicketGet(_Params):
    id: TicketId = Field(description="the ticket id, e.g. TCK-42")


class ThreadHistory(_Params):
    channel: SlackId
    thread_ts: SlackTs


Binder = Callable[[InboundEvent], dict[str, Any]]


def _bind_repo(event: InboundEvent) -> dict[str, Any]:
    return {"repo": event.context.get("repo")}


def _bind_thread(event: InboundEvent) -> dict[str, Any]:
    return {"channel": event.context.get("channel"), "thread_ts": event.context.get("thread_ts")}


@dataclass(frozen=True)
class Lookup:
    name: str
    description: str
    params: type[_Params]
    platforms: frozenset[Platform]
    bind: Binder | None = None
    bound: tuple[str, ...] = ()

    def bound_params(self, event: InboundEvent, chosen: dict[str, Any]) -> dict[str, Any]:
        """The planner's parameters with the event-bound ones forced by code, validated."""
        bound = self.bind(event) if self.bind else {}
        clash = set(chosen) & set(bound)
        if clash:
            raise InvalidParams.because(self.name, f"parameters {sorted(clash)} are set by Switchboard")
        try:
            return self.params.model_validate({**chosen, **bound}).model_dump(mode="json")
        except ValidationError as exc:
            raise InvalidParams(self.name, exc) from None

    def schema(self) -> dict[str, Any]:
        """The parameters the planner may set (the bound ones left out)."""
        schema = self.params.model_json_schema()
        schema["properties"] = {k: v for k, v in schema.get("properties", {}).items() if k not in self.bound}
        schema["required"] = [k for k in schema.get("required", []) if k not in self.bound]
        return {"name": self.name, "description": self.description, "params": schema}


GITHUB = frozenset({Platform.GITHUB})
EVERYWHERE = frozenset(Platform)

LOOKUPS: dict[str, Lookup] = {
    entry.name: entry
    for entry in (
        Lookup(
            "github.get_issue",
            "Read one issue of this repository.",
            IssueGet,
            GITHUB,
            _bind_repo,
            ("repo",),
        ),
        Lookup(
            "github.get_pull",
            "Read one pull request of this repository.",
            IssueGet,
            GITHUB,
            _bind_repo,
            ("repo",),
        ),
        Lookup(
            "github.search_issues",
            "Search this repository's issues (open and closed).",
            IssueSearch,
            GITHUB,
            _bind_repo,
            ("repo",),
        ),
        Lookup("tickets.search", "Search the support tickets.", TicketSearch, EVERYWHERE),
        Lookup("tickets.get", "Read one support ticket.", TicketGet, EVERYWHERE),
        Lookup(
            "slack.thread",
            "Read this Slack thread's messages.",
            ThreadHistory,
            frozenset({Platform.SLACK}),
            _bind_thread,
            ("channel", "thread_ts"),
        ),
    )
}


def lookup(name: str) -> Lookup:
    try:
        return LOOKUPS[name]
    except KeyError:
        raise UnknownAbility(f"{name} is not a lookup") from None


def allowed_on(platform: Platform) -> list[Lookup]:
    return [entry for entry in LOOKUPS.values() if platform in entry.platforms]


def check(name: str, event: InboundEvent, chosen: dict[str, Any]) -> dict[str, Any]:
    """The lookup's policy: it exists, it may be used from the event's platform, and its parameters are
    valid once bound to the event. Returns the bound parameters, or raises ``UnknownAbility`` /
    ``InvalidParams`` with the reason."""
    entry = lookup(name)
    if event.platform not in entry.platforms:
        raise UnknownAbility(f"{name} may not be used from {event.platform.value}")
    return entry.bound_params(event, chosen)


@dataclass(frozen=True)
class LookupResult:
    """What a lookup read: items (each a flat dict of sanitized values) and the references to cite."""

    tool: str
    items: list[dict[str, Any]] = field(default_factory=list)

    @property
    def found(self) -> bool:
        return bool(self.items)

    def refs(self) -> list[str]:
        return [str(item["ref"]) for item in self.items if item.get("ref")]

    def to_json(self) -> dict[str, Any]:
        return {"tool": self.tool, "items": self.items, "found": self.found, "refs": self.refs()}


def sanitized(value: Any) -> Any:
    """Untrusted values made safe to carry: strings cleaned and cut, numbers and booleans kept, the rest
    dropped or cleaned recursively (lists bounded)."""
    if isinstance(value, bool) or value is None or isinstance(value, int | float):
        return value
    if isinstance(value, str):
        return clean_text(value, limit=FIELD_TEXT_LIMIT)
    if isinstance(value, list):
        return [sanitized(item) for item in value[:20]]
    if isinstance(value, dict):
        return {clean_text(str(k), limit=64): sanitized(v) for k, v in list(value.items())[:30]}
    return clean_text(str(value), limit=FIELD_TEXT_LIMIT)


def result(tool: str, items: list[dict[str, Any]]) -> LookupResult:
    return LookupResult(tool, [sanitized(item) for item in items[:MAX_ITEMS]])


def frame(step_id: str, output: dict[str, Any]) -> str:
    """One lookup's output as a prompt block: untrusted data, one JSON value with no delimiter in it."""
    return f'<lookup_result step="{encode(step_id)[1:-1]}">{encode(output)}</lookup_result>'


class Lookups(Protocol):
    """The port: run one checked lookup (its parameters already bound and validated by ``check``)."""

    def run(self, name: str, params: dict[str, Any], timeout: float) -> LookupResult: ...
