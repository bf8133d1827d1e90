"""Properties of the SLA clock over random ticket event sequences and random calendars.

* elapsed SLA time equals a minute-by-minute count of running, working, open minutes — so it
  never counts paused (waiting on the customer), stopped or non-working time;
* it never decreases, over time and as events are added;
* sweeps interleaved with the events raise each target's breach exactly once (and only once
  its elapsed time reached the promise), a warning at most once and never after the breach,
  and whenever a sweep has something to raise, the stored ``sla_check_at`` had come due.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from leadtocash.aftersales import (
    RUNS_IN,
    TICKET_TABLE,
    SlaBreached,
    SlaCalendar,
    SlaTarget,
    SlaWarning,
    Ticket,
    TicketId,
    TicketPolicy,
    fire_ticket,
    open_ticket,
    sla_elapsed,
    sweep_sla,
)
from leadtocash.durations import BusinessHours, DurationUnit, WeekdayCalendar
from leadtocash.model import ContactId, CustomerId

ZONES = st.sampled_from(["Asia/Shanghai", "Europe/Berlin"])
START = datetime(2026, 1, 5, tzinfo=UTC)
DAYS = st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 2, 28))
MINUTE = timedelta(minutes=1)
ANYTIME = TicketPolicy(reopen_window=None)


@st.composite
def clocks(draw: st.DrawFn) -> SlaCalendar:
    closures = draw(st.frozensets(DAYS, max_size=10))
    extra = draw(st.frozensets(DAYS, max_size=4)) - closures
    opens = draw(st.integers(7, 10))
    closes = draw(st.integers(opens + 3, 19))
    lunch = None
    if draw(st.booleans()):
        noon = draw(st.integers(opens + 1, closes - 2))
        lunch = (time(noon), time(noon + 1))
    hours = BusinessHours(time(opens), time(closes), lunch)
    return SlaCalendar(draw(ZONES), WeekdayCalendar(closures, extra, hours))


#: (minutes after the previous step, trigger choice, sweep after it?)
STEPS = st.lists(st.tuples(st.integers(0, 36 * 60), st.integers(0, 5), st.booleans()), max_size=8)


def _ticket(now: datetime, clock: SlaCalendar, priority: str) -> Ticket:
    return open_ticket(
        TicketId("t"),
        customer_id=CustomerId("c"),
        contact_id=ContactId("p"),
        subject="s",
        category="c",
        channel="web",
        priority=priority,
        now=now,
        actor="a",
        clock=clock,
    )


def _run(
    clock: SlaCalendar, priority: str, offset: int, steps: list[tuple[int, int, bool]]
) -> tuple[Ticket, list[datetime]]:
    now = START + timedelta(minutes=offset)
    ticket = _ticket(now, clock, priority)
    checkpoints = [now]
    for gap, choice, _ in steps:
        now += timedelta(minutes=gap)
        allowed = TICKET_TABLE.allowed(ticket.status.value)
        trigger = allowed[choice % len(allowed)]
        ticket = fire_ticket(ticket, trigger, now, "a", clock=clock, reason="r", policy=ANYTIME)
        checkpoints.append(now)
    return ticket, checkpoints


def _brute_force_minutes(
    ticket: Ticket, target: SlaTarget, now: datetime, clock: SlaCalendar
) -> int:
    """Minutes [t, t+1) before ``now`` in a running state, on a working day, within hours."""
    history = ticket.history
    windows = clock.hours.windows()
    counted, index, t = 0, 0, history[0].at
    zone = ZoneInfo(clock.timezone)
    while t < now:
        while index + 1 < len(history) and history[index + 1].at <= t:
            index += 1
        if history[index].stage_to in RUNS_IN[target]:
            local = t.astimezone(zone)
            working = clock.calendar.is_working_day(local.date())
            if working and any(a <= local.time() < b for a, b in windows):
                counted += 1
        t += MINUTE
    return counted


@settings(max_examples=40, deadline=None)
@given(clocks(), st.integers(0, 7 * 24 * 60), STEPS, st.integers(0, 48 * 60))
def test_elapsed_counts_exactly_the_running_working_minutes(
    clock: SlaCalendar, offset: int, steps: list[tuple[int, int, bool]], tail: int
) -> None:
    ticket, checkpoints = _run(clock, "P3", offset, steps)
    now = checkpoints[-1] + timedelta(minutes=tail)
    for target in SlaTarget:
        elapsed = sla_elapsed(ticket.history, target, DurationUnit.BUSINESS_HOURS, now, clock)
        expected = _brute_force_minutes(ticket, target, now, clock)
        assert elapsed == timedelta(minutes=expected)


@settings(max_examples=60, deadline=None)
@given(clocks(), st.integers(0, 7 * 24 * 60), STEPS)
def test_elapsed_never_decreases_over_time_or_events(
    clock: SlaCalendar, offset: int, steps: list[tuple[int, int, bool]]
) -> None:
    ticket, checkpoints = _run(clock, "P2", offset, steps)
    instants = sorted({*checkpoints, *(c + timedelta(hours=7) for c in checkpoints)})
    for unit in (DurationUnit.BUSINESS_HOURS, DurationUnit.HOURS):
        for target in SlaTarget:
            values = [sla_elapsed(ticket.history, target, unit, t, clock) for t in instants]
            assert values == sorted(values)
            # Adding an event never rewrites the past: up to the new event's instant, the
            # elapsed time is what the shorter history gave.
            for n in range(1, len(ticket.history)):
                at = ticket.history[n].at
                shorter = sla_elapsed(ticket.history[:n], target, unit, at, clock)
                assert shorter == sla_elapsed(ticket.history, target, unit, at, clock)


@settings(max_examples=80, deadline=None)
@given(clocks(), st.sampled_from(["P1", "P2", "P3"]), st.integers(0, 7 * 24 * 60), STEPS)
def test_breaches_are_raised_exactly_once_per_target(
    clock: SlaCalendar, priority: str, offset: int, steps: list[tuple[int, int, bool]]
) -> None:
    now = START + timedelta(minutes=offset)
    ticket = _ticket(now, clock, priority)
    raised: list[SlaBreached] = []
    warnings: list[SlaWarning] = []

    def sweep(at: datetime) -> Ticket:
        result = sweep_sla(ticket, at, clock)
        if result.events:
            assert ticket.sla_check_at is not None and ticket.sla_check_at <= at  # index sound
        for event in result.events:
            promise = ticket.sla.target(event.target)
            elapsed = sla_elapsed(ticket.history, event.target, promise.unit, at, clock)
            if isinstance(event, SlaBreached):
                assert elapsed >= timedelta(hours=promise.amount)
                raised.append(event)
            else:
                assert elapsed < timedelta(hours=promise.amount)
                assert event.target not in {b.target for b in raised}
                warnings.append(event)
        return result.ticket

    for gap, choice, sweep_after in steps:
        now += timedelta(minutes=gap)
        allowed = TICKET_TABLE.allowed(ticket.status.value)
        trigger = allowed[choice % len(allowed)]
        ticket = fire_ticket(ticket, trigger, now, "a", clock=clock, reason="r", policy=ANYTIME)
        if sweep_after:
            ticket = sweep(now)
            ticket = sweep(now)  # a repeated sweep raises nothing new
    final = now + timedelta(days=60)
    ticket = sweep(final)
    ticket = sweep(final)
    for target in SlaTarget:
        promise = ticket.sla.target(target)
        elapsed = sla_elapsed(ticket.history, target, promise.unit, final, clock)
        count = sum(1 for b in raised if b.target is target)
        assert count == (1 if elapsed >= timedelta(hours=promise.amount) else 0)
        assert sum(1 for w in warnings if w.target is target) <= 1
    assert ticket.breached == {b.target for b in raised}
