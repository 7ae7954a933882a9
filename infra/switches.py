"""The act layer's kill switches: SSM parameters that an operator flips without a deploy.

- ``/switchboard/<stack>/shadow-mode``: ``false``, or ``true`` to decide and record every action without
  making any external call;
- ``/switchboard/<stack>/disabled-abilities``: ``none``, or a comma-separated list of ability names
  (``github.close``), service wildcards (``github.*``) or ``*``.

Only the act functions may read them (``grant_read`` in ``infra/functions.py``); they read them through
Powertools parameters, cached for about a minute (``switchboard.killswitch``).
"""

from __future__ import annotations

from typing import Final

from aws_cdk import Stack
from aws_cdk import aws_ssm as ssm
from constructs import Construct

SHADOW_MODE_DEFAULT: Final = "false"
DISABLED_ABILITIES_DEFAULT: Final = "none"


class KillSwitches(Construct):
    """``shadow_mode`` and ``disabled_abilities``, two String parameters named after the stack."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        prefix = f"/switchboard/{Stack.of(self).stack_name}"
        self.shadow_mode = self._build_parameter(
            "ShadowMode",
            f"{prefix}/shadow-mode",
            SHADOW_MODE_DEFAULT,
            "Switchboard kill switch: true = decide and record every action, make no external call",
            allowed_pattern="^(true|false)$",
        )
        self.disabled_abilities = self._build_parameter(
            "DisabledAbilities",
            f"{prefix}/disabled-abilities",
            DISABLED_ABILITIES_DEFAULT,
            "Switchboard kill switch: abilities not to carry out (none, or e.g. github.close,slack.*)",
        )

    @property
    def parameters(self) -> dict[str, ssm.StringParameter]:
        return {"shadow-mode": self.shadow_mode, "disabled-abilities": self.disabled_abilities}

    def _build_parameter(
        self, construct_id: str, name: str, value: str, description: str, allowed_pattern: str | None = None
    ) -> ssm.StringParameter:
        return ssm.StringParameter(
            self,
            construct_id,
            parameter_name=name,
            string_value=value,
            description=description,
            allowed_pattern=allowed_pattern,
            tier=ssm.ParameterTier.STANDARD,
        )
