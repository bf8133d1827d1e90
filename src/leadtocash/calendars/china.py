"""China's statutory working days (放假调休), with provisional answers past the published years.

Official data come from, in order: a loaded :class:`StatutoryNotice` for the day's year, then
the ``chinesecalendar`` package. A day neither covers is answered **provisionally** (by default
from the ``holidays`` package's CN rules, else Monday–Friday) and every deadline that rests on
such a day is marked provisional, to be recomputed when the data arrive. ``strict=True``
raises ``CalendarOutOfRange`` instead. No command fails because a year is not published yet.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable
from datetime import date

import attrs

from leadtocash.calendars.base import (
    CalendarOps,
    CalendarOutOfRange,
    check_overrides,
    dates,
    optional_module,
)
from leadtocash.calendars.countries import HolidaysCalendar
from leadtocash.calendars.notices import StatutoryNotice
from leadtocash.durations import BusinessHours, WeekdayCalendar, WorkingCalendar

__all__ = ["ChinaStatutoryCalendar", "provisional_china_calendar"]


@attrs.frozen
class _StatutoryData:
    first: date
    last: date
    workdays: frozenset[date]
    holidays: frozenset[date]
    source: str


@functools.cache
def _china_data() -> _StatutoryData:
    cc = optional_module("chinese_calendar", "chinesecalendar")
    holidays, workdays = frozenset(cc.holidays), frozenset(cc.workdays)
    version = getattr(cc, "__version__", "?")
    return _StatutoryData(
        first=date(min(holidays).year, 1, 1),
        last=date(max(holidays).year, 12, 31),
        workdays=workdays,
        holidays=holidays,
        source=f"chinesecalendar {version}",
    )


@functools.cache
def provisional_china_calendar() -> WorkingCalendar:
    """The default provisional answer: ``holidays``' CN rules when installed, else weekdays."""
    try:
        return HolidaysCalendar("CN")
    except ImportError:
        return WeekdayCalendar()


class _NoticeShelf:
    """The notices a calendar holds, by year; loading one is atomic and thread-safe."""

    def __init__(self, notices: Iterable[StatutoryNotice]) -> None:
        self._lock = threading.Lock()
        self.by_year: dict[int, StatutoryNotice] = {n.year: n for n in notices}

    def load(self, notice: StatutoryNotice) -> StatutoryNotice | None:
        with self._lock:
            replaced = self.by_year.get(notice.year)
            self.by_year = {**self.by_year, notice.year: notice}  # readers never see a half
            return replaced


def _notices(values: Iterable[StatutoryNotice]) -> tuple[StatutoryNotice, ...]:
    return tuple(values)


def _shelf(instance: ChinaStatutoryCalendar) -> _NoticeShelf:
    return _NoticeShelf(instance.notices)


@attrs.frozen
class ChinaStatutoryCalendar(CalendarOps):
    """China's statutory working days (holidays and 调休 make-up workdays), plus company overrides.

    ``closures`` are company days off, ``extra_workdays`` company working days; both win over
    everything and are answered for any year. ``notices`` (and :meth:`load_notice`) supply
    official years the package lacks and win over it. Days outside every official year are
    answered by ``fallback`` (default: ``provisional_china_calendar()``) and reported by
    :meth:`provisional_between`; with ``strict=True`` they raise ``CalendarOutOfRange``.
    """

    closures: frozenset[date] = attrs.field(default=frozenset(), converter=dates)
    extra_workdays: frozenset[date] = attrs.field(default=frozenset(), converter=dates)
    business_hours: BusinessHours = attrs.field(factory=BusinessHours)
    fallback: WorkingCalendar | None = None
    strict: bool = False
    notices: tuple[StatutoryNotice, ...] = attrs.field(default=(), converter=_notices)
    _data: _StatutoryData = attrs.field(init=False, eq=False, repr=False, factory=_china_data)
    _shelf: _NoticeShelf = attrs.field(
        init=False, eq=False, repr=False, default=attrs.Factory(_shelf, takes_self=True)
    )

    def __attrs_post_init__(self) -> None:
        check_overrides(self.closures, self.extra_workdays)

    @property
    def covers(self) -> tuple[date, date]:
        """First and last date of the package's statutory data."""
        return self._data.first, self._data.last

    @property
    def published_years(self) -> tuple[int, ...]:
        """Every year answered from official data (the package's and loaded notices)."""
        package = range(self._data.first.year, self._data.last.year + 1)
        return tuple(sorted({*package, *self._shelf.by_year}))

    def load_notice(self, notice: StatutoryNotice) -> StatutoryNotice | None:
        """Hold ``notice`` from now on (it wins over the package); returns the one it replaced.

        Deadlines computed before stay as stored: run ``ReclaimService.recompute_provisional``
        to move the provisional ones.
        """
        return self._shelf.load(notice)

    def _official(self, day: date) -> bool:
        data = self._data
        return day.year in self._shelf.by_year or data.first <= day <= data.last

    def source_of(self, day: date) -> str:
        """Where the answer for ``day`` comes from (company, notice, package or provisional)."""
        if day in self.extra_workdays or day in self.closures:
            return "company"
        notice = self._shelf.by_year.get(day.year)
        if notice is not None:
            return f"notice {notice.year}" + (f" ({notice.source})" if notice.source else "")
        if self._official(day):
            return self._data.source
        return "provisional"

    def is_provisional(self, day: date) -> bool:
        """True when ``day``'s answer is a provisional guess (no official data for its year)."""
        if day in self.extra_workdays or day in self.closures:
            return False
        return not self._official(day)

    def provisional_between(self, first: date, last: date) -> bool:
        """True when any day from ``first`` to ``last`` (inclusive) is answered provisionally."""
        years = range(first.year, last.year + 1)
        data, loaded = self._data, self._shelf.by_year
        return any(
            year not in loaded and not data.first.year <= year <= data.last.year for year in years
        )

    def is_working_day(self, day: date) -> bool:
        """True on statutory working days (调休 Saturdays included) unless the company closes."""
        if day in self.extra_workdays:
            return True
        if day in self.closures:
            return False
        notice = self._shelf.by_year.get(day.year)
        if notice is not None:
            return notice.is_working_day(day)
        data = self._data
        if data.first <= day <= data.last:
            return day in data.workdays or (day.weekday() < 5 and day not in data.holidays)
        if self.strict:
            raise CalendarOutOfRange(day, data.first, data.last, data.source)
        return (self.fallback or provisional_china_calendar()).is_working_day(day)
