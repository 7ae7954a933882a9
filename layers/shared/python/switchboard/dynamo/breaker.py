"""``BreakerStore``: each service's circuit breaker, one item (``breaker#{service}``), moved only by
conditional writes (on ``state`` and ``version``), so two workers never both open, probe or close. A move
whose condition no longer holds lost the race to another worker: it returns False (or None) and writes
nothing. The policy (when to move) is ``switchboard.breaker``'s."""

from __future__ import annotations

import time
from typing import Any

from switchboard.aws import ConditionFailed
from switchboard.dynamo.items import n, s
from switchboard.dynamo.keys import Keys
from switchboard.dynamo.table import Table
from switchboard.memory import BreakerRecord, BreakerState

#: How long an act worker reuses a CLOSED record (``DynamoBreakerStore.closed_max_age_seconds``). Another
#: worker's opening reaches it after at most this long or its own next transient failure, whichever comes
#: first: counting that failure is a conditional write, which drops the copy, and so the next call reads the
#: record afresh. The calls it makes meanwhile are ones the service answered (permanent errors do not count).
CLOSED_MAX_AGE_SECONDS = 10.0


class DynamoBreakerStore:
    """With ``closed_max_age_seconds`` a CLOSED record is reused for that long (monotonic clock), so a
    worker's calls through a closed breaker cost no read each: another worker's opening is seen that much
    later (its calls in between still count as failures only while the breaker is closed, by condition).
    Any move this store makes, and any record that is not CLOSED, is read afresh."""

    def __init__(self, table_name: str, dynamodb: Any = None, *, closed_max_age_seconds: float = 0.0) -> None:
        self.table = Table(table_name, dynamodb)
        self.closed_max_age_seconds = closed_max_age_seconds
        self._closed: dict[str, tuple[float, BreakerRecord]] = {}

    def read(self, service: str) -> BreakerRecord:
        kept = self._closed.get(service)
        if kept is not None and time.monotonic() - kept[0] < self.closed_max_age_seconds:
            return kept[1]
        record = self._read(service)
        if record.state is BreakerState.CLOSED and self.closed_max_age_seconds > 0:
            self._closed[service] = (time.monotonic(), record)
        else:
            self._closed.pop(service, None)
        return record

    def _read(self, service: str) -> BreakerRecord:
        item = self.table.get(Keys.breaker(service))
        if not item:
            return BreakerRecord()
        numbers = {
            name: float(item[name]["N"])
            for name in ("failures", "window_start", "open_until", "probe_until")
            if name in item
        }
        return BreakerRecord(
            state=BreakerState(item["state"]["S"]),
            version=int(item.get("version", {"N": "0"})["N"]),
            **numbers,
        )

    def start_probe(self, service: str, version: int, lease_until: float) -> bool:
        """Half open, the probe held until ``lease_until``, if nobody moved the breaker since ``version``."""
        return self._move(
            service,
            "SET #s = :half, probe_until = :lease, #v = #v + :one",
            "#v = :version",
            {":half": s(BreakerState.HALF_OPEN), ":lease": n(lease_until)}
            | {":version": n(version), ":one": n(1)},
        )

    def close(self, service: str, now: float) -> bool:
        """Closed with a fresh window, if it is half open (the probe's answer)."""
        return self._move(
            service,
            "SET #s = :closed, failures = :zero, window_start = :now, #v = #v + :one "
            "REMOVE open_until, probe_until",
            "#s = :half",
            {":closed": s(BreakerState.CLOSED), ":half": s(BreakerState.HALF_OPEN)}
            | {":zero": n(0), ":now": n(now), ":one": n(1)},
        )

    def count_failure(self, service: str, now: float, window_seconds: float) -> int | None:
        """One more failure in the window that started after ``now - window_seconds`` (or a new window).
        The failures counted so far; None when the breaker is not closed, or another worker started the
        window meanwhile."""
        closed = {":closed": s(BreakerState.CLOSED), ":cut": n(now - window_seconds)}
        try:
            attributes = self._write(
                service,
                "ADD failures :one",
                "#s = :closed AND window_start > :cut",
                closed | {":one": n(1)},
                returns=True,
            )
            return int(attributes["failures"]["N"])
        except ConditionFailed:
            pass
        started = self._move(
            service,
            "SET #s = :closed, failures = :one, window_start = :now, #v = if_not_exists(#v, :zero) + :one",
            "attribute_not_exists(pk) OR (#s = :closed AND window_start <= :cut)",
            closed | {":one": n(1), ":now": n(now), ":zero": n(0)},
        )
        return 1 if started else None

    def open(self, service: str, now: float, until: float, *, from_state: BreakerState) -> bool:
        """Open until ``until``, if it is still ``from_state`` (closed, or half open after a failed probe)."""
        return self._move(
            service,
            "SET #s = :open, open_until = :until, opened_at = :now, failures = :zero, #v = #v + :one "
            "REMOVE probe_until",
            "#s = :from",
            {":from": s(from_state), ":open": s(BreakerState.OPEN), ":until": n(until)}
            | {":now": n(now), ":zero": n(0), ":one": n(1)},
        )

    def _move(self, service: str, update: str, condition: str, values: dict[str, Any]) -> bool:
        try:
            self._write(service, update, condition, values)
        except ConditionFailed:
            return False
        return True

    def _write(
        self, service: str, update: str, condition: str, values: dict[str, Any], *, returns: bool = False
    ) -> dict[str, Any]:
        self._closed.pop(service, None)
        names = {
            alias: name for alias, name in (("#s", "state"), ("#v", "version")) if alias in update + condition
        }
        return self.table.update(
            Keys.breaker(service),
            update,
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="UPDATED_NEW" if returns else "NONE",
        )
