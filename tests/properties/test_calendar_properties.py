"""Properties of working-day and business-hour arithmetic, on random calendars and instants."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadtocash.durations import (
    BusinessHours,
    Duration,
    WeekdayCalendar,
    WorkingCalendar,
    add_working_days,
    count_working_days,
    deadline,
    earlier,
)

ZONES = st.sampled_from(["Asia/Shanghai", "Europe/Berlin", "America/New_York"])
INSTANTS = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2026, 9, 30), timezones=st.just(UTC)
)
DAYS = st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 6, 30))


@st.composite
def weekday_calendars(draw: st.DrawFn) -> WeekdayCalendar:
    """Mon–Fri calendars with random closures, extra workdays and business hours."""
    closures = draw(st.frozensets(DAYS, max_size=40))
    extra = draw(st.frozensets(DAYS, max_size=10)) - closures
    opens = draw(st.integers(6, 10))
    closes = draw(st.integers(opens + 3, 20))
    lunch = None
    if draw(st.booleans()):
        noon = draw(st.integers(opens + 1, closes - 2))
        lunch = (time(noon), time(noon + 1))
    return WeekdayCalendar(closures, extra, BusinessHours(time(opens), time(closes), lunch))


def _china() -> Any:
    pytest.importorskip("chinese_calendar")
    from leadtocash.calendars import ChinaStatutoryCalendar

    return ChinaStatutoryCalendar()


@settings(max_examples=150, deadline=None)
@given(weekday_calendars(), INSTANTS, st.integers(0, 40), ZONES)
def test_adding_n_working_days_then_counting_back_gives_n(
    calendar: WeekdayCalendar, start: datetime, n: int, zone: str
) -> None:
    end = add_working_days(start, n, timezone=zone, calendar=calendar)
    assert count_working_days(start, end, timezone=zone, calendar=calendar) == n


@settings(max_examples=150, deadline=None)
@given(weekday_calendars(), INSTANTS, st.integers(0, 30), st.integers(0, 60 * 24 * 60), ZONES)
def test_count_and_add_agree_on_every_end_instant(
    calendar: WeekdayCalendar, start: datetime, n: int, minutes: int, zone: str
) -> None:
    end = start + timedelta(minutes=minutes)
    reached = add_working_days(start, n, timezone=zone, calendar=calendar) <= end
    assert reached == (count_working_days(start, end, timezone=zone, calendar=calendar) >= n)


@settings(max_examples=150, deadline=None)
@given(weekday_calendars(), INSTANTS, st.integers(0, 60), ZONES)
def test_a_working_day_deadline_is_never_earlier_than_the_calendar_day_one(
    calendar: WeekdayCalendar, start: datetime, n: int, zone: str
) -> None:
    working = deadline(start, Duration.working_days(n), timezone=zone, calendar=calendar)
    calendar_days = deadline(start, Duration.days(n), timezone=zone, calendar=calendar)
    assert working >= calendar_days


def _open_at(instant: datetime, zone: str, calendar: WorkingCalendar, hours: BusinessHours) -> bool:
    local = instant.astimezone(ZoneInfo(zone))
    if not calendar.is_working_day(local.date()):
        return False
    return any(a < local.time() <= b for a, b in hours.windows())


@settings(max_examples=150, deadline=None)
@given(weekday_calendars(), INSTANTS, st.integers(1, 50), ZONES)
def test_business_hour_deadlines_fall_inside_business_hours(
    calendar: WeekdayCalendar, start: datetime, n: int, zone: str
) -> None:
    due = deadline(start, Duration.business_hours(n), timezone=zone, calendar=calendar)
    assert _open_at(due, zone, calendar, calendar.business_hours)
    assert due >= start + timedelta(hours=n)  # never sooner than elapsed hours
    back = earlier(due, Duration.business_hours(n), timezone=zone, calendar=calendar)
    assert start <= back  # only closed time lies between start and back
    assert deadline(back, Duration.business_hours(n), timezone=zone, calendar=calendar) == due


@settings(max_examples=60, deadline=None)
@given(INSTANTS, st.integers(0, 40), st.integers(1, 30))
def test_statutory_calendar_properties(start: datetime, n: int, hours: int) -> None:
    china = _china()
    zone = "Asia/Shanghai"
    end = china.add_working_days(start, n, zone)
    assert china.count_working_days(start, end, zone) == n
    assert end >= deadline(start, Duration.days(n), timezone=zone)
    due = deadline(start, Duration.business_hours(hours), timezone=zone, calendar=china)
    assert _open_at(due, zone, china, china.business_hours)
