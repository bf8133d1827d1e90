"""The SLA clock of a ticket, computed from its state history alone.

Each target's clock runs only in the states of :data:`RUNS_IN` and only counts SLA time
(business hours of working days, or every hour for 24×7 targets). So the elapsed time of a
target is the counted time of the history's running segments up to ``now``: it never counts
paused (waiting on the customer), stopped (resolved, closed) or non-working time, and it never
decreases. A target's *due instant* is the instant its elapsed time reaches the promise —
past when it was reached in an earlier segment, future when the clock runs and has not
reached it, None when the clock is stopped short of it (paused, met) or the target is off.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta

import attrs

from leadtocash.aftersales.business_time import SlaCalendar, time_after, time_between
from leadtocash.aftersales.sla_policy import SlaTarget, SlaTerms
from leadtocash.aftersales.states import RUNS_IN
from leadtocash.durations import Duration, DurationUnit, is_provisional
from leadtocash.pipeline.machine import StageChange
from leadtocash.validators import utc

__all__ = [
    "SlaBreach",
    "SlaSchedule",
    "reached_at",
    "running",
    "sla_elapsed",
    "sla_schedule",
    "warn_threshold",
]


@attrs.frozen
class SlaBreach:
    """A target the ticket missed: when it fell due, and when the breach was raised."""

    target: SlaTarget
    due_at: datetime = attrs.field(validator=utc)
    raised_at: datetime = attrs.field(validator=utc)


def _segments(history: Sequence[StageChange]) -> Iterator[tuple[str, datetime, datetime | None]]:
    """``(state, start, end)`` for each stay in a state; the last one is still open (None)."""
    for index, change in enumerate(history):
        end = history[index + 1].at if index + 1 < len(history) else None
        yield change.stage_to, change.at, end


def running(history: Sequence[StageChange], target: SlaTarget) -> bool:
    """True when ``target``'s clock runs in the ticket's current state."""
    return bool(history) and history[-1].stage_to in RUNS_IN[target]


def sla_elapsed(
    history: Sequence[StageChange],
    target: SlaTarget,
    unit: DurationUnit,
    now: datetime,
    clock: SlaCalendar,
) -> timedelta:
    """The SLA time ``target``'s clock has counted by ``now``."""
    total = timedelta(0)
    for state, start, end in _segments(history):
        if start >= now:
            break
        if state in RUNS_IN[target]:
            total += time_between(start, now if end is None else min(end, now), unit, clock)
    return total


def reached_at(
    history: Sequence[StageChange],
    target: SlaTarget,
    amount: timedelta,
    unit: DurationUnit,
    clock: SlaCalendar,
) -> datetime | None:
    """The instant ``target``'s clock reaches ``amount`` (None if it stops short of it)."""
    if amount <= timedelta(0) or not history:
        return None
    counted = timedelta(0)
    for state, start, end in _segments(history):
        if state not in RUNS_IN[target]:
            continue
        left = amount - counted
        if end is None:
            return time_after(start, left, unit, clock)
        span = time_between(start, end, unit, clock)
        if span >= left:
            return time_after(start, left, unit, clock)
        counted += span
    return None


def warn_threshold(promise: Duration, warn_before: Duration) -> timedelta | None:
    """How much elapsed time triggers the warning (None: the promise or its warning is off).

    ``warn_before`` ahead of the due time; a promise no longer than ``warn_before`` (P1's
    one-hour first response with the default one-hour warning) is warned at half time
    instead, so a short promise still gets its warning."""
    if promise.off or warn_before.off:
        return None
    if warn_before.amount >= promise.amount:
        return timedelta(hours=promise.amount) / 2
    return timedelta(hours=promise.amount - warn_before.amount)


@attrs.frozen
class SlaSchedule:
    """The due and warning instants of a ticket's targets, and which clocks run now."""

    first_response_due_at: datetime | None = None
    resolution_due_at: datetime | None = None
    first_response_warn_at: datetime | None = None
    resolution_warn_at: datetime | None = None
    running: frozenset[SlaTarget] = frozenset()
    provisional: bool = False

    def due_at(self, target: SlaTarget) -> datetime | None:
        """When ``target`` falls (or fell) due."""
        if target is SlaTarget.FIRST_RESPONSE:
            return self.first_response_due_at
        return self.resolution_due_at

    def warn_at(self, target: SlaTarget) -> datetime | None:
        """When to warn before ``target`` falls due."""
        if target is SlaTarget.FIRST_RESPONSE:
            return self.first_response_warn_at
        return self.resolution_warn_at

    def check_at(
        self, breached: frozenset[SlaTarget], warned: frozenset[SlaTarget]
    ) -> datetime | None:
        """The next instant a sweep has something to raise: a breach not yet raised, or the
        warning of a running target not yet warned (None: nothing pending)."""
        pending: list[datetime] = []
        for target in SlaTarget:
            if target in breached:
                continue
            due = self.due_at(target)
            if due is not None:
                pending.append(due)
            warn = self.warn_at(target)
            if warn is not None and target not in warned and target in self.running:
                pending.append(warn)
        return min(pending, default=None)


def sla_schedule(
    history: Sequence[StageChange], terms: SlaTerms, clock: SlaCalendar
) -> SlaSchedule:
    """The schedule of a ticket with ``history`` under ``terms`` on ``clock``.

    ``provisional`` is set when a business-hour instant rests on a day the calendar answered
    without official data (an unpublished year): recompute it when the data arrive.
    """
    found: dict[str, datetime | None] = {}
    provisional = False
    for target in SlaTarget:
        promise = terms.target(target)
        due = None
        if not promise.off:
            due = reached_at(history, target, timedelta(hours=promise.amount), promise.unit, clock)
        threshold = warn_threshold(promise, terms.warn_before)
        warn = None
        if threshold is not None:
            warn = reached_at(history, target, threshold, promise.unit, clock)
        found[f"{target.value}_due_at"], found[f"{target.value}_warn_at"] = due, warn
        latest = max((i for i in (due, warn) if i is not None), default=None)
        if latest is not None and history:
            provisional = provisional or is_provisional(
                clock.calendar, history[0].at, latest, timezone=clock.timezone, unit=promise.unit
            )
    return SlaSchedule(
        **found,
        running=frozenset(t for t in SlaTarget if running(history, t)),
        provisional=provisional,
    )
