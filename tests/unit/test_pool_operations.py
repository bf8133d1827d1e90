"""Pool operations: claim, assign, release, transfer, lock, follow-up, masking, refusals."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import attrs
import pytest

from leadtocash import (
    CollaboratorAccess,
    LeadToCash,
    NotFound,
    PermissionDenied,
    PoolId,
    RandomIds,
    RepId,
    RuleViolation,
    SalesRep,
    Tier,
    ValidationError,
    ZoneId,
)
from leadtocash.calendars import ChinaStatutoryCalendar
from leadtocash.durations import Duration, WeekdayCalendar
from leadtocash.model import Customer, CustomerId, Deletion
from leadtocash.pool.book import DailyClaims, OwnershipAction, RepBook
from leadtocash.pool.ownership import (
    OwnershipFacts,
    check_capacity,
    check_claim,
    check_owned,
    check_unowned,
    decide_assign,
    decide_claim,
    decide_release,
    decide_transfer,
    next_local_midnight,
    require_reason,
    returned_to_pool,
    taken_by,
)
from leadtocash.pool.rules import Pool, PoolRules
from pool_fixtures import ADMIN, MANAGER, START, World, make_world, rep_principal

REP1, REP2 = rep_principal(1), rep_principal(2)


def _state(world: World) -> Any:
    return (dict(world.store._rows), list(world.store._audit), dict(world.store._outbox))


def _refused(world: World, code: str, call: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    before = _state(world)
    with pytest.raises((RuleViolation, PermissionDenied, ValidationError)) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code
    assert _state(world) == before, "a refused operation must change nothing"
    return caught.value.details


def test_claim_takes_ownership_and_is_audited_with_history() -> None:
    world = make_world(customers=1)
    cid = world.customers[0]
    customer = world.crm.pools.claim(REP1, cid)
    assert customer.owner_id == "rep1" and customer.owner_since == START
    assert world.crm.pools.list_pool(REP1, world.pool_id).items == ()
    (line,) = world.crm.pools.history(ADMIN, cid)
    assert (line.action, line.from_rep, line.to_rep, line.actor_id) == (
        OwnershipAction.CLAIM, None, "rep1", "user1",
    )  # fmt: skip
    entry = world.store.audit_log()[-1]
    assert (entry.action, entry.target_id, entry.actor_id) == ("pool.claim", cid, "user1")
    assert entry.before is not None and entry.before["owner_id"] is None
    assert entry.after is not None and entry.after["owner_id"] == "rep1"
    topics = [m.topic for m in world.store.outbox_due(START + timedelta(days=1), limit=1000)]
    assert topics[-1] == "pool.ownership_changed"


def test_a_customer_never_gets_a_second_owner() -> None:
    world = make_world(customers=1)
    world.crm.pools.claim(REP1, world.customers[0])
    details = _refused(world, "pool.already_owned", world.crm.pools.claim, REP2, world.customers[0])
    assert details == {"customer_id": world.customers[0]}
    _refused(
        world,
        "pool.already_owned",
        world.crm.pools.assign,
        MANAGER,
        world.customers[0],
        RepId("rep2"),
    )


def test_contact_fields_are_masked_for_reps_who_do_not_own_the_customer() -> None:
    world = make_world(customers=1)
    cid = world.customers[0]
    raw = "+8613800000000"
    assert world.crm.pools.get_customer(REP1, cid).phones == ("+86138****0000",)
    assert all(
        raw not in str(c.phones) for c in world.crm.pools.list_pool(REP2, world.pool_id).items
    )
    world.crm.pools.claim(REP1, cid)
    assert world.crm.pools.get_customer(REP1, cid).phones == (raw,)
    assert world.crm.pools.get_customer(MANAGER, cid).phones == (raw,)
    # Once owned, another rep's customer is outside REP2's data scope altogether.
    details = _refused(world, "auth.out_of_scope", world.crm.pools.get_customer, REP2, cid)
    assert raw not in str(details)
    # A read collaborator sees it, contact fields included.
    world.crm.pools.set_collaborator(
        MANAGER, cid, RepId("rep2"), CollaboratorAccess.READ, "joint visit"
    )
    assert world.crm.pools.get_customer(REP2, cid).phones == (raw,)
    _refused(world, "pool.not_owner", world.crm.pools.log_follow_up, REP2, cid)
    world.crm.pools.set_collaborator(
        MANAGER, cid, RepId("rep2"), CollaboratorAccess.WRITE, "joint account"
    )
    assert world.crm.pools.log_follow_up(REP2, cid).rep_id == "rep2"
    _refused(world, "pool.not_owner", world.crm.pools.release, REP2, cid, "not theirs to give")


def test_daily_limit_counts_per_local_day_and_resets_at_local_midnight() -> None:
    world = make_world(PoolRules(daily_claim_limit=2), customers=4)
    # 23:30 in Shanghai on Monday is 15:30 UTC.
    world.clock.set(START.replace(hour=15, minute=30))
    world.crm.pools.claim(REP1, world.customers[0])
    world.crm.pools.claim(REP1, world.customers[1])
    details = _refused(
        world, "pool.daily_limit_reached", world.crm.pools.claim, REP1, world.customers[2]
    )
    assert details["limit"] == 2 and details["count"] == 2
    assert details["resets_at"] == "2026-01-05T16:00:00+00:00"
    world.crm.pools.claim(REP2, world.customers[2])  # other reps have their own count
    world.clock.set(START.replace(hour=15, minute=59, second=59))
    _refused(world, "pool.daily_limit_reached", world.crm.pools.claim, REP1, world.customers[3])
    world.clock.set(START.replace(hour=16))  # midnight in Shanghai, still Monday in UTC
    assert world.crm.pools.claim(REP1, world.customers[3]).owner_id == "rep1"


def test_capacity_counts_owned_customers_minus_configured_exclusions() -> None:
    world = make_world(PoolRules(capacity=2), customers=4)
    a, b, c, d = world.customers
    world.crm.pools.claim(REP1, a)
    world.crm.pools.claim(REP1, b)
    details = _refused(world, "pool.capacity_reached", world.crm.pools.claim, REP1, c)
    assert details == {"rep_id": "rep1", "capacity": 2, "counted": 2}
    world.crm.pools.set_lock(MANAGER, a, True, "strategic account")
    world.crm.pools.claim(REP1, c)  # the locked one no longer counts
    world.crm.reclaim.record_facts(ADMIN, b, won=True)
    world.crm.pools.claim(REP1, d)  # nor does the won one
    book = world.crm.unit_of_work()
    with book as uow:
        rep_book = uow.repository(RepBook).get("rep1")
    assert (rep_book.owned, rep_book.locked, rep_book.won) == (4, 1, 1)


def test_manager_assignment_respects_capacity_unless_an_authorized_override() -> None:
    world = make_world(PoolRules(capacity=1), customers=2)
    a, b = world.customers
    world.crm.pools.assign(MANAGER, a, RepId("rep1"))
    _refused(world, "pool.capacity_reached", world.crm.pools.assign, MANAGER, b, RepId("rep1"))
    _refused(
        world,
        "validation.invalid",
        world.crm.pools.assign,
        MANAGER,
        b,
        RepId("rep1"),
        override=True,
    )
    lead = rep_principal(9)
    _refused(
        world, "auth.permission_denied", world.crm.pools.assign, lead, b, RepId("rep1"),
        reason="x", override=True,
    )  # fmt: skip
    customer = world.crm.pools.assign(
        MANAGER, b, RepId("rep1"), reason="key account", override=True
    )
    assert customer.owner_id == "rep1"
    entry = world.store.audit_log()[-1]
    assert entry.override and entry.reason == "key account"


def test_release_needs_a_reason_and_the_owner_or_a_manager() -> None:
    world = make_world(customers=1)
    cid = world.customers[0]
    world.crm.pools.claim(REP1, cid)
    details = _refused(world, "validation.invalid", world.crm.pools.release, REP1, cid, "  ")
    assert details["fields"][0]["path"] == "reason"
    _refused(world, "pool.not_owner", world.crm.pools.release, REP2, cid, "not mine")
    released = world.crm.pools.release(REP1, cid, "no budget this year")
    assert released.owner_id is None and released.previous_owner_id == "rep1"
    assert released.pool_cycles == 1 and released.pool_entered_at == START
    _refused(world, "pool.not_owned", world.crm.pools.release, REP1, cid, "again")


def test_locked_customers_cannot_be_released_until_unlocked() -> None:
    world = make_world(customers=1)
    cid = world.customers[0]
    world.crm.pools.claim(REP1, cid)
    world.crm.pools.set_lock(MANAGER, cid, True, "VIP")
    _refused(world, "pool.customer_locked", world.crm.pools.release, REP1, cid, "bye")
    world.crm.pools.set_lock(MANAGER, cid, False, "normal again")
    assert world.crm.pools.release(REP1, cid, "bye").owner_id is None


def test_previous_owner_cooldown_and_new_in_pool_cooldown() -> None:
    rules = PoolRules(reclaim_cooldown=Duration.days(7), new_in_pool_cooldown=Duration.hours(2))
    world = make_world(rules, customers=1)
    cid = world.customers[0]
    details = _refused(world, "pool.new_in_pool_cooldown", world.crm.pools.claim, REP1, cid)
    assert details["until"] == (START + timedelta(hours=2)).isoformat()
    world.clock.advance(timedelta(hours=2))
    world.crm.pools.claim(REP1, cid)
    world.crm.pools.release(REP1, cid, "not interested")
    world.clock.advance(timedelta(hours=3))
    details = _refused(world, "pool.reclaim_cooldown", world.crm.pools.claim, REP1, cid)
    assert details["until"] == (START + timedelta(days=7, hours=2)).isoformat()
    assert world.crm.pools.claim(REP2, cid).owner_id == "rep2"  # others may


def test_zero_and_none_switch_rules_off() -> None:
    off = PoolRules(
        daily_claim_limit=0, capacity=0, reclaim_cooldown=Duration.days(0),
        new_in_pool_cooldown=Duration.hours(0),
    )  # fmt: skip
    world = make_world(off, customers=5)
    for cid in world.customers:
        world.crm.pools.claim(REP1, cid)
    world.crm.pools.release(REP1, world.customers[0], "test")
    assert world.crm.pools.claim(REP1, world.customers[0]).owner_id == "rep1"


def test_transfer_between_reps_and_zones_keeps_history() -> None:
    world = make_world(customers=1)
    cid = world.customers[0]
    west = world.crm.pools.create_pool(
        ADMIN, "West", zone_id=ZoneId("west"), pool_id=PoolId("west")
    )
    world.crm.reps.register(
        ADMIN, SalesRep(id=RepId("w1"), name="West rep", zone_id=ZoneId("west"))
    )
    world.crm.pools.claim(REP1, cid)
    world.crm.pools.transfer(MANAGER, cid, RepId("rep2"), "territory change")
    _refused(
        world, "pool.zone_mismatch", world.crm.pools.transfer, MANAGER, cid, RepId("w1"), "move"
    )
    moved = world.crm.pools.transfer(MANAGER, cid, RepId("w1"), "moved west", to_pool=west.id)
    assert (moved.owner_id, moved.pool_id, moved.zone_id) == ("w1", "west", "west")
    history = world.crm.pools.history(ADMIN, cid)
    assert [(h.action, h.from_rep, h.to_rep) for h in history] == [
        (OwnershipAction.CLAIM, None, "rep1"),
        (OwnershipAction.TRANSFER, "rep1", "rep2"),
        (OwnershipAction.TRANSFER, "rep2", "w1"),
    ]
    assert history[-1].reason == "moved west"
    _refused(
        world, "auth.permission_denied", world.crm.pools.transfer, REP1, cid, RepId("rep1"), "x"
    )


def test_claims_across_zones_are_refused() -> None:
    world = make_world(customers=1)
    outsider = rep_principal(1)
    from attrs import evolve

    outsider = evolve(outsider, zone_id=ZoneId("west"))
    _refused(world, "pool.zone_mismatch", world.crm.pools.claim, outsider, world.customers[0])


def test_non_reps_cannot_claim_and_reps_cannot_manage() -> None:
    world = make_world(customers=1)
    _refused(world, "pool.not_a_rep", world.crm.pools.claim, MANAGER, world.customers[0])
    _refused(world, "auth.permission_denied", world.crm.pools.create_pool, REP1, "mine")
    _refused(
        world,
        "auth.permission_denied",
        world.crm.pools.set_lock,
        REP1,
        world.customers[0],
        True,
        "x",
    )


def test_bad_customer_contact_data_lists_every_field() -> None:
    world = make_world()
    details = _refused(
        world, "validation.invalid", world.crm.pools.add_customer, ADMIN, " ",
        pool_id=world.pool_id, phones=["123", "+8613800138000"], emails=["x"], uscc="bad",
    )  # fmt: skip
    paths = sorted(f["path"] for f in details["fields"])
    assert paths == ["emails[0]", "name", "phones[0]", "uscc"]


def test_per_tier_daily_claim_limits() -> None:
    rules = PoolRules(daily_claim_limit=5, tier_claim_limits={Tier.A: 1})
    world = make_world(rules, customers=3)
    a1, a2, d1 = world.customers
    with world.crm.unit_of_work() as uow:
        for cid in (a1, a2):
            customer = uow.customers.get(cid)
            uow.customers.save(attrs.evolve(customer, tier=Tier.A))
        uow.commit()
    world.crm.pools.claim(REP1, a1)
    details = _refused(world, "pool.tier_claim_limit_reached", world.crm.pools.claim, REP1, a2)
    assert (details["tier"], details["limit"], details["count"]) == ("A", 1, 1)
    assert world.crm.pools.claim(REP1, d1).owner_id == "rep1"  # other tiers are not limited


# --- The claim rules as pure functions: calendars, boundaries and the refusals' details. ---

TZ = "Asia/Shanghai"
# 2026-02-13 is the Friday before the Spring Festival holiday: Saturday 14 is a make-up
# workday (调休), Sunday 15 to Monday 23 are off, Saturday 28 is a make-up workday again.
FEB13_10H = datetime(2026, 2, 13, 2, 0, tzinfo=UTC)  # Friday 10:00 in Shanghai


def _pool_customer(**changes: Any) -> Customer:
    base = Customer(
        id=CustomerId("c1"),
        name="客户",
        created_at=START,
        pool_id=PoolId("east"),
        pool_entered_at=START,
    )
    return attrs.evolve(base, **changes)


def _facts(now: datetime, **changes: Any) -> OwnershipFacts:
    return attrs.evolve(OwnershipFacts(now, TZ, RepBook(RepId("rep1"))), **changes)


def _claim_refusal(
    customer: Customer, rules: PoolRules, facts: OwnershipFacts, rep: str = "rep1"
) -> RuleViolation:
    with pytest.raises(RuleViolation) as caught:
        check_claim(customer, RepId(rep), rules, facts)
    return caught.value


def test_a_working_day_cooldown_counts_the_organisations_calendar() -> None:
    china = ChinaStatutoryCalendar()
    entered = _pool_customer(pool_entered_at=FEB13_10H)
    rules = PoolRules(new_in_pool_cooldown=Duration.working_days(1))
    # The one working day after Friday is the make-up Saturday: claimable from Sunday 00:00.
    saturday = _facts(FEB13_10H + timedelta(days=1), calendar=china)
    refused = _claim_refusal(entered, rules, saturday)
    assert refused.code == "pool.new_in_pool_cooldown"
    assert refused.details["until"] == "2026-02-14T16:00:00+00:00"
    check_claim(
        entered, RepId("rep1"), rules, attrs.evolve(saturday, now=FEB13_10H + timedelta(days=2))
    )
    # A company closure is not a working day either: Friday's one day ends Tuesday 24:00.
    closed = WeekdayCalendar(closures=frozenset({date(2026, 2, 16)}))
    refused = _claim_refusal(entered, rules, _facts(FEB13_10H, calendar=closed))
    assert refused.details == {"customer_id": "c1", "until": "2026-02-17T16:00:00+00:00"}


def test_the_previous_owners_cooldown_in_working_days_and_its_details() -> None:
    closed = WeekdayCalendar(closures=frozenset({date(2026, 1, 6)}))
    rules = PoolRules(reclaim_cooldown=Duration.working_days(2))
    released = _pool_customer(previous_owner_id=RepId("rep1"))  # back in the pool Monday 09:00
    refused = _claim_refusal(released, rules, _facts(START + timedelta(days=2), calendar=closed))
    # Tuesday is closed: Wednesday and Thursday are the two days, over at Thursday 24:00.
    assert refused.code == "pool.reclaim_cooldown"
    assert refused.details == {
        "customer_id": "c1",
        "rep_id": "rep1",
        "until": "2026-01-08T16:00:00+00:00",
    }
    # Anyone else may claim it at once; the previous owner exactly when the cooldown ends.
    check_claim(released, RepId("rep2"), rules, _facts(START, calendar=closed))
    ends = datetime(2026, 1, 8, 16, 0, tzinfo=UTC)
    check_claim(released, RepId("rep1"), rules, _facts(ends, calendar=closed))


def test_a_cooldown_in_calendar_days_keeps_the_local_wall_clock() -> None:
    rules = PoolRules(new_in_pool_cooldown=Duration.days(1))
    refused = _claim_refusal(_pool_customer(), rules, _facts(START))
    assert refused.details == {"customer_id": "c1", "until": "2026-01-06T01:00:00+00:00"}


def test_the_daily_limit_refusal_names_rep_limit_count_and_reset() -> None:
    rules = PoolRules(daily_claim_limit=3)
    facts = _facts(START, claims_today=3)  # Monday 09:00 in Shanghai
    refused = _claim_refusal(_pool_customer(), rules, facts)
    assert refused.code == "pool.daily_limit_reached"
    assert refused.details == {
        "rep_id": "rep1",
        "limit": 3,
        "count": 3,
        "resets_at": "2026-01-05T16:00:00+00:00",  # Tuesday 00:00 in Shanghai
    }
    check_claim(_pool_customer(), RepId("rep1"), rules, attrs.evolve(facts, claims_today=2))


def test_the_tier_limit_applies_to_its_tier_only_and_names_when_it_resets() -> None:
    rules = PoolRules(tier_claim_limits={Tier.A: 2})
    tier_a = _pool_customer(tier=Tier.A)
    facts = _facts(START, claims_today=9, claims_today_by_tier={Tier.A: 2, Tier.D: 7})
    refused = _claim_refusal(tier_a, rules, facts)
    assert refused.code == "pool.tier_claim_limit_reached"
    assert refused.details == {
        "rep_id": "rep1",
        "tier": "A",
        "limit": 2,
        "count": 2,
        "resets_at": "2026-01-05T16:00:00+00:00",
    }
    # Tiers without a limit are never counted against one, however many were claimed.
    check_claim(_pool_customer(tier=Tier.D), RepId("rep1"), rules, facts)
    check_claim(_pool_customer(tier=Tier.B), RepId("rep1"), rules, facts)
    one_left = attrs.evolve(facts, claims_today_by_tier={Tier.A: 1})
    check_claim(tier_a, RepId("rep1"), rules, one_left)


def test_capacity_counts_won_and_locked_customers_when_the_pool_says_so() -> None:
    book = RepBook(RepId("rep1"), owned=3, won=1, locked=1)
    facts = _facts(START, book=book)
    assert book.counted(exclude_won=True, exclude_locked=True) == 1
    check_capacity(PoolRules(capacity=2), facts)
    counting_won = PoolRules(capacity=2, capacity_excludes_won=False)
    counting_locked = PoolRules(capacity=2, capacity_excludes_locked=False)
    for rules in (counting_won, counting_locked):
        with pytest.raises(RuleViolation) as caught:
            check_capacity(rules, facts)
        assert caught.value.details == {"rep_id": "rep1", "capacity": 2, "counted": 2}
        check_capacity(rules, facts, override=True)
    check_capacity(PoolRules(capacity=3, capacity_excludes_won=False), facts)


def test_refusals_about_ownership_name_the_customer() -> None:
    owned = _pool_customer(owner_id=RepId("rep2"), owner_since=START)
    with pytest.raises(RuleViolation) as caught:
        check_unowned(owned)
    assert (caught.value.code, caught.value.details) == (
        "pool.already_owned",
        {"customer_id": "c1"},
    )
    with pytest.raises(RuleViolation) as caught:
        check_owned(_pool_customer())
    assert (caught.value.code, caught.value.details) == ("pool.not_owned", {"customer_id": "c1"})
    assert "c1" in str(caught.value)  # the message names the customer too
    assert check_owned(owned) == "rep2"


def test_a_reason_is_trimmed_and_a_blank_one_refused() -> None:
    assert require_reason("  no budget \n") == "no budget"
    for blank in (None, "", " \t"):
        with pytest.raises(ValidationError) as caught:
            require_reason(blank)
        (field,) = caught.value.details["fields"]
        assert (field["path"], field["code"]) == ("reason", "field.required")


def test_taking_a_customer_restarts_protection_and_warnings() -> None:
    previous = _pool_customer(
        owner_id=RepId("rep1"),
        owner_since=START,
        follow_ups_since_claim=4,
        warned_due_at=START + timedelta(days=5),
        updated_at=START,
    )
    later = START + timedelta(days=3)
    taken = taken_by(previous, RepId("rep2"), later)
    assert (taken.owner_id, taken.owner_since, taken.updated_at) == ("rep2", later, later)
    assert taken.follow_ups_since_claim == 0 and taken.warned_due_at is None
    assert taken.previous_owner_id is None and taken.pool_cycles == 0  # unchanged facts


def test_returning_to_the_pool_clears_ownership_lock_and_schedule() -> None:
    due = START + timedelta(days=7)
    owned = _pool_customer(
        owner_id=RepId("rep1"),
        owner_since=START,
        pool_cycles=2,
        locked=True,
        follow_ups_since_claim=3,
        reclaim_due_at=due,
        reclaim_rule="no_follow_up",
        warn_at=due - timedelta(days=2),
        warned_due_at=due,
    )
    now = START + timedelta(days=6)
    back = returned_to_pool(owned, PoolId("recycled"), now)
    assert (back.owner_id, back.owner_since, back.previous_owner_id) == (None, None, "rep1")
    assert (back.pool_id, back.pool_entered_at, back.pool_cycles) == ("recycled", now, 3)
    assert back.locked is False and back.follow_ups_since_claim == 0
    assert (back.reclaim_due_at, back.reclaim_rule, back.warn_at, back.warned_due_at) == (
        None, None, None, None,
    )  # fmt: skip
    assert back.updated_at == now


def test_daily_limits_reset_at_the_next_local_midnight() -> None:
    # 23:59 in Shanghai resets one minute later; 00:00 resets a whole day later.
    assert next_local_midnight(datetime(2026, 1, 5, 15, 59, tzinfo=UTC), TZ) == datetime(
        2026, 1, 5, 16, 0, tzinfo=UTC
    )
    assert next_local_midnight(datetime(2026, 1, 5, 16, 0, tzinfo=UTC), TZ) == datetime(
        2026, 1, 6, 16, 0, tzinfo=UTC
    )
    assert next_local_midnight(datetime(2026, 1, 5, 16, 0, tzinfo=UTC), "UTC") == datetime(
        2026, 1, 6, 0, 0, tzinfo=UTC
    )


# --- The whole decisions (decide_*): what the application applies, refused by the domain. ---

EAST = Pool(PoolId("east"), "East", zone_id=ZoneId("east"), rules=PoolRules(daily_claim_limit=1))
WEST = Pool(PoolId("west"), "West", zone_id=ZoneId("west"))


def _counter(count: int = 0) -> DailyClaims:
    return DailyClaims("east|rep1|d", PoolId("east"), RepId("rep1"), START.date(), count=count)


def _rep(rep_id: str = "rep1", zone: str | None = "east", active: bool = True) -> SalesRep:
    zone_id = ZoneId(zone) if zone else None
    return SalesRep(RepId(rep_id), rep_id, zone_id=zone_id, active=active)


def _decision_refusal(call: Any, *args: Any, **kwargs: Any) -> RuleViolation:
    with pytest.raises(RuleViolation) as caught:
        call(*args, **kwargs)
    return caught.value


def test_a_granted_claim_returns_the_owned_customer_and_the_counted_day() -> None:
    customer = _pool_customer(tier=Tier.B)
    claim = decide_claim(customer, RepId("rep1"), ZoneId("east"), EAST, _counter(), _facts(START))
    assert claim.customer == taken_by(customer, RepId("rep1"), START)
    assert (claim.counter.count, dict(claim.counter.by_tier)) == (1, {Tier.B: 1})


def test_the_claim_decision_refuses_in_the_order_a_rep_wants_to_hear() -> None:
    rep, facts = RepId("rep1"), _facts(START)
    owned = _pool_customer(owner_id=RepId("rep2"), pool_id=None)
    refused = _decision_refusal(decide_claim, owned, rep, None, None, None, facts)
    assert refused.code == "pool.already_owned"  # before "in no pool"
    loose = _pool_customer(pool_id=None)
    refused = _decision_refusal(decide_claim, loose, rep, None, None, None, facts)
    assert (refused.code, refused.details) == ("pool.not_in_pool", {"customer_id": "c1"})
    customer = _pool_customer()
    refused = _decision_refusal(
        decide_claim, customer, rep, ZoneId("west"), EAST, _counter(), facts
    )
    assert (refused.code, refused.details) == (
        "pool.zone_mismatch", {"rep_id": "rep1", "rep_zone": "west", "pool_zone": "east"}
    )  # fmt: skip
    refused = _decision_refusal(decide_claim, customer, rep, None, EAST, _counter(1), facts)
    assert refused.code == "pool.daily_limit_reached"  # a rep of no zone passes the zone rule
    with pytest.raises(ValueError, match="needs pool east"):
        decide_claim(customer, rep, None, WEST, _counter(), facts)  # the wrong pool loaded
    with pytest.raises(ValueError, match="needs pool east"):
        decide_claim(customer, rep, None, EAST, None, facts)


def test_assign_needs_an_active_rep_of_the_pools_zone_with_room() -> None:
    customer, facts = _pool_customer(), _facts(START)
    assert decide_assign(customer, _rep(), EAST, facts).owner_id == "rep1"
    refused = _decision_refusal(decide_assign, customer, _rep(active=False), EAST, facts)
    assert (refused.code, refused.details) == ("pool.rep_inactive", {"rep_id": "rep1"})
    refused = _decision_refusal(decide_assign, customer, _rep(zone="west"), EAST, facts)
    assert refused.code == "pool.zone_mismatch"
    full = attrs.evolve(EAST, rules=PoolRules(capacity=1))
    crowded = _facts(START, book=RepBook(RepId("rep1")).adjust(_pool_customer(id="c9"), 1))
    refused = _decision_refusal(decide_assign, customer, _rep(), full, crowded)
    assert refused.code == "pool.capacity_reached"
    assert decide_assign(customer, _rep(), full, crowded, override=True).owner_id == "rep1"
    assert decide_assign(customer, _rep(zone=None), None, facts).owner_id == "rep1"


def test_release_refuses_a_locked_customer_and_follows_release_to() -> None:
    owned = _pool_customer(owner_id=RepId("rep1"))
    back = decide_release(owned, PoolRules(), START)
    assert (back.owner_id, back.pool_id, back.previous_owner_id) == (None, "east", "rep1")
    elsewhere = decide_release(owned, PoolRules(release_to=PoolId("west")), START)
    assert elsewhere.pool_id == "west"
    locked = attrs.evolve(owned, locked=True)
    refused = _decision_refusal(decide_release, locked, PoolRules(), START)
    assert (refused.code, refused.details) == ("pool.customer_locked", {"customer_id": "c1"})
    homeless = attrs.evolve(owned, pool_id=None)
    refused = _decision_refusal(decide_release, homeless, PoolRules(), START)
    assert refused.code == "pool.not_in_pool"
    refused = _decision_refusal(decide_release, _pool_customer(), PoolRules(), START)
    assert refused.code == "pool.not_owned"


def test_transfer_moves_owner_and_zone_but_not_to_the_same_place() -> None:
    owned, facts = _pool_customer(owner_id=RepId("rep1"), zone_id=ZoneId("east")), _facts(START)
    refused = _decision_refusal(decide_transfer, owned, _rep(), EAST, facts)
    assert (refused.code, refused.details) == ("pool.same_owner", {"customer_id": "c1"})
    moved = decide_transfer(owned, _rep(zone="west"), WEST, facts)  # same rep, another pool
    assert (moved.owner_id, moved.pool_id, moved.zone_id) == ("rep1", "west", "west")
    moved = decide_transfer(owned, _rep("rep2"), EAST, facts)
    assert (moved.owner_id, moved.pool_id, moved.follow_ups_since_claim) == ("rep2", "east", 0)
    refused = _decision_refusal(decide_transfer, owned, _rep("rep2", zone="west"), EAST, facts)
    assert refused.code == "pool.zone_mismatch"
    unzoned = Pool(PoolId("any"), "Any")
    assert decide_transfer(owned, _rep("rep2"), unzoned, facts).zone_id == "east"


def _count_customer_builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the id of every customer the unit of work structures from a stored document."""
    from leadtocash.serialization import structure

    built: list[str] = []

    def counting(data: Any, cls: Any) -> Any:
        if cls is Customer:
            built.append(data["id"])
        return structure(data, cls)

    monkeypatch.setattr("leadtocash.app.unit_of_work.structure", counting)
    return built


def test_a_claim_of_an_owned_customer_is_refused_without_building_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = make_world(customers=2)
    cid = world.customers[0]
    world.crm.pools.claim(REP1, cid)
    other = LeadToCash(world.store, world.clock, RandomIds())
    built = _count_customer_builds(monkeypatch)
    for crm in (world.crm, other):  # one facade wrote it, the other has never read it
        with pytest.raises(RuleViolation) as caught:
            crm.pools.claim(REP2, cid)
        assert (caught.value.code, caught.value.details) == (
            "pool.already_owned", {"customer_id": cid},
        )  # fmt: skip
        assert str(caught.value) == f"[pool.already_owned] customer {cid} is already owned"
    assert built == []
    assert other.pools.claim(REP2, world.customers[1]).owner_id == "rep2"
    assert built == [world.customers[1]]  # an unowned one is built, and claimed


def test_an_owned_customer_keeps_the_refusals_that_come_first() -> None:
    world = make_world(customers=2)
    owned, deleted = world.customers
    world.crm.pools.claim(REP1, owned)
    world.crm.pools.claim(REP1, deleted)
    with world.crm.unit_of_work() as uow:  # in the recycle bin, still owned
        customer = uow.customers.get(deleted)
        mark = Deletion(at=START, by="admin", reason="test")
        uow.customers.save(attrs.evolve(customer, deleted=mark))
        uow.commit()
    with pytest.raises(NotFound):
        world.crm.pools.claim(REP2, deleted)
    with pytest.raises(NotFound):
        world.crm.pools.claim(REP2, "no-such-customer")
    world.crm.reps.update(ADMIN, RepId("rep2"), active=False, reason="left")
    _refused(world, "pool.rep_inactive", world.crm.pools.claim, REP2, owned)


def test_fields_of_reads_a_preloaded_record_without_building_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = make_world(customers=1)
    cid = world.customers[0]
    built = _count_customer_builds(monkeypatch)
    fresh = LeadToCash(world.store, world.clock, RandomIds())  # nothing cached
    with fresh.unit_of_work() as uow:
        uow.preload((Customer, cid), (Customer, "missing"))
        assert uow.customers.fields_of([cid, "missing"], ("id", "owner_id")) == [(cid, None)]
        assert built == []
        customer = uow.customers.get(cid)  # built when used, from the same preloaded read
        assert built == [cid] and customer.owner_id is None
        assert uow.customers.fields_of([cid], ("id", "pool_id")) == [(cid, world.pool_id)]
