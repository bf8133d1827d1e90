"""Pool membership (成员范围) on lead pools: the customer pools' value and check (issue #27)."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

import pool_fixtures
from leadtocash import (
    LeadToCash,
    PoolId,
    PoolMembers,
    Principal,
    RepId,
    Role,
    SalesRep,
    TeamId,
    ZoneId,
)
from leadtocash.errors import LeadToCashError
from leadtocash.model import Channel, Lead, LeadId
from leadtocash.pool.book import DailyClaims
from leadtocash.pool.leads import LeadOwnershipFacts, LeadPool, decide_lead_claim
from leadtocash.pool.membership import Member
from leadtocash.testing import FakeClock, InMemoryStore, SequentialIds
from pool_fixtures import ADMIN, MANAGER, START, rep_principal

EAST, WEST = ZoneId("east"), ZoneId("west")
T1 = TeamId("t1")
POOL = PoolId("leads-east")
REP1 = rep_principal(1)
WEST_REP = Principal("userw", roles=frozenset({Role.REP}), rep_id=RepId("repw"), zone_id=WEST)


@attrs.define
class LeadWorld:
    """An organisation with one east lead pool holding lead0..lead2, reps rep1..rep3 (east)
    and repw (west)."""

    store: InMemoryStore
    crm: LeadToCash


def make_world() -> LeadWorld:
    store = InMemoryStore()
    crm = LeadToCash(store, FakeClock(START), SequentialIds())
    crm.lead_pools.create_pool(ADMIN, "East leads", zone_id=EAST, pool_id=POOL)
    for rep, zone in (("rep1", EAST), ("rep2", EAST), ("rep3", EAST), ("repw", WEST)):
        crm.reps.register(ADMIN, SalesRep(id=RepId(rep), name=rep, zone_id=zone))
    for n in range(3):
        add_lead(crm, n)
    return LeadWorld(store, crm)


def add_lead(crm: LeadToCash, n: int, *, pool: PoolId | None = POOL, **fields: Any) -> LeadId:
    """Lead ``lead{n}`` in this module's pool (``pool_fixtures.add_lead``)."""
    return pool_fixtures.add_lead(crm, n, pool=pool, **fields)


def _principal(n: int, zone: ZoneId | None = EAST, team: TeamId | None = None) -> Principal:
    return Principal(
        f"user{n}", roles=frozenset({Role.REP}), rep_id=RepId(f"rep{n}"), zone_id=zone,
        team_id=team,
    )  # fmt: skip


def _state(world: LeadWorld) -> Any:
    return (dict(world.store._rows), list(world.store._audit), dict(world.store._outbox))


def _refused(world: LeadWorld, code: str, call: Any, *args: Any) -> Any:
    before = _state(world)
    with pytest.raises(LeadToCashError) as caught:
        call(*args)
    assert caught.value.code == code
    assert _state(world) == before, "a refused operation must change nothing"
    return caught.value.details


def _world(members: PoolMembers) -> LeadWorld:
    world = make_world()
    world.crm.lead_pools.set_members(ADMIN, POOL, members, "who works these leads")
    return world


def test_the_lead_claim_decision_refuses_a_non_member_after_the_zone_rule() -> None:
    pool = LeadPool(POOL, "P", zone_id=EAST, members=PoolMembers(teams=frozenset({T1})))
    lead = Lead(
        id=LeadId("l1"), channel=Channel.WEB_FORM, company_name="公司", created_at=START,
        pool_id=POOL, pool_entered_at=START,
    )  # fmt: skip
    counter = DailyClaims("c", POOL, RepId("rep1"), START.date())
    facts = LeadOwnershipFacts(now=START, timezone="Asia/Shanghai")
    with pytest.raises(LeadToCashError) as zone:
        decide_lead_claim(lead, RepId("rep1"), WEST, pool, counter, facts)
    assert zone.value.code == "pool.zone_mismatch"
    with pytest.raises(LeadToCashError) as caught:
        decide_lead_claim(lead, RepId("rep1"), EAST, pool, counter, facts)
    assert (caught.value.code, caught.value.details) == (
        "pool.not_member", {"pool_id": POOL, "rep_id": "rep1"}
    )  # fmt: skip
    member = Member(RepId("rep1"), EAST, T1)
    claim = decide_lead_claim(lead, RepId("rep1"), EAST, pool, counter, facts, member=member)
    assert claim.lead.owner_id == "rep1"


@pytest.mark.parametrize(
    ("members", "refused", "admitted"),
    [
        # rep7 is not in the organisation model, so its zone is what authentication says
        (PoolMembers(zones=frozenset({WEST})), REP1, _principal(7, zone=WEST)),
        (PoolMembers(teams=frozenset({T1})), REP1, _principal(1, team=T1)),
        (PoolMembers(roles=frozenset({Role.TEAM_LEAD})), REP1, None),
        (PoolMembers(reps=frozenset({RepId("rep2")})), REP1, _principal(2)),
    ],
    ids=["zones", "teams", "roles", "named reps"],
)
def test_lead_claims_follow_each_dimension(
    members: PoolMembers, refused: Principal, admitted: Principal | None
) -> None:
    world = _world(members)
    details = _refused(world, "pool.not_member", world.crm.lead_pools.claim, refused, "lead0")
    assert details == {"pool_id": POOL, "rep_id": "rep1"}
    lead_role = Principal("tl", roles=frozenset({Role.TEAM_LEAD}), rep_id=RepId("rep3"),
                          zone_id=EAST)  # fmt: skip
    claimer = admitted or lead_role
    if claimer.zone_id == WEST:  # a west member of a pool without a zone
        world.crm.lead_pools.create_pool(ADMIN, "Shared leads", pool_id=PoolId("shared"),
                                         members=members)  # fmt: skip
        add_lead(world.crm, 9, pool=PoolId("shared"))
        assert world.crm.lead_pools.claim(claimer, "lead9").owner_id == claimer.rep_id
        return
    assert world.crm.lead_pools.claim(claimer, "lead0").owner_id == claimer.rep_id


def test_today_a_west_rep_claims_from_a_shared_lead_pool_and_membership_refuses_it() -> None:
    world = make_world()
    world.crm.lead_pools.create_pool(ADMIN, "Shared", pool_id=PoolId("shared"))
    add_lead(world.crm, 8, pool=PoolId("shared"))
    add_lead(world.crm, 9, pool=PoolId("shared"))
    assert world.crm.lead_pools.claim(WEST_REP, "lead8").owner_id == "repw"
    world.crm.lead_pools.set_members(
        ADMIN, PoolId("shared"), PoolMembers(zones=frozenset({EAST})), "east only"
    )
    _refused(world, "pool.not_member", world.crm.lead_pools.claim, WEST_REP, "lead9")
    assert world.crm.lead_pools.claim(REP1, "lead9").owner_id == "rep1"


def test_non_members_do_not_see_the_lead_pool_nor_its_leads() -> None:
    world = _world(PoolMembers(reps=frozenset({RepId("rep2")})))
    world.crm.lead_pools.create_pool(ADMIN, "Open", zone_id=EAST, pool_id=PoolId("open"))
    assert [p.id for p in world.crm.lead_pools.list_pools(REP1)] == ["open"]
    assert [p.id for p in world.crm.lead_pools.list_pools(_principal(2))] == [POOL, "open"]
    assert [p.id for p in world.crm.lead_pools.list_pools(MANAGER)] == [POOL, "open"]
    _refused(world, "pool.not_member", world.crm.lead_pools.list_pool, REP1, POOL)
    _refused(world, "pool.not_member", world.crm.lead_pools.get_pool, REP1, POOL)
    assert len(world.crm.lead_pools.list_pool(_principal(2), POOL).items) == 3
    assert len(world.crm.lead_pools.list_pool(MANAGER, POOL).items) == 3  # scope, not members
    assert world.crm.lead_pools.get_pool(MANAGER, POOL).members.reps == {"rep2"}


def test_setting_lead_pool_members_is_audited_with_its_reason() -> None:
    world = make_world()
    members = PoolMembers(teams=frozenset({T1}))
    _refused(world, "auth.permission_denied", world.crm.lead_pools.set_members, REP1, POOL,
             members, "mine")  # fmt: skip
    _refused(world, "validation.invalid", world.crm.lead_pools.set_members, ADMIN, POOL,
             members, "")  # fmt: skip
    assert world.crm.lead_pools.set_members(ADMIN, POOL, members, "team one").members == members
    entry = world.store.audit_log()[-1]
    assert (entry.action, entry.target_kind, entry.target_id, entry.reason) == (
        "pool.manage", "lead_pool", POOL, "team one"
    )  # fmt: skip
    assert entry.after is not None and entry.after["members"]["teams"] == ["t1"]
