"""A worked example, checked by hand: a P3 ticket across the 2026 Spring Festival and a weekend.

Calendar: ChinaStatutoryCalendar (official 2026 data). Spring Festival 2026: days off Sun
15 Feb to Mon 23 Feb; Sat 14 Feb and Sat 28 Feb are make-up working days (调休上班).
Business hours 09:00–12:00 and 13:00–18:00 (8 business hours a working day), Asia/Shanghai.
P3 (default policy): first response 4 business hours, resolution 40, warning 1 hour before.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from aftersales_fixtures import OFFICE, cst, new_ticket
from leadtocash.aftersales import (
    SlaBreached,
    SlaCalendar,
    SlaTarget,
    SlaWarning,
    resolve_ticket,
    resume_work,
    sla_elapsed,
    start_work,
    sweep_sla,
    time_after,
    time_between,
    wait_on_customer,
)
from leadtocash.calendars import ChinaStatutoryCalendar, StatutoryNotice
from leadtocash.durations import DurationUnit, WeekdayCalendar

pytest.importorskip("chinese_calendar")

BH = DurationUnit.BUSINESS_HOURS
CHINA = SlaCalendar("Asia/Shanghai", ChinaStatutoryCalendar(business_hours=OFFICE))


def hours(amount: float) -> timedelta:
    return timedelta(hours=amount)


def test_p3_opened_friday_1730_before_the_spring_festival() -> None:
    opened = cst(2026, 2, 13, 17, 30)  # Friday
    ticket = new_ticket(opened, CHINA)
    # First response, 4 h: Fri 17:30–18:00 = 0.5 h; Sat 14 Feb is a make-up working day:
    # 09:00–12:00 = 3 h (3.5 h), then 13:00–13:30 = 0.5 h → due Sat 14 Feb 13:30.
    assert ticket.first_response_due_at == cst(2026, 2, 14, 13, 30)
    # Resolution, 40 h: Fri 0.5 + Sat 8 = 8.5; holiday 15–23 Feb counts nothing;
    # Tue 24, Wed 25, Thu 26: 24 h (32.5); Fri 27: 7.5 h more = 09–12 (3) + 13:00–17:30 (4.5).
    assert ticket.resolution_due_at == cst(2026, 2, 27, 17, 30)
    # The warning of the first response (3 h): Fri 0.5 + Sat 09:00–11:30 → Sat 11:30.
    assert ticket.sla_check_at == cst(2026, 2, 14, 11, 30)
    assert not ticket.sla_provisional

    # The agent answers on the make-up Saturday at 10:00 (1.5 h used: met).
    ticket = start_work(ticket, cst(2026, 2, 14, 10), "agent", clock=CHINA)
    assert ticket.first_response_due_at is None
    # Asks for logs at 11:00: resolution time so far Fri 0.5 + Sat 09–11 = 2.5 h; paused.
    ticket = wait_on_customer(ticket, cst(2026, 2, 14, 11), "agent", clock=CHINA)
    assert ticket.resolution_due_at is None and ticket.sla_check_at is None
    # The customer answers on Wed 18 Feb 10:00, in the middle of the holiday.
    ticket = resume_work(ticket, cst(2026, 2, 18, 10), "agent", clock=CHINA)
    elapsed = sla_elapsed(ticket.history, SlaTarget.RESOLUTION, BH, cst(2026, 2, 23, 23, 59), CHINA)
    assert elapsed == hours(2.5)  # nothing counted over the holiday: not breached
    # 37.5 h left from Tue 24 Feb 09:00: Tue–Fri 32 h (to Fri 18:00), Sat 28 Feb is a
    # make-up working day: 5.5 h = 09–12 (3) + 13:00–15:30 (2.5) → due Sat 28 Feb 15:30;
    # the warning at 39 h is one business hour earlier: Sat 28 Feb 14:30.
    assert ticket.resolution_due_at == cst(2026, 2, 28, 15, 30)
    assert ticket.sla_check_at == cst(2026, 2, 28, 14, 30)

    quiet = sweep_sla(ticket, cst(2026, 2, 28, 14, 29), CHINA)
    assert quiet.events == () and not quiet.changed and quiet.ticket is ticket
    warned = sweep_sla(ticket, cst(2026, 2, 28, 14, 30), CHINA)
    (warning,) = warned.events
    assert isinstance(warning, SlaWarning) and warning.target is SlaTarget.RESOLUTION
    assert warning.due_at == cst(2026, 2, 28, 15, 30)
    assert warned.ticket.sla_check_at == cst(2026, 2, 28, 15, 30)
    breached = sweep_sla(warned.ticket, cst(2026, 2, 28, 15, 30), CHINA)
    (breach,) = breached.events
    assert isinstance(breach, SlaBreached) and breach.due_at == cst(2026, 2, 28, 15, 30)
    assert breached.ticket.breached == {SlaTarget.RESOLUTION}
    assert breached.ticket.sla_check_at is None
    # Raised once: later sweeps, and resolving, raise nothing more.
    assert sweep_sla(breached.ticket, cst(2026, 3, 31), CHINA).events == ()
    done = resolve_ticket(breached.ticket, cst(2026, 3, 2, 9), "agent", clock=CHINA)
    assert sweep_sla(done, cst(2026, 4, 1), CHINA).events == ()


def test_the_same_ticket_on_a_plain_weekday_calendar_is_due_on_the_holiday() -> None:
    plain = SlaCalendar("Asia/Shanghai", WeekdayCalendar(business_hours=OFFICE))
    ticket = new_ticket(cst(2026, 2, 13, 17, 30), plain)
    # Sat 14 is not worked: Fri 0.5 h, Mon 16 Feb 09:00–12:00 (3.5 h), 13:00–13:30.
    assert ticket.first_response_due_at == cst(2026, 2, 16, 13, 30)


def test_p3_opened_on_a_friday_evening_is_not_breached_over_the_weekend() -> None:
    ticket = new_ticket(cst(2026, 3, 6, 17, 30), CHINA)  # Friday 6 March
    # Fri 17:30–18:00 = 0.5 h; Sat 7 and Sun 8 off; Mon 9: 09–12 (3.5 h), 13:00–13:30.
    assert ticket.first_response_due_at == cst(2026, 3, 9, 13, 30)
    on_monday = sweep_sla(ticket, cst(2026, 3, 9, 9), CHINA)
    assert on_monday.events == ()
    first = SlaTarget.FIRST_RESPONSE
    assert sla_elapsed(ticket.history, first, BH, cst(2026, 3, 9, 9), CHINA) == hours(0.5)
    late = sweep_sla(ticket, cst(2026, 3, 9, 14), CHINA)
    assert [type(e) for e in late.events] == [SlaBreached]  # no stale warning with it
    assert late.ticket.breached == {first} and first in late.ticket.warned


def test_business_time_helpers_are_inverse_and_skip_lunch_and_nights() -> None:
    start = cst(2026, 3, 6, 11, 30)  # Friday
    assert time_between(start, cst(2026, 3, 6, 13, 30), BH, CHINA) == hours(1)
    end = time_after(start, hours(9), BH, CHINA)
    # Fri 11:30–12:00 + 13:00–18:00 = 5.5 h; Mon 09:00–12:00 = 3 h, 13:00–13:30 = 0.5 h.
    assert end == cst(2026, 3, 9, 13, 30)
    assert time_between(start, end, BH, CHINA) == hours(9)
    assert time_after(start, hours(2), DurationUnit.HOURS, CHINA) == start + hours(2)


def test_deadlines_on_an_unpublished_year_are_marked_provisional() -> None:
    calendar = ChinaStatutoryCalendar(business_hours=OFFICE)
    later = SlaCalendar("Asia/Shanghai", calendar)
    first_unpublished = calendar.published_years[-1] + 1
    ticket = new_ticket(cst(first_unpublished, 3, 2, 10), later)
    assert ticket.sla_provisional
    notice = StatutoryNotice(first_unpublished, ())
    calendar.load_notice(notice)
    sweep = sweep_sla(ticket, cst(first_unpublished, 3, 2, 10), later)
    assert not sweep.ticket.sla_provisional and sweep.changed and sweep.events == ()
