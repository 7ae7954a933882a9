"""The fields Switchboard acts on: one set of patterns and limits, read by the door and by the abilities.

What the door accepts (``switchboard.adapters``) must be what the abilities (``switchboard.abilities``) can
act on, or an accepted event fails after its claim. So both read the patterns here, and each field the door
takes from a payload is either checked against its pattern at the door or is not a parameter of any ability:

- GitHub ``repository.full_name`` and the issue, PR or discussion ``number``: every GitHub ability acts on
  them, and GitHub only sends valid ones, so a payload with another value is refused at the door (400 with a
  reason) rather than accepted for nothing.
- Slack ``channel``, ``ts`` and ``thread_ts``: a reply goes there; the same, 400.
- Authors, the Slack team, the Standard Webhooks conversation: no ability takes them as a target. They stay
  as the door bounds them (``switchboard.sanitize``); where one becomes a parameter (``/assign me``) the
  rule validates it and drops the command with a reason.
- Text: an event's text holds up to ``EVENT_TEXT_LIMIT`` characters, an action's body ``ACTION_TEXT_LIMIT``;
  code that copies one into the other cuts it with ``fit``, which says so in the text.
"""

from __future__ import annotations

import re
from typing import Annotated, Final

from pydantic import StringConstraints

EVENT_TEXT_LIMIT: Final = 8_000
ACTION_TEXT_LIMIT: Final = 4_000
FIELD_LIMIT: Final = 256
REF_LIMIT: Final = 1_024
MAX_ISSUE_NUMBER: Final = 2**63 - 1  # GitHub's numbers are positive 64-bit integers

# "owner/name": each part 1-100 of GitHub's characters, and never "." or ".." (a path segment of its own);
# without look-arounds, which pydantic's regex engine does not have
_REPO_PART = (
    r"(?:[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}|\.[A-Za-z0-9_-][A-Za-z0-9_.-]{0,98}|\.\.[A-Za-z0-9_.-]{1,98})"
)
REPO_PATTERN: Final = rf"^{_REPO_PART}/{_REPO_PART}$"
LOGIN_PATTERN: Final = r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$"
LABEL_PATTERN: Final = r"^[^,\x00-\x1f]+$"
SLACK_ID_PATTERN: Final = r"^[A-Z0-9]{2,32}$"  # channels (C…, G…, D…), users, teams
SLACK_TS_PATTERN: Final = r"^\d{1,12}\.\d{1,8}$"  # "1355517523.000005"

Repo = Annotated[str, StringConstraints(pattern=REPO_PATTERN)]
Login = Annotated[str, StringConstraints(pattern=LOGIN_PATTERN)]
LabelName = Annotated[str, StringConstraints(min_length=1, max_length=50, pattern=LABEL_PATTERN)]
SlackId = Annotated[str, StringConstraints(pattern=SLACK_ID_PATTERN)]
SlackTs = Annotated[str, StringConstraints(pattern=SLACK_TS_PATTERN)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=ACTION_TEXT_LIMIT)]
Title = Annotated[str, StringConstraints(min_length=3, max_length=200)]
DECISION_MIN: Final = 3
DECISION_MAX: Final = 1_000
Decision = Annotated[str, StringConstraints(min_length=DECISION_MIN, max_length=DECISION_MAX)]

_REPO = re.compile(REPO_PATTERN)
_SLACK_ID = re.compile(SLACK_ID_PATTERN)
_SLACK_TS = re.compile(SLACK_TS_PATTERN)


def is_repo(value: str | None) -> bool:
    return value is not None and _REPO.fullmatch(value) is not None


def is_slack_id(value: str | None) -> bool:
    return value is not None and _SLACK_ID.fullmatch(value) is not None


def is_slack_ts(value: str | None) -> bool:
    return value is not None and _SLACK_TS.fullmatch(value) is not None


def fit(text: str, limit: int = ACTION_TEXT_LIMIT) -> str:
    """``text`` in at most ``limit`` characters; a cut one ends with a marker that says it was cut."""
    if len(text) <= limit:
        return text
    marker = f"\n\n[truncated: the original has {len(text):,} characters]"
    if limit < 2 * len(marker):  # too short to say so
        return text[:limit]
    return text[: limit - len(marker)].rstrip() + marker
