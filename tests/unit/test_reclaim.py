"""Reclaim (回收): derived due dates, warnings, exemptions, sweeps and rule changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from leadtocash import Tier
from leadtocash.durations import Duration, WeekdayCalendar
from leadtocash.model import Customer, CustomerId, RepId
from leadtocash.pool.book import OwnershipAction
from leadtocash.pool.reclaim import reclaim_schedule
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
