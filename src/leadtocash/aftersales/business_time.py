"""SLA time: how much counted time lies between two instants, and the instant a span ends.

A target in business hours counts only the open windows (:class:`BusinessHours`) of working
days of the organisation's calendar (statutory holidays and make-up days included); a target
in plain hours counts every hour (24×7). Both are exact to the microsecond, and
``time_between(s, after(s, x)) == x`` for every ``x >= 0``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import attrs

from leadtocash.durations import (
    BusinessHours,
    DurationUnit,
    WeekdayCalendar,
    WorkingCalendar,
    local_day,
)
from leadtocash.errors import ValidationError

__all__ = ["SLA_UNITS", "SlaCalendar", "time_after", "time_between"]

#: The units an SLA target may be counted in.
SLA_UNITS = frozenset({DurationUnit.BUSINESS_HOURS, DurationUnit.HOURS})

_ONE_DAY = timedelta(days=1)
_IDLE_LIMIT = 3660  # consecutive non-working days before a calendar is declared empty


@attrs.frozen
class SlaCalendar:
    """The organisation's service clock: its time zone, working days and business hours.

    ``business_hours`` None uses the calendar's own ``business_hours`` attribute, else
    09:00–18:00.
    """

    timezone: str = "Asia/Shanghai"
    calendar: WorkingCalendar = attrs.field(factory=WeekdayCalendar)
    business_hours: BusinessHours | None = None

    @property
    def hours(self) -> BusinessHours:
        """The business hours in force."""
        found = self.business_hours or getattr(self.calendar, "business_hours", None)
        return found if isinstance(found, BusinessHours) else BusinessHours()

    def open_windows(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """The UTC open intervals of ``day`` (none on a day off)."""
        if not self.calendar.is_working_day(day):
            return ()
        tz = ZoneInfo(self.timezone)
        return tuple(
            (
                datetime.combine(day, a, tzinfo=tz).astimezone(UTC),
                datetime.combine(day, b, tzinfo=tz).astimezone(UTC),
            )
            for a, b in self.hours.windows()
        )


def _check_unit(unit: DurationUnit) -> None:
    if unit not in SLA_UNITS:
        raise ValidationError.single(
            "unit", "sla.unit", f"SLA time is counted in hours or business hours, not {unit}"
        )


def time_between(
    start: datetime, end: datetime, unit: DurationUnit, clock: SlaCalendar
) -> timedelta:
    """The SLA time counted from ``start`` to ``end`` (zero when ``end <= start``)."""
    _check_unit(unit)
    if end <= start:
        return timedelta(0)
    if unit is DurationUnit.HOURS:
        return end - start
    total = timedelta(0)
    day, last = local_day(start, clock.timezone), local_day(end, clock.timezone)
    while day <= last:
        for opens, closes in clock.open_windows(day):
            overlap = min(closes, end) - max(opens, start)
            if overlap > timedelta(0):
                total += overlap
        day += _ONE_DAY
    return total


def time_after(
    start: datetime, amount: timedelta, unit: DurationUnit, clock: SlaCalendar
) -> datetime:
    """The earliest instant by which ``amount`` of SLA time has been counted from ``start``.

    The result is UTC. A calendar with no working day for ten years is a ValidationError
    (``calendar.no_working_days``).
    """
    _check_unit(unit)
    start = start.astimezone(UTC)
    if amount <= timedelta(0):
        return start
    if unit is DurationUnit.HOURS:
        return start + amount
    left = amount
    day, idle = local_day(start, clock.timezone), 0
    while idle <= _IDLE_LIMIT:
        windows = clock.open_windows(day)
        idle = 0 if windows else idle + 1
        for opens, closes in windows:
            begin = max(opens, start)
            if begin >= closes:
                continue
            if left <= closes - begin:
                return begin + left
            left -= closes - begin
        day += _ONE_DAY
    raise ValidationError.single(
        "calendar", "calendar.no_working_days", "the calendar has no working days left"
    )
