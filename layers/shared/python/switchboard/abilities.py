"""The typed, allow-listed abilities: the only things Switchboard may do to the outside world.

Each ability has a name, a description, a pydantic parameter model (which becomes the tool's JSON schema
for the model), the service whose queue carries it, and the platforms it is allowed on. Rules and the LLM
both produce abilities by name; an unknown name or invalid parameters never leave this module.

Where an action lands (which repository and issue, which channel and thread) is never the model's choice:
those parameters are *bound* from the event by code and left out of the schema the model sees, so no text in
a message can point an action somewhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from switchboard.errors import InvalidParams, UnknownAbility
from switchboard.fields import (
    FIELD_LIMIT,
    MAX_ISSUE_NUMBER,
    REF_LIMIT,
    Decision,
    LabelName,
    Login,
    Repo,
    SlackId,
    SlackTs,
    Text,
    Title,
)
from switchboard.models import InboundEvent, Platform, Service


class _Params(BaseModel):
    # defer_build: an ability's validator is built on its first use, so each act worker builds only its own
    # service's abilities (docs/snapstart.md).
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class IssueRef(_Params):
    repo: Repo
    number: int = Field(ge=1, le=MAX_ISSUE_NUMBER)


class AddLabels(IssueRef):
    labels: list[LabelName] = Field(min_length=1, max_length=10, description="label names to add")


class Comment(IssueRef):
    body: Text = Field(description="the comment, in GitHub Markdown")


class Assign(IssueRef):
    assignees: list[Login] = Field(min_length=1, max_length=10, description="GitHub logins")


class CloseReason(StrEnum):
    COMPLETED = "completed"
    NOT_PLANNED = "not_planned"


class Close(IssueRef):
    reason: CloseReason = Field(default=CloseReason.COMPLETED)


class SlackReply(_Params):
    channel: SlackId
    thread_ts: SlackTs
    text: Text = Field(description="the reply, in Slack mrkdwn")


class CreateTicket(_Params):
    title: Title = Field(description="a short summary")
    body: Text = Field(description="what happened, what the user asked for")
    source: Annotated[str, StringConstraints(max_length=REF_LIMIT)]
    reporter: Annotated[str, StringConstraints(max_length=FIELD_LIMIT)] = "unknown"
    reply_to: dict[str, str] = Field(default_factory=dict)


class HandToHuman(_Params):
    summary: Text = Field(description="one paragraph: what the person asked and why a human must decide")
    decision_needed: Decision = Field(description="the question the human must answer")
    task_id: str
    platform: str
    conversation: str
    source: str = ""
    tried: list[str] = Field(default_factory=list)


Binder = Callable[[InboundEvent], dict[str, Any]]


def _bind_issue(event: InboundEvent) -> dict[str, Any]:
    return {"repo": event.context.get("repo"), "number": event.context.get("number")}


def _bind_thread(event: InboundEvent) -> dict[str, Any]:
    return {"channel": event.context.get("channel"), "thread_ts": event.context.get("thread_ts")}


def _bind_ticket(event: InboundEvent) -> dict[str, Any]:
    reply_to = {"platform": event.platform.value, **event.context}
    return {
        "source": event.raw_ref or event.conversation,
        "reporter": event.author or "unknown",
        "reply_to": reply_to,
    }


def _bind_human(event: InboundEvent) -> dict[str, Any]:
    return {
        "task_id": event.task_id,
        "platform": event.platform.value,
        "conversation": event.conversation,
        "source": event.raw_ref or "",
    }


@dataclass(frozen=True)
class Ability:
    name: str
    description: str
    params: type[_Params]
    service: Service
    platforms: frozenset[Platform]
    bind: Binder | None = None

    def validate(self, params: dict[str, Any]) -> dict[str, Any]:
        """Validated, normalized parameters, or ``InvalidParams``."""
        try:
            return self.params.model_validate(params).model_dump(mode="json")
        except ValidationError as exc:
            raise InvalidParams(self.name, exc) from None

    def bound_params(self, event: InboundEvent, chosen: dict[str, Any]) -> dict[str, Any]:
        """The model's (or a rule's) parameters with the event-bound ones forced by code, validated."""
        bound = self.bind(event) if self.bind else {}
        clash = set(chosen) & set(bound)
        if clash:
            raise InvalidParams.because(self.name, f"parameters {sorted(clash)} are set by Switchboard")
        return self.validate({**chosen, **bound})

    @property
    def bound_names(self) -> frozenset[str]:
        return frozenset(_BOUND.get(self.bind, ()))

    def tool_schema(self) -> dict[str, Any]:
        """The tool the model sees: the parameter schema without the event-bound parameters."""
        schema = self.params.model_json_schema()
        hidden = self.bound_names
        schema["properties"] = {k: v for k, v in schema.get("properties", {}).items() if k not in hidden}
        schema["required"] = [k for k in schema.get("required", []) if k not in hidden]
        schema["additionalProperties"] = False
        return {"name": self.name.replace(".", "__"), "description": self.description, "input_schema": schema}


_BOUND: dict[Binder | None, tuple[str, ...]] = {
    _bind_issue: ("repo", "number"),
    _bind_thread: ("channel", "thread_ts"),
    _bind_ticket: ("source", "reporter", "reply_to"),
    _bind_human: ("task_id", "platform", "conversation", "source"),
}


GITHUB = frozenset({Platform.GITHUB})
SLACK = frozenset({Platform.SLACK})
EVERYWHERE = frozenset(Platform)

REGISTRY: dict[str, Ability] = {
    ability.name: ability
    for ability in (
        Ability(
            "github.add_labels",
            "Add labels to this GitHub issue or PR.",
            AddLabels,
            Service.GITHUB,
            GITHUB,
            _bind_issue,
        ),
        Ability(
            "github.comment",
            "Reply with a comment on this GitHub issue or PR.",
            Comment,
            Service.GITHUB,
            GITHUB,
            _bind_issue,
        ),
        Ability(
            "github.assign",
            "Assign people to this GitHub issue or PR.",
            Assign,
            Service.GITHUB,
            GITHUB,
            _bind_issue,
        ),
        Ability("github.close", "Close this GitHub issue or PR.", Close, Service.GITHUB, GITHUB, _bind_issue),
        Ability("slack.reply", "Reply in this Slack thread.", SlackReply, Service.SLACK, SLACK, _bind_thread),
        Ability(
            "tickets.create",
            "Open a ticket in the support tracker for a problem that needs follow-up.",
            CreateTicket,
            Service.TICKETS,
            EVERYWHERE,
            _bind_ticket,
        ),
        Ability(
            "escalate.human",
            "Hand this to a person when you cannot safely decide.",
            HandToHuman,
            Service.ESCALATE,
            EVERYWHERE,
            _bind_human,
        ),
    )
}


def ability(name: str) -> Ability:
    try:
        return REGISTRY[name]
    except KeyError:
        raise UnknownAbility(name) from None


def ability_for_tool(tool_name: str) -> Ability:
    """Tool names use ``__`` where ability names use ``.`` (the API's tool names allow no dots)."""
    return ability(tool_name.replace("__", "."))


def allowed_on(platform: Platform) -> list[Ability]:
    return [entry for entry in REGISTRY.values() if platform in entry.platforms]
