"""Working-day rules past the published calendar years: provisional deadlines, notices, strict.

"Today" is 2026-12-20 and the installed ``chinesecalendar`` stops at 2026-12-31, as it did
for every CRM in mid-December: claims, follow-ups and sweeps must keep working through 2027,
deadlines resting on 2027 days are marked provisional, and loading the year's notice moves
them and clears the mark.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta

import pytest

from leadtocash import (
    CalendarOutOfRange,
    ChinaStatutoryCalendar,
    Customer,
    CustomerId,
    LeadToCash,
    PoolId,
    SalesRep,
    ZoneId,
)
from leadtocash.calendars import StatutoryNotice
from leadtocash.durations import Duration
from leadtocash.errors import RuleViolation
from leadtocash.model import RepId
from leadtocash.pool.rules import PoolRules, TierDurations
from leadtocash.testing import FakeClock, InMemoryStore, SequentialIds
from pool_fixtures import ADMIN, SYSTEM, rep_principal

pytest.importorskip("chinese_calendar")

TZ = "Asia/Shanghai"
REP1, REP2 = rep_principal(1), rep_principal(2)
RULES = PoolRules(
    no_follow_up=TierDurations(Duration.working_days(5)),
    warn_before=Duration.working_days(2),
    reclaim_cooldown=Duration.working_days(3),
)
# Illustrative 2027 days (not the State Council's): New Year 1/1-1/4 off, so every
# provisional deadline counting Mon 2027-01-04 as a working day moves one day later.
NOTICE_2027 = """\
year = 2027
[[holiday]]
name = "元旦"
off = ["2027-01-01..2027-01-04"]
"""


def _shanghai(y: int, m: int, d: int, hh: int = 0) -> datetime:
    return datetime(y, m, d, hh, tzinfo=UTC) - timedelta(hours=8)


def _world(
    calendar: ChinaStatutoryCalendar, customers: int = 6
) -> tuple[LeadToCash, FakeClock, InMemoryStore, list[CustomerId]]:
    store, clock = InMemoryStore(), FakeClock(_shanghai(2026, 12, 20, 9))
    crm = LeadToCash(store, clock, SequentialIds(), timezone=TZ, calendar=calendar)
    crm.pools.create_pool(
        ADMIN, "East", zone_id=ZoneId("east"), rules=RULES, pool_id=PoolId("east")
    )
    for n in (1, 2):
        crm.reps.register(ADMIN, SalesRep(RepId(f"rep{n}"), f"Rep {n}", zone_id=ZoneId("east")))
    ids = [
        crm.pools.add_customer(
            ADMIN, f"客户{n}", pool_id=PoolId("east"), phones=[f"+86138{n:08d}"]
        ).id
        for n in range(customers)
    ]
    return crm, clock, store, ids


def _customer(crm: LeadToCash, ident: str) -> Customer:
    return crm.pools.get_customer(ADMIN, ident)


def test_working_day_rules_run_through_2027_with_provisional_deadlines() -> None:
    crm, clock, store, ids = _world(ChinaStatutoryCalendar())
    crm.pools.claim(REP1, ids[0])  # Sun 12/20: 12/21..12/25 -> due Sat 12/26 00:00
    first = _customer(crm, ids[0])
    assert first.reclaim_due_at == _shanghai(2026, 12, 26) and not first.reclaim_provisional
    clock.set(_shanghai(2026, 12, 28, 10))  # Mon: 12/29, 12/30, 12/31, 1/4, 1/5 -> 1/6
    crm.pools.claim(REP1, ids[1])
    second = _customer(crm, ids[1])
    assert second.reclaim_due_at == _shanghai(2027, 1, 6) and second.reclaim_provisional
    assert second.warn_at == _shanghai(2027, 1, 4)  # two working days before, provisional too
    # A quarter of daily sweeps, claims and follow-ups across the unpublished year: no error.
    reclaimed: list[str] = []
    warned: list[str] = []
    refusals: set[str] = set()
    for day in range(75):
        clock.set(_shanghai(2026, 12, 29, 9) + timedelta(days=day))
        report = crm.reclaim.sweep(SYSTEM)
        reclaimed += report.reclaimed
        warned += report.warned
        for ident in ids[2:]:
            owner = _customer(crm, ident).owner_id
            if owner is None:
                try:
                    crm.pools.claim(REP2, ident)
                except RuleViolation as refusal:
                    refusals.add(refusal.code)
            elif day % 9 == 0:
                crm.pools.log_follow_up(REP2, ident, note="called")
    assert ids[0] in reclaimed and ids[1] in reclaimed and warned
    assert refusals <= {"pool.reclaim_cooldown"}  # only the re-claim cooldown may refuse
    for ident in ids:
        customer = _customer(crm, ident)
        due = customer.reclaim_due_at
        if due is not None:
            assert customer.reclaim_provisional == (due > _shanghai(2027, 1, 1))
    warnings = [
        m for m in store.outbox_due(clock.now(), limit=5000) if m.topic == "pool.reclaim_warning"
    ]
    flags = {m.payload["customer_id"]: m.payload["provisional"] for m in warnings}
    assert flags[ids[0]] is False and flags[ids[1]] is True


def test_a_refused_claim_says_its_cooldown_end_is_provisional() -> None:
    crm, clock, _store, ids = _world(ChinaStatutoryCalendar(), customers=2)
    clock.set(_shanghai(2026, 12, 21, 10))  # a cooldown inside published days is exact
    crm.pools.claim(REP2, ids[1])
    crm.pools.release(REP2, ids[1], "not a fit")
    with pytest.raises(RuleViolation) as exact:
        crm.pools.claim(REP2, ids[1])
    assert exact.value.details["until"] == _shanghai(2026, 12, 25).isoformat()
    assert "provisional" not in exact.value.details
    clock.set(_shanghai(2026, 12, 30, 10))
    crm.pools.claim(REP1, ids[0])
    crm.pools.release(REP1, ids[0], "not a fit")  # Wed 12/30: 12/31, 1/4, 1/5 -> 1/6
    with pytest.raises(RuleViolation) as caught:
        crm.pools.claim(REP1, ids[0])
    details = caught.value.details
    assert caught.value.code == "pool.reclaim_cooldown"
    assert details["until"] == _shanghai(2027, 1, 6).isoformat() and details["provisional"] is True


def test_loading_the_notice_moves_provisional_deadlines_and_clears_the_mark(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calendar = ChinaStatutoryCalendar()
    crm, clock, store, ids = _world(calendar)
    crm.pools.claim(REP1, ids[0])  # due 12/26: exact, never read by the recompute
    clock.set(_shanghai(2026, 12, 28, 10))
    with caplog.at_level(logging.INFO, logger="leadtocash.calendar"):
        for ident in ids[1:4]:
            crm.pools.claim(REP1, ident)
    signals = [r.__dict__ for r in caplog.records]
    signals = [r for r in signals if r.get("code") == "calendar.provisional"]
    assert sorted(r["customer_id"] for r in signals) == sorted(ids[1:4])
    assert _customer(crm, ids[1]).reclaim_due_at == _shanghai(2027, 1, 6)
    audit_before = len(store.audit_log(limit=10_000))

    unchanged = crm.reclaim.recompute_provisional(SYSTEM)  # no new data: nothing moves
    assert unchanged.checked == 3 and unchanged.moved == () and unchanged.confirmed == ()
    assert len(store.audit_log(limit=10_000)) == audit_before

    calendar.load_notice(StatutoryNotice.from_toml(NOTICE_2027))
    report = crm.reclaim.recompute_provisional(SYSTEM, batch=2)
    assert report.checked == 3  # only the provisional schedules, not the book
    assert sorted(report.moved) == sorted(ids[1:4]) == sorted(report.confirmed)
    for ident in ids[1:4]:
        customer = _customer(crm, ident)
        assert customer.reclaim_due_at == _shanghai(2027, 1, 7)  # 1/4 is now a day off
        assert customer.warn_at == _shanghai(2027, 1, 5) and not customer.reclaim_provisional
    entries = store.audit_log(limit=10_000)[audit_before:]
    assert sorted(e.target_id for e in entries) == sorted(ids[1:4])
    assert all(e.actor_id == SYSTEM.user_id and "calendar" in (e.reason or "") for e in entries)
    assert crm.reclaim.recompute_provisional(SYSTEM).checked == 0


def test_strict_mode_raises_the_typed_error_and_changes_nothing() -> None:
    crm, clock, store, ids = _world(ChinaStatutoryCalendar(strict=True), customers=1)
    clock.set(_shanghai(2026, 12, 28, 10))
    audit_before = len(store.audit_log(limit=10_000))
    with pytest.raises(CalendarOutOfRange) as caught:
        crm.pools.claim(REP1, ids[0])
    assert caught.value.details["day"] >= date(2027, 1, 1).isoformat()
    assert _customer(crm, ids[0]).owner_id is None
    assert len(store.audit_log(limit=10_000)) == audit_before
