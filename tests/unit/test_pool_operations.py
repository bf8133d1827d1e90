"""Pool operations: claim, assign, release, transfer, lock, follow-up, masking, refusals."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import attrs
import pytest

from leadtocash import (
    CollaboratorAccess,
    PermissionDenied,
    PoolId,
    RepId,
    RuleViolation,
    SalesRep,
    Tier,
    ValidationError,
    ZoneId,
)
from leadtocash.durations import Duration
from leadtocash.pool.book import OwnershipAction, RepBook
from leadtocash.pool.rules import PoolRules
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
