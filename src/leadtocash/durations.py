"""Rule durations that carry their unit, and the working-day calendar they are counted in.

"7 days without follow-up" must say whether it means calendar days, working days of the
organisation's calendar, plain hours, or hours within business hours, and day edges fall at
local midnight of the organisation's time zone, not UTC. ``deadline()`` turns a start instant
and a Duration into the instant the rule fires.
"""

from __future__ import annotations

import enum
import itertools
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

import attrs

from leadtocash.errors import ValidationError
from leadtocash.validators import MAX_DAYS

__all__ = [
    "BusinessHours",
    "Duration",
    "DurationUnit",
    "ProvisionalAware",
    "WeekdayCalendar",
    "WorkingCalendar",
    "add_working_days",
    "count_working_days",
    "deadline",
    "earlier",
    "is_provisional",
    "local_day",
]


_INSTANT = timedelta(microseconds=1)


class DurationUnit(enum.StrEnum):
    """How a duration is counted."""

    CALENDAR_DAYS = "calendar_days"
    WORKING_DAYS = "working_days"
    HOURS = "hours"
    BUSINESS_HOURS = "business_hours"


def _non_negative(_inst: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError.single(attribute.name, "duration.invalid", "must be an int >= 0")
    if value > MAX_DAYS * 24:  # hours; days are held to MAX_DAYS by the class
        raise ValidationError.single(
            attribute.name, "duration.invalid", f"at most {MAX_DAYS * 24} hours"
        )


@attrs.frozen
class Duration:
    """An amount with its unit; ``amount == 0`` means the rule using it is off."""

    amount: int = attrs.field(validator=_non_negative)
    unit: DurationUnit = DurationUnit.CALENDAR_DAYS

    def __attrs_post_init__(self) -> None:
        days = self.unit in (DurationUnit.CALENDAR_DAYS, DurationUnit.WORKING_DAYS)
        if days and self.amount > MAX_DAYS:
            raise ValidationError.single("amount", "duration.invalid", f"at most {MAX_DAYS} days")

    @classmethod
    def days(cls, amount: int) -> Duration:
        """Calendar days."""
        return cls(amount, DurationUnit.CALENDAR_DAYS)

    @classmethod
    def working_days(cls, amount: int) -> Duration:
        """Working days of the organisation's calendar."""
        return cls(amount, DurationUnit.WORKING_DAYS)

    @classmethod
    def hours(cls, amount: int) -> Duration:
        """Elapsed hours."""
        return cls(amount, DurationUnit.HOURS)

    @classmethod
    def business_hours(cls, amount: int) -> Duration:
        """Hours counted only within business hours on working days."""
        return cls(amount, DurationUnit.BUSINESS_HOURS)

    @property
    def off(self) -> bool:
        """True when the amount is 0 (the rule is disabled)."""
        return self.amount == 0


@attrs.frozen
class BusinessHours:
    """Local opening hours on working days (default 09:00–18:00), with an optional lunch break."""

    opens: time = time(9)
    closes: time = time(18)
    lunch: tuple[time, time] | None = None

    def __attrs_post_init__(self) -> None:
        bounds = [self.opens, *(self.lunch or ()), self.closes]
        if any(a >= b for a, b in itertools.pairwise(bounds)):
            raise ValidationError.single(
                "business_hours", "duration.business_hours_invalid", "need opens < lunch < closes"
            )

    def windows(self) -> tuple[tuple[time, time], ...]:
        """The open intervals of one working day, in order."""
        if self.lunch is None:
            return ((self.opens, self.closes),)
        return ((self.opens, self.lunch[0]), (self.lunch[1], self.closes))


class WorkingCalendar(Protocol):
    """Which local dates are working days (statutory holidays and make-up days included)."""

    def is_working_day(self, day: date) -> bool:
        """True when ``day`` is a working day."""
        ...


class ProvisionalAware(Protocol):
    """A calendar that can tell where its answers are provisional (data not yet published)."""

    def provisional_between(self, first: date, last: date) -> bool:
        """True when any day from ``first`` to ``last`` (inclusive) is answered provisionally."""
        ...


def is_provisional(
    calendar: WorkingCalendar | None,
    start: datetime,
    end: datetime,
    *,
    timezone: str,
    unit: DurationUnit = DurationUnit.WORKING_DAYS,
) -> bool:
    """Whether a ``unit`` deadline between ``start`` and ``end`` rests on a provisional day.

    Only working-day and business-hour durations consult the calendar; calendar days and hours
    are exact. A calendar without ``provisional_between`` is never provisional.
    """
    if unit not in (DurationUnit.WORKING_DAYS, DurationUnit.BUSINESS_HOURS):
        return False
    check = getattr(calendar, "provisional_between", None)
    if check is None:
        return False
    early, late = sorted((start, end))
    # A deadline at local midnight rests on the days before it, not on the day it opens.
    last = local_day(max(early, late - _INSTANT), timezone)
    return bool(check(local_day(early, timezone), last))


@attrs.frozen
class WeekdayCalendar:
    """Monday to Friday, minus ``closures``, plus ``extra_workdays`` (e.g. 调休 Saturdays)."""

    closures: frozenset[date] = frozenset()
    extra_workdays: frozenset[date] = frozenset()
    business_hours: BusinessHours = BusinessHours()

    def is_working_day(self, day: date) -> bool:
        """True on weekdays that are not closed, and on extra workdays."""
        if day in self.extra_workdays:
            return True
        return day.weekday() < 5 and day not in self.closures


def local_day(instant: datetime, timezone: str) -> date:
    """The calendar date of ``instant`` in ``timezone`` (where the day edge falls)."""
    return instant.astimezone(ZoneInfo(timezone)).date()


def _end_of_local_day(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)


def deadline(
    start: datetime,
    duration: Duration,
    *,
    timezone: str,
    calendar: WorkingCalendar | None = None,
    business_hours: BusinessHours | None = None,
) -> datetime:
    """The UTC instant at which ``duration`` counted from ``start`` has elapsed.

    Calendar days keep the local wall-clock time (DST-safe). Working days count whole working
    days after the start day and end at local midnight after the last one, so a start on a
    Friday with 1 working day ends Monday 24:00 — holidays never eat into the allowance.
    Business hours count only open time on working days (``business_hours``, else the
    calendar's ``business_hours`` attribute, else 09:00–18:00); the result is inside them.
    """
    if duration.unit is DurationUnit.HOURS:
        return start + timedelta(hours=duration.amount)
    if duration.unit is DurationUnit.BUSINESS_HOURS:
        return _business_shift(start, duration.amount, timezone, calendar, business_hours)
    tz = ZoneInfo(timezone)
    local = start.astimezone(tz)
    if duration.unit is DurationUnit.CALENDAR_DAYS:
        naive = local.replace(tzinfo=None) + timedelta(days=duration.amount)
        return naive.replace(tzinfo=tz).astimezone(start.tzinfo)
    cal = calendar or WeekdayCalendar()
    day, remaining = local.date(), duration.amount
    guard = 0
    while remaining > 0:
        day += timedelta(days=1)
        guard += 1
        if guard > 3660 + duration.amount * 7:
            raise ValidationError.single(
                "calendar", "calendar.no_working_days", "the calendar has no working days left"
            )
        if cal.is_working_day(day):
            remaining -= 1
    if duration.amount == 0:
        return start
    return _end_of_local_day(day, tz).astimezone(start.tzinfo)


def earlier(
    instant: datetime,
    duration: Duration,
    *,
    timezone: str,
    calendar: WorkingCalendar | None = None,
    business_hours: BusinessHours | None = None,
) -> datetime:
    """``instant`` moved back by ``duration`` (used for "warn M days before reclaim")."""
    if duration.unit is DurationUnit.HOURS:
        return instant - timedelta(hours=duration.amount)
    if duration.unit is DurationUnit.BUSINESS_HOURS:
        return _business_shift(instant, -duration.amount, timezone, calendar, business_hours)
    tz = ZoneInfo(timezone)
    local = instant.astimezone(tz)
    if duration.unit is DurationUnit.CALENDAR_DAYS:
        naive = local.replace(tzinfo=None) - timedelta(days=duration.amount)
        return naive.replace(tzinfo=tz).astimezone(instant.tzinfo)
    cal = calendar or WeekdayCalendar()
    day, remaining = local.date(), duration.amount
    for _ in range(3660 + duration.amount * 7):
        if remaining == 0:
            break
        day -= timedelta(days=1)
        if cal.is_working_day(day):
            remaining -= 1
    return datetime.combine(day, local.time(), tzinfo=tz).astimezone(instant.tzinfo)


def add_working_days(
    start: datetime, n: int, *, timezone: str, calendar: WorkingCalendar | None = None
) -> datetime:
    """Local midnight after the ``n``-th working day following ``start``'s day (0: ``start``)."""
    return deadline(start, Duration.working_days(n), timezone=timezone, calendar=calendar)


def count_working_days(
    start: datetime, end: datetime, *, timezone: str, calendar: WorkingCalendar | None = None
) -> int:
    """Whole working days after ``start``'s day that have ended by ``end`` (0 if end <= start).

    The inverse of ``add_working_days``: ``count(s, add(s, n)) == n``, and ``count(s, e) >= n``
    exactly when ``add(s, n) <= e``.
    """
    if end <= start:
        return 0
    cal = calendar or WeekdayCalendar()
    day, last = local_day(start, timezone), local_day(end, timezone) - timedelta(days=1)
    count = 0
    while day < last:
        day += timedelta(days=1)
        count += cal.is_working_day(day)
    return count


def _business_shift(
    instant: datetime,
    hours: int,
    timezone: str,
    calendar: WorkingCalendar | None,
    explicit: BusinessHours | None,
) -> datetime:
    """``instant`` moved by ``hours`` of open time (backwards when negative)."""
    if hours == 0:
        return instant
    cal = calendar or WeekdayCalendar()
    found = explicit or getattr(cal, "business_hours", None)
    spans = (found if isinstance(found, BusinessHours) else BusinessHours()).windows()
    tz, step = ZoneInfo(timezone), timedelta(days=1 if hours > 0 else -1)
    left, cursor = timedelta(hours=abs(hours)), instant.astimezone(UTC)
    day, idle = local_day(instant, timezone), 0
    while idle <= 3660:
        idle = 0 if cal.is_working_day(day) else idle + 1
        if idle == 0:
            for a, b in spans if hours > 0 else reversed(spans):
                opens = datetime.combine(day, a, tzinfo=tz).astimezone(UTC)
                closes = datetime.combine(day, b, tzinfo=tz).astimezone(UTC)
                begin, end = (
                    (max(opens, cursor), closes) if hours > 0 else (opens, min(closes, cursor))
                )
                if begin >= end:
                    continue
                if left <= end - begin:
                    moved = begin + left if hours > 0 else end - left
                    return moved.astimezone(instant.tzinfo)
                left -= end - begin
        day += step
    raise ValidationError.single(
        "calendar", "calendar.no_working_days", "the calendar has no working days left"
    )
