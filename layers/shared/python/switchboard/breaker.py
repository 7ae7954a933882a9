"""A circuit breaker per external service, its state in the memory table, shared by every worker.

Item ``breaker#{service}`` / ``breaker`` (attribute ``state``: closed, open or half_open):
- ``closed``: calls go through. Transient failures are counted in a fixed window (``failures`` since
  ``window_start``); the ``failure_threshold``-th failure within ``window_seconds`` opens the breaker.
  Permanent errors do not count: the service answered, the request was wrong.
- ``open`` until ``open_until`` (``cooldown_seconds`` after it opened): no call is made; the message waits
  (the act layer turns ``BreakerOpen.retry_in`` into a visibility change) and the task's history says so.
- ``half_open``: after the cool-down, exactly one worker wins a conditional write (on ``version``) and makes
  one probe call, holding the probe for ``probe_lease_seconds`` (so a crashed prober does not keep it half
  open forever). A probe that gets any answer from the service closes the breaker; a transient failure opens
  it again for another cool-down.

Every transition is a conditional write, so two workers never both open, probe or close. The state is
emitted as the ``BreakerOpen`` metric (1 open or half open, 0 closed) with the dimension ``service``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from aws_lambda_powertools import Logger

from switchboard.aws import LazyClient
from switchboard.errors import SwitchboardError
from switchboard.metrics import Metric, count

logger = Logger(child=True)


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class BreakerConfig:
    failure_threshold: int = 5
    window_seconds: float = 60.0
    cooldown_seconds: float = 30.0
    probe_lease_seconds: float = 30.0

    def __post_init__(self) -> None:
        if self.failure_threshold < 1 or min(self.window_seconds, self.cooldown_seconds) <= 0:
            raise ValueError("breaker: threshold >= 1, window and cool-down > 0")


@dataclass(frozen=True)
class Permit:
    """Leave to make one call; ``probe`` when it is the half-open probe."""

    probe: bool = False


class BreakerOpen(SwitchboardError):
    """The service's breaker is open (or another worker is probing): make no call, try again later."""

    def __init__(self, service: str, state: BreakerState, retry_in: float) -> None:
        super().__init__(f"{service}: circuit {state.value}, next try in {retry_in:.1f}s")
        self.service = service
        self.state = state
        self.retry_in = max(0.0, retry_in)
        self.reason = f"circuit breaker {state.value} for {service}"


class CircuitBreaker:
    def __init__(
        self,
        service: str,
        table_name: str,
        config: BreakerConfig | None = None,
        dynamodb: Any = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.service = service
        self.table_name = table_name
        self.config = config or BreakerConfig()
        self._dynamodb = dynamodb
        self.clock = clock

    dynamodb = LazyClient("dynamodb")

    @property
    def key(self) -> dict[str, Any]:
        return {"pk": {"S": f"breaker#{self.service}"}, "sk": {"S": "breaker"}}

    # -- what the act layer calls ----------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """The stored state: ``state``, ``version``, ``failures``, ``window_start``, ``open_until``…"""
        item = self.dynamodb.get_item(TableName=self.table_name, Key=self.key, ConsistentRead=True).get(
            "Item"
        )
        if not item:
            return {"state": BreakerState.CLOSED.value, "failures": 0, "version": 0}
        plain: dict[str, Any] = {"state": item["state"]["S"], "version": int(item["version"]["N"])}
        for name in ("failures", "window_start", "open_until", "probe_until"):
            if name in item:
                plain[name] = float(item[name]["N"])
        return plain

    def acquire(self) -> Permit:
        """A permit to call, or ``BreakerOpen``. After the cool-down one caller wins the probe."""
        stored = self.state()
        state = BreakerState(stored["state"])
        now = self.clock()
        if state is BreakerState.CLOSED:
            self._emit(False)
            return Permit()
        until = (
            stored.get("open_until", 0.0) if state is BreakerState.OPEN else stored.get("probe_until", 0.0)
        )
        if now < until:
            self._emit(True)
            raise BreakerOpen(self.service, state, until - now)
        try:
            self._write(
                "SET #s = :half, probe_until = :lease, #v = #v + :one",
                "#v = :version",
                {":half": _s(BreakerState.HALF_OPEN), ":lease": _n(now + self.config.probe_lease_seconds)}
                | {":version": _n(stored["version"]), ":one": _n(1)},
            )
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            self._emit(True)
            raise BreakerOpen(self.service, BreakerState.HALF_OPEN, self.config.probe_lease_seconds) from None
        self._emit(True)
        logger.info("circuit half open: probing", service=self.service)
        return Permit(probe=True)

    def record_success(self, permit: Permit) -> BreakerState | None:
        """The service answered. Returns ``CLOSED`` when this closed the breaker (a successful probe)."""
        if not permit.probe:
            return None
        try:
            self._write(
                "SET #s = :closed, failures = :zero, window_start = :now, #v = #v + :one "
                "REMOVE open_until, probe_until",
                "#s = :half",
                {":closed": _s(BreakerState.CLOSED), ":half": _s(BreakerState.HALF_OPEN)}
                | {":zero": _n(0), ":now": _n(self.clock()), ":one": _n(1)},
            )
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            return None
        self._emit(False)
        logger.info("circuit closed after a successful probe", service=self.service)
        return BreakerState.CLOSED

    def record_failure(self, permit: Permit) -> BreakerState | None:
        """A transient failure. Returns ``OPEN`` when this failure opened (or re-opened) the breaker."""
        now = self.clock()
        if permit.probe:
            return self._open(now, "#s = :half", {":half": _s(BreakerState.HALF_OPEN)}, reopened=True)
        failures = self._count_failure(now)
        if failures is None or failures < self.config.failure_threshold:
            return None
        return self._open(now, "#s = :closed", {":closed": _s(BreakerState.CLOSED)}, reopened=False)

    # -- the writes ------------------------------------------------------------------------------------------

    def _count_failure(self, now: float) -> int | None:
        """Add one failure to the current window (or start a new one). None when the breaker is not closed."""
        closed = {":closed": _s(BreakerState.CLOSED), ":cut": _n(now - self.config.window_seconds)}
        try:
            response = self._write(
                "ADD failures :one",
                "#s = :closed AND window_start > :cut",
                closed | {":one": _n(1)},
                returns=True,
            )
            return int(response["Attributes"]["failures"]["N"])
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            pass
        try:
            self._write(
                "SET #s = :closed, failures = :one, window_start = :now, "
                "#v = if_not_exists(#v, :zero) + :one",
                "attribute_not_exists(pk) OR (#s = :closed AND window_start <= :cut)",
                closed | {":one": _n(1), ":now": _n(now), ":zero": _n(0)},
            )
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            return None  # opened meanwhile, or another worker started the window: this failure is a rounding
        return 1

    def _open(
        self, now: float, condition: str, values: dict[str, Any], *, reopened: bool
    ) -> BreakerState | None:
        try:
            self._write(
                "SET #s = :open, open_until = :until, opened_at = :now, failures = :zero, #v = #v + :one "
                "REMOVE probe_until",
                condition,
                values
                | {":open": _s(BreakerState.OPEN), ":until": _n(now + self.config.cooldown_seconds)}
                | {":now": _n(now), ":zero": _n(0), ":one": _n(1)},
            )
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            return None
        self._emit(True)
        logger.warning(
            "circuit re-opened by a failed probe" if reopened else "circuit opened",
            service=self.service,
            cooldown_seconds=self.config.cooldown_seconds,
        )
        return BreakerState.OPEN

    def _write(self, update: str, condition: str, values: dict[str, Any], *, returns: bool = False) -> Any:
        return self.dynamodb.update_item(
            TableName=self.table_name,
            Key=self.key,
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeNames=_names(update + " " + condition),
            ExpressionAttributeValues=values,
            ReturnValues="UPDATED_NEW" if returns else "NONE",
        )

    def _emit(self, is_open: bool) -> None:
        count(Metric.BREAKER_OPEN, 1 if is_open else 0, service=self.service)


def _names(expression: str) -> dict[str, str]:
    return {alias: name for alias, name in (("#s", "state"), ("#v", "version")) if alias in expression}


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: float) -> dict[str, str]:
    return {"N": repr(round(value, 3)) if isinstance(value, float) else str(value)}
