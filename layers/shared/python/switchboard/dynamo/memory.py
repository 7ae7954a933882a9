"""The memory table's simple item kinds: seen marks, author profiles (with their request counts) and acting
rate windows, feed cursors, triage reports. Keys from ``switchboard.dynamo.keys``; the ports they implement
in ``switchboard.ports``."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from switchboard.aws import ConditionFailed
from switchboard.dynamo.keys import TRIAGE_CHUNK_MARK, Keys
from switchboard.dynamo.table import Table
from switchboard.memory import DAY, AuthorProfile, CountedRequest
from switchboard.ports import Clock

if TYPE_CHECKING:
    from switchboard.models import InboundEvent


class DynamoSeenLog:
    """``SeenLog``: "did the door already take this delivery?", in one conditional write.

    ``first_sight`` is a ``PutItem`` with ``attribute_not_exists(pk)``: it writes the mark when there is none
    and otherwise, through ``ReturnValuesOnConditionCheckFailure=ALL_OLD``, answers when the earlier mark was
    written, in the same request (no read first: that read was one request per event for the rare
    duplicate). The door writes the mark before it sends; why that never loses an event is
    ``switchboard.ingest.Enqueuer``'s to say. ``forget`` removes a mark whose send failed; ``claimed`` reads
    the classifier's claim, the event's task (``tasks_table``), which the door consults only for a mark too
    old for the queue's own deduplication. Marks expire (TTL) after ``ttl_days``.
    """

    def __init__(
        self,
        table_name: str,
        ttl_days: int,
        dynamodb: Any = None,
        clock: Clock = time.time,
        *,
        tasks_table: str,
    ) -> None:
        self.table = Table(table_name, dynamodb)
        self.tasks = Table(tasks_table, dynamodb)
        self.ttl_seconds = ttl_days * DAY
        self.clock = clock

    def first_sight(self, platform: str, event_id: str) -> float | None:
        now = round(self.clock(), 3)
        try:
            self.table.put(
                {
                    **Keys.seen(platform, event_id),
                    "seen_at": {"N": str(now)},
                    "expires_at": {"N": str(int(now) + self.ttl_seconds)},
                },
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ConditionFailed as failed:
            earlier = (failed.item or {}).get("seen_at", {}).get("N")
            return float(earlier) if earlier is not None else 0.0  # a mark without a time: as old as any
        return None

    def forget(self, platform: str, event_id: str) -> None:
        self.table.delete(Keys.seen(platform, event_id))

    def claimed(self, event: InboundEvent) -> bool:
        """Whether the event's task exists, or else a claim an earlier version wrote (before 2026-12-03:
        ``processed#`` and ``content#`` items, which expire 14 days after it). A rare path: only for a mark
        too old for the queue's deduplication."""
        if self.tasks.get(Keys.task(event.task_id), projection="pk") is not None:
            return True
        platform = event.platform.value
        keys = [Keys.claim(platform, event.event_id)]
        if event.content_id is not None:
            keys.append(Keys.content_claim(platform, event.content_id))
        return any(self.table.get(key, projection="pk") is not None for key in keys)


#: How long classify and decide reuse an author's profile across the events of one process
#: (``DynamoAuthorDirectory.profile_max_age_seconds``): a burst of one author's events (a thread, a flood, the
#: rate limit's own case) reads it once, and a block or trust change reaches new events at most this much
#: later, on top of the eventually consistent read's own lag. Within one event the policy gate keeps what it
#: read (``switchboard.policy.STANDING_MAX_AGE_SECONDS``).
PROFILE_MAX_AGE_SECONDS = 10.0


#: A request count is an attribute of the author's profile item, named by its window's start
#: (``rate_1733140800``): the count that answers an event comes back with the flags the rules need.
WINDOW_PREFIX = "rate_"

#: How many ended windows' counts a profile item may keep (a count removes the window before its own in the
#: same request, so an ended one stays only when its author came back after a longer gap). Past this many,
#: the count that finds them removes them in one more request: an item holds at most this many plus the
#: current window's, and that request comes at most once per so many returns after a gap.
MAX_ENDED_WINDOWS = 8


def _profile_of(item: dict[str, Any]) -> AuthorProfile:
    return AuthorProfile(
        blocked=item.get("blocked", {}).get("BOOL", False),
        trusted=item.get("trusted", {}).get("BOOL", False),
        note=item.get("note", {}).get("S"),
    )


def _is_flagged(item: dict[str, Any] | None) -> bool:
    """Trusted or blocked, by the item a refused count returned (no item: not known to be either)."""
    profile = _profile_of(item or {})
    return profile.trusted or profile.blocked


def _ended_windows(item: dict[str, Any], start: int) -> list[str]:
    """The profile item's counts of windows that began before ``start`` (``rate_{start}`` attributes)."""
    ended = []
    for name in item:
        began = name.removeprefix(WINDOW_PREFIX)
        if began != name and began.isdigit() and int(began) < start:
            ended.append(name)
    return ended


class DynamoAuthorDirectory:
    """``AuthorDirectory``: block list, trusted accounts, and request counts per window.

    The flags and the rate limit's counts share the author's profile item, so ``count_request`` is one
    ``UpdateItem`` that counts and returns the flags (``ALL_NEW``), where a read and a count were two. Its
    condition leaves trusted and blocked authors uncounted (their item as it stands comes back in the refusal,
    ``ALL_OLD``, so they too cost one request). A window's count is an attribute named by its start: a count
    adds to its own window's and removes the one before, and ``MAX_ENDED_WINDOWS`` bounds what a gap leaves.
    A count sets the item to expire a day after its window, as the rate windows' items did, unless an
    operator wrote the profile: ``set_flags`` sets the flags with ``SET`` (the counts stay), removes that
    expiry and notes when (``updated_at``), and a profile so written is counted without an expiry (a second
    request, for those authors only), so a block, a trust or a note is never lost. ``count_once``'s windows
    are items of their own (``Keys.rate_window``), each with the keys it counted, and an expiry a day after
    the window ends.

    With ``profile_max_age_seconds`` a profile read is reused for that long (monotonic clock), so the rules
    and the policy gate of one event, and a burst of one author's events, read it once: a trust or block
    change then applies that much later, on top of the eventually consistent read's own lag. A count keeps
    the flags it returned the same way, and a trusted or blocked author kept so is not asked again (they are
    not counted). A flag set through this instance drops its copy.
    """

    def __init__(
        self,
        table_name: str,
        dynamodb: Any = None,
        clock: Clock = time.time,
        *,
        profile_max_age_seconds: float = 0.0,
    ) -> None:
        self.table = Table(table_name, dynamodb)
        self.clock = clock
        self.profile_max_age_seconds = profile_max_age_seconds
        self._profiles: dict[tuple[str, str], tuple[float, AuthorProfile]] = {}

    def profile(self, platform: str, author: str) -> AuthorProfile:
        kept = self._kept(platform, author)
        if kept is not None:
            return kept
        item = self.table.get(Keys.profile(platform, author), consistent=False)
        return self._keep(platform, author, _profile_of(item or {}))

    def set_flags(self, platform: str, author: str, *, blocked: bool, trusted: bool, note: str = "") -> None:
        self._profiles.pop((platform, author), None)
        self.table.update(
            Keys.profile(platform, author),
            "SET #blocked = :blocked, #trusted = :trusted, #note = :note, updated_at = :now"
            " REMOVE expires_at",
            ExpressionAttributeNames={"#blocked": "blocked", "#trusted": "trusted", "#note": "note"},
            ExpressionAttributeValues={
                ":blocked": {"BOOL": blocked},
                ":trusted": {"BOOL": trusted},
                ":note": {"S": note},
                ":now": {"N": str(int(self.clock()))},
            },
        )

    def count_request(
        self, platform: str, author: str, window_seconds: int, now: float | None = None
    ) -> CountedRequest:
        now = self.clock() if now is None else now
        start = int(now) // window_seconds * window_seconds
        kept = self._kept(platform, author)
        if kept is not None and (kept.trusted or kept.blocked):
            return CountedRequest(platform, author, start, kept, None)
        key = Keys.profile(platform, author)

        def uncounted(refusal: ConditionFailed) -> CountedRequest:
            """Not counted: the flags as they stand. The refusal carries the item (ALL_OLD); were it ever
            missing, a read, never a default profile."""
            stood = _profile_of(refusal.item or self.table.get(key) or {})
            return CountedRequest(platform, author, start, self._keep(platform, author, stood), None)

        try:
            item = self._count(key, start, window_seconds, expiring=True)
        except ConditionFailed as refused:
            if _is_flagged(refused.item):
                return uncounted(refused)
            try:  # an operator wrote this profile (a note, a lifted block): counted, and it does not expire
                item = self._count(key, start, window_seconds, expiring=False)
            except ConditionFailed as flagged:  # flagged in between
                return uncounted(flagged)
        ended = _ended_windows(item, start)
        if len(ended) > MAX_ENDED_WINDOWS:
            self.table.update(
                key,
                "REMOVE " + ", ".join(f"#e{n}" for n in range(len(ended))),
                ExpressionAttributeNames={f"#e{n}": name for n, name in enumerate(ended)},
            )
        profile = self._keep(platform, author, _profile_of(item))
        return CountedRequest(platform, author, start, profile, int(item[f"{WINDOW_PREFIX}{start}"]["N"]))

    def _count(
        self, key: dict[str, Any], start: int, window_seconds: int, *, expiring: bool
    ) -> dict[str, Any]:
        """One request counted in its window, the window before removed, the item after it (``ALL_NEW``);
        ``ConditionFailed`` (with the item as it stood) for a trusted or blocked author and, when
        ``expiring`` (the item set to expire a day after the window), for a profile an operator wrote
        (``set_flags``' ``updated_at``), whose note and flags must not expire."""
        condition = (
            "(attribute_not_exists(#trusted) OR #trusted = :no) "
            "AND (attribute_not_exists(#blocked) OR #blocked = :no)"
        )
        update = "SET #now = if_not_exists(#now, :zero) + :one"
        names = {
            "#trusted": "trusted",
            "#blocked": "blocked",
            "#now": f"{WINDOW_PREFIX}{start}",
            "#before": f"{WINDOW_PREFIX}{start - window_seconds}",
        }
        values = {":zero": {"N": "0"}, ":one": {"N": "1"}, ":no": {"BOOL": False}}
        if expiring:
            condition += " AND attribute_not_exists(#written)"
            update += ", expires_at = :ttl"
            names["#written"] = "updated_at"
            values[":ttl"] = {"N": str(start + window_seconds + DAY)}
        return self.table.update(
            key,
            update + " REMOVE #before",
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )

    def give_back(self, counted: CountedRequest) -> None:
        if counted.count is None:
            return
        try:
            self.table.update(
                Keys.profile(counted.platform, counted.author),
                "SET #window = #window - :one",
                ConditionExpression="attribute_exists(#window)",
                ExpressionAttributeNames={"#window": f"{WINDOW_PREFIX}{counted.window_start}"},
                ExpressionAttributeValues={":one": {"N": "1"}},
            )
        except ConditionFailed:
            return  # a later window's count removed this one: the place is no longer anyone's to take

    def _kept(self, platform: str, author: str) -> AuthorProfile | None:
        """The profile kept from a read or a count less than ``profile_max_age_seconds`` ago, or None."""
        if self.profile_max_age_seconds <= 0:
            return None
        kept = self._profiles.get((platform, author))
        if kept is not None and time.monotonic() - kept[0] < self.profile_max_age_seconds:
            return kept[1]
        return None

    def _keep(self, platform: str, author: str, profile: AuthorProfile) -> AuthorProfile:
        if self.profile_max_age_seconds > 0:
            if len(self._profiles) > 1024:  # a bound, not an LRU: the copies live seconds
                self._profiles.clear()
            self._profiles[(platform, author)] = (time.monotonic(), profile)
        return profile

    def count_once(
        self, platform: str, author: str, window_seconds: int, key: str, limit: int, now: float | None = None
    ) -> int:
        """Count ``key`` (an action id) in the author's current window at most once; the count with it, or
        ``limit + 1`` when the window is full. A key counted before answers the count it was allowed at or
        less (a retried dispatch is not counted twice); the window remembers at most ``limit`` keys."""
        now = self.clock() if now is None else now
        start = int(now) // window_seconds * window_seconds
        window = Keys.rate_window(platform, author, start)
        try:
            attributes = self.table.update(
                window,
                "ADD #c :one, #k :keys SET expires_at = :ttl",
                ConditionExpression="attribute_not_exists(#c) OR (NOT contains(#k, :key) AND #c < :limit)",
                ExpressionAttributeNames={"#c": "count", "#k": "keys"},
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":keys": {"SS": [key]},
                    ":key": {"S": key},
                    ":limit": {"N": str(limit)},
                    ":ttl": {"N": str(start + window_seconds + DAY)},
                },
                ReturnValues="UPDATED_NEW",
            )
        except ConditionFailed:
            item = self.table.get(window, consistent=True) or {}
            counted = key in item.get("keys", {}).get("SS", [])
            return min(int(item.get("count", {}).get("N", "0")), limit) if counted else limit + 1
        return int(attributes["count"]["N"])


class DynamoCursorStore:
    """``CursorStore``: each polled feed's cursor."""

    def __init__(self, table_name: str, dynamodb: Any = None, clock: Clock = time.time) -> None:
        self.table = Table(table_name, dynamodb)
        self.clock = clock

    def get(self, feed: str) -> str | None:
        item = self.table.get(Keys.cursor(feed))
        return str(item["cursor"]["S"]) if item else None

    def put(self, feed: str, cursor: str) -> None:
        self.table.put(
            {**Keys.cursor(feed), "cursor": {"S": cursor}, "updated_at": {"N": str(int(self.clock()))}}
        )


class DynamoReportStore:
    """``ReportStore``: the daily DLQ triage's reports, one partition per UTC day, sorted by ``at``.

    A report can outgrow one item (DynamoDB's item limit is 400 KB, names and values together:
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html, "Item size"; about
    1,300 dead letters). So its ``messages`` are stored apart, as the bytes of their JSON cut into chunks of
    ``CHUNK_BYTES`` (binary attributes), each its own item under the day's partition, and the report's
    summary goes in a manifest item that names how many chunks there are. The chunks are written first and
    the manifest last: a reader sees a report only once all of it is there.
    """

    #: Well under the 400 KB item limit, with room for the keys and the expiry.
    CHUNK_BYTES = 256 * 1024

    def __init__(
        self, table_name: str, ttl_days: int = 90, dynamodb: Any = None, clock: Clock = time.time
    ) -> None:
        self.table = Table(table_name, dynamodb)
        self.ttl_seconds = ttl_days * DAY
        self.clock = clock

    def save(self, at: str, report: dict[str, Any]) -> None:
        day = at[:10]
        expires = {"expires_at": {"N": str(int(self.clock()) + self.ttl_seconds)}}
        summary = {name: value for name, value in report.items() if name != "messages"}
        chunks = 0
        if "messages" in report:
            payload = json.dumps(report["messages"]).encode()
            pieces = [
                payload[start : start + self.CHUNK_BYTES]
                for start in range(0, len(payload), self.CHUNK_BYTES)
            ]
            for index, piece in enumerate(pieces):
                self.table.put({**Keys.triage_report_chunk(day, at, index), "part": {"B": piece}, **expires})
            chunks = len(pieces)
        self.table.put(
            {
                **Keys.triage_report(day, at),
                "report": {"S": json.dumps(summary)},
                "chunks": {"N": str(chunks)},
                "has_messages": {"BOOL": "messages" in report},
                **expires,
            }
        )

    def on(self, day: str) -> list[dict[str, Any]]:
        items = self.table.query_all(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": Keys.triage_reports(day)}},
            ConsistentRead=True,
        )
        parts: dict[str, list[bytes]] = {}
        for item in items:
            at, mark, _ = item["sk"]["S"].partition(TRIAGE_CHUNK_MARK)
            if mark:
                parts.setdefault(at, []).append(bytes(item["part"]["B"]))
        reports = []
        for item in items:
            if TRIAGE_CHUNK_MARK in item["sk"]["S"]:
                continue
            report = json.loads(item["report"]["S"])
            if item.get("has_messages", {}).get("BOOL"):
                pieces = parts.get(item["sk"]["S"], [])
                if len(pieces) != int(item.get("chunks", {}).get("N", "0")):
                    continue  # a report still being written (or half expired): not there yet
                report["messages"] = json.loads(b"".join(pieces))
            reports.append(report)
        return reports
