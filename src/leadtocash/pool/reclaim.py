"""When an owned customer goes back to the pool (回收): the derived reclaim schedule.

``reclaim_schedule`` computes, from the customer's facts and its pool's rules, the instant it
is due for reclaim, which rule sets that instant, and when to warn the owner. The application
stores the result on the customer (``reclaim_due_at``) whenever a fact or a rule changes, so
the sweep is an indexed range query whose cost grows with what is due, not with the book.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Self

import attrs

from leadtocash.durations import Duration, WorkingCalendar, deadline, earlier, is_provisional
from leadtocash.model import Customer, PoolId
from leadtocash.pool.rules import PoolRules
from leadtocash.validators import replace

__all__ = [
    "LeadScheduleRecompute",
    "ReclaimSchedule",
    "ScheduleRecompute",
    "exemption",
    "reclaim_schedule",
    "schedule_from",
    "with_schedule",
]


@attrs.frozen
class ReclaimSchedule:
    """When (and by which rule) a customer is due for reclaim, and when to warn its owner.

    ``provisional`` is set when the instants rest on days the calendar answered without
    official data (an unpublished year): they may move when the data arrive.
    """

    due_at: datetime | None = None
    rule: str | None = None
    warn_at: datetime | None = None
    provisional: bool = False


@attrs.frozen
class ScheduleRecompute:
    """A pool's pending recomputation of reclaim schedules after its rules changed.

    Stored in the same commit as the rule change and advanced page by page (``after`` is the
    last customer done), so a process that stops midway leaves work the next sweep finishes,
    never customers silently keeping deadlines from the old rules.
    """

    id: PoolId
    requested_at: datetime
    reason: str
    after: str | None = None
    done: bool = False
    pages: int = 0
    changed: int = 0
    version: int = 0

    def restarted(self, at: datetime, reason: str) -> Self:
        """The job begun again from the first customer (the rules changed once more)."""
        return attrs.evolve(self, requested_at=at, reason=reason, after=None, done=False)

    def advanced(self, last_id: str | None, changed: int) -> Self:
        """The job after one more page; done when ``last_id`` is None (no page left)."""
        return attrs.evolve(
            self,
            after=last_id if last_id is not None else self.after,
            done=last_id is None,
            pages=self.pages + 1,
            changed=self.changed + changed,
        )


@attrs.frozen
class LeadScheduleRecompute(ScheduleRecompute):
    """A lead pool's pending recomputation of its owned leads' reclaim schedules after its
    rules changed (``after`` is the last lead done); the same job as customers', its own kind."""


def _after_contract_end(customer: Customer, rules: PoolRules) -> Duration | None:
    """How long after its last contract ended a customer with none active goes back, if set."""
    if customer.has_active_contract or customer.last_contract_end_at is None:
        return None
    duration = rules.after_contract_end.for_tier(customer.tier)
    return None if duration is None or duration.off else duration


def exemption(customer: Customer, rules: PoolRules) -> str | None:
    """The name of the exemption that keeps ``customer`` from being reclaimed, if any."""
    if rules.exempt_locked and customer.locked:
        return "locked"
    if rules.exempt_won and customer.won and _after_contract_end(customer, rules) is None:
        return "won"
    if rules.exempt_active_contract and customer.has_active_contract:
        return "active_contract"
    stage, threshold = customer.open_opportunity_stage, rules.exempt_from_stage
    if threshold is not None and stage is not None and stage >= threshold:
        return "open_opportunity"
    return None


def _protection(customer: Customer, rules: PoolRules) -> Duration | None:
    base = rules.protection_base
    if base is None or base.off:
        return None
    total = base.amount
    extension = rules.protection_per_follow_up
    if extension is not None and not extension.off:
        total += customer.follow_ups_since_claim * extension.amount
    cap = rules.protection_cap
    if cap is not None and not cap.off:
        total = min(total, cap.amount)
    return Duration(total, base.unit)


def reclaim_schedule(
    customer: Customer,
    rules: PoolRules,
    *,
    timezone: str,
    calendar: WorkingCalendar | None = None,
) -> ReclaimSchedule:
    """The reclaim schedule of ``customer`` under ``rules`` (empty when unowned or exempt)."""
    since = customer.owner_since
    if customer.owner_id is None or since is None or exemption(customer, rules) is not None:
        return ReclaimSchedule()
    clocks: list[tuple[str, datetime, Duration | None]] = []

    def add(rule: str, start: datetime, duration: Duration | None) -> None:
        clocks.append((rule, start, duration))

    if not (rules.exempt_won and customer.won):  # a won customer: only its contracts count
        add("protection", since, _protection(customer, rules))
        last_follow_up = max(since, customer.last_follow_up_at or since)
        add("no_follow_up", last_follow_up, rules.no_follow_up.for_tier(customer.tier))
        last_opportunity = max(since, customer.last_opportunity_at or since)
        no_new_opportunity = rules.no_new_opportunity.for_tier(customer.tier)
        add("no_new_opportunity", last_opportunity, no_new_opportunity)
        if not customer.won:
            add("not_won", since, rules.not_won.for_tier(customer.tier))
    ended = customer.last_contract_end_at
    if ended is not None:
        add("after_contract_end", max(since, ended), _after_contract_end(customer, rules))
    return schedule_from(since, clocks, rules.warn_before, timezone=timezone, calendar=calendar)


def schedule_from(
    since: datetime,
    clocks: Sequence[tuple[str, datetime, Duration | None]],
    warn: Duration | None,
    *,
    timezone: str,
    calendar: WorkingCalendar | None = None,
) -> ReclaimSchedule:
    """The earliest of the ``(rule, start, duration)`` clocks of a record owned ``since``,
    with its warning ``warn`` before (never before ``since``); off clocks are skipped.

    Customers and leads share it: each states its own clocks.
    """
    candidates: list[tuple[datetime, str]] = []
    spans: list[tuple[datetime, Duration]] = []
    for rule, start, duration in clocks:
        if duration is not None and not duration.off:
            at = deadline(start, duration, timezone=timezone, calendar=calendar)
            candidates.append((at, rule))
            spans.append((start, duration))
    if not candidates:
        return ReclaimSchedule()
    due, rule = min(candidates)
    # The due instant may move when a calendar-counted rule rests on a provisional day up to
    # it: the winner's own days, or a later rule's days that could overtake it. Days past the
    # due instant cannot: a rule not done by then stays not done.
    provisional = any(
        is_provisional(calendar, start, due, timezone=timezone, unit=duration.unit)
        for start, duration in spans
    )
    warn_at = None
    if warn is not None and not warn.off:
        warn_at = max(since, earlier(due, warn, timezone=timezone, calendar=calendar))
        provisional = provisional or is_provisional(
            calendar, warn_at, due, timezone=timezone, unit=warn.unit
        )
    return ReclaimSchedule(due, rule, warn_at, provisional)


def with_schedule(
    customer: Customer,
    rules: PoolRules,
    *,
    timezone: str,
    calendar: WorkingCalendar | None = None,
) -> Customer:
    """``customer`` with its derived reclaim fields recomputed under ``rules``."""
    schedule = reclaim_schedule(customer, rules, timezone=timezone, calendar=calendar)
    warned = customer.warned_due_at if customer.warned_due_at == schedule.due_at else None
    current = (
        customer.reclaim_due_at,
        customer.reclaim_rule,
        customer.warn_at,
        customer.reclaim_provisional,
    )
    if current == (schedule.due_at, schedule.rule, schedule.warn_at, schedule.provisional) and (
        warned == customer.warned_due_at
    ):
        return customer  # nothing to recompute: no copy (customers are frozen)
    return replace(
        customer,
        reclaim_due_at=schedule.due_at,
        reclaim_rule=schedule.rule,
        warn_at=schedule.warn_at,
        warned_due_at=warned,
        reclaim_provisional=schedule.provisional,
    )
