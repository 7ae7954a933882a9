"""EventBridge schedules (`AWS::Events::Rule` with a `ScheduleExpression`) fired on the local clock.

Supported expressions: `rate(N minute|minutes|hour|hours|day|days)` (the first firing is one period after
start, as on AWS), and `cron(minutes hours day-of-month month day-of-week year)` evaluated in UTC, each field
being `*`, `?`, a number, a range `a-b`, a list `a,b`, or a step `*/n` / `a/n` (month and day-of-week names
allowed, day-of-week 1-7 = SUN-SAT). `L`, `W` and `#` are refused with a clear error.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from tools.local.template import ACCOUNT_ID, REGION

logger = logging.getLogger("switchboard.local")


class ScheduleError(ValueError):
    """A schedule expression the local runtime cannot evaluate."""


_RATE = re.compile(r"rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)")
_CRON = re.compile(r"cron\((.*)\)")
_UNIT_SECONDS: Final = {"minute": 60, "hour": 3600, "day": 86400}
_MONTH_NAMES: Final = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAY_NAMES: Final = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_MONTHS: Final = {name: index for index, name in enumerate(_MONTH_NAMES, 1)}
_DAYS: Final = {name: index for index, name in enumerate(_DAY_NAMES, 1)}


@dataclass(frozen=True)
class RateSchedule:
    seconds: int


@dataclass(frozen=True)
class CronSchedule:
    """A cron expression; `None` in a field means "any"."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: frozenset[int] | None
    months: frozenset[int]
    days_of_week: frozenset[int] | None
    years: frozenset[int] | None

    def matches(self, moment: datetime) -> bool:
        """Whether the schedule fires in the (UTC) minute of `moment`."""
        moment = moment.astimezone(UTC)
        aws_day_of_week = (moment.weekday() + 1) % 7 + 1  # Monday is 0 in Python, 2 in EventBridge
        return (
            moment.minute in self.minutes
            and moment.hour in self.hours
            and moment.month in self.months
            and (self.days_of_month is None or moment.day in self.days_of_month)
            and (self.days_of_week is None or aws_day_of_week in self.days_of_week)
            and (self.years is None or moment.year in self.years)
        )


Schedule = RateSchedule | CronSchedule


def parse_schedule_expression(expression: str) -> Schedule:
    text = expression.strip()
    rate = _RATE.fullmatch(text)
    if rate:
        amount, unit = int(rate.group(1)), rate.group(2).rstrip("s")
        if amount < 1:
            raise ScheduleError(f"{expression}: the rate must be positive")
        return RateSchedule(amount * _UNIT_SECONDS[unit])
    cron = _CRON.fullmatch(text)
    if not cron:
        raise ScheduleError(f"{expression}: expected rate(...) or cron(...)")
    fields = cron.group(1).split()
    if len(fields) != 6:
        raise ScheduleError(
            f"{expression}: cron needs 6 fields (minutes hours day-of-month month day-of-week year)"
        )
    minutes, hours, day_of_month, month, day_of_week, year = fields
    if (day_of_month == "?") == (day_of_week == "?"):
        raise ScheduleError(f"{expression}: exactly one of day-of-month and day-of-week must be '?'")
    return CronSchedule(
        minutes=_field(minutes, 0, 59, {}, expression),
        hours=_field(hours, 0, 23, {}, expression),
        days_of_month=_optional_field(day_of_month, 1, 31, {}, expression),
        months=_field(month, 1, 12, _MONTHS, expression),
        days_of_week=_optional_field(day_of_week, 1, 7, _DAYS, expression),
        years=_optional_field(year, 1970, 2199, {}, expression),
    )


def _optional_field(
    text: str, low: int, high: int, names: dict[str, int], expression: str
) -> frozenset[int] | None:
    return None if text in ("*", "?") else _field(text, low, high, names, expression)


def _field(text: str, low: int, high: int, names: dict[str, int], expression: str) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = _number(step_text, names, expression) if step_text else 1
        if base in ("*", "?"):
            start, end = low, high
        elif "-" in base:
            first, last = base.split("-", 1)
            start, end = _number(first, names, expression), _number(last, names, expression)
        else:
            start = _number(base, names, expression)
            end = high if step_text else start
        if not low <= start <= end <= high or step < 1:
            raise ScheduleError(f"{expression}: {part!r} is out of range {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


def _number(text: str, names: dict[str, int], expression: str) -> int:
    if text.upper() in names:
        return names[text.upper()]
    if not text.isdigit():
        raise ScheduleError(
            f"{expression}: {text!r} is not supported locally (only numbers, names, * ? - , /)"
        )
    return int(text)


@dataclass(frozen=True)
class RuleTarget:
    """A rule target that is a function. `input` is the target's constant `Input`, parsed, if it has one."""

    function: str
    input: Any = None
    has_input: bool = False


@dataclass(frozen=True)
class ScheduledRule:
    logical_id: str
    name: str
    expression: str
    schedule: Schedule
    targets: tuple[RuleTarget, ...]
    enabled: bool = True

    @property
    def arn(self) -> str:
        return f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{self.name}"


def scheduled_event(rule: ScheduledRule, moment: datetime) -> dict[str, Any]:
    """The event EventBridge sends to a target of a scheduled rule that has no `Input`."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [rule.arn],
        "detail": {},
    }


class Scheduler:
    """Fires each enabled rule on time (in a thread of its own per firing, like an asynchronous invoke)."""

    def __init__(self, rules: list[ScheduledRule], fire: Callable[[ScheduledRule], object]) -> None:
        self._rules = [rule for rule in rules if rule.enabled]
        self._fire = fire
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)

    def start(self) -> None:
        if self._rules:
            self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def _run(self) -> None:
        started = time.time()
        next_rate = {
            rule.logical_id: started + rule.schedule.seconds
            for rule in self._rules
            if isinstance(rule.schedule, RateSchedule)
        }
        next_minute = (int(started) // 60 + 1) * 60
        while True:
            upcoming = min([next_minute, *next_rate.values()])
            if self._stopping.wait(max(0.0, upcoming - time.time())):
                return
            now = time.time()
            for rule in self._rules:
                schedule = rule.schedule
                if isinstance(schedule, RateSchedule) and now >= next_rate[rule.logical_id]:
                    while next_rate[rule.logical_id] <= now:
                        next_rate[rule.logical_id] += schedule.seconds
                    self._dispatch(rule)
            if now >= next_minute:
                minute = datetime.fromtimestamp(next_minute, UTC)
                for rule in self._rules:
                    if isinstance(rule.schedule, CronSchedule) and rule.schedule.matches(minute):
                        self._dispatch(rule)
                next_minute = (int(now) // 60 + 1) * 60

    def _dispatch(self, rule: ScheduledRule) -> None:
        logger.info("schedule %s (%s) fires", rule.logical_id, rule.expression)
        threading.Thread(target=self._fire, args=(rule,), name=f"fire-{rule.logical_id}", daemon=True).start()
