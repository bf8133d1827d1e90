"""Reclaim (回收): derived due dates, warnings, exemptions, sweeps and rule changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest

from leadtocash import Tier
from leadtocash.calendars import ChinaStatutoryCalendar
from leadtocash.durations import Duration, WeekdayCalendar
from leadtocash.model import Customer, CustomerId, RepId
from leadtocash.pool.book import OwnershipAction
from leadtocash.pool.reclaim import ReclaimSchedule, exemption, reclaim_schedule, with_schedule
from leadtocash.pool.rules import PoolRules, TierDurations
from pool_fixtures import ADMIN, MANAGER, START, SYSTEM, make_world, rep_principal

REP1 = rep_principal(1)
TZ = "Asia/Shanghai"


def _owned(**changes: object) -> Customer:
    base = Customer(
        id=CustomerId("c"), name="c", created_at=START, owner_id=RepId("r"), owner_since=START
    )
    from attrs import evolve

    return evolve(base, **changes)  # type: ignore[arg-type]


def test_the_earliest_enabled_rule_sets_the_due_date() -> None:
    rules = PoolRules(
        protection_base=Duration.days(30),
        no_follow_up=TierDurations(Duration.days(7), {Tier.A: Duration.days(14)}),
        not_won=TierDurations(Duration.days(90)),
    )
    schedule = reclaim_schedule(_owned(), rules, timezone=TZ)
    assert (schedule.due_at, schedule.rule) == (START + timedelta(days=7), "no_follow_up")
    tier_a = reclaim_schedule(_owned(tier=Tier.A), rules, timezone=TZ)
    assert (tier_a.due_at, tier_a.rule) == (START + timedelta(days=14), "no_follow_up")
    followed = _owned(last_follow_up_at=START + timedelta(days=20))
    schedule = reclaim_schedule(followed, rules, timezone=TZ)
    assert (schedule.due_at, schedule.rule) == (START + timedelta(days=27), "no_follow_up")


def test_protection_extends_per_follow_up_up_to_the_cap() -> None:
    rules = PoolRules(
        protection_base=Duration.days(10),
        protection_per_follow_up=Duration.days(3),
        protection_cap=Duration.days(20),
    )
    due = [
        reclaim_schedule(_owned(follow_ups_since_claim=n), rules, timezone=TZ).due_at
        for n in (0, 1, 3, 10)
    ]
    assert due == [START + timedelta(days=d) for d in (10, 13, 19, 20)]


def test_exemptions_clear_the_schedule() -> None:
    rules = PoolRules(not_won=TierDurations(Duration.days(5)), exempt_from_stage=3)
    assert reclaim_schedule(_owned(locked=True), rules, timezone=TZ).due_at is None
    assert reclaim_schedule(_owned(won=True), rules, timezone=TZ).due_at is None
    assert reclaim_schedule(_owned(has_active_contract=True), rules, timezone=TZ).due_at is None
    assert reclaim_schedule(_owned(open_opportunity_stage=3), rules, timezone=TZ).due_at is None
    assert reclaim_schedule(_owned(open_opportunity_stage=2), rules, timezone=TZ).due_at is not None
    unlocked_rules = PoolRules(not_won=TierDurations(Duration.days(5)), exempt_locked=False)
    assert reclaim_schedule(_owned(locked=True), unlocked_rules, timezone=TZ).due_at is not None


def test_working_days_skip_weekends_and_closures() -> None:
    rules = PoolRules(no_follow_up=TierDurations(Duration.working_days(3)))
    friday = datetime(2026, 1, 9, 2, 0, tzinfo=UTC)  # Friday 10:00 in Shanghai
    customer = _owned(owner_since=friday)
    due = reclaim_schedule(customer, rules, timezone=TZ).due_at
    # Mon, Tue, Wed => due at local midnight ending Wednesday = Wed 16:00 UTC.
    assert due == datetime(2026, 1, 14, 16, 0, tzinfo=UTC)
    closed = WeekdayCalendar(closures=frozenset({datetime(2026, 1, 12).date()}))
    due = reclaim_schedule(customer, rules, timezone=TZ, calendar=closed).due_at
    assert due == datetime(2026, 1, 15, 16, 0, tzinfo=UTC)


def test_sweep_reclaims_due_customers_and_warns_once_before() -> None:
    rules = PoolRules(no_follow_up=TierDurations(Duration.days(7)), warn_before=Duration.days(2))
    world = make_world(rules, customers=3)
    a, b, c = world.customers
    for cid in (a, b, c):
        world.crm.pools.claim(REP1, cid)
    world.crm.pools.set_lock(MANAGER, c, True, "VIP")
    world.clock.advance(timedelta(days=4))
    world.crm.pools.log_follow_up(REP1, b, note="called, interested")
    world.clock.advance(timedelta(days=1))  # day 5: a is 2 days from due
    report = world.crm.reclaim.sweep(SYSTEM)
    assert report.warned == (a,) and report.reclaimed == ()
    assert world.crm.reclaim.sweep(SYSTEM).warned == ()  # only once
    world.clock.advance(timedelta(days=2))  # day 7: a is due
    report = world.crm.reclaim.sweep(SYSTEM)
    assert report.reclaimed == (a,)
    customer = world.crm.pools.get_customer(ADMIN, a)
    assert customer.owner_id is None and customer.previous_owner_id == "rep1"
    assert world.crm.pools.history(ADMIN, a)[-1].action is OwnershipAction.RECLAIM
    assert world.crm.pools.history(ADMIN, a)[-1].reason == "reclaimed: no_follow_up"
    world.clock.advance(timedelta(days=30))
    report = world.crm.reclaim.sweep(SYSTEM)
    assert report.reclaimed == (b,)  # the locked one stays
    assert world.crm.pools.get_customer(ADMIN, c).owner_id == "rep1"
    topics = [m.topic for m in world.store.outbox_due(world.clock.now(), limit=1000)]
    assert topics.count("pool.reclaim_warning") == 2


def test_sweep_sends_reclaimed_customers_to_the_configured_pool() -> None:
    world = make_world(customers=1)
    target = world.crm.pools.create_pool(ADMIN, "Recycled")
    rules = PoolRules(not_won=TierDurations(Duration.days(1)), release_to=target.id)
    world.crm.reclaim.update_rules(ADMIN, world.pool_id, rules, "stricter")
    world.crm.pools.claim(REP1, world.customers[0])
    world.clock.advance(timedelta(days=1))
    assert world.crm.reclaim.sweep(SYSTEM).reclaimed == (world.customers[0],)
    assert world.crm.pools.get_customer(ADMIN, world.customers[0]).pool_id == target.id


def test_changing_rules_recomputes_every_owned_schedule() -> None:
    world = make_world(customers=5)
    for cid in world.customers:
        world.crm.pools.claim(REP1, cid)
    assert world.crm.pools.get_customer(ADMIN, world.customers[0]).reclaim_due_at is None
    rules = PoolRules(no_follow_up=TierDurations(Duration.days(3)))
    changed = world.crm.reclaim.update_rules(ADMIN, world.pool_id, rules, "new policy", page=2)
    assert changed == 5
    for cid in world.customers:
        due = world.crm.pools.get_customer(ADMIN, cid).reclaim_due_at
        assert due == START + timedelta(days=3)
    entry = [e for e in world.store.audit_log() if e.target_kind == "pool"][-1]
    assert entry.reason == "new policy" and entry.before != entry.after


def test_facts_from_the_pipeline_reschedule_reclaim() -> None:
    rules = PoolRules(
        no_new_opportunity=TierDurations(Duration.days(10)), exempt_from_stage=2,
        not_won=TierDurations(Duration.days(60)),
    )  # fmt: skip
    world = make_world(rules, customers=1)
    cid = world.customers[0]
    world.crm.pools.claim(REP1, cid)
    world.clock.advance(timedelta(days=5))
    customer = world.crm.reclaim.record_facts(ADMIN, cid, new_opportunity=True)
    assert customer.reclaim_due_at == START + timedelta(days=15)
    customer = world.crm.reclaim.record_facts(ADMIN, cid, open_opportunity_stage=2)
    assert customer.reclaim_due_at is None
    world.clock.advance(timedelta(days=100))
    assert world.crm.reclaim.sweep(SYSTEM).reclaimed == ()


def test_a_follow_up_is_engagement_and_reclassifies_the_customer() -> None:
    world = make_world(customers=1)
    cid = world.customers[0]
    world.crm.pools.claim(REP1, cid)
    world.crm.classification.update_signals(ADMIN, cid, need_confirmed=True)
    assert world.crm.pools.get_customer(ADMIN, cid).tier is Tier.D
    world.crm.pools.log_follow_up(REP1, cid, note="demo booked")
    customer = world.crm.pools.get_customer(ADMIN, cid)
    assert customer.tier is Tier.C  # need confirmed + engaged in the last 30 days
    entry = world.store.audit_log(limit=10_000)[-1]
    assert entry.target_id == cid
    assert entry.reason is not None
    assert "nurture-engaged" in entry.reason
    topics = [m.topic for m in world.store.outbox_due(world.clock.now(), limit=1000)]
    assert "customer.tier_changed" in topics


# 2026-02-13 is the Friday before the Spring Festival: Saturday 14 is a make-up workday (调休),
# Sunday 15 to Monday 23 are off.
FEB13_10H = datetime(2026, 2, 13, 2, 0, tzinfo=UTC)  # Friday 10:00 in Shanghai


def test_tiers_override_the_no_new_opportunity_and_not_won_rules() -> None:
    rules = PoolRules(
        no_new_opportunity=TierDurations(
            Duration.days(20), {Tier.A: Duration.days(40), Tier.E: Duration.days(0)}
        ),
        not_won=TierDurations(Duration.days(60), {Tier.A: Duration.days(30)}),
    )

    def due(tier: Tier) -> tuple[datetime | None, str | None]:
        schedule = reclaim_schedule(_owned(tier=tier), rules, timezone=TZ)
        return schedule.due_at, schedule.rule

    assert due(Tier.D) == (START + timedelta(days=20), "no_new_opportunity")
    assert due(Tier.A) == (START + timedelta(days=30), "not_won")  # both overridden
    assert due(Tier.E) == (START + timedelta(days=60), "not_won")  # 0 switches E's rule off


def test_facts_older_than_the_claim_count_from_the_claim() -> None:
    rules = PoolRules(
        no_follow_up=TierDurations(Duration.days(7)),
        no_new_opportunity=TierDurations(Duration.days(5)),
    )
    # The previous owner's follow-ups and opportunities do not shorten the new owner's time.
    before = _owned(
        last_follow_up_at=START - timedelta(days=3), last_opportunity_at=START - timedelta(days=4)
    )
    schedule = reclaim_schedule(before, rules, timezone=TZ)
    assert (schedule.due_at, schedule.rule) == (START + timedelta(days=5), "no_new_opportunity")
    later = _owned(last_opportunity_at=START + timedelta(days=4))
    schedule = reclaim_schedule(later, rules, timezone=TZ)
    assert (schedule.due_at, schedule.rule) == (START + timedelta(days=7), "no_follow_up")
    newer = _owned(
        last_opportunity_at=START + timedelta(days=4), last_follow_up_at=START + timedelta(days=3)
    )
    schedule = reclaim_schedule(newer, rules, timezone=TZ)
    assert (schedule.due_at, schedule.rule) == (START + timedelta(days=9), "no_new_opportunity")


def test_a_won_customer_is_never_reclaimed_for_not_being_won() -> None:
    rules = PoolRules(
        exempt_won=False,
        not_won=TierDurations(Duration.days(10)),
        no_follow_up=TierDurations(Duration.days(30)),
    )
    lost = reclaim_schedule(_owned(), rules, timezone=TZ)
    assert (lost.due_at, lost.rule) == (START + timedelta(days=10), "not_won")
    won = reclaim_schedule(_owned(won=True), rules, timezone=TZ)
    assert (won.due_at, won.rule) == (START + timedelta(days=30), "no_follow_up")
    only_not_won = PoolRules(exempt_won=False, not_won=TierDurations(Duration.days(10)))
    assert reclaim_schedule(_owned(won=True), only_not_won, timezone=TZ) == ReclaimSchedule()


def test_each_exemption_is_named_and_each_can_be_switched_off() -> None:
    rules = PoolRules(exempt_from_stage=2)
    assert exemption(_owned(), rules) is None
    assert exemption(_owned(locked=True), rules) == "locked"
    assert exemption(_owned(won=True), rules) == "won"
    assert exemption(_owned(has_active_contract=True), rules) == "active_contract"
    assert exemption(_owned(open_opportunity_stage=2), rules) == "open_opportunity"
    assert exemption(_owned(open_opportunity_stage=1), rules) is None
    off = PoolRules(exempt_locked=False, exempt_won=False, exempt_active_contract=False)
    everything = _owned(locked=True, won=True, has_active_contract=True, open_opportunity_stage=9)
    assert exemption(everything, off) is None  # and no stage threshold: stages never exempt
    not_won = PoolRules(no_follow_up=TierDurations(Duration.days(5)), exempt_active_contract=False)
    contract = reclaim_schedule(_owned(has_active_contract=True), not_won, timezone=TZ)
    assert contract.due_at == START + timedelta(days=5)


def test_an_unowned_customer_has_no_schedule() -> None:
    rules = PoolRules(no_follow_up=TierDurations(Duration.days(5)))
    assert reclaim_schedule(_owned(owner_id=None), rules, timezone=TZ) == ReclaimSchedule()
    assert reclaim_schedule(_owned(owner_since=None), rules, timezone=TZ) == ReclaimSchedule()
    assert reclaim_schedule(_owned(), PoolRules(), timezone=TZ) == ReclaimSchedule()


def test_protection_counts_in_its_own_unit_hours() -> None:
    rules = PoolRules(
        protection_base=Duration.hours(36),
        protection_per_follow_up=Duration.hours(12),
        protection_cap=Duration.hours(60),
    )
    due = [
        reclaim_schedule(_owned(follow_ups_since_claim=n), rules, timezone=TZ).due_at
        for n in (0, 1, 2, 3)
    ]
    assert due == [START + timedelta(hours=h) for h in (36, 48, 60, 60)]
    assert reclaim_schedule(_owned(), rules, timezone=TZ).rule == "protection"


def test_protection_counts_in_its_own_unit_working_days() -> None:
    china = ChinaStatutoryCalendar()
    rules = PoolRules(
        protection_base=Duration.working_days(2),
        protection_per_follow_up=Duration.working_days(1),
        protection_cap=Duration.working_days(3),
    )
    due = [
        reclaim_schedule(
            _owned(owner_since=FEB13_10H, follow_ups_since_claim=n),
            rules,
            timezone=TZ,
            calendar=china,
        ).due_at
        for n in (0, 1, 5)
    ]
    # Working days after Friday 13: Saturday 14 (make-up), Tuesday 24, Wednesday 25; each
    # allowance ends at local midnight after its last day (16:00 UTC).
    assert due == [
        datetime(2026, 2, 24, 16, 0, tzinfo=UTC),
        datetime(2026, 2, 25, 16, 0, tzinfo=UTC),
        datetime(2026, 2, 25, 16, 0, tzinfo=UTC),
    ]


def test_protection_without_extension_or_cap() -> None:
    no_cap = PoolRules(
        protection_base=Duration.days(10),
        protection_per_follow_up=Duration.days(3),
        protection_cap=Duration.days(0),
    )
    fixed = PoolRules(protection_base=Duration.days(10), protection_per_follow_up=Duration.days(0))
    many = _owned(follow_ups_since_claim=10)
    assert reclaim_schedule(many, no_cap, timezone=TZ).due_at == START + timedelta(days=40)
    assert reclaim_schedule(many, fixed, timezone=TZ).due_at == START + timedelta(days=10)
    off = PoolRules(protection_base=Duration.days(0), protection_per_follow_up=Duration.days(3))
    assert reclaim_schedule(many, off, timezone=TZ) == ReclaimSchedule()


def test_reclaim_and_warning_in_working_days_follow_the_statutory_calendar() -> None:
    china = ChinaStatutoryCalendar()
    rules = PoolRules(
        no_follow_up=TierDurations(Duration.working_days(3)), warn_before=Duration.working_days(3)
    )
    schedule = reclaim_schedule(_owned(owner_since=FEB13_10H), rules, timezone=TZ, calendar=china)
    # Saturday 14, Tuesday 24, Wednesday 25: due at Thursday 26 00:00 in Shanghai. Three working
    # days before that midnight is the start of Saturday 14 — the holiday week is skipped both
    # ways (plain weekdays would say Wednesday 18 and Monday 23).
    assert schedule.due_at == datetime(2026, 2, 25, 16, 0, tzinfo=UTC)
    assert schedule.warn_at == datetime(2026, 2, 13, 16, 0, tzinfo=UTC)
    assert schedule.rule == "no_follow_up"
    stored = with_schedule(_owned(owner_since=FEB13_10H), rules, timezone=TZ, calendar=china)
    assert (stored.reclaim_due_at, stored.warn_at) == (schedule.due_at, schedule.warn_at)


def test_the_warning_is_never_before_the_claim() -> None:
    rules = PoolRules(no_follow_up=TierDurations(Duration.days(3)), warn_before=Duration.days(5))
    assert reclaim_schedule(_owned(), rules, timezone=TZ).warn_at == START
    hours = PoolRules(no_follow_up=TierDurations(Duration.days(3)), warn_before=Duration.hours(6))
    schedule = reclaim_schedule(_owned(), hours, timezone=TZ)
    assert schedule.warn_at == START + timedelta(days=3, hours=-6)
    no_warning = PoolRules(
        no_follow_up=TierDurations(Duration.days(3)), warn_before=Duration.days(0)
    )
    assert reclaim_schedule(_owned(), no_warning, timezone=TZ).warn_at is None


def test_with_schedule_keeps_the_warning_until_the_deadline_moves() -> None:
    rules = PoolRules(no_follow_up=TierDurations(Duration.days(7)), warn_before=Duration.days(2))
    scheduled = with_schedule(_owned(), rules, timezone=TZ)
    due = START + timedelta(days=7)
    assert (scheduled.reclaim_due_at, scheduled.reclaim_rule) == (due, "no_follow_up")
    assert scheduled.warn_at == due - timedelta(days=2) and scheduled.warned_due_at is None
    warned = attrs.evolve(scheduled, warned_due_at=due)
    assert with_schedule(warned, rules, timezone=TZ) is warned  # nothing changed: no copy
    # Another warning lead time leaves the deadline, so the owner is not warned twice.
    earlier_warning = attrs.evolve(rules, warn_before=Duration.days(3))
    rewarned = with_schedule(warned, earlier_warning, timezone=TZ)
    assert rewarned.warn_at == due - timedelta(days=3) and rewarned.warned_due_at == due
    # A follow-up moves the deadline: the owner is warned again before the new one.
    moved = with_schedule(
        attrs.evolve(warned, last_follow_up_at=START + timedelta(days=4)), rules, timezone=TZ
    )
    assert moved.reclaim_due_at == START + timedelta(days=11) and moved.warned_due_at is None
    # A warning recorded for another deadline is stale even when the schedule is current.
    stale = attrs.evolve(scheduled, warned_due_at=START + timedelta(days=1))
    assert with_schedule(stale, rules, timezone=TZ).warned_due_at is None


def test_the_sweep_warns_again_when_a_follow_up_moves_the_deadline() -> None:
    rules = PoolRules(no_follow_up=TierDurations(Duration.days(7)), warn_before=Duration.days(2))
    world = make_world(rules, customers=1)
    (cid,) = world.customers
    world.crm.pools.claim(REP1, cid)
    world.clock.advance(timedelta(days=5))
    assert world.crm.reclaim.sweep(SYSTEM).warned == (cid,)
    world.crm.pools.log_follow_up(REP1, cid, note="still interested")  # due: day 12
    assert world.crm.reclaim.sweep(SYSTEM).warned == ()
    world.clock.advance(timedelta(days=4))  # day 9: not yet within 2 days of day 12
    assert world.crm.reclaim.sweep(SYSTEM).warned == ()
    world.clock.advance(timedelta(days=1))  # day 10
    assert world.crm.reclaim.sweep(SYSTEM).warned == (cid,)
    assert world.crm.reclaim.sweep(SYSTEM).warned == ()
    topics = [m.topic for m in world.store.outbox_due(world.clock.now(), limit=1000)]
    assert topics.count("pool.reclaim_warning") == 2


def test_protection_restarts_from_zero_follow_ups_on_transfer_and_allocation() -> None:
    rules = PoolRules(
        protection_base=Duration.days(10),
        protection_per_follow_up=Duration.days(5),
        protection_cap=Duration.days(30),
    )
    world = make_world(rules, customers=2)
    first, second = world.customers
    world.crm.pools.claim(REP1, first)
    world.crm.pools.log_follow_up(REP1, first, note="call")
    world.crm.pools.log_follow_up(REP1, first, note="visit")
    customer = world.crm.pools.get_customer(ADMIN, first)
    assert customer.reclaim_due_at == START + timedelta(days=20)
    world.clock.advance(timedelta(days=3))
    moved = world.crm.pools.transfer(MANAGER, first, RepId("rep2"), "territory change")
    assert moved.follow_ups_since_claim == 0
    assert moved.reclaim_due_at == START + timedelta(days=13)
    world.crm.allocation.allocate(MANAGER, world.pool_id, [second], seed=1)
    allocated = world.crm.pools.get_customer(ADMIN, second)
    assert allocated.owner_id is not None and allocated.follow_ups_since_claim == 0
    assert allocated.reclaim_due_at == START + timedelta(days=13)


def test_a_won_customer_goes_back_n_days_after_its_last_contract_ends() -> None:
    rules = PoolRules(
        after_contract_end=TierDurations(Duration.days(30), {Tier.A: Duration.days(90)}),
        no_follow_up=TierDurations(Duration.days(7)),
    )
    ended = START + timedelta(days=100)
    lapsed = _owned(won=True, last_contract_end_at=ended)
    assert exemption(lapsed, rules) is None  # the won exemption yields to the lapse rule
    schedule = reclaim_schedule(lapsed, rules, timezone=TZ)
    # Only the contract counts for a won customer: no follow-up for 100 days changes nothing.
    assert (schedule.due_at, schedule.rule) == (ended + timedelta(days=30), "after_contract_end")
    tier_a = reclaim_schedule(attrs.evolve(lapsed, tier=Tier.A), rules, timezone=TZ)
    assert tier_a.due_at == ended + timedelta(days=90)
    # A contract still active (a renewal signed): exempt again, whatever ended before.
    renewed = attrs.evolve(lapsed, has_active_contract=True)
    assert exemption(renewed, rules) == "won"
    assert reclaim_schedule(renewed, rules, timezone=TZ) == ReclaimSchedule()
    # Without the rule a won customer stays exempt, contract or not.
    assert exemption(lapsed, PoolRules()) == "won"
    # A contract that ended before the claim counts from the claim.
    early = attrs.evolve(lapsed, last_contract_end_at=START - timedelta(days=5))
    assert reclaim_schedule(early, rules, timezone=TZ).due_at == START + timedelta(days=30)


def test_a_never_won_customer_with_an_ended_contract_meets_every_rule() -> None:
    rules = PoolRules(
        after_contract_end=TierDurations(Duration.days(30)),
        no_follow_up=TierDurations(Duration.days(7)),
    )
    customer = _owned(last_contract_end_at=START + timedelta(days=1))
    schedule = reclaim_schedule(customer, rules, timezone=TZ)
    assert (schedule.due_at, schedule.rule) == (START + timedelta(days=7), "no_follow_up")
    quiet = attrs.evolve(customer, last_follow_up_at=START + timedelta(days=60))
    schedule = reclaim_schedule(quiet, rules, timezone=TZ)
    assert (schedule.due_at, schedule.rule) == (START + timedelta(days=31), "after_contract_end")


def test_the_sweep_handles_due_customers_in_chunks_each_audited_and_a_conflicting_chunk_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Warnings and reclaims go ``chunk`` customers to a unit of work, one audit entry and one
    history line each; a chunk that keeps conflicting is retried one customer at a time, and
    a customer that still conflicts alone is skipped (the next sweep sees it again)."""
    from leadtocash.app.context import AppContext
    from leadtocash.errors import ConcurrencyConflict

    rules = PoolRules(no_follow_up=TierDurations(Duration.days(7)), warn_before=Duration.days(2))
    world = make_world(rules, customers=5)
    for cid in world.customers:
        world.crm.pools.claim(REP1, cid)
    world.clock.advance(timedelta(days=5))
    commands: list[int] = []
    real = AppContext.execute

    def counting(self: AppContext, principal: object, action: object, command: object) -> object:
        commands.append(1)
        return real(self, principal, action, command)  # type: ignore[arg-type]

    monkeypatch.setattr(AppContext, "execute", counting)
    assert world.crm.reclaim.sweep(SYSTEM, chunk=2).warned == tuple(world.customers)
    assert len(commands) == 3  # 2 + 2 + 1
    world.clock.advance(timedelta(days=2))
    stuck = world.customers[1]

    def conflicting(self: AppContext, principal: object, action: object, command: Any) -> object:
        def attempt(uow: Any) -> Any:  # someone else keeps changing ``stuck`` meanwhile
            result, changes = command(uow)
            if any(change.target_id == stuck for change in changes):
                raise ConcurrencyConflict(f"{stuck} changed meanwhile")
            return result, changes

        return real(self, principal, action, attempt)  # type: ignore[arg-type]

    monkeypatch.setattr(AppContext, "execute", conflicting)
    report = world.crm.reclaim.sweep(SYSTEM, chunk=3)
    assert report.reclaimed == tuple(c for c in world.customers if c != stuck)
    assert report.skipped == ((stuck, "conflict"),)
    monkeypatch.setattr(AppContext, "execute", real)
    assert world.crm.reclaim.sweep(SYSTEM).reclaimed == (stuck,)
    for cid in world.customers:
        assert world.crm.pools.history(ADMIN, cid)[-1].action is OwnershipAction.RECLAIM
