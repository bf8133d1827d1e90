"""Organisation admin (issue #27): zones, teams and reps through ``crm.org``.

Every command is authorized and audited; every refusal is typed, names the field and changes
nothing. The allocator and the claim rule read the reps' daily caps and availability from
here, and a manager converts an unowned lead for a rep they name.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadtocash import (
    Channel,
    Lead,
    LeadId,
    LeadStatus,
    Money,
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
from leadtocash.allocation.eligibility import LeadProfile, RepState
from leadtocash.allocation.ledger import FairnessLedger
from leadtocash.allocation.run import allocate
from leadtocash.errors import NotFound
from leadtocash.model import Contact, ContactId
from leadtocash.pool.leads import LeadBook
from leadtocash.pool.rules import PoolRules
from pool_fixtures import ADMIN, MANAGER, START, World, make_world, rep_principal

EAST, WEST = ZoneId("east"), ZoneId("west")
REP1 = rep_principal(1)
CNY = Money(50000, "CNY")
CLOSE = date(2026, 3, 31)
TEAM_LEAD = Principal(
    "tl", roles=frozenset({Role.TEAM_LEAD}), rep_id=RepId("rep1"), zone_id=EAST,
    team_id=TeamId("t1"),
)  # fmt: skip
WEST_MANAGER = Principal("wm", roles=frozenset({Role.ZONE_MANAGER}), zone_id=WEST)


def _state(world: World) -> Any:
    return (dict(world.store._rows), list(world.store._audit), dict(world.store._outbox))


def _refused(world: World, code: str, call: Any, *args: Any, **kwargs: Any) -> Any:
    before = _state(world)
    with pytest.raises((RuleViolation, PermissionDenied, ValidationError, NotFound)) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code or (
        isinstance(caught.value, ValidationError) and caught.value.errors[0].code == code
    ), caught.value
    assert _state(world) == before, "a refused command must change nothing"
    return caught.value


def _last(world: World) -> Any:
    return world.store.audit_log()[-1]


def _org(customers: int = 0) -> World:
    """East and west zones, teams t1 (east) and t2 (west); rep1..rep3 in east (no team)."""
    world = make_world(customers=customers)
    org = world.crm.org
    org.create_zone(ADMIN, EAST, "华东战区")
    org.create_zone(ADMIN, WEST, "西部战区", timezone="Asia/Urumqi")
    org.create_team(ADMIN, "t1", "East 1", EAST)
    org.create_team(ADMIN, "t2", "West 1", WEST)
    return world


# -- zones and teams ---------------------------------------------------------------------------
def test_zones_are_created_renamed_and_retimed_with_audit() -> None:
    world = _org()
    org = world.crm.org
    assert org.get_zone(REP1, EAST).timezone == "Asia/Shanghai"
    assert org.rename_zone(ADMIN, EAST, "华东").name == "华东"
    entry = _last(world)
    assert (entry.action, entry.target_kind, entry.target_id) == ("org.manage", "zone", "east")
    assert entry.before["name"] == "华东战区" and entry.after["name"] == "华东"
    assert org.set_zone_timezone(ADMIN, EAST, "Asia/Hong_Kong").timezone == "Asia/Hong_Kong"
    assert _last(world).after["timezone"] == "Asia/Hong_Kong"


def test_zone_refusals_are_typed_and_change_nothing() -> None:
    world = _org()
    org = world.crm.org
    error = _refused(
        world, "zone.unknown_timezone", org.set_zone_timezone, ADMIN, EAST, "Mars/Base"
    )
    assert error.paths == ("timezone",)
    _refused(world, "zone.unknown_timezone", org.create_zone, ADMIN, "north", "N", timezone="")
    assert _refused(world, "org.duplicate_id", org.create_zone, ADMIN, EAST, "x").paths == (
        "zone_id",
    )
    _refused(world, "field.required", org.rename_zone, ADMIN, EAST, "  ")
    _refused(world, "storage.not_found", org.rename_zone, ADMIN, "nowhere", "x")
    _refused(world, "auth.permission_denied", org.create_zone, MANAGER, "north", "N")


def test_teams_are_created_in_a_zone_renamed_and_moved_with_their_reps() -> None:
    world = _org()
    org = world.crm.org
    org.join(ADMIN, "r9", "Rep 9", team_id="t1")
    team = org.get_team(REP1, "t1")
    assert team.zone_id == EAST
    assert org.rename_team(ADMIN, "t1", "East One").name == "East One"
    seq = len(world.store.audit_log())
    moved = org.move_team(ADMIN, "t1", WEST)
    assert moved.zone_id == WEST
    assert org.get_rep(ADMIN, "r9").zone_id == WEST  # a rep's team sits in the rep's zone
    entries = world.store.audit_log()[seq:]
    assert [(e.target_kind, e.target_id) for e in entries] == [("team", "t1"), ("sales_rep", "r9")]
    assert [r.id for r in org.members(ADMIN, "t1")] == ["r9"]
    assert [r.id for r in org.zone_reps(ADMIN, WEST)] == ["r9"]


def test_team_refusals_are_typed_and_change_nothing() -> None:
    world = _org()
    org = world.crm.org
    error = _refused(world, "org.unknown_zone", org.create_team, ADMIN, "t3", "x", "nowhere")
    assert error.paths == ("zone_id",)
    _refused(world, "org.duplicate_id", org.create_team, ADMIN, "t1", "again", EAST)
    _refused(world, "org.unknown_zone", org.move_team, ADMIN, "t1", "nowhere")
    _refused(world, "storage.not_found", org.rename_team, ADMIN, "t9", "x")
    _refused(world, "auth.permission_denied", org.create_team, REP1, "t3", "x", EAST)


def test_the_team_lead_is_an_active_member_of_the_team() -> None:
    world = _org()
    org = world.crm.org
    org.join(ADMIN, "r9", "Rep 9", team_id="t1")
    org.join(ADMIN, "w9", "West 9", team_id="t2")
    error = _refused(world, "org.lead_not_in_team", org.set_team_lead, ADMIN, "t1", "w9")
    assert error.paths == ("rep_id",)
    _refused(world, "org.unknown_rep", org.set_team_lead, ADMIN, "t1", "ghost")
    _refused(world, "auth.out_of_scope", org.set_team_lead, WEST_MANAGER, "t1", "r9")
    assert org.set_team_lead(MANAGER, "t1", "r9").lead_rep_id == "r9"
    assert _last(world).after["lead_rep_id"] == "r9"
    org.move_rep(ADMIN, "r9", zone_id=None, team_id="t2")  # leaving the team drops the lead
    assert org.get_team(ADMIN, "t1").lead_rep_id is None
    org.move_rep(ADMIN, "r9", zone_id=None, team_id="t1")
    org.set_team_lead(ADMIN, "t1", "r9")
    assert org.set_team_lead(ADMIN, "t1", None).lead_rep_id is None


# -- reps --------------------------------------------------------------------------------------
def test_a_rep_joins_with_zone_team_weight_skills_and_caps() -> None:
    world = _org()
    rep = world.crm.org.join(
        MANAGER, "r9", "Rep 9", team_id="t1", email="r9@example.com", weight=3,
        skills=["erp", " crm "], daily_claim_limit=5, daily_allocation_cap=8,
    )  # fmt: skip
    assert (rep.zone_id, rep.team_id, rep.weight, rep.skills) == (
        EAST, "t1", 3, frozenset({"erp", "crm"})
    )  # fmt: skip
    assert (rep.daily_claim_limit, rep.daily_allocation_cap) == (5, 8)
    entry = _last(world)
    assert (entry.action, entry.target_kind, entry.before) == ("rep.manage", "sales_rep", None)
    assert world.crm.reps.get(ADMIN, "r9") == world.crm.org.get_rep(ADMIN, "r9")


@pytest.mark.parametrize(
    ("kwargs", "code", "path"),
    [
        ({"zone_id": "nowhere"}, "org.unknown_zone", "zone_id"),
        ({"team_id": "t9"}, "org.unknown_team", "team_id"),
        ({"zone_id": EAST, "team_id": "t2"}, "org.team_not_in_zone", "team_id"),
        ({"daily_claim_limit": -1}, "field.negative", "daily_claim_limit"),
        ({"daily_allocation_cap": -2}, "field.negative", "daily_allocation_cap"),
        ({"weight": -1}, "field.negative", "weight"),
        ({"skills": ["erp", " "]}, "field.required", "skills[1]"),
    ],
)
def test_bad_joins_name_the_field_and_change_nothing(
    kwargs: dict[str, Any], code: str, path: str
) -> None:
    world = _org()
    error = _refused(world, code, world.crm.org.join, ADMIN, "r9", "Rep 9", **kwargs)
    assert error.paths == (path,)


def test_a_duplicate_rep_id_and_an_out_of_zone_manager_are_refused() -> None:
    world = _org()
    error = _refused(world, "org.duplicate_id", world.crm.org.join, ADMIN, "rep1", "again")
    assert error.paths == ("rep_id",)
    _refused(
        world, "org.duplicate_id", world.crm.reps.register, ADMIN, SalesRep(RepId("rep1"), "x")
    )
    _refused(world, "auth.out_of_scope", world.crm.org.join, MANAGER, "w9", "x", zone_id=WEST)
    _refused(world, "auth.out_of_scope", world.crm.org.set_weight, WEST_MANAGER, "rep1", 2)
    _refused(world, "auth.permission_denied", world.crm.org.join, REP1, "r9", "x")
    # a zone-less rep would serve every zone: only admins place one
    _refused(world, "auth.out_of_scope", world.crm.org.join, MANAGER, "r9", "x")
    assert world.crm.org.join(ADMIN, "r9", "x", skills="erp").skills == {"erp"}


def test_weight_skills_caps_leave_and_return_are_audited() -> None:
    world = _org()
    org = world.crm.org
    assert org.set_weight(MANAGER, "rep1", 4, "senior").weight == 4
    assert _last(world).reason == "senior"
    assert org.set_skills(ADMIN, "rep1", ["erp"]).skills == {"erp"}
    caps = org.set_daily_caps(ADMIN, "rep1", daily_claim_limit=3, daily_allocation_cap=None)
    assert (caps.daily_claim_limit, caps.daily_allocation_cap) == (3, None)
    assert org.go_on_leave(ADMIN, "rep1", "annual leave").on_leave
    assert _last(world).after["on_leave"] is True
    assert not org.return_from_leave(ADMIN, "rep1").on_leave
    seq = len(world.store.audit_log())
    org.return_from_leave(ADMIN, "rep1")  # already back: nothing written, nothing audited
    assert len(world.store.audit_log()) == seq
    _refused(world, "field.negative", org.set_daily_caps, ADMIN, "rep1",
             daily_claim_limit=None, daily_allocation_cap=-1)  # fmt: skip
    _refused(world, "field.negative", org.set_weight, ADMIN, "rep1", -3)
    _refused(world, "storage.not_found", org.go_on_leave, ADMIN, "ghost")


def test_a_rep_moves_between_zones_and_teams() -> None:
    world = _org()
    org = world.crm.org
    assert (org.move_rep(ADMIN, "rep1", zone_id=None, team_id="t2").zone_id) == WEST
    assert org.move_rep(ADMIN, "rep1", zone_id=EAST, team_id=None).team_id is None
    _refused(world, "org.team_not_in_zone", org.move_rep, ADMIN, "rep1", zone_id=EAST,
             team_id="t2")  # fmt: skip
    _refused(world, "auth.out_of_scope", org.move_rep, MANAGER, "rep1", zone_id=WEST, team_id=None)


# -- leaving (离职) ------------------------------------------------------------------------------
def _open_lead(world: World, n: int, owner: str | None, status: LeadStatus) -> LeadId:
    lead = Lead(
        id=LeadId(f"lead{n}"), channel=Channel.WEB_FORM, company_name=f"星辰科技{n}有限公司",
        created_at=START, owner_id=RepId(owner) if owner else None, status=status,
        zone_id=EAST, contact_name="李四", phone=f"+86139001390{n:02d}",
    )  # fmt: skip
    with world.crm.unit_of_work() as uow:
        uow.leads.add(lead)
        uow.commit()
    return lead.id


def test_leaving_with_a_book_is_refused_with_the_counts() -> None:
    world = _org(customers=2)
    world.crm.pools.claim(REP1, world.customers[0])
    _open_lead(world, 1, "rep1", LeadStatus.WORKING)
    _open_lead(world, 2, "rep1", LeadStatus.CONVERTED)  # closed leads stay with their owner
    error = _refused(world, "org.rep_has_book", world.crm.org.leave, ADMIN, "rep1", "quit")
    assert error.details == {"rep_id": "rep1", "customers": 1, "leads": 1}
    _refused(world, "field.required", world.crm.org.leave, ADMIN, "rep1", " ")
    _refused(world, "org.handover_to_self", world.crm.org.leave, ADMIN, "rep1", "quit",
             handover_to="rep1")  # fmt: skip
    _refused(world, "org.unknown_rep", world.crm.org.leave, ADMIN, "rep1", "quit",
             handover_to="ghost")  # fmt: skip
    world.crm.org.go_on_leave(ADMIN, "rep2")
    _refused(world, "pool.rep_on_leave", world.crm.org.leave, ADMIN, "rep1", "quit",
             handover_to="rep2")  # fmt: skip


def test_leaving_hands_the_book_over_in_one_audited_commit() -> None:
    world = _org(customers=2)
    org = world.crm.org
    org.move_rep(ADMIN, "rep1", zone_id=None, team_id="t1")
    org.set_team_lead(ADMIN, "t1", "rep1")
    world.crm.pools.claim(REP1, world.customers[0])
    lead_id = _open_lead(world, 1, "rep1", LeadStatus.NEW)
    seq = len(world.store.audit_log())
    gone = org.leave(ADMIN, "rep1", "resigned", handover_to="rep2")
    assert not gone.active
    assert world.crm.pools.get_customer(ADMIN, world.customers[0]).owner_id == "rep2"
    assert world.crm.leads.get(ADMIN, lead_id).owner_id == "rep2"
    with world.crm.unit_of_work() as uow:  # through the lead write path: rep2's book counts it
        book = uow.repository(LeadBook).find("rep2")
        assert book is not None and book.gains == 1
    assert org.get_team(ADMIN, "t1").lead_rep_id is None
    targets = {(e.target_kind, e.target_id) for e in world.store.audit_log()[seq:]}
    assert targets == {("customer", world.customers[0]), ("lead", lead_id),
                       ("sales_rep", "rep1"), ("team", "t1")}  # fmt: skip
    history = world.crm.pools.history(ADMIN, world.customers[0])
    assert history[-1].action.value == "transfer" and "resigned" in (history[-1].reason or "")
    seq = len(world.store.audit_log())
    org.leave(ADMIN, "rep1", "again")  # already gone: nothing to do
    assert len(world.store.audit_log()) == seq
    _refused(world, "pool.rep_inactive", org.go_on_leave, ADMIN, "rep1")
    # a rep who left may not claim, nor be assigned to
    _refused(world, "pool.rep_inactive", world.crm.pools.claim, REP1, world.customers[1])
    _refused(world, "pool.rep_inactive", world.crm.pools.assign, ADMIN, world.customers[1],
             RepId("rep1"))  # fmt: skip


# -- what the allocator and the claim rule read ------------------------------------------------
def test_a_rep_on_leave_is_not_assigned_to() -> None:
    world = _org(customers=1)
    world.crm.org.go_on_leave(ADMIN, "rep2")
    _refused(world, "pool.rep_on_leave", world.crm.pools.assign, MANAGER, world.customers[0],
             RepId("rep2"))  # fmt: skip


def test_the_stricter_of_the_pools_and_the_reps_daily_claim_limit_applies() -> None:
    world = make_world(PoolRules(daily_claim_limit=3), customers=4)
    world.crm.org.set_daily_caps(ADMIN, "rep1", daily_claim_limit=1, daily_allocation_cap=None)
    world.crm.pools.claim(REP1, world.customers[0])
    error = _refused(world, "pool.daily_limit_reached", world.crm.pools.claim, REP1,
                     world.customers[1])  # fmt: skip
    assert error.details["limit"] == 1
    world.crm.org.set_daily_caps(ADMIN, "rep1", daily_claim_limit=9, daily_allocation_cap=None)
    world.crm.pools.claim(REP1, world.customers[1])
    world.crm.pools.claim(REP1, world.customers[2])
    assert _refused(world, "pool.daily_limit_reached", world.crm.pools.claim, REP1,
                    world.customers[3]).details["limit"] == 3  # fmt: skip


def test_a_rep_moved_out_of_the_pools_zone_may_not_claim_from_it() -> None:
    world = _org(customers=1)
    world.crm.org.move_rep(ADMIN, "rep1", zone_id=WEST, team_id=None)
    _refused(world, "pool.zone_mismatch", world.crm.pools.claim, REP1, world.customers[0])


def test_allocation_reads_the_reps_daily_allocation_cap_and_leave() -> None:
    world = make_world(customers=6)
    world.crm.org.set_daily_caps(ADMIN, "rep1", daily_claim_limit=None, daily_allocation_cap=1)
    world.crm.org.go_on_leave(ADMIN, "rep3")
    report = world.crm.allocation.allocate(MANAGER, world.pool_id, world.customers[:4], seed=3)
    assert report.counts() == {"rep1": 1, "rep2": 3}


def test_negative_caps_of_a_rep_state_are_validation_errors_naming_the_field() -> None:
    with pytest.raises(ValidationError) as caught:
        RepState(RepId("r"), daily_cap=-1)
    assert caught.value.paths == ("daily_cap",)
    with pytest.raises(ValidationError) as caught:
        RepState(RepId("r"), capacity=-1)
    assert caught.value.paths == ("capacity",)


_REPS = st.lists(
    st.tuples(st.integers(1, 5), st.none() | st.integers(0, 4), st.booleans()),
    min_size=1, max_size=6,
)  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(reps=_REPS, pool_cap=st.none() | st.integers(0, 5), leads=st.integers(0, 30),
       seed=st.integers(0, 2**16))  # fmt: skip
def test_allocation_never_exceeds_a_reps_daily_cap_and_skips_reps_on_leave(
    reps: list[tuple[int, int | None, bool]], pool_cap: int | None, leads: int, seed: int
) -> None:
    states = [
        RepState.from_rep(
            SalesRep(
                RepId(f"r{n}"), f"r{n}", weight=weight, daily_allocation_cap=cap, on_leave=on_leave
            ),
            daily_cap=pool_cap,
        )
        for n, (weight, cap, on_leave) in enumerate(reps)
    ]
    profiles = [LeadProfile(f"l{n}") for n in range(leads)]
    result = allocate(FairnessLedger(PoolId("p")), profiles, states, seed=seed)
    received: dict[str, int] = {}
    for outcome in result.outcomes():
        rep_id = getattr(outcome, "rep_id", None)
        if rep_id is not None:
            received[rep_id] = received.get(rep_id, 0) + 1
    for n, (_weight, cap, on_leave) in enumerate(reps):
        got = received.get(f"r{n}", 0)
        if on_leave:
            assert got == 0
        for limit in (cap, pool_cap):
            if limit:  # 0 and None are "off"
                assert got <= limit
    room = [
        None if not (cap or pool_cap) else min(x for x in (cap, pool_cap) if x)
        for _w, cap, on_leave in reps
        if not on_leave
    ]
    if room and None not in room:
        assert sum(received.values()) == min(leads, sum(r for r in room if r is not None))
    elif room:
        assert sum(received.values()) == leads


# -- a manager converts an unowned lead for a rep they name ------------------------------------
def _unowned_qualified(world: World, n: int = 1) -> LeadId:
    return _open_lead(world, n, None, LeadStatus.QUALIFIED)


def test_a_manager_converts_an_unowned_lead_for_a_named_rep() -> None:
    world = _org()
    lead_id = _unowned_qualified(world)
    _refused(world, "field.required", world.crm.pipeline.convert, MANAGER, lead_id,
             amount=CNY, close_date=CLOSE)  # fmt: skip
    result = world.crm.pipeline.convert(
        MANAGER, lead_id, amount=CNY, close_date=CLOSE, rep_id="rep2"
    )
    assert result.customer.owner_id == "rep2" and result.opportunity.owner_id == "rep2"
    assert result.lead.status is LeadStatus.CONVERTED


def test_the_named_rep_must_be_known_available_and_in_the_managers_scope() -> None:
    world = _org()
    org = world.crm.org
    org.join(ADMIN, "w9", "West 9", zone_id=WEST)
    org.join(ADMIN, "r8", "Rep 8", team_id="t1")
    org.go_on_leave(ADMIN, "rep2")
    lead_id = _unowned_qualified(world)
    convert = world.crm.pipeline.convert
    money: dict[str, Any] = {"amount": CNY, "close_date": CLOSE}
    error = _refused(world, "org.unknown_rep", convert, MANAGER, lead_id, rep_id="ghost", **money)
    assert error.paths == ("rep_id",)
    _refused(world, "pool.rep_on_leave", convert, MANAGER, lead_id, rep_id="rep2", **money)
    _refused(world, "auth.out_of_scope", convert, MANAGER, lead_id, rep_id="w9", **money)
    # a team lead names reps of their own team only
    _refused(world, "auth.out_of_scope", convert, TEAM_LEAD, lead_id, rep_id="rep3", **money)
    assert convert(TEAM_LEAD, lead_id, rep_id="r8", **money).customer.owner_id == "r8"


def test_a_rep_converts_an_unowned_lead_only_for_themself() -> None:
    world = _org()
    lead_id = _unowned_qualified(world)
    convert = world.crm.pipeline.convert
    _refused(world, "pipeline.not_owner", convert, REP1, lead_id, amount=CNY, close_date=CLOSE,
             rep_id="rep2")  # fmt: skip
    result = convert(REP1, lead_id, amount=CNY, close_date=CLOSE, rep_id="rep1")
    assert result.customer.owner_id == "rep1"


# -- data scopes read the organisation model ---------------------------------------------------
def test_a_team_leads_scope_follows_the_team_the_organisation_gives_them() -> None:
    world = _org(customers=1)
    org = world.crm.org
    lead = Principal("tl", roles=frozenset({Role.TEAM_LEAD}), rep_id=RepId("rep1"), zone_id=EAST)
    org.move_rep(ADMIN, "rep1", zone_id=None, team_id="t1")
    org.move_rep(ADMIN, "rep3", zone_id=None, team_id="t1")
    customer_id = world.customers[0]
    world.crm.pools.claim(rep_principal(3), customer_id)
    # the token names no team; the organisation model puts rep1 in t1 with rep3
    assert world.crm.pools.get_customer(lead, customer_id).owner_id == "rep3"
    assert [c.id for c in world.crm.customers.list(lead).items] == [customer_id]
    org.move_rep(ADMIN, "rep1", zone_id=None, team_id="t2")  # moved to the west team
    with pytest.raises(PermissionDenied):
        world.crm.pools.get_customer(lead, customer_id)
    assert world.crm.customers.list(lead).items == ()


@settings(max_examples=25, deadline=None)
@given(
    caps=st.lists(st.none() | st.integers(0, 3), min_size=3, max_size=3),
    on_leave=st.lists(st.booleans(), min_size=3, max_size=3),
    batches=st.lists(st.integers(1, 4), min_size=1, max_size=3),
)
def test_a_days_allocations_through_the_service_respect_each_reps_cap_and_leave(
    caps: list[int | None], on_leave: list[bool], batches: list[int]
) -> None:
    world = make_world(customers=sum(batches))
    for n, (cap, away) in enumerate(zip(caps, on_leave, strict=True), start=1):
        world.crm.org.set_daily_caps(
            ADMIN, f"rep{n}", daily_claim_limit=None, daily_allocation_cap=cap
        )
        if away:
            world.crm.org.go_on_leave(ADMIN, f"rep{n}")
    given_to: dict[str, int] = {}
    start = 0
    for seed, size in enumerate(batches):
        batch = world.customers[start : start + size]
        start += size
        report = world.crm.allocation.allocate(MANAGER, world.pool_id, batch, seed=seed)
        for rep_id, count in report.counts().items():
            given_to[rep_id] = given_to.get(rep_id, 0) + count
    for n, (cap, away) in enumerate(zip(caps, on_leave, strict=True), start=1):
        got = given_to.get(f"rep{n}", 0)
        assert got == 0 if away else (not cap or got <= cap)


def test_a_team_lead_works_the_tickets_of_the_team_the_organisation_gives_them() -> None:
    world = _org(customers=1)
    customer_id = world.customers[0]
    world.crm.pools.claim(REP1, customer_id)
    with world.crm.unit_of_work() as uow:
        uow.contacts.add(Contact(ContactId("k1"), customer_id, "王经理"))
        uow.commit()
    ticket = world.crm.tickets.open(
        REP1, customer_id, "k1", subject="打印机无法连接", category="hardware", channel="phone",
        priority="P3", team_id="t2",
    )  # fmt: skip
    lead = Principal("wl", roles=frozenset({Role.TEAM_LEAD}), rep_id=RepId("rep3"), zone_id=EAST)
    with pytest.raises(PermissionDenied):
        world.crm.tickets.get(lead, ticket.id)
    world.crm.org.move_rep(ADMIN, "rep3", zone_id=None, team_id="t2")  # now in the west team
    assert world.crm.tickets.get(lead, ticket.id).id == ticket.id
