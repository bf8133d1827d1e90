"""Rule durations that carry their unit, and the working-day calendar they are counted in.

"7 days without follow-up" must say whether it means calendar days, working days of the
organisation's calendar, or plain hours, and day edges fall at local midnight of the
organisation's time zone, not UTC. ``deadline()`` turns a start instant and a Duration into
the instant the rule fires.
"""

from __future__ import annotations

import enum
from datetime import date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

import attrs

from leadtocash.errors import ValidationError

__all__ = [
    "Duration",
    "DurationUnit",
    "WeekdayCalendar",
    "WorkingCalendar",
    "deadline",
    "earlier",
    "local_day",
]


class DurationUnit(enum.StrEnum):
    """How a duration is counted."""

    CALENDAR_DAYS = "calendar_days"
    WORKING_DAYS = "working_days"
    HOURS = "hours"


def _non_negative(_inst: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError.single(attribute.name, "duration.invalid", "must be an int >= 0")


@attrs.frozen
class Duration:
    """An amount with its unit; ``amount == 0`` means the rule using it is off."""

    amount: int = attrs.field(validator=_non_negative)
    unit: DurationUnit = DurationUnit.CALENDAR_DAYS

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

    @property
    def off(self) -> bool:
        """True when the amount is 0 (the rule is disabled)."""
        return self.amount == 0


class WorkingCalendar(Protocol):
    """Which local dates are working days (statutory holidays and make-up days included)."""

    def is_working_day(self, day: date) -> bool:
        """True when ``day`` is a working day."""
        ...


@attrs.frozen
class WeekdayCalendar:
    """Monday to Friday, minus ``closures``, plus ``extra_workdays`` (e.g. 调休 Saturdays)."""

    closures: frozenset[date] = frozenset()
    extra_workdays: frozenset[date] = frozenset()

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
) -> datetime:
    """The UTC instant at which ``duration`` counted from ``start`` has elapsed.

    Calendar days keep the local wall-clock time (DST-safe). Working days count whole working
    days after the start day and end at local midnight after the last one, so a start on a
    Friday with 1 working day ends Monday 24:00 — holidays never eat into the allowance.
    """
    if duration.unit is DurationUnit.HOURS:
        return start + timedelta(hours=duration.amount)
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
) -> datetime:
    """``instant`` moved back by ``duration`` (used for "warn M days before reclaim")."""
    if duration.unit is DurationUnit.HOURS:
        return instant - timedelta(hours=duration.amount)
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
