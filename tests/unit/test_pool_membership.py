"""Pool membership (成员范围): who sees a pool and claims from it (issue #27)."""

from __future__ import annotations

from typing import Any

import pytest

from leadtocash import (
    PermissionDenied,
    PoolId,
    Principal,
    RepId,
    Role,
    RuleViolation,
    SalesRep,
    TeamId,
    ValidationError,
    ZoneId,
)
from leadtocash.model import Customer, CustomerId
from leadtocash.pool.book import DailyClaims, RepBook
from leadtocash.pool.membership import Member, PoolMembers, check_member, sees_pool
from leadtocash.pool.ownership import OwnershipFacts, decide_claim
from leadtocash.pool.rules import Pool
from pool_fixtures import ADMIN, MANAGER, START, World, make_world, rep_principal

EAST, WEST = ZoneId("east"), ZoneId("west")
T1, T2 = TeamId("t1"), TeamId("t2")
REP1 = rep_principal(1)


def _principal(
    n: int, zone: ZoneId | None = EAST, team: TeamId | None = None, role: Role = Role.REP
) -> Principal:
    return Principal(
        f"user{n}", roles=frozenset({role}), rep_id=RepId(f"rep{n}"), zone_id=zone, team_id=team
    )


def _state(world: World) -> Any:
    return (dict(world.store._rows), list(world.store._audit), dict(world.store._outbox))


def _refused(world: World, code: str, call: Any, *args: Any) -> dict[str, Any]:
    before = _state(world)
    with pytest.raises((RuleViolation, PermissionDenied, ValidationError)) as caught:
        call(*args)
    assert caught.value.code == code
    assert _state(world) == before, "a refused operation must change nothing"
    return caught.value.details


# -- the value ---------------------------------------------------------------------------------
def test_an_empty_membership_admits_everyone() -> None:
    members = PoolMembers()
    assert members.everyone
    assert members.admits(Member(None))
    assert members.admits(Member.of(_principal(1, zone=None)))


@pytest.mark.parametrize(
    ("members", "admitted", "refused"),
    [
        (PoolMembers(zones=frozenset({EAST})), Member(RepId("r"), EAST), Member(RepId("r"), WEST)),
        (
            PoolMembers(teams=frozenset({T1})),
            Member(RepId("r"), EAST, T1),
            Member(RepId("r"), EAST, T2),
        ),
        (
            PoolMembers(roles=frozenset({Role.TEAM_LEAD})),
            Member(RepId("r"), roles=frozenset({Role.TEAM_LEAD, Role.REP})),
            Member(RepId("r"), roles=frozenset({Role.REP})),
        ),
        (PoolMembers(reps=frozenset({RepId("a")})), Member(RepId("a")), Member(RepId("b"))),
    ],
    ids=["zones", "teams", "roles", "named reps"],
)
def test_each_dimension_admits_what_it_lists_and_nothing_else(
    members: PoolMembers, admitted: Member, refused: Member
) -> None:
    assert not members.everyone
    assert members.admits(admitted)
    assert not members.admits(refused)
    assert not members.admits(Member(None))  # nobody in particular is not a member


def test_dimensions_add_up_any_one_match_admits() -> None:
    members = PoolMembers(zones=frozenset({EAST}), reps=frozenset({RepId("guest")}))
    assert members.admits(Member(RepId("r"), EAST))
    assert members.admits(Member(RepId("guest"), WEST))  # a named rep from another zone
    assert not members.admits(Member(RepId("r"), WEST))


def test_the_refusal_names_the_pool_and_the_rep() -> None:
    with pytest.raises(PermissionDenied) as caught:
        check_member(PoolId("p"), PoolMembers(zones=frozenset({EAST})), Member(RepId("r"), WEST))
    assert caught.value.code == "pool.not_member"
    assert caught.value.details == {"pool_id": "p", "rep_id": "r"}


def test_managers_see_every_pool_others_only_as_members() -> None:
    members = PoolMembers(zones=frozenset({WEST}))
    assert sees_pool(members, MANAGER)
    assert sees_pool(members, ADMIN)
    assert not sees_pool(members, REP1)
    assert sees_pool(members, _principal(1, zone=WEST))


# -- the claim decision ------------------------------------------------------------------------
def _customer() -> Customer:
    return Customer(
        id=CustomerId("c1"), name="客户", created_at=START, updated_at=START,
        pool_id=PoolId("p"), pool_entered_at=START,
    )  # fmt: skip


def _facts() -> OwnershipFacts:
    return OwnershipFacts(now=START, timezone="Asia/Shanghai", book=RepBook(RepId("rep1")))


def test_the_claim_decision_refuses_a_non_member_after_the_zone_rule() -> None:
    pool = Pool(PoolId("p"), "P", zone_id=EAST, members=PoolMembers(teams=frozenset({T1})))
    counter = DailyClaims("p|rep1|d", PoolId("p"), RepId("rep1"), START.date())
    rep = RepId("rep1")
    with pytest.raises(RuleViolation) as zone:
        decide_claim(_customer(), rep, WEST, pool, counter, _facts())
    assert zone.value.code == "pool.zone_mismatch"  # the zone rule still applies first
    with pytest.raises(PermissionDenied) as caught:
        decide_claim(_customer(), rep, EAST, pool, counter, _facts())  # no team given
    assert (caught.value.code, caught.value.details) == (
        "pool.not_member", {"pool_id": "p", "rep_id": "rep1"}
    )  # fmt: skip
    member = Member(rep, EAST, T1)
    granted = decide_claim(_customer(), rep, EAST, pool, counter, _facts(), member=member)
    assert granted.customer.owner_id == "rep1"
    with pytest.raises(ValueError, match="not the claiming rep"):
        decide_claim(_customer(), rep, EAST, pool, counter, _facts(), member=Member(RepId("x")))


# -- claims through the facade -----------------------------------------------------------------
def _world_with(members: PoolMembers, *, zone: ZoneId | None = EAST) -> World:
    """The default world (pool ``east`` of zone east), its membership set, plus a west rep."""
    world = make_world(customers=3)
    world.crm.reps.register(ADMIN, SalesRep(RepId("rep9"), "Rep 9", zone_id=WEST))
    if zone is None:  # a pool with no zone: the zone rule lets everyone through
        pool = world.crm.pools.create_pool(ADMIN, "East product line", pool_id=PoolId("line"))
        world.customers = [
            world.crm.pools.add_customer(ADMIN, f"线客户{n}", pool_id=pool.id).id for n in range(3)
        ]
        world.pool_id = pool.id
    world.crm.pools.set_members(ADMIN, world.pool_id, members, "who works this pool")
    return world


def test_today_a_west_rep_claims_from_the_east_pool_and_membership_refuses_it() -> None:
    west_rep = _principal(9, zone=WEST)
    # Without a membership, the east team's product-line pool (no zone) is open to the west.
    open_world = _world_with(PoolMembers(), zone=None)
    assert open_world.crm.pools.claim(west_rep, open_world.customers[0]).owner_id == "rep9"
    # With the membership saying east, the west rep is refused and nothing changes.
    world = _world_with(PoolMembers(zones=frozenset({EAST})), zone=None)
    details = _refused(
        world, "pool.not_member", world.crm.pools.claim, west_rep, world.customers[0]
    )
    assert details == {"pool_id": "line", "rep_id": "rep9"}
    assert world.crm.pools.claim(REP1, world.customers[0]).owner_id == "rep1"


def test_a_rep_of_no_zone_passes_the_zone_rule_but_not_the_membership() -> None:
    world = _world_with(PoolMembers(zones=frozenset({EAST})))
    zoneless = _principal(8, zone=None)  # a rep the organisation has no zone for
    _refused(world, "pool.not_member", world.crm.pools.claim, zoneless, world.customers[0])


def test_claims_follow_teams_roles_and_named_reps() -> None:
    world = _world_with(PoolMembers(teams=frozenset({T1})))
    _refused(
        world, "pool.not_member", world.crm.pools.claim, _principal(2, team=T2), world.customers[1]
    )
    assert world.crm.pools.claim(_principal(1, team=T1), world.customers[0]).owner_id == "rep1"

    world = _world_with(PoolMembers(roles=frozenset({Role.TEAM_LEAD})))
    _refused(world, "pool.not_member", world.crm.pools.claim, REP1, world.customers[0])
    lead = _principal(2, role=Role.TEAM_LEAD)
    assert world.crm.pools.claim(lead, world.customers[0]).owner_id == "rep2"

    world = _world_with(PoolMembers(reps=frozenset({RepId("rep2")})))
    _refused(world, "pool.not_member", world.crm.pools.claim, REP1, world.customers[0])
    assert world.crm.pools.claim(rep_principal(2), world.customers[0]).owner_id == "rep2"


# -- reads -------------------------------------------------------------------------------------
def test_non_members_do_not_see_the_pool_nor_its_customers() -> None:
    world = _world_with(PoolMembers(reps=frozenset({RepId("rep2")})))
    world.crm.pools.create_pool(ADMIN, "Open east", zone_id=EAST, pool_id=PoolId("open"))
    assert [p.id for p in world.crm.pools.list_pools(REP1)] == ["open"]
    assert [p.id for p in world.crm.pools.list_pools(rep_principal(2))] == ["east", "open"]
    assert [p.id for p in world.crm.pools.list_pools(MANAGER)] == ["east", "open"]
    details = _refused(world, "pool.not_member", world.crm.pools.list_pool, REP1, world.pool_id)
    assert details == {"pool_id": "east", "rep_id": "rep1"}
    _refused(world, "pool.not_member", world.crm.pools.get_customer, REP1, world.customers[0])
    _refused(world, "pool.not_member", world.crm.customers.get, REP1, world.customers[0])  # 360
    assert world.crm.customers.get(rep_principal(2), world.customers[0]).customer.owner_id is None
    assert len(world.crm.pools.list_pool(rep_principal(2), world.pool_id).items) == 3
    assert len(world.crm.pools.list_pool(MANAGER, world.pool_id).items) == 3  # scope, not members
    assert world.crm.pools.get_customer(MANAGER, world.customers[0]).id == world.customers[0]


def test_pool_lists_keep_the_data_scope() -> None:
    world = make_world()
    world.crm.pools.create_pool(ADMIN, "West", zone_id=WEST, pool_id=PoolId("west"))
    assert [p.id for p in world.crm.pools.list_pools(REP1)] == ["east"]
    assert [p.id for p in world.crm.pools.list_pools(MANAGER)] == ["east"]
    assert [p.id for p in world.crm.pools.list_pools(ADMIN)] == ["east", "west"]


def test_setting_members_is_audited_needs_a_reason_and_a_pool_manager() -> None:
    world = make_world()
    members = PoolMembers(zones=frozenset({EAST}), reps=frozenset({RepId("rep9")}))
    details = _refused(
        world, "validation.invalid", world.crm.pools.set_members, ADMIN, world.pool_id, members, " "
    )
    assert [e["path"] for e in details["fields"]] == ["reason"]
    _refused(
        world, "auth.permission_denied", world.crm.pools.set_members, REP1, world.pool_id,
        members, "mine",
    )  # fmt: skip
    pool = world.crm.pools.set_members(ADMIN, world.pool_id, members, "east plus a guest")
    assert pool.members == members
    entry = world.store.audit_log()[-1]
    assert (entry.action, entry.target_kind, entry.reason) == (
        "pool.manage", "pool", "east plus a guest"
    )  # fmt: skip
    assert entry.before is not None and entry.after is not None
    assert entry.after["members"]["reps"] == ["rep9"]
    count = len(world.store.audit_log())
    world.crm.pools.set_members(ADMIN, world.pool_id, members, "again")  # no change, no entry
    assert len(world.store.audit_log()) == count


def test_customer_lists_search_and_count_show_pool_customers_to_members_only() -> None:
    world = _world_with(PoolMembers(zones=frozenset({EAST})), zone=None)  # pool "line"
    mine = world.crm.pools.add_customer(ADMIN, "线客户自有", pool_id=PoolId("line")).id
    world.crm.pools.assign(  # a non-member: only an override hands it over
        ADMIN, mine, RepId("rep9"), reason="the west rep's own", override=True
    )
    line = {*world.customers, mine}
    west_rep = _principal(9, zone=WEST)
    for principal, expected in [(west_rep, {mine}), (REP1, set(world.customers))]:
        listed = {c.id for c in world.crm.customers.list(principal).items}
        assert listed & line == expected
        assert world.crm.customers.count(principal) == len(listed)
        assert {c.id for c in world.crm.customers.search(principal, "线客户").items} == expected


def test_membership_follows_the_organisation_model_not_the_login() -> None:
    """rep1 works in the east (``crm.org``): logging in as west does not make it a west member."""
    world = _world_with(PoolMembers(zones=frozenset({WEST})), zone=None)
    rep1_as_west = _principal(1, zone=WEST)
    _refused(world, "pool.not_member", world.crm.customers.get, rep1_as_west, world.customers[0])
    line = set(world.customers)
    assert not {c.id for c in world.crm.customers.list(rep1_as_west).items} & line
    assert "line" not in [p.id for p in world.crm.pools.list_pools(rep1_as_west)]
    west_rep = _principal(9, zone=WEST)  # registered in the west
    assert {c.id for c in world.crm.customers.list(west_rep).items} & line == line


def test_a_claim_judges_team_membership_by_the_organisation_model() -> None:
    world = _world_with(PoolMembers(teams=frozenset({T1})))
    world.crm.org.create_zone(ADMIN, "east", "华东")
    world.crm.org.create_team(ADMIN, "t1", "一组", "east")
    world.crm.org.move_rep(ADMIN, "rep1", zone_id="east", team_id="t1")  # rep1 works in t1
    rep1_no_team = _principal(1)  # the login says no team
    assert world.crm.pools.claim(rep1_no_team, world.customers[0]).owner_id == "rep1"
