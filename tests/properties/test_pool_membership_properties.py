"""Pool membership as a property: a claim (of a customer or a lead) is granted exactly when the
pool admits the claimer."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadtocash import (
    LeadToCash,
    PermissionDenied,
    PoolId,
    Principal,
    RepId,
    Role,
    RuleViolation,
    TeamId,
    ZoneId,
)
from leadtocash.model import Channel, Customer, CustomerId, Lead, LeadId
from leadtocash.pool.book import DailyClaims, RepBook
from leadtocash.pool.browsing import DailyBrowses, decide_browse
from leadtocash.pool.leads import LeadOwnershipFacts, LeadPool, decide_lead_claim
from leadtocash.pool.membership import Member, PoolMembers
from leadtocash.pool.ownership import OwnershipFacts, decide_claim
from leadtocash.pool.rules import BrowseQuota, Pool, PoolRules
from leadtocash.testing.strategies import T_EPOCH, pool_members
from pool_fixtures import ADMIN, add_lead, make_world

TZ = "Asia/Shanghai"
ZONES = [ZoneId("east"), ZoneId("west")]

members_of = st.builds(
    Member,
    rep_id=st.sampled_from([RepId("rep1"), RepId("rep2"), RepId("rep3")]),
    zone_id=st.none() | st.sampled_from(ZONES),
    team_id=st.none() | st.sampled_from([TeamId("t1"), TeamId("t2"), TeamId("t3")]),
    roles=st.frozensets(st.sampled_from(Role), max_size=3),
)


def _customer(pool_id: PoolId) -> Customer:
    return Customer(
        id=CustomerId("c1"), name="客户", created_at=T_EPOCH, updated_at=T_EPOCH,
        pool_id=pool_id, pool_entered_at=T_EPOCH,
    )  # fmt: skip


def _zone_rule(pool_zone: ZoneId | None, member: Member) -> bool:
    return pool_zone is None or member.zone_id in (None, pool_zone)


@given(members=pool_members(), member=members_of, pool_zone=st.none() | st.sampled_from(ZONES))
def test_a_claim_succeeds_only_if_the_claimer_is_admitted(
    members: PoolMembers, member: Member, pool_zone: ZoneId | None
) -> None:
    assert member.rep_id is not None
    pool = Pool(PoolId("p"), "P", zone_id=pool_zone, rules=PoolRules(), members=members)
    counter = DailyClaims("p|r|d", pool.id, member.rep_id, T_EPOCH.date())
    facts = OwnershipFacts(now=T_EPOCH, timezone=TZ, book=RepBook(member.rep_id))
    customer = _customer(pool.id)
    if not (members.admits(member) and _zone_rule(pool_zone, member)):
        with pytest.raises((PermissionDenied, RuleViolation)) as refused:
            decide_claim(
                customer, member.rep_id, member.zone_id, pool, counter, facts, member=member
            )
        zone_first = "pool.zone_mismatch" if not _zone_rule(pool_zone, member) else None
        assert refused.value.code == (zone_first or "pool.not_member")
        return
    claim = decide_claim(
        customer, member.rep_id, member.zone_id, pool, counter, facts, member=member
    )
    assert claim.customer.owner_id == member.rep_id


@given(members=pool_members(), member=members_of, pool_zone=st.none() | st.sampled_from(ZONES))
def test_a_lead_claim_succeeds_only_if_the_claimer_is_admitted(
    members: PoolMembers, member: Member, pool_zone: ZoneId | None
) -> None:
    assert member.rep_id is not None
    pool = LeadPool(PoolId("p"), "P", zone_id=pool_zone, members=members)
    lead = Lead(
        id=LeadId("l1"), channel=Channel.WEB_FORM, company_name="公司", created_at=T_EPOCH,
        pool_id=pool.id, pool_entered_at=T_EPOCH,
    )  # fmt: skip
    counter = DailyClaims("c", pool.id, member.rep_id, T_EPOCH.date())
    facts = LeadOwnershipFacts(now=T_EPOCH, timezone=TZ)
    rep, zone = member.rep_id, member.zone_id
    if not (members.admits(member) and _zone_rule(pool_zone, member)):
        with pytest.raises((PermissionDenied, RuleViolation)) as refused:
            decide_lead_claim(lead, rep, zone, pool, counter, facts, member=member)
        zone_first = "pool.zone_mismatch" if not _zone_rule(pool_zone, member) else None
        assert refused.value.code == (zone_first or "pool.not_member")
        return
    claim = decide_lead_claim(lead, rep, zone, pool, counter, facts, member=member)
    assert claim.lead.owner_id == rep


@given(members=pool_members(), member=members_of)
def test_everyone_listed_in_any_dimension_is_admitted_and_an_empty_list_admits_all(
    members: PoolMembers, member: Member
) -> None:
    listed = (
        member.zone_id in members.zones
        or member.team_id in members.teams
        or bool(member.roles & members.roles)
        or member.rep_id in members.reps
    )
    assert members.admits(member) == (members.everyone or listed)


@given(
    members=pool_members(),
    member=members_of,
    allowance=st.integers(0, 3),
    opened=st.integers(0, 4),
)
def test_an_open_is_granted_only_to_members_within_the_allowance(
    members: PoolMembers, member: Member, allowance: int, opened: int
) -> None:
    assert member.rep_id is not None
    rules = PoolRules(browse_quota=BrowseQuota(default=allowance))
    pool = Pool(PoolId("p"), "P", rules=rules, members=members)
    seen = tuple(CustomerId(f"seen{n}") for n in range(opened))
    counter = DailyBrowses("id", pool.id, member.rep_id, T_EPOCH.date(), opened=seen)
    customer = _customer(pool.id)
    if not members.admits(member) or opened >= allowance:
        with pytest.raises((PermissionDenied, RuleViolation)) as refused:
            decide_browse(customer, member, pool, counter, now=T_EPOCH, timezone=TZ)
        admitted = members.admits(member)
        assert refused.value.code == (
            "pool.browse_quota_exceeded" if admitted else "pool.not_member"
        )
        return
    after = decide_browse(customer, member, pool, counter, now=T_EPOCH, timezone=TZ)
    assert after.count == opened + 1 and after.opened[-1] == customer.id


# -- customer lists agree with single reads -----------------------------------------------------
def _listed(crm: LeadToCash, principal: Principal) -> set[str]:
    found: set[str] = set()
    cursor = None
    while True:
        page = crm.customers.list(principal, after=cursor, limit=2)
        found |= {c.id for c in page.items}
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor


def _opens(read: Callable[[Principal, str], object], principal: Principal, ident: str) -> bool:
    """Whether a single read (``crm.customers.get``, ``crm.leads.get``) lets ``principal`` in."""
    try:
        read(principal, ident)
    except PermissionDenied:
        return False
    return True


def _principal(member: Member, role: Role) -> Principal:
    assert member.rep_id is not None
    return Principal(
        f"u-{member.rep_id}", roles=frozenset({role, *member.roles}), rep_id=member.rep_id,
        zone_id=member.zone_id, team_id=member.team_id,
    )  # fmt: skip


#: Two pools' memberships and a caller (the rep facts and a role) to read them as.
two_pools_and_a_caller = given(
    first=pool_members(),
    second=pool_members(),
    member=members_of,
    role=st.sampled_from([Role.REP, Role.TEAM_LEAD, Role.ZONE_MANAGER]),
)


@settings(max_examples=25, deadline=None)
@two_pools_and_a_caller
def test_customer_lists_search_and_count_show_exactly_what_a_single_read_opens(
    first: PoolMembers, second: PoolMembers, member: Member, role: Role
) -> None:
    """Pool customers reached only through their pool are listed, searched and counted for
    the pool's members alone — the same customers the 360 view opens."""
    world = make_world(customers=2)
    crm = world.crm
    crm.pools.create_pool(ADMIN, "Product line", pool_id=PoolId("line"))  # no zone
    crm.pools.create_pool(ADMIN, "West", zone_id=ZoneId("west"), pool_id=PoolId("west"))
    ids = list(world.customers)
    ids += [
        crm.pools.add_customer(ADMIN, f"线客户{n}", pool_id=PoolId("line"), zone_id=zone).id
        for n, zone in enumerate([None, ZoneId("east"), ZoneId("west")])
    ]
    ids.append(crm.pools.add_customer(ADMIN, "西客户", pool_id=PoolId("west")).id)
    ids.append(crm.pools.add_customer(ADMIN, "客户自有", pool_id=None, zone_id=ZoneId("east")).id)
    crm.pools.set_members(ADMIN, world.pool_id, first, "who works the east pool")
    crm.pools.set_members(ADMIN, PoolId("line"), second, "who works the product line")
    principal = _principal(member, role)
    opened = {i for i in ids if _opens(crm.customers.get, principal, i)}
    assert _listed(crm, principal) == opened
    assert crm.customers.count(principal) == len(opened)
    searched = {c.id for c in crm.customers.search(principal, "线客户").items}
    assert searched == {i for i in opened if i in ids[2:5]}


@settings(max_examples=25, deadline=None)
@two_pools_and_a_caller
def test_lead_lists_search_and_count_show_exactly_what_a_single_read_opens(
    first: PoolMembers, second: PoolMembers, member: Member, role: Role
) -> None:
    """Unowned leads reached only through their lead pool are listed, searched and counted
    for the pool's members alone — the same leads ``crm.leads.get`` opens; unowned leads in
    no pool stay open to their zone."""
    world = make_world()
    crm = world.crm
    crm.lead_pools.create_pool(ADMIN, "East leads", zone_id=ZoneId("east"), pool_id=PoolId("le"))
    crm.lead_pools.create_pool(ADMIN, "Shared leads", pool_id=PoolId("ls"))
    placed = [("le", "east"), ("ls", None), ("ls", "west"), (None, "east"), (None, None)]
    ids = [
        add_lead(crm, n, pool=PoolId(pool) if pool else None, company_name=f"线索公司{n}",
                 zone_id=ZoneId(zone) if zone else None)
        for n, (pool, zone) in enumerate(placed, start=1)
    ]  # fmt: skip
    crm.lead_pools.set_members(ADMIN, PoolId("le"), first, "who works the east leads")
    crm.lead_pools.set_members(ADMIN, PoolId("ls"), second, "who works the shared leads")
    principal = _principal(member, role)
    opened = {i for i in ids if _opens(crm.leads.get, principal, i)}
    listed = {lead.id for lead in crm.leads.list(principal, limit=100).items}
    assert listed == opened
    assert crm.leads.count(principal) == len(opened)
    assert {lead.id for lead in crm.leads.search(principal, "线索公司").items} == opened
    assert {lead.id for lead in crm.leads.by_status(principal, "new").items} == opened
