"""Pool membership (成员范围) on records a manager hands out: assignment (分配), fair allocation
and batch distribution go only to reps the pool admits, on customer and lead pools alike."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadtocash import (
    LeadToCash,
    PermissionDenied,
    PoolId,
    PoolMembers,
    Principal,
    RepId,
    Role,
    SalesRep,
    TeamId,
    ZoneId,
)
from leadtocash.allocation.eligibility import LeadProfile, RepState, check_eligibility
from leadtocash.pool.membership import Member, rep_member
from leadtocash.testing import FakeClock, InMemoryStore, SequentialIds
from pool_fixtures import ADMIN, START, add_lead

EAST, WEST = ZoneId("east"), ZoneId("west")
T1, T2 = TeamId("t1"), TeamId("t2")
#: Reps of the organisation: (id, zone, team).
REPS = (("e1", EAST, T1), ("e2", EAST, T2), ("w1", WEST, T1), ("w2", WEST, None))
EAST_ONLY = PoolMembers(zones=frozenset({EAST}))


def _crm() -> tuple[InMemoryStore, LeadToCash]:
    store = InMemoryStore()
    crm = LeadToCash(store, FakeClock(START), SequentialIds())
    for rep, zone, team in REPS:
        crm.reps.register(ADMIN, SalesRep(RepId(rep), rep, zone_id=zone, team_id=team))
    return store, crm


def _customer_pool(crm: LeadToCash, members: PoolMembers, customers: int) -> list[str]:
    """A product-line pool (no zone: the zone rule lets everyone through) with customers."""
    pool = crm.pools.create_pool(ADMIN, "Line", pool_id=PoolId("line"), members=members)
    return [crm.pools.add_customer(ADMIN, f"客户{n}", pool_id=pool.id).id for n in range(customers)]


def _lead_pool(crm: LeadToCash, members: PoolMembers, leads: int) -> list[str]:
    crm.lead_pools.create_pool(ADMIN, "Line leads", pool_id=PoolId("line"), members=members)
    return [add_lead(crm, n, pool=PoolId("line")) for n in range(leads)]


def _state(store: InMemoryStore) -> Any:
    return (dict(store._rows), list(store._audit), dict(store._outbox))


# -- the rule ----------------------------------------------------------------------------------
def test_a_rep_is_judged_by_the_organisation_model_and_the_rep_role() -> None:
    rep = SalesRep(RepId("e1"), "e1", zone_id=EAST, team_id=T1)
    assert rep_member(rep) == Member(RepId("e1"), EAST, T1, frozenset({Role.REP}))
    assert PoolMembers(roles=frozenset({Role.REP})).admits(rep_member(rep))
    assert not PoolMembers(roles=frozenset({Role.TEAM_LEAD})).admits(rep_member(rep))


def test_a_non_member_is_ineligible_with_the_reason_named() -> None:
    lead = LeadProfile("c1")
    assert check_eligibility(lead, RepState(RepId("r"))).eligible
    refused = check_eligibility(lead, RepState(RepId("r"), member=False))
    assert not refused.eligible
    assert "membership.not_member" in [reason.code for reason in refused.reasons]


# -- assignment --------------------------------------------------------------------------------
def test_assigning_a_pool_customer_to_a_non_member_is_refused_and_changes_nothing() -> None:
    store, crm = _crm()
    [customer] = _customer_pool(crm, EAST_ONLY, 1)
    before = _state(store)
    with pytest.raises(PermissionDenied) as caught:
        crm.pools.assign(ADMIN, customer, RepId("w1"))
    assert (caught.value.code, caught.value.details) == (
        "pool.not_member", {"pool_id": "line", "rep_id": "w1"}
    )  # fmt: skip
    assert _state(store) == before
    assert crm.pools.assign(ADMIN, customer, RepId("e2")).owner_id == "e2"


def test_an_authorized_override_hands_a_customer_to_a_non_member_with_its_reason() -> None:
    store, crm = _crm()
    [customer] = _customer_pool(crm, EAST_ONLY, 1)
    after = crm.pools.assign(ADMIN, customer, RepId("w1"), reason="covering", override=True)
    assert after.owner_id == "w1"
    assert store.audit_log()[-1].reason == "covering"


def test_assigning_a_pool_lead_to_a_non_member_is_refused_and_changes_nothing() -> None:
    store, crm = _crm()
    [lead] = _lead_pool(crm, PoolMembers(teams=frozenset({T1})), 1)
    before = _state(store)
    with pytest.raises(PermissionDenied) as caught:
        crm.lead_pools.assign(ADMIN, lead, RepId("e2"))  # east, but team t2
    assert caught.value.code == "pool.not_member"
    assert _state(store) == before
    assert crm.lead_pools.assign(ADMIN, lead, RepId("w1")).owner_id == "w1"  # team t1
    assert crm.lead_pools.release(rep_principal_of("w1"), lead, "not mine").owner_id is None
    assert crm.lead_pools.assign(ADMIN, lead, RepId("e2"), reason="cover", override=True)


def rep_principal_of(rep: str) -> Principal:
    """The login of rep ``rep`` (zone and team from the organisation model)."""
    return Principal(f"user-{rep}", roles=frozenset({Role.REP}), rep_id=RepId(rep))


# -- allocation and distribution ---------------------------------------------------------------
def test_fair_allocation_gives_pool_customers_to_members_only() -> None:
    _, crm = _crm()
    customers = _customer_pool(crm, EAST_ONLY, 8)
    report = crm.allocation.allocate(
        ADMIN, PoolId("line"), customers, seed=7, rep_ids=[RepId(r) for r, _, _ in REPS]
    )
    assert report.counts() == {"e1": 4, "e2": 4}
    assert not report.refusals


def test_distribution_over_non_members_only_refuses_with_the_reason() -> None:
    _, crm = _crm()
    customers = _customer_pool(crm, EAST_ONLY, 3)
    report = crm.allocation.distribute(
        ADMIN, PoolId("line"), customers, [RepId("w1"), RepId("w2")], seed=1
    )
    assert not report.assignments and len(report.refusals) == 3
    for refusal in report.refusals:
        for rep in refusal.reps:
            assert "membership.not_member" in [reason.code for reason in rep.reasons]
    assert all(crm.pools.get_customer(ADMIN, c).owner_id is None for c in customers)


def test_lead_allocation_and_distribution_give_pool_leads_to_members_only() -> None:
    _, crm = _crm()
    leads = _lead_pool(crm, PoolMembers(reps=frozenset({RepId("w2")})), 4)
    everyone = [RepId(r) for r, _, _ in REPS]
    allocated = crm.lead_pools.allocate(ADMIN, PoolId("line"), leads[:2], seed=3, rep_ids=everyone)
    assert allocated.counts() == {"w2": 2}
    split = crm.lead_pools.distribute(ADMIN, PoolId("line"), leads[2:], everyone, seed=3)
    assert split.counts() == {"w2": 2}


_zones = st.frozensets(st.sampled_from([EAST, WEST]), max_size=2)
_teams = st.frozensets(st.sampled_from([T1, T2]), max_size=2)
_named = st.frozensets(st.sampled_from([RepId(r) for r, _, _ in REPS]), max_size=2)
_roles = st.frozensets(st.sampled_from([Role.REP, Role.TEAM_LEAD]), max_size=1)
_members = st.builds(PoolMembers, zones=_zones, teams=_teams, roles=_roles, reps=_named)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(members=_members, customers=st.integers(1, 6), seed=st.integers(0, 99))
def test_allocation_never_hands_a_record_to_a_rep_the_pool_does_not_admit(
    members: PoolMembers, customers: int, seed: int
) -> None:
    """For any membership, every allocated customer and lead goes to an admitted rep, and with
    an admitted rep (and no caps) nothing is refused."""
    _, crm = _crm()
    admitted = {
        rep for rep, zone, team in REPS
        if members.admits(Member(RepId(rep), zone, team, frozenset({Role.REP})))
    }  # fmt: skip
    everyone = [RepId(r) for r, _, _ in REPS]
    ids = _customer_pool(crm, members, customers)
    leads = _lead_pool(crm, members, customers)
    for report in (
        crm.allocation.allocate(ADMIN, PoolId("line"), ids, seed=seed, rep_ids=everyone),
        crm.lead_pools.allocate(ADMIN, PoolId("line"), leads, seed=seed, rep_ids=everyone),
    ):
        assert set(report.counts()) <= admitted
        assert len(report.refusals) == (0 if admitted else customers)
