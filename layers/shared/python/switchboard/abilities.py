"""The typed, allow-listed abilities: the only things Switchboard may do to the outside world.

Each ability has a name, a description, a pydantic parameter model (which becomes the tool's JSON schema
for the model), the service whose queue carries it, and the platforms it is allowed on. Rules and the LLM both
produce abilities by name; an unknown name or invalid parameters never leave this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from switchboard.models import Platform, Service

Repo = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$")]
LabelName = Annotated[str, StringConstraints(min_length=1, max_length=50, pattern=r"^[^,\x00-\x1f]+$")]
Login = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")]


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IssueRef(_Params):
    repo: Repo
    number: int = Field(ge=1)


class AddLabels(IssueRef):
    labels: list[LabelName] = Field(min_length=1, max_length=10)


class Comment(IssueRef):
    body: str = Field(min_length=1, max_length=4_000)


@dataclass(frozen=True)
class Ability:
    name: str
    description: str
    params: type[_Params]
    service: Service
    platforms: frozenset[Platform]

    def validate(self, params: dict[str, Any]) -> dict[str, Any]:
        """Validated, normalized parameters, or ``InvalidParams``."""
        try:
            return self.params.model_validate(params).model_dump(mode="json")
        except ValidationError as exc:
            raise InvalidParams(self.name, exc) from None

    def tool_schema(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "input_schema": self.params.model_json_schema(),
        }


class UnknownAbility(LookupError):
    pass


class InvalidParams(ValueError):
    def __init__(self, ability: str, error: ValidationError) -> None:
        super().__init__(f"{ability}: {error.error_count()} invalid parameter(s)")
        self.ability = ability
        self.errors = error.errors(include_url=False, include_input=False)


GITHUB_ONLY = frozenset({Platform.GITHUB})

REGISTRY: dict[str, Ability] = {
    ability.name: ability
    for ability in (
        Ability(
            "github.add_labels", "Add labels to a GitHub issue or PR.", AddLabels, Service.GITHUB, GITHUB_ONLY
        ),
        Ability("github.comment", "Comment on a GitHub issue or PR.", Comment, Service.GITHUB, GITHUB_ONLY),
    )
}


def ability(name: str) -> Ability:
    try:
        return REGISTRY[name]
    except KeyError:
        raise UnknownAbility(name) from None
