"""In-memory twins of the memory-table ports (``switchboard.ports``) and of the delay queue, for unit tests.

Each is faithful to its DynamoDB adapter in ``switchboard.dynamo``: the same conditions (a move that lost
the race writes nothing), the same domain errors, the same rounding of stored times, and the TTLs that reads
honour (the LLM cache's; DynamoDB's own TTL deletes late, so the other items stay readable after it, here
too). ``tests/integration/test_memory_ports.py`` runs the same assertions against both.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from switchboard.dynamo.llm import Carry, Leases
from switchboard.dynamo.memory import MAX_ENDED_WINDOWS
from switchboard.errors import BudgetExceeded
from switchboard.followups import MAX_DELAY_SECONDS, FollowUp
from switchboard.memory import DAY, AuthorProfile, BreakerRecord, BreakerState, CountedRequest
from switchboard.models import InboundEvent


@dataclass
class FakeClock:
    """A clock that moves only when told to (``clock.now += 10``)."""

    now: float = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _stored(value: float) -> float:
    """How the DynamoDB adapter stores a time: floats rounded to milliseconds."""
    return round(value, 3) if isinstance(value, float) else value


@dataclass
class MemorySeenLog:
    ttl_days: int = 7
    clock: Callable[[], float] = field(default_factory=FakeClock)
    marks: dict[tuple[str, str], tuple[float, int]] = field(default_factory=dict)
    claims: set[str] = field(default_factory=set)  # the classifier's: the ids of the tasks it opened

    def first_sight(self, platform: str, event_id: str) -> float | None:
        if (platform, event_id) in self.marks:
            return self.marks[(platform, event_id)][0]
        now = _stored(float(self.clock()))
        self.marks[(platform, event_id)] = (now, int(now) + self.ttl_days * DAY)
        return None

    def forget(self, platform: str, event_id: str) -> None:
        self.marks.pop((platform, event_id), None)

    def claimed(self, event: InboundEvent) -> bool:
        return event.task_id in self.claims


@dataclass
class MemoryAuthorDirectory:
    """The ``DynamoAuthorDirectory``'s twin. ``requests``: each author's request counts by window start, as
    the profile item keeps them (a count drops the window before its own, and more than ``MAX_ENDED_WINDOWS``
    ended ones); ``windows`` and ``keys``: ``count_once``'s windows. It keeps no copies of profiles."""

    clock: FakeClock = field(default_factory=FakeClock)
    profiles: dict[tuple[str, str], AuthorProfile] = field(default_factory=dict)
    requests: dict[tuple[str, str], dict[int, int]] = field(default_factory=dict)
    windows: dict[tuple[str, str, int], int] = field(default_factory=dict)
    keys: dict[tuple[str, str, int], set[str]] = field(default_factory=dict)

    def profile(self, platform: str, author: str) -> AuthorProfile:
        return self.profiles.get((platform, author), AuthorProfile())

    def set_flags(self, platform: str, author: str, *, blocked: bool, trusted: bool, note: str = "") -> None:
        self.profiles[(platform, author)] = AuthorProfile(blocked=blocked, trusted=trusted, note=note)

    def count_request(
        self, platform: str, author: str, window_seconds: int, now: float | None = None
    ) -> CountedRequest:
        now = self.clock() if now is None else now
        start = int(now) // window_seconds * window_seconds
        profile = self.profiles.get((platform, author), AuthorProfile())
        if profile.trusted or profile.blocked:
            return CountedRequest(platform, author, start, profile, None)
        counts = self.requests.setdefault((platform, author), {})
        counts.pop(start - window_seconds, None)
        counts[start] = counts.get(start, 0) + 1
        ended = [began for began in counts if began < start]
        if len(ended) > MAX_ENDED_WINDOWS:
            for began in ended:
                del counts[began]
        return CountedRequest(platform, author, start, profile, counts[start])

    def give_back(self, counted: CountedRequest) -> None:
        counts = self.requests.get((counted.platform, counted.author), {})
        if counted.count is not None and counted.window_start in counts:
            counts[counted.window_start] -= 1

    def count_once(
        self, platform: str, author: str, window_seconds: int, key: str, limit: int, now: float | None = None
    ) -> int:
        now = self.clock() if now is None else now
        start = int(now) // window_seconds * window_seconds
        window = (platform, author, start)
        counted = self.keys.setdefault(window, set())
        if key in counted:
            return min(self.windows.get(window, 0), limit)
        if self.windows.get(window, 0) >= limit:
            return limit + 1
        counted.add(key)
        self.windows[window] = self.windows.get(window, 0) + 1
        return self.windows[window]


_CONDITIONAL_WRITE = threading.Lock()


@dataclass
class MemoryBudgetLedger:
    """The ``DynamoBudgetLedger``'s twin. ``tokens`` and ``micro_usd`` are the counters as stored; several
    ledgers (several processes) may share them, each with its own ``carry`` of corrections not written and
    its own ``leases`` of the day's counter."""

    clock: FakeClock = field(default_factory=FakeClock)
    tokens: dict[str, int] = field(default_factory=dict)  # by task id
    micro_usd: dict[str, int] = field(default_factory=dict)  # by UTC day
    carry: Carry = field(default_factory=Carry)
    leases: Leases = field(default_factory=Leases)
    writes: int = 0  # conditional writes made (refused ones included), as the adapter's UpdateItems

    def reserve(
        self,
        task_id: str,
        day: str,
        tokens: int,
        micro_usd: int,
        *,
        token_cap: int,
        micro_usd_cap: int,
        lease_micro_usd: int = 0,
    ) -> None:
        if not self._reserve(self.tokens, f"task#{task_id}", task_id, tokens, token_cap):
            raise BudgetExceeded("task_tokens")
        if lease_micro_usd > 0:
            reserved = self.leases.reserve(
                f"day#{day}",
                micro_usd,
                lease_micro_usd,
                micro_usd_cap,
                self.carry,
                lambda size: (
                    None if self._add(self.micro_usd, day, size, micro_usd_cap) else self.micro_usd[day]
                ),
            )
        else:
            reserved = self._reserve(self.micro_usd, f"day#{day}", day, micro_usd, micro_usd_cap)
        if not reserved:
            self.carry.add(f"task#{task_id}", -tokens)
            raise BudgetExceeded("daily_usd")

    def settle(self, task_id: str, day: str, tokens: int, micro_usd: int) -> None:
        self.carry.add(f"task#{task_id}", tokens)
        if not self.leases.keep(f"day#{day}", -micro_usd):
            self.carry.add(f"day#{day}", micro_usd)

    def spent_micro_usd(self, day: str) -> int:
        return self.micro_usd.get(day, 0) + self.carry.peek(f"day#{day}") - self.leases.peek(f"day#{day}")

    def spent_tokens(self, task_id: str) -> int:
        return self.tokens.get(task_id, 0) + self.carry.peek(f"task#{task_id}")

    def _reserve(self, counters: dict[str, int], name: str, key: str, amount: int, cap: int) -> bool:
        carried = self.carry.take(name)
        total = amount + carried
        if total > cap:
            self.carry.put_back(name, carried)
            return False
        if not amount and not carried:
            return True
        if not self._add(counters, key, total, cap):
            self.carry.put_back(name, carried)
            return False
        return True

    def _add(self, counters: dict[str, int], key: str, amount: int, cap: int) -> bool:
        with _CONDITIONAL_WRITE:  # DynamoDB evaluates a condition and applies the update atomically
            self.writes += 1
            if key in counters and counters[key] > cap - amount:
                return False
            counters[key] = counters.get(key, 0) + amount
        return True


@dataclass
class MemoryLlmCache:
    clock: FakeClock = field(default_factory=FakeClock)
    entries: dict[str, tuple[str, int]] = field(default_factory=dict)

    def get(self, key: str) -> dict[str, Any] | None:
        if key not in self.entries:
            return None
        value, expires_at = self.entries[key]
        if expires_at < self.clock():
            return None
        loaded: dict[str, Any] = json.loads(value)
        return loaded

    def put(self, key: str, value: dict[str, Any], ttl_seconds: int) -> None:
        self.entries[key] = (json.dumps(value), int(self.clock()) + ttl_seconds)


@dataclass
class MemoryBreakerStore:
    items: dict[str, dict[str, Any]] = field(default_factory=dict)

    def read(self, service: str) -> BreakerRecord:
        item = self.items.get(service)
        if item is None:
            return BreakerRecord()
        numbers = {
            name: float(item[name])
            for name in ("failures", "window_start", "open_until", "probe_until")
            if name in item
        }
        return BreakerRecord(
            state=BreakerState(item["state"]), version=int(item.get("version", 0)), **numbers
        )

    def start_probe(self, service: str, version: int, lease_until: float) -> bool:
        item = self.items.get(service)
        if item is None or item.get("version") != version:
            return False
        item.update(state=BreakerState.HALF_OPEN.value, probe_until=_stored(lease_until), version=version + 1)
        return True

    def close(self, service: str, now: float) -> bool:
        item = self.items.get(service)
        if item is None or item.get("state") != BreakerState.HALF_OPEN.value:
            return False
        item.update(state=BreakerState.CLOSED.value, failures=0, window_start=_stored(now))
        item["version"] += 1
        item.pop("open_until", None)
        item.pop("probe_until", None)
        return True

    def count_failure(self, service: str, now: float, window_seconds: float) -> int | None:
        cut = _stored(now - window_seconds)
        item = self.items.get(service)
        closed = item is not None and item.get("state") == BreakerState.CLOSED.value
        if item is not None and closed and "window_start" in item and item["window_start"] > cut:
            item["failures"] = item.get("failures", 0) + 1
            return int(item["failures"])
        if item is None or (closed and "window_start" in item and item["window_start"] <= cut):
            fresh = item if item is not None else {}
            fresh.update(state=BreakerState.CLOSED.value, failures=1, window_start=_stored(now))
            fresh["version"] = fresh.get("version", 0) + 1
            self.items[service] = fresh
            return 1
        return None

    def open(self, service: str, now: float, until: float, *, from_state: BreakerState) -> bool:
        item = self.items.get(service)
        if item is None or item.get("state") != from_state.value:
            return False
        item.update(
            state=BreakerState.OPEN.value, open_until=_stored(until), opened_at=_stored(now), failures=0
        )
        item["version"] += 1
        item.pop("probe_until", None)
        return True


@dataclass
class MemoryCursorStore:
    cursors: dict[str, str] = field(default_factory=dict)

    def get(self, feed: str) -> str | None:
        return self.cursors.get(feed)

    def put(self, feed: str, cursor: str) -> None:
        self.cursors[feed] = cursor


@dataclass
class MemoryReportStore:
    reports: dict[str, dict[str, str]] = field(default_factory=dict)  # day → at → the report as stored

    def save(self, at: str, report: dict[str, Any]) -> None:
        self.reports.setdefault(at[:10], {})[at] = json.dumps(report)

    def on(self, day: str) -> list[dict[str, Any]]:
        stored = self.reports.get(day, {})
        return [json.loads(stored[at]) for at in sorted(stored)]


@dataclass
class MemoryDelayQueue:
    """The follow-ups queue: what was scheduled, with its delay as SQS would apply it."""

    scheduled: list[tuple[FollowUp, int]] = field(default_factory=list)

    def schedule(self, followup: FollowUp, delay_seconds: int) -> str:
        self.scheduled.append((followup, max(0, min(delay_seconds, MAX_DELAY_SECONDS))))
        return f"delayed-{len(self.scheduled)}"
