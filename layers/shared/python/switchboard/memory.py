"""What the agent remembers besides tasks, as values: the records the memory-table ports speak in.

The ports are in ``switchboard.ports`` (memory-table section); their DynamoDB adapters, and every key format
of the memory table, are in ``switchboard.dynamo``; in-memory twins for the unit tests in
``tests/fakes/memory.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

DAY = 86_400


@dataclass(frozen=True)
class Claim:
    """The classifier owns this event (``TaskRepository.claim``)."""

    task_id: str
    owner: str
    claimed_at: int


@dataclass(frozen=True)
class AuthorProfile:
    blocked: bool = False
    trusted: bool = False
    note: str | None = None


@dataclass(frozen=True)
class CountedRequest:
    """One event's request as ``AuthorDirectory.count_request`` counted it, with the author's profile read in
    the same request: ``count`` is its place in the author's window that starts at ``window_start`` (None: the
    author is trusted or blocked, and not counted). ``AuthorDirectory.give_back`` takes the place back."""

    platform: str
    author: str
    window_start: int
    profile: AuthorProfile
    count: int | None


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class BreakerRecord:
    """One service's breaker as stored (``BreakerStore.read``); a service never seen is closed, version 0."""

    state: BreakerState = BreakerState.CLOSED
    version: int = 0
    failures: float | None = None
    window_start: float | None = None
    open_until: float | None = None
    probe_until: float | None = None

    def to_json(self) -> dict[str, Any]:
        plain: dict[str, Any] = {"state": self.state.value, "version": self.version, "failures": 0}
        for name in ("failures", "window_start", "open_until", "probe_until"):
            value = getattr(self, name)
            if value is not None:
                plain[name] = value
        return plain
