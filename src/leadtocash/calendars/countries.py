"""Weekends and public holidays of any country the ``holidays`` package knows."""

from __future__ import annotations

import threading
from datetime import date
from typing import Any

import attrs

from leadtocash.calendars.base import (
    CalendarOps,
    CalendarOutOfRange,
    check_overrides,
    dates,
    optional_module,
)
from leadtocash.durations import BusinessHours
from leadtocash.errors import ValidationError

__all__ = ["HolidaysCalendar", "country_holidays"]


def country_holidays(country: str, subdiv: str | None, observed: bool) -> Any:
    """The ``holidays`` table of ``country``/``subdiv``; unknown regions name their field."""
    lib = optional_module("holidays", "holidays")
    try:
        lib.country_holidays(country)
    except NotImplementedError as exc:
        raise ValidationError.single("country", "calendar.unknown_region", str(exc)) from None
    try:
        return lib.country_holidays(country, subdiv=subdiv, observed=observed)
    except NotImplementedError as exc:
        raise ValidationError.single("subdiv", "calendar.unknown_region", str(exc)) from None


@attrs.frozen
class HolidaysCalendar(CalendarOps):
    """Weekends and public holidays of ``country`` (ISO 3166 code) via ``holidays``, plus overrides.

    ``observed`` counts substitute days (a holiday on a Sunday observed on Monday) as days off.
    Years outside the package's range for the country raise ``CalendarOutOfRange``.
    """

    country: str
    subdiv: str | None = None
    closures: frozenset[date] = attrs.field(default=frozenset(), converter=dates)
    extra_workdays: frozenset[date] = attrs.field(default=frozenset(), converter=dates)
    business_hours: BusinessHours = attrs.field(factory=BusinessHours)
    observed: bool = True
    _table: Any = attrs.field(init=False, eq=False, repr=False, default=None)
    _lock: threading.Lock = attrs.field(init=False, eq=False, repr=False, factory=threading.Lock)

    def __attrs_post_init__(self) -> None:
        check_overrides(self.closures, self.extra_workdays)
        table = country_holidays(self.country, self.subdiv, self.observed)
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
