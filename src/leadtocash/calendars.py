"""Reference working-day calendars: China's statutory calendar and other countries' holidays.

Both implement the ``WorkingCalendar`` port of :mod:`leadtocash.durations` and add company
closures and extra workdays on top of the public schedule. Their data come from optional
packages, imported when a calendar is built (``pip install "leadtocash[calendars]"``):

* ``ChinaStatutoryCalendar``: the State Council's schedule (放假调休) via ``chinesecalendar``
  — make-up working Saturdays/Sundays (调休上班) included. Dates outside the package's data
  raise ``CalendarOutOfRange`` instead of being guessed; update the package every November.
* ``HolidaysCalendar``: weekends and public holidays of any country/subdivision the
  ``holidays`` package knows.
"""

from __future__ import annotations

import functools
import importlib
import threading
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

import attrs

from leadtocash.durations import (
    BusinessHours,
    WorkingCalendar,
    add_working_days,
    count_working_days,
)
from leadtocash.errors import FieldError, ValidationError

__all__ = [
    "CalendarOutOfRange",
    "ChinaStatutoryCalendar",
    "HolidaysCalendar",
]


class CalendarOutOfRange(ValidationError):
    """A date lies outside the years a calendar's data covers; nothing is guessed."""

    code = "calendar.out_of_range"

    def __init__(self, day: date, first: date, last: date, source: str) -> None:
        super().__init__(
            [
                FieldError(
                    "day",
                    self.code,
                    f"{day.isoformat()} is outside the {source} data "
                    f"({first.isoformat()} to {last.isoformat()}); update the package",
                )
            ]
        )
        self.day, self.first, self.last, self.source = day, first, last, source
        self.details.update(
            day=day.isoformat(), first=first.isoformat(), last=last.isoformat(), source=source
        )


def _dates(values: Iterable[date]) -> frozenset[date]:
    found = frozenset(values)
    if any(isinstance(v, datetime) or not isinstance(v, date) for v in found):
        raise ValidationError.single("dates", "calendar.not_a_date", "expected datetime.date")
    return found


def _optional(module: str, distribution: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"this calendar needs the optional package {distribution!r}: "
            f"pip install 'leadtocash[calendars]' (or pip install {distribution})"
        ) from exc


def _check_overrides(closures: frozenset[date], extra_workdays: frozenset[date]) -> None:
    both = sorted(closures & extra_workdays)
    if both:
        raise ValidationError.single(
            "extra_workdays",
            "calendar.conflicting_overrides",
            f"dates both closed and working: {', '.join(d.isoformat() for d in both)}",
        )


class _CalendarOps:
    """Port-level helpers shared by the reference calendars (they delegate to durations)."""

    __slots__ = ()

    def is_working_day(self, day: date) -> bool:
        """True when ``day`` is a working day."""
        raise NotImplementedError

    def add_working_days(self, instant: datetime, n: int, timezone: str) -> datetime:
        """Local midnight after the ``n``-th working day following ``instant``'s local day."""
        return add_working_days(instant, n, timezone=timezone, calendar=self)

    def count_working_days(self, start: datetime, end: datetime, timezone: str) -> int:
        """Whole working days after ``start``'s local day that have ended by ``end``."""
        return count_working_days(start, end, timezone=timezone, calendar=self)


@attrs.frozen
class _StatutoryData:
    first: date
    last: date
    workdays: frozenset[date]
    holidays: frozenset[date]
    source: str


@functools.cache
def _china_data() -> _StatutoryData:
    cc = _optional("chinese_calendar", "chinesecalendar")
    holidays, workdays = frozenset(cc.holidays), frozenset(cc.workdays)
    version = getattr(cc, "__version__", "?")
    return _StatutoryData(
        first=date(min(holidays).year, 1, 1),
        last=date(max(holidays).year, 12, 31),
        workdays=workdays,
        holidays=holidays,
        source=f"chinesecalendar {version}",
    )


@attrs.frozen
class ChinaStatutoryCalendar(_CalendarOps):
    """China's statutory working days (holidays and 调休 make-up workdays), plus company overrides.

    ``closures`` are company days off, ``extra_workdays`` company working days; both win over
    the public schedule and are answered even outside the package's data. Outside the data,
    ``fallback`` (e.g. ``WeekdayCalendar()``) answers when given, else ``CalendarOutOfRange``.
    """

    closures: frozenset[date] = attrs.field(default=frozenset(), converter=_dates)
    extra_workdays: frozenset[date] = attrs.field(default=frozenset(), converter=_dates)
    business_hours: BusinessHours = attrs.field(factory=BusinessHours)
    fallback: WorkingCalendar | None = None
    _data: _StatutoryData = attrs.field(init=False, eq=False, repr=False, factory=_china_data)

    def __attrs_post_init__(self) -> None:
        _check_overrides(self.closures, self.extra_workdays)

    @property
    def covers(self) -> tuple[date, date]:
        """First and last date of the statutory data."""
        return self._data.first, self._data.last

    def is_working_day(self, day: date) -> bool:
        """True on statutory working days (调休 Saturdays included) unless the company closes."""
        if day in self.extra_workdays:
            return True
        if day in self.closures:
            return False
        data = self._data
        if not data.first <= day <= data.last:
            if self.fallback is not None:
                return self.fallback.is_working_day(day)
            raise CalendarOutOfRange(day, data.first, data.last, data.source)
        return day in data.workdays or (day.weekday() < 5 and day not in data.holidays)


def _country_holidays(country: str, subdiv: str | None, observed: bool) -> Any:
    lib = _optional("holidays", "holidays")
    try:
        lib.country_holidays(country)
    except NotImplementedError as exc:
        raise ValidationError.single("country", "calendar.unknown_region", str(exc)) from None
    try:
        return lib.country_holidays(country, subdiv=subdiv, observed=observed)
    except NotImplementedError as exc:
        raise ValidationError.single("subdiv", "calendar.unknown_region", str(exc)) from None


@attrs.frozen
class HolidaysCalendar(_CalendarOps):
    """Weekends and public holidays of ``country`` (ISO 3166 code) via ``holidays``, plus overrides.

    ``observed`` counts substitute days (a holiday on a Sunday observed on Monday) as days off.
    Years outside the package's range for the country raise ``CalendarOutOfRange``.
    """

    country: str
    subdiv: str | None = None
    closures: frozenset[date] = attrs.field(default=frozenset(), converter=_dates)
    extra_workdays: frozenset[date] = attrs.field(default=frozenset(), converter=_dates)
    business_hours: BusinessHours = attrs.field(factory=BusinessHours)
    observed: bool = True
    _table: Any = attrs.field(init=False, eq=False, repr=False, default=None)
    _lock: threading.Lock = attrs.field(init=False, eq=False, repr=False, factory=threading.Lock)

    def __attrs_post_init__(self) -> None:
        _check_overrides(self.closures, self.extra_workdays)
        table = _country_holidays(self.country, self.subdiv, self.observed)
        object.__setattr__(self, "_table", table)

    def is_working_day(self, day: date) -> bool:
        """True on non-weekend days that are no public holiday, and on company extra workdays."""
        if day in self.extra_workdays:
            return True
        if day in self.closures:
            return False
        table = self._table
        first, last = getattr(table, "start_year", None), getattr(table, "end_year", None)
        if (first is not None and day.year < first) or (last is not None and day.year > last):
            raise CalendarOutOfRange(
                day, date(first or 1, 1, 1), date(last or 9999, 12, 31), f"holidays {self.country}"
            )
        with self._lock:  # the table fills years lazily on lookup
            native = getattr(table, "is_working_day", None)
            if callable(native):
                return bool(native(day))
            holiday = day in table  # older releases: weekend set + weekend workdays
            weekend = day.weekday() in getattr(table, "weekend", {5, 6})
            return day in getattr(table, "weekend_workdays", ()) if weekend else not holiday
