"""Kill switches, read from SSM Parameter Store through Powertools parameters, cached for ``max_age`` seconds.

- Shadow mode (``/switchboard/<stack>/shadow-mode``: ``true`` or ``false``): every action is still decided
  and recorded, but no external call is made; the task's history says which call would have been made.
- Disabled abilities (``/switchboard/<stack>/disabled-abilities``): ``none``, or a comma-separated list of
  ability names (``github.close``), service wildcards (``github.*``) or ``*`` for all. A disabled action is
  not called and its task is DROPPED with the reason.

Both change without a deploy (``aws ssm put-parameter --overwrite``); a worker sees the change within
``max_age``. Both are read together, in one ``GetParameters`` request (Powertools'
``get_parameters_by_name``, which caches each value for ``max_age``), and expire together. A switch that
cannot be read raises ``GetParameterError``: the act layer then retries later rather than act without
knowing whether it may.
"""

from __future__ import annotations

from typing import Any, Final

from aws_lambda_powertools.utilities.parameters import SSMProvider

from switchboard.aws import client

TRUE_VALUES: Final = frozenset({"true", "on", "yes", "1"})
NOTHING: Final = frozenset({"", "none", "-"})


class KillSwitches:
    def __init__(
        self,
        shadow_parameter: str,
        disabled_parameter: str,
        max_age_seconds: int = 60,
        provider: SSMProvider | None = None,
    ) -> None:
        self.shadow_parameter = shadow_parameter
        self.disabled_parameter = disabled_parameter
        self.max_age_seconds = max_age_seconds
        self._provider = provider

    @property
    def provider(self) -> SSMProvider:
        if self._provider is None:
            self._provider = SSMProvider(boto3_client=client("ssm"))
        return self._provider

    def shadow_mode(self) -> bool:
        return self._read(self.shadow_parameter).strip().lower() in TRUE_VALUES

    def disabled(self, ability: str) -> bool:
        listed = parse_ability_list(self._read(self.disabled_parameter))
        service = ability.split(".", 1)[0]
        return bool(listed & {ability, f"{service}.*", "*"})

    def _read(self, name: str) -> str:
        both: dict[str, dict[str, Any]] = {self.shadow_parameter: {}, self.disabled_parameter: {}}
        values: dict[str, Any] = self.provider.get_parameters_by_name(both, max_age=self.max_age_seconds)
        value = values[name]
        return value.decode() if isinstance(value, bytes) else str(value or "")


def parse_ability_list(value: str) -> frozenset[str]:
    names = {part.strip().lower() for part in value.replace("\n", ",").split(",")}
    return frozenset(name for name in names if name not in NOTHING)
