"""Pool browsing quota: pool customers a rep may open unmasked per organisation day (#27)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from leadtocash import (
    BrowseQuota,
    PermissionDenied,
    PoolId,
    PoolMembers,
    PoolRules,
    Principal,
    RepId,
    Role,
    RuleViolation,
    TeamId,
    ValidationError,
    ZoneId,
)
from leadtocash.pool.browsing import DailyBrowses, browse_counter_id, decide_browse
from leadtocash.pool.membership import Member
from leadtocash.pool.rules import Pool
from pool_fixtures import ADMIN, MANAGER, START, World, make_world, rep_principal

EAST, WEST = ZoneId("east"), ZoneId("west")
REP1, REP2 = rep_principal(1), rep_principal(2)
PHONE0 = "+8613800000000"


def _state(world: World) -> Any:
    return (dict(world.store._rows), list(world.store._audit), dict(world.store._outbox))


def _refused(world: World, code: str, call: Any, *args: Any) -> dict[str, Any]:
    before = _state(world)
    with pytest.raises((RuleViolation, PermissionDenied, ValidationError)) as caught:
        call(*args)
    assert caught.value.code == code
    assert _state(world) == before, "a refused operation must change nothing"
    return caught.value.details


def _world(quota: BrowseQuota, customers: int = 4) -> World:
    return make_world(PoolRules(browse_quota=quota), customers=customers)


def _counter(world: World, rep: str = "rep1", day: Any = None) -> DailyBrowses | None:
    day = day or START.date()
    with world.crm.unit_of_work() as uow:
        ident = browse_counter_id(PoolId("east"), RepId(rep), day)
        return uow.repository(DailyBrowses).find(ident)


# -- the value ---------------------------------------------------------------------------------
def test_the_most_specific_allowance_applies_team_then_zone_then_role_then_default() -> None:
    quota = BrowseQuota(
        default=1,
        by_role={Role.REP: 2, Role.TEAM_LEAD: 5},
        by_zone={EAST: 3},
        by_team={TeamId("t1"): 4},
    )
    assert quota.allowance(Member(RepId("r"), EAST, TeamId("t1"), frozenset({Role.REP}))) == 4
    assert quota.allowance(Member(RepId("r"), EAST, TeamId("t2"), frozenset({Role.REP}))) == 3
    assert quota.allowance(Member(RepId("r"), WEST, None, frozenset({Role.REP}))) == 2
    both = frozenset({Role.REP, Role.TEAM_LEAD})
    assert quota.allowance(Member(RepId("r"), WEST, None, both)) == 5  # the larger role's
    assert quota.allowance(Member(RepId("r"), WEST)) == 1
    assert BrowseQuota().allowance(Member(RepId("r"))) == 0  # by default none


def test_a_quota_refuses_negative_or_non_integer_counts_naming_each_field() -> None:
    with pytest.raises(ValidationError) as caught:
        BrowseQuota(default=-1, by_role={Role.REP: True}, by_zone={EAST: -2})
    assert caught.value.paths == (
        "browse_quota.default",
        "browse_quota.by_role[rep]",
        "browse_quota.by_zone[east]",
    )


def test_the_decision_counts_each_customer_once_a_day() -> None:
    world = _world(BrowseQuota(default=1), customers=2)
    with world.crm.unit_of_work() as uow:
        pool = uow.repository(Pool).get("east")
        first, second = (uow.customers.get(c) for c in world.customers)
    member = Member.of(REP1)
    counter = DailyBrowses("x", PoolId("east"), RepId("rep1"), START.date())
    opened = decide_browse(first, member, pool, counter, now=START, timezone="Asia/Shanghai")
    assert opened.opened == (first.id,)
    again = decide_browse(first, member, pool, opened, now=START, timezone="Asia/Shanghai")
    assert again is opened
    with pytest.raises(RuleViolation) as caught:
        decide_browse(second, member, pool, opened, now=START, timezone="Asia/Shanghai")
    assert caught.value.code == "pool.browse_quota_exceeded"
    with pytest.raises(ValueError, match="needs an unowned customer"):
        decide_browse(first, member, pool, counter, now=START + timedelta(days=1),
                      timezone="Asia/Shanghai")  # fmt: skip


# -- through the facade ------------------------------------------------------------------------
def test_a_pool_without_a_quota_keeps_contact_fields_masked_until_claimed() -> None:
    world = make_world(customers=1)
    details = _refused(
        world, "pool.browse_quota_exceeded", world.crm.pools.open_customer, REP1, world.customers[0]
    )
    assert (details["limit"], details["count"]) == (0, 0)
    assert world.crm.pools.get_customer(REP1, world.customers[0]).phones == ("+86138****0000",)


def test_a_rep_opens_up_to_the_quota_each_customer_counted_once() -> None:
    world = _world(BrowseQuota(default=2))
    c0, c1, c2, _ = world.customers
    assert world.crm.pools.open_customer(REP1, c0).phones == (PHONE0,)
    assert world.crm.pools.open_customer(REP1, c1).phones == ("+8613800000001",)
    assert world.crm.pools.open_customer(REP1, c0).phones == (PHONE0,)  # again: free
    details = _refused(world, "pool.browse_quota_exceeded", world.crm.pools.open_customer, REP1, c2)
    assert details == {
        "pool_id": "east",
        "rep_id": "rep1",
        "limit": 2,
        "count": 2,
        "resets_at": "2026-01-05T16:00:00+00:00",  # midnight in Shanghai
    }
    counter = _counter(world)
    assert counter is not None and counter.opened == (c0, c1)
    # other reps have their own count
    assert world.crm.pools.open_customer(REP2, c2).phones == ("+8613800000002",)


def test_lists_and_plain_reads_stay_masked_after_an_open() -> None:
    world = _world(BrowseQuota(default=5))
    world.crm.pools.open_customer(REP1, world.customers[0])
    listed = world.crm.pools.list_pool(REP1, world.pool_id).items
    assert all("****" in c.phones[0] for c in listed)
    assert world.crm.pools.get_customer(REP1, world.customers[0]).phones == ("+86138****0000",)


def test_the_quota_resets_on_the_next_organisation_day() -> None:
    world = _world(BrowseQuota(default=1))
    c0, c1, c2, _ = world.customers
    world.clock.set(START.replace(hour=15, minute=30))  # 23:30 in Shanghai
    world.crm.pools.open_customer(REP1, c0)
    _refused(world, "pool.browse_quota_exceeded", world.crm.pools.open_customer, REP1, c1)
    world.clock.set(START.replace(hour=15, minute=59, second=59))
    _refused(world, "pool.browse_quota_exceeded", world.crm.pools.open_customer, REP1, c1)
    world.clock.set(START.replace(hour=16))  # midnight in Shanghai, still Monday in UTC
    assert world.crm.pools.open_customer(REP1, c1).phones == ("+8613800000001",)
    _refused(world, "pool.browse_quota_exceeded", world.crm.pools.open_customer, REP1, c2)
    tuesday = _counter(world, day=START.date() + timedelta(days=1))
    assert tuesday is not None and tuesday.opened == (c1,)


def test_quotas_per_role_zone_and_team_apply_through_the_facade() -> None:
    quota = BrowseQuota(default=0, by_team={TeamId("t1"): 1}, by_role={Role.REP: 2})
    world = _world(quota)
    c0, c1, c2, c3 = world.customers
    in_team = Principal(
        "user1", roles=frozenset({Role.REP}), rep_id=RepId("rep1"), zone_id=EAST,
        team_id=TeamId("t1"),
    )  # fmt: skip
    world.crm.pools.open_customer(in_team, c0)
    _refused(world, "pool.browse_quota_exceeded", world.crm.pools.open_customer, in_team, c1)
    world.crm.pools.open_customer(REP2, c1)
    world.crm.pools.open_customer(REP2, c2)
    _refused(world, "pool.browse_quota_exceeded", world.crm.pools.open_customer, REP2, c3)


def test_owners_collaborators_and_managers_are_not_counted() -> None:
    world = make_world(customers=2)  # no quota at all
    c0, c1 = world.customers
    assert world.crm.pools.open_customer(MANAGER, c0).phones == (PHONE0,)
    assert world.crm.pools.open_customer(ADMIN, c0).phones == (PHONE0,)
    world.crm.pools.claim(REP1, c1)
    assert world.crm.pools.open_customer(REP1, c1).phones == ("+8613800000001",)
    assert _counter(world) is None


def test_non_members_are_refused_before_the_quota() -> None:
    world = _world(BrowseQuota(default=5))
    members = PoolMembers(reps=frozenset({RepId("rep2")}))
    world.crm.pools.set_members(ADMIN, world.pool_id, members, "rep2 only")
    _refused(world, "pool.not_member", world.crm.pools.open_customer, REP1, world.customers[0])
    assert world.crm.pools.open_customer(REP2, world.customers[0]).phones == (PHONE0,)


def test_each_unmasked_open_is_audited_and_a_counted_one_audits_the_counter() -> None:
    world = _world(BrowseQuota(default=5))
    c0 = world.customers[0]
    seq = len(world.store.audit_log(limit=10_000))
    world.crm.pools.open_customer(REP1, c0)
    world.crm.pools.open_customer(REP1, c0)
    entries = world.store.audit_log(after_seq=seq, limit=10_000)
    kinds = [(e.target_kind, e.action, e.actor_id) for e in entries]
    assert kinds == [
        ("daily_browses", "pool.browse", "user1"),
        ("disclosure", "pool.browse", "user1"),
        ("disclosure", "pool.browse", "user1"),  # the second open: disclosed, not counted
    ]
    disclosure = entries[1].after
    assert disclosure is not None and disclosure["customers"] == {c0: ["phones"]}
    assert PHONE0 not in str([e.after for e in entries])  # never the values


def test_only_sales_roles_of_the_pools_zone_may_open() -> None:
    world = _world(BrowseQuota(default=5))
    finance = Principal("fin", roles=frozenset({Role.FINANCE}))
    _refused(
        world, "auth.permission_denied", world.crm.pools.open_customer, finance, world.customers[0]
    )
    west = Principal("w", roles=frozenset({Role.REP}), rep_id=RepId("w1"), zone_id=WEST)
    # (the fixture's customers carry no zone, so the west rep's scope reaches them; the pool's
    # zone rule refuses the open like it refuses a claim)
    _refused(world, "pool.zone_mismatch", world.crm.pools.open_customer, west, world.customers[0])
