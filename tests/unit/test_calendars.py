"""Reference calendars (China statutory, holidays), working-day helpers and business hours.

The China and holidays tests need the optional ``calendars`` extra and are skipped without it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from leadtocash import LeadToCash, PoolId, SalesRep, ZoneId
from leadtocash.calendars import CalendarOutOfRange, ChinaStatutoryCalendar, HolidaysCalendar
from leadtocash.durations import (
    BusinessHours,
    Duration,
    DurationUnit,
    WeekdayCalendar,
    add_working_days,
    count_working_days,
    deadline,
    earlier,
    is_provisional,
)
from leadtocash.errors import ValidationError
from leadtocash.model import RepId
from leadtocash.pool.book import OwnershipAction
from leadtocash.pool.rules import PoolRules, TierDurations
from leadtocash.testing import FakeClock, InMemoryStore, SequentialIds
from pool_fixtures import ADMIN, SYSTEM, rep_principal

TZ = "Asia/Shanghai"
REP1 = rep_principal(1)


def _shanghai(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    """A Shanghai wall-clock time as a UTC instant (Shanghai is UTC+8, no DST)."""
    return datetime(y, m, d, hh, mm, tzinfo=UTC) - timedelta(hours=8)


@pytest.fixture
def china() -> ChinaStatutoryCalendar:
    """The statutory calendar; skips when the ``chinesecalendar`` package is missing."""
    pytest.importorskip("chinese_calendar")
    calendar = ChinaStatutoryCalendar()
    if calendar.covers[1] < date(2026, 12, 31):
        pytest.skip("the installed chinesecalendar has no 2026 data")
    return calendar


# -- China: the official 2026 schedule -------------------------------------------------------

# 国务院办公厅关于2026年部分节假日安排的通知 (2025-11-04), hand-copied:
# 元旦 1/1–1/3, 1/4 (Sun) 上班; 春节 2/15–2/23, 2/14 (Sat) and 2/28 (Sat) 上班; 清明 4/4–4/6;
# 劳动节 5/1–5/5, 5/9 (Sat) 上班; 端午 6/19–6/21; 中秋 9/25–9/27; 国庆 10/1–10/7,
# 9/20 (Sun) and 10/10 (Sat) 上班.
_OFF_2026 = [
    ((1, 1), (1, 3)),
    ((2, 15), (2, 23)),
    ((4, 4), (4, 6)),
    ((5, 1), (5, 5)),
    ((6, 19), (6, 21)),
    ((9, 25), (9, 27)),
    ((10, 1), (10, 7)),
]
_MAKE_UP_2026 = {date(2026, 1, 4), date(2026, 2, 14), date(2026, 2, 28), date(2026, 5, 9),
                 date(2026, 9, 20), date(2026, 10, 10)}  # fmt: skip


def _official_2026(day: date) -> bool:
    for (m1, d1), (m2, d2) in _OFF_2026:
        if date(2026, m1, d1) <= day <= date(2026, m2, d2):
            return False
    return day in _MAKE_UP_2026 or day.weekday() < 5


def test_the_2026_statutory_schedule_matches_the_state_council_notice(
    china: ChinaStatutoryCalendar,
) -> None:
    days = [date(2026, 1, 1) + timedelta(days=i) for i in range(365)]
    wrong = [d for d in days if china.is_working_day(d) != _official_2026(d)]
    assert wrong == []
    # 261 weekdays in 2026 - 19 weekday holidays + 6 make-up weekend days = 248.
    assert sum(china.is_working_day(d) for d in days) == 248


def test_the_snapshot_answers_like_the_package(china: ChinaStatutoryCalendar) -> None:
    cc: Any = pytest.importorskip("chinese_calendar")
    days = [date(2025, 1, 1) + timedelta(days=i) for i in range(730)]
    assert [china.is_working_day(d) for d in days] == [bool(cc.is_workday(d)) for d in days]


def _world(rules: PoolRules, calendar: ChinaStatutoryCalendar, start: datetime) -> Any:
    clock = FakeClock(start)
    crm = LeadToCash(InMemoryStore(), clock, SequentialIds(), timezone=TZ, calendar=calendar)
    pool = crm.pools.create_pool(
        ADMIN, "East", zone_id=ZoneId("east"), rules=rules, pool_id=PoolId("east")
    )
    crm.reps.register(ADMIN, SalesRep(id=RepId("rep1"), name="Rep 1", zone_id=ZoneId("east")))
    customer = crm.pools.add_customer(ADMIN, "客户甲", pool_id=pool.id, phones=["+8613800000001"])
    return crm, clock, customer.id


def test_five_working_days_without_follow_up_span_the_2026_spring_festival(
    china: ChinaStatutoryCalendar,
) -> None:
    rules = PoolRules(
        no_follow_up=TierDurations(Duration.working_days(5)),
        warn_before=Duration.working_days(1),
    )
    claimed = _shanghai(2026, 2, 12, 10)  # Thursday 10:00, the last touch before the holiday
    crm, clock, cid = _world(rules, china, claimed)
    crm.pools.claim(REP1, cid)
    # Working days counted after the claim day (Thu 2/12), per the State Council notice:
    #   Fri 2/13 -> 1
    #   Sat 2/14 -> 2   (调休: make-up working Saturday)
    #   Sun 2/15 .. Mon 2/23 -> holiday (春节 9 days), not counted
    #   Tue 2/24 -> 3,  Wed 2/25 -> 4,  Thu 2/26 -> 5
    # => due at the end of Thu 2/26 = Fri 2026-02-27 00:00 Shanghai = 2026-02-26 16:00 UTC.
    # (Calendar days would have reclaimed on Tue 2/17, in the middle of the holiday; a plain
    # Mon-Fri calendar on Fri 2/20 00:00.)  Warning 1 working day earlier: end of Wed 2/25.
    customer = crm.pools.get_customer(ADMIN, cid)
    assert customer.reclaim_due_at == datetime(2026, 2, 26, 16, 0, tzinfo=UTC)
    assert customer.warn_at == datetime(2026, 2, 25, 16, 0, tzinfo=UTC)
    assert customer.reclaim_rule == "no_follow_up"

    clock.set(_shanghai(2026, 2, 20, 12))  # mid-holiday: nothing happens
    assert crm.reclaim.sweep(SYSTEM).reclaimed == ()
    clock.set(datetime(2026, 2, 26, 15, 59, tzinfo=UTC))
    report = crm.reclaim.sweep(SYSTEM)
    assert (report.warned, report.reclaimed) == ((cid,), ())
    clock.set(datetime(2026, 2, 26, 16, 0, tzinfo=UTC))
    assert crm.reclaim.sweep(SYSTEM).reclaimed == (cid,)
    assert crm.pools.history(ADMIN, cid)[-1].action is OwnershipAction.RECLAIM

    plain = deadline(claimed, Duration.working_days(5), timezone=TZ)
    calendar_days = deadline(claimed, Duration.days(5), timezone=TZ)
    assert plain == _shanghai(2026, 2, 20) and calendar_days == _shanghai(2026, 2, 17, 10)


def test_a_follow_up_on_the_make_up_saturday_restarts_the_count(
    china: ChinaStatutoryCalendar,
) -> None:
    rules = PoolRules(no_follow_up=TierDurations(Duration.working_days(5)))
    crm, clock, cid = _world(rules, china, _shanghai(2026, 2, 24, 9))
    crm.pools.claim(REP1, cid)
    clock.set(_shanghai(2026, 2, 28, 10))  # Sat 2/28 is a 调休 working day
    crm.pools.log_follow_up(REP1, cid, note="拜访")
    # After Sat 2/28: Mon 3/2 -> 1, Tue 3/3 -> 2, Wed 3/4 -> 3, Thu 3/5 -> 4, Fri 3/6 -> 5
    # => Sat 2026-03-07 00:00 Shanghai = 2026-03-06 16:00 UTC.
    due = crm.pools.get_customer(ADMIN, cid).reclaim_due_at
    assert due == datetime(2026, 3, 6, 16, 0, tzinfo=UTC)


def test_company_closures_and_extra_workdays_override_the_schedule(
    china: ChinaStatutoryCalendar,
) -> None:
    company = ChinaStatutoryCalendar(
        closures={date(2026, 2, 13), date(2026, 2, 14)},  # the company bridges to the holiday
        extra_workdays={date(2026, 2, 23)},  # and opens the last holiday Monday
    )
    assert not company.is_working_day(date(2026, 2, 14))
    assert company.is_working_day(date(2026, 2, 23))
    # After Thu 2/12: Mon 2/23 -> 1, 2/24 -> 2, 2/25 -> 3, 2/26 -> 4, 2/27 -> 5.
    due = company.add_working_days(_shanghai(2026, 2, 12, 10), 5, TZ)
    assert due == _shanghai(2026, 2, 28)
    with pytest.raises(ValidationError) as caught:
        ChinaStatutoryCalendar(closures={date(2026, 3, 2)}, extra_workdays={date(2026, 3, 2)})
    assert caught.value.errors[0].code == "calendar.conflicting_overrides"
    with pytest.raises(ValidationError):
        ChinaStatutoryCalendar(closures={datetime(2026, 3, 2, tzinfo=UTC)})


def test_a_strict_calendar_raises_beyond_the_data_instead_of_guessing() -> None:
    strict = ChinaStatutoryCalendar(strict=True)
    last = strict.covers[1]
    beyond = last + timedelta(days=4)
    with pytest.raises(CalendarOutOfRange) as caught:
        strict.is_working_day(beyond)
    error = caught.value
    assert error.code == "calendar.out_of_range" and error.details["last"] == last.isoformat()
    assert isinstance(error, ValidationError)
    with pytest.raises(CalendarOutOfRange):
        deadline(_shanghai(last.year, 12, 28, 9), Duration.working_days(5), timezone=TZ,
                 calendar=strict)  # fmt: skip
    with pytest.raises(CalendarOutOfRange):
        strict.is_working_day(date(2003, 12, 31))
    assert ChinaStatutoryCalendar(closures={beyond}, strict=True).is_working_day(beyond) is False


def test_beyond_the_data_the_default_answers_provisionally(china: ChinaStatutoryCalendar) -> None:
    last = china.covers[1]
    # Mon 2026-12-28 10:00 + 7 working days: 12/29, 12/30, 12/31, (1/1 New Year by the
    # holidays package's CN rules), 1/4, 1/5, 1/6, 1/7 -> Fri 2027-01-08 00:00.
    start = _shanghai(2026, 12, 28, 10)
    assert last < date(2027, 1, 1)  # the installed package stops before 2027
    assert china.add_working_days(start, 7, TZ) == _shanghai(2027, 1, 8)
    assert not china.is_working_day(date(2027, 1, 1))
    assert china.is_provisional(date(2027, 1, 4)) and not china.is_provisional(last)
    assert china.provisional_between(last - timedelta(days=3), last + timedelta(days=1))
    assert not china.provisional_between(last - timedelta(days=30), last)
    assert china.source_of(date(2027, 1, 4)) == "provisional"
    assert china.source_of(last).startswith("chinesecalendar")
    # Company overrides are definite, whatever the year.
    closed = ChinaStatutoryCalendar(closures={date(2027, 1, 4)})
    assert not closed.is_working_day(date(2027, 1, 4)) and not closed.is_provisional(
        date(2027, 1, 4)
    )
    assert closed.source_of(date(2027, 1, 4)) == "company"
    # An explicit fallback answers instead of the holidays package: 1/1 is then a weekday.
    weekdays = ChinaStatutoryCalendar(fallback=WeekdayCalendar())
    assert weekdays.is_working_day(date(2027, 1, 1))
    assert weekdays.add_working_days(start, 7, TZ) == _shanghai(2027, 1, 7)
    assert weekdays.provisional_between(date(2027, 1, 1), date(2027, 1, 1))


def test_deadlines_say_when_they_rest_on_provisional_days(china: ChinaStatutoryCalendar) -> None:
    start = _shanghai(2026, 12, 21, 10)
    inside = china.add_working_days(start, 3, TZ)  # Fri 2026-12-25 00:00: all published
    beyond = china.add_working_days(start, 10, TZ)
    assert not is_provisional(china, start, inside, timezone=TZ)
    assert is_provisional(china, start, beyond, timezone=TZ)
    assert is_provisional(china, start, beyond, timezone=TZ, unit=DurationUnit.BUSINESS_HOURS)
    # Calendar days and hours never ask the calendar; a calendar that cannot tell is exact.
    assert not is_provisional(china, start, beyond, timezone=TZ, unit=DurationUnit.CALENDAR_DAYS)
    assert not is_provisional(china, start, beyond, timezone=TZ, unit=DurationUnit.HOURS)
    assert not is_provisional(WeekdayCalendar(), start, beyond, timezone=TZ)
    assert not is_provisional(None, start, beyond, timezone=TZ)
    assert is_provisional(china, beyond, start, timezone=TZ)  # order does not matter


def test_the_port_helpers_count_back_what_they_add(china: ChinaStatutoryCalendar) -> None:
    start = _shanghai(2026, 2, 12, 10)
    end = china.add_working_days(start, 5, TZ)
    assert china.count_working_days(start, end, TZ) == 5
    assert china.count_working_days(start, end - timedelta(seconds=1), TZ) == 4
    assert china.count_working_days(end, start, TZ) == 0
    assert china.add_working_days(start, 0, TZ) == start


def test_a_missing_optional_package_says_which_extra_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from leadtocash.calendars import china

    def refuse(name: str) -> None:
        raise ImportError(name)

    china._china_data.cache_clear()
    china.provisional_china_calendar.cache_clear()
    monkeypatch.setattr("leadtocash.calendars.base.importlib.import_module", refuse)
    try:
        with pytest.raises(ImportError, match=r"leadtocash\[calendars\]"):
            ChinaStatutoryCalendar()
        with pytest.raises(ImportError, match="holidays"):
            HolidaysCalendar("DE")
        # Without the holidays package, provisional days fall back to plain weekdays.
        assert isinstance(china.provisional_china_calendar(), WeekdayCalendar)
    finally:
        china._china_data.cache_clear()
        china.provisional_china_calendar.cache_clear()


# -- holidays --------------------------------------------------------------------------------


@pytest.fixture
def holidays_lib() -> Any:
    """The ``holidays`` package; skips when missing."""
    return pytest.importorskip("holidays")


def test_holidays_calendar_uses_public_holidays_weekends_and_overrides(holidays_lib: Any) -> None:
    bavaria = HolidaysCalendar("DE", subdiv="BY")
    assert not bavaria.is_working_day(date(2026, 1, 6))  # Epiphany in Bavaria
    assert HolidaysCalendar("DE", subdiv="BE").is_working_day(date(2026, 1, 6))  # not in Berlin
    assert not bavaria.is_working_day(date(2026, 1, 10))  # Saturday
    us = HolidaysCalendar("US")
    assert not us.is_working_day(date(2026, 7, 3))  # Independence Day observed (Friday)
    assert HolidaysCalendar("US", observed=False).is_working_day(date(2026, 7, 3))
    assert HolidaysCalendar("CN").is_working_day(date(2026, 2, 14))  # holidays knows 调休 too
    shop = HolidaysCalendar("DE", subdiv="BY", closures={date(2026, 12, 31)},
                            extra_workdays={date(2026, 1, 6)})  # fmt: skip
    assert shop.is_working_day(date(2026, 1, 6)) and not shop.is_working_day(date(2026, 12, 31))
    # After Fri 2026-01-02 in Bavaria: Mon 1/5 -> 1, (Tue 1/6 Epiphany), Wed 1/7 -> 2.
    assert bavaria.add_working_days(datetime(2026, 1, 2, 9, tzinfo=UTC), 2, "Europe/Berlin") == (
        datetime(2026, 1, 7, 23, 0, tzinfo=UTC)
    )


def test_holidays_calendar_rejects_unknown_regions_and_years(holidays_lib: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        HolidaysCalendar("XX")
    assert caught.value.paths == ("country",)
    assert caught.value.errors[0].code == "calendar.unknown_region"
    with pytest.raises(ValidationError) as caught:
        HolidaysCalendar("DE", subdiv="ZZ")
    assert caught.value.paths == ("subdiv",)
    with pytest.raises(CalendarOutOfRange):
        HolidaysCalendar("US").is_working_day(date(1500, 1, 1))


# -- business hours --------------------------------------------------------------------------


def test_business_hours_deadlines_skip_nights_weekends_and_lunch() -> None:
    friday_5pm = _shanghai(2026, 1, 9, 17)
    two = Duration.business_hours(2)
    assert deadline(friday_5pm, two, timezone=TZ) == _shanghai(2026, 1, 12, 10)
    saturday = _shanghai(2026, 1, 10, 11)
    assert deadline(saturday, two, timezone=TZ) == _shanghai(2026, 1, 12, 11)
    lunch = BusinessHours(time(9), time(18), lunch=(time(12), time(13)))
    at_11 = _shanghai(2026, 1, 5, 11)
    assert deadline(at_11, two, timezone=TZ, business_hours=lunch) == _shanghai(2026, 1, 5, 14)
    # Exactly the end of the day's open time stays on that day (18:00), not next morning.
    assert deadline(_shanghai(2026, 1, 5, 9), Duration.business_hours(9), timezone=TZ) == (
        _shanghai(2026, 1, 5, 18)
    )
    assert deadline(at_11, Duration.business_hours(0), timezone=TZ) == at_11


def test_business_hours_come_from_the_calendar_unless_given() -> None:
    short = WeekdayCalendar(business_hours=BusinessHours(time(10), time(16)))
    monday_3pm = _shanghai(2026, 1, 5, 15)
    four = Duration.business_hours(4)
    # 10-16: 1 h on Monday + 3 h on Tuesday; 09-18 default: 3 h + 1 h; 08-20: all on Monday.
    assert deadline(monday_3pm, four, timezone=TZ, calendar=short) == _shanghai(2026, 1, 6, 13)
    assert deadline(monday_3pm, four, timezone=TZ) == _shanghai(2026, 1, 6, 10)
    explicit = BusinessHours(time(8), time(20))
    assert deadline(monday_3pm, four, timezone=TZ, calendar=short, business_hours=explicit) == (
        _shanghai(2026, 1, 5, 19)
    )


def test_business_hours_across_the_spring_festival(china: ChinaStatutoryCalendar) -> None:
    friday = _shanghai(2026, 2, 13, 17)
    # 1 hour on Fri 2/13, 1 hour on the make-up Saturday 2/14 => Sat 10:00.
    assert deadline(friday, Duration.business_hours(2), timezone=TZ, calendar=china) == (
        _shanghai(2026, 2, 14, 10)
    )
    # 1 + 9 (Sat) + 1 => after the holiday, Tue 2/24 10:00.
    assert deadline(friday, Duration.business_hours(11), timezone=TZ, calendar=china) == (
        _shanghai(2026, 2, 24, 10)
    )
    back = earlier(_shanghai(2026, 2, 24, 10), Duration.business_hours(11), timezone=TZ,
                   calendar=china)  # fmt: skip
    assert back == friday


def test_earlier_in_business_hours_and_bad_definitions() -> None:
    monday_10am = _shanghai(2026, 1, 12, 10)
    assert earlier(monday_10am, Duration.business_hours(2), timezone=TZ) == (
        _shanghai(2026, 1, 9, 17)
    )
    with pytest.raises(ValidationError):
        BusinessHours(time(18), time(9))
    with pytest.raises(ValidationError):
        BusinessHours(time(9), time(18), lunch=(time(13), time(12)))
    with pytest.raises(ValidationError):
        BusinessHours(time(9), time(18), lunch=(time(8), time(10)))
    closed = WeekdayCalendar(closures=frozenset(), extra_workdays=frozenset())
    never: Any = type("Never", (), {"is_working_day": lambda self, day: False})()
    with pytest.raises(ValidationError):
        deadline(monday_10am, Duration.business_hours(1), timezone=TZ, calendar=never)
    assert deadline(monday_10am, Duration.business_hours(1), timezone=TZ, calendar=closed) == (
        monday_10am + timedelta(hours=1)
    )


def test_working_day_helpers_on_the_plain_calendar() -> None:
    friday = _shanghai(2026, 1, 9, 10)
    end = add_working_days(friday, 1, timezone=TZ)
    assert end == _shanghai(2026, 1, 13)  # Monday 24:00
    assert count_working_days(friday, end, timezone=TZ) == 1
    assert count_working_days(friday, friday + timedelta(days=2), timezone=TZ) == 0


def test_a_deadline_at_midnight_rests_on_the_day_before(china: ChinaStatutoryCalendar) -> None:
    last = china.covers[1]  # 2026-12-31: a deadline at 2027-01-01 00:00 needs no 2027 day
    midnight = _shanghai(last.year + 1, 1, 1)
    start = _shanghai(last.year, 12, 29, 10)
    assert china.add_working_days(start, 2, TZ) == midnight
    assert not is_provisional(china, start, midnight, timezone=TZ)
    assert is_provisional(china, start, midnight + timedelta(microseconds=1), timezone=TZ)
