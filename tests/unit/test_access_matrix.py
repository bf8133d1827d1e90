"""Every guarded service × every role × in-scope / out-of-scope target.

The expectation comes from the documented matrix (DEFAULT_PERMISSIONS × DEFAULT_ROLE_SCOPES,
rendered in docs/permissions.md) through a small independent oracle. Denied calls raise
PermissionDenied with a stable code and change nothing; masked fields never leak.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import attrs
import pytest

from leadtocash import (
    Action,
    BrowseQuota,
    CollaboratorAccess,
    LeadToCash,
    Money,
    PermissionDenied,
    PoolId,
    PoolMembers,
    PoolRules,
    Principal,
    RepId,
    Role,
    SalesRep,
    TeamId,
    ZoneId,
)
from leadtocash.access import DEFAULT_PERMISSIONS
from leadtocash.pool.leads import LeadPoolRules
from leadtocash.scopes import (
    DEFAULT_ROLE_SCOPES,
    Collaborator,
    DataScope,
    ScopePolicy,
    ScopeTarget,
    permission_matrix_markdown,
)
from leadtocash.testing import FakeClock, InMemoryStore, SequentialIds

ROOT = Path(__file__).resolve().parents[2]
ADMIN = Principal("admin", roles=frozenset({Role.ADMIN}))
EAST, WEST = ZoneId("east"), ZoneId("west")
TEAM_A, TEAM_B = TeamId("team-a"), TeamId("team-b")

PRINCIPALS = {
    "admin": ADMIN,
    "zone_manager_east": Principal("zm", roles=frozenset({Role.ZONE_MANAGER}), zone_id=EAST),
    "team_lead_a": Principal(
        "tl", roles=frozenset({Role.TEAM_LEAD}), rep_id=RepId("tl"), zone_id=EAST, team_id=TEAM_A
    ),
    "rep1_team_a": Principal(
        "u1", roles=frozenset({Role.REP}), rep_id=RepId("rep1"), zone_id=EAST, team_id=TEAM_A
    ),
    "rep2_owner": Principal(
        "u2", roles=frozenset({Role.REP}), rep_id=RepId("rep2"), zone_id=EAST, team_id=TEAM_A
    ),
    "rep3_team_b": Principal(
        "u3", roles=frozenset({Role.REP}), rep_id=RepId("rep3"), zone_id=EAST, team_id=TEAM_B
    ),
    "finance": Principal("fin", roles=frozenset({Role.FINANCE})),
    "service": Principal("svc", roles=frozenset({Role.SERVICE})),
    "system": Principal("sys", roles=frozenset({Role.SYSTEM})),
}
PHONE_EAST, PHONE_WEST = "+8613800000001", "+8613900000002"
AMOUNT = Money("987654.32", "CNY")


def _world() -> tuple[LeadToCash, InMemoryStore, dict[str, str]]:
    store = InMemoryStore()
    crm = LeadToCash(store, FakeClock(), SequentialIds())
    for zone in (EAST, WEST):
        crm.pools.create_pool(ADMIN, f"{zone} pool", zone_id=zone, pool_id=PoolId(zone),
                              rules=PoolRules(browse_quota=BrowseQuota(default=5)))  # fmt: skip
    roster = [("tl", EAST, TEAM_A), ("rep1", EAST, TEAM_A), ("rep2", EAST, TEAM_A),
              ("rep3", EAST, TEAM_B), ("w1", WEST, None)]  # fmt: skip
    for rep, zone, team in roster:
        crm.reps.register(ADMIN, SalesRep(id=RepId(rep), name=rep, zone_id=zone, team_id=team))
    east = crm.pools.add_customer(
        ADMIN, "东区客户", pool_id=PoolId(EAST), zone_id=EAST, phones=[PHONE_EAST]
    )
    west = crm.pools.add_customer(
        ADMIN, "西区客户", pool_id=PoolId(WEST), zone_id=WEST, phones=[PHONE_WEST]
    )
    crm.pools.assign(ADMIN, east.id, RepId("rep2"))
    crm.pools.assign(ADMIN, west.id, RepId("w1"))
    ids: dict[str, str] = {"east_rep2": east.id, "west_w1": west.id}
    for target, customer_id in list(ids.items()):
        deal = crm.pipeline.create_opportunity(
            ADMIN, customer_id, name="deal", amount=AMOUNT, close_date=date(2026, 3, 31)
        )
        ids[f"{target}:opportunity"] = deal.id
    for target, (zone, _team, owner) in TARGETS.items():  # a lead handed to the same rep
        payload = {"channel": "web_form", "company_name": f"{target} 线索", "zone_id": zone,
                   "email": f"{target}@example.com"}  # fmt: skip
        lead = crm.leads.capture(ADMIN, payload)
        with crm.unit_of_work() as uow:
            uow.leads.save(attrs.evolve(uow.leads.get(lead.id), owner_id=RepId(owner)))
            uow.commit()
        ids[f"{target}:lead"] = lead.id
    for zone in (EAST, WEST):  # one unowned customer waiting in each pool
        waiting = crm.pools.add_customer(ADMIN, f"{zone}待分配", pool_id=PoolId(zone), zone_id=zone)
        ids[f"{zone}:pool_customer"] = waiting.id
    return crm, store, ids


TARGETS = {"east_rep2": (EAST, TEAM_A, "rep2"), "west_w1": (WEST, None, "w1")}

Call = Callable[[LeadToCash, Principal, str], Any]
SERVICES: dict[str, tuple[Action, bool, Call]] = {
    "get_customer": (Action.CUSTOMER_READ, False, lambda c, p, t: c.pools.get_customer(p, t)),
    "history": (Action.CUSTOMER_READ, False, lambda c, p, t: c.pools.history(p, t)),
    "set_lock": (Action.POOL_LOCK, True, lambda c, p, t: c.pools.set_lock(p, t, True, "vip")),
    "transfer": (
        Action.POOL_TRANSFER,
        True,
        lambda c, p, t: c.pools.transfer(p, t, RepId("rep1" if "东" in str(t) else "w1"), "x"),
    ),
    "record_facts": (
        Action.CUSTOMER_UPDATE,
        True,
        lambda c, p, t: c.reclaim.record_facts(p, t, won=True),
    ),
    "release": (Action.POOL_RELEASE, True, lambda c, p, t: c.pools.release(p, t, "bye")),
    "follow_up": (Action.FOLLOW_UP_LOG, True, lambda c, p, t: c.pools.log_follow_up(p, t)),
    "check_existing": (
        Action.CUSTOMER_READ,
        False,
        lambda c, p, t: c.collisions.check_existing(p, t),
    ),
    "explain": (Action.CUSTOMER_READ, False, lambda c, p, t: c.classification.explain(p, t)),
    "get_opportunity": (
        Action.OPPORTUNITY_READ,
        False,
        lambda c, p, t: c.pipeline.get_opportunity(p, OPPORTUNITY_OF[t]),
    ),
    "update_signals": (
        Action.CUSTOMER_CLASSIFY,
        True,
        lambda c, p, t: c.classification.update_signals(p, t, need_confirmed=True),
    ),
    "edit_tags": (
        Action.CUSTOMER_CLASSIFY,
        True,
        lambda c, p, t: c.classification.edit_tags(p, t, add=["vip"]),
    ),
    "set_collaborator": (
        Action.CUSTOMER_COLLABORATORS,
        True,
        lambda c, p, t: c.pools.set_collaborator(
            p, t, RepId("rep3"), CollaboratorAccess.READ, "cross-zone help"
        ),
    ),
    "get_lead": (Action.LEAD_READ, False, lambda c, p, t: c.leads.get(p, LEAD_OF[t])),
    "explain_lead_score": (
        Action.LEAD_READ,
        False,
        lambda c, p, t: c.lead_scores.explain(p, LEAD_OF[t]),
    ),
    "start_working": (
        Action.LEAD_TRANSITION,
        True,
        lambda c, p, t: c.pipeline.start_working(p, LEAD_OF[t]),
    ),
    "advance_opportunity": (
        Action.OPPORTUNITY_UPDATE,
        True,
        lambda c, p, t: c.pipeline.advance(p, OPPORTUNITY_OF[t]),
    ),
    "edit_opportunity": (
        Action.OPPORTUNITY_UPDATE,
        True,
        lambda c, p, t: c.pipeline.edit(p, OPPORTUNITY_OF[t], next_step="call back"),
    ),
    "create_opportunity": (
        Action.OPPORTUNITY_CREATE,
        True,
        lambda c, p, t: c.pipeline.create_opportunity(
            p, t, name="deal", amount=Money("1000", "CNY"), close_date=date(2026, 3, 31)
        ),
    ),
    # customer screens (issue #24)
    "customer_360": (Action.CUSTOMER_READ, False, lambda c, p, t: c.customers.get(p, t)),
    "edit_customer": (
        Action.CUSTOMER_UPDATE,
        True,
        lambda c, p, t: c.customers.edit(p, t, address="新地址"),
    ),
    "add_contact": (
        Action.CONTACT_WRITE,
        True,
        lambda c, p, t: c.contacts.add_contact(p, t, "王经理", phone="13700137000"),
    ),
    "contacts": (Action.CUSTOMER_READ, False, lambda c, p, t: c.contacts.contacts(p, t)),
    "follow_ups_of_customer": (
        Action.CUSTOMER_READ,
        False,
        lambda c, p, t: c.contacts.of_customer(p, t),
    ),
    "personal_data": (
        Action.PERSONAL_DATA_EXPORT,
        False,
        lambda c, p, t: c.customers.personal_data(p, t),
    ),
    # recycle bin (issue #27): owners delete their own leads and deals, managers in scope
    "delete_lead": (
        Action.RECYCLE_DELETE,
        True,
        lambda c, p, t: c.recycle_bin.delete(p, "lead", LEAD_OF[t], "duplicate"),
    ),
    "delete_opportunity": (
        Action.RECYCLE_DELETE,
        True,
        lambda c, p, t: c.recycle_bin.delete(p, "opportunity", OPPORTUNITY_OF[t], "duplicate"),
    ),
}


#: Filled per world: the opportunity opened on, and the lead owned like, each target customer.
OPPORTUNITY_OF: dict[str, str] = {}
LEAD_OF: dict[str, str] = {}

#: Services that only owners and managers (in scope) may use; other roles' scopes do not help.
OWNER_OR_MANAGER = {"explain", "update_signals", "edit_tags", "start_working",
                    "advance_opportunity", "edit_opportunity", "create_opportunity",
                    "edit_customer", "add_contact", "delete_lead",
                    "delete_opportunity"}  # fmt: skip


def _has_role(principal: Principal, action: Action) -> bool:
    return principal.has(Role.ADMIN) or bool(
        principal.roles & DEFAULT_PERMISSIONS.get(action, set())
    )


def _scope(principal: Principal) -> DataScope:
    return max((DEFAULT_ROLE_SCOPES[r] for r in principal.roles), key=lambda s: s.rank)


def _in_scope(principal: Principal, target: str) -> bool:
    zone, team, owner = TARGETS[target]
    return {
        DataScope.ALL: True,
        DataScope.ZONE: principal.zone_id == zone,
        DataScope.TEAM: principal.team_id == team or principal.rep_id == owner,
        DataScope.OWN: principal.rep_id == owner,
    }[_scope(principal)]


def _expected(service: str, principal: Principal, target: str) -> bool:
    action, _write, _ = SERVICES[service]
    if not _has_role(principal, action):
        return False
    if service == "follow_up" and principal.rep_id is None:
        return False  # a follow-up is recorded under the rep who made it
    if service in OWNER_OR_MANAGER and not principal.is_manager:
        return principal.rep_id == TARGETS[target][2]
    return _in_scope(principal, target)


CASES = [(service, who, target) for service in SERVICES for who in PRINCIPALS for target in TARGETS]


@pytest.mark.parametrize(("service", "who", "target"), CASES)
def test_service_by_role_by_scope(service: str, who: str, target: str) -> None:
    crm, store, ids = _world()
    OPPORTUNITY_OF.update({ids[t]: ids[f"{t}:opportunity"] for t in TARGETS})
    LEAD_OF.update({ids[t]: ids[f"{t}:lead"] for t in TARGETS})
    principal = PRINCIPALS[who]
    call = SERVICES[service][2]
    target_id = ids[target]
    if service == "transfer":  # move to a rep in the customer's own zone
        new_owner = RepId("rep1" if target == "east_rep2" else "w1")
        if new_owner == TARGETS[target][2]:
            new_owner = RepId("rep3")

        def call(c: LeadToCash, p: Principal, t: str) -> Any:
            return c.pools.transfer(p, t, new_owner, "territory")

        if target == "west_w1":
            crm.reps.register(ADMIN, SalesRep(id=RepId("w2"), name="w2", zone_id=WEST))
            new_owner = RepId("w2")
    before = (dict(store._rows), len(store._audit), dict(store._outbox))
    expected = _expected(service, principal, target)
    if expected:
        result = call(crm, principal, target_id)
        assert result is not None
    else:
        with pytest.raises(PermissionDenied) as caught:
            call(crm, principal, target_id)
        assert caught.value.code in {
            "auth.permission_denied",
            "auth.out_of_scope",
            "pool.not_owner",
            "pool.not_a_rep",
            "pipeline.not_owner",
            "recycle.not_owner",
        }
        assert (dict(store._rows), len(store._audit), dict(store._outbox)) == before
        for raw in (PHONE_EAST, PHONE_WEST):
            assert raw not in str(caught.value)
            assert raw not in str(caught.value.details)


SCREEN_LISTS: dict[str, tuple[Action, Callable[[LeadToCash, Principal], str]]] = {
    "list": (Action.CUSTOMER_READ, lambda c, p: repr(c.customers.list(p, limit=200).items)),
    "search": (
        Action.CUSTOMER_READ,
        lambda c, p: repr([c.customers.search(p, name).items for name in ("东区", "西区")]),
    ),
    "export": (Action.CUSTOMER_EXPORT, lambda c, p: c.customers.export_text(p)),
}


@pytest.mark.parametrize(("screen", "who"), [(s, w) for s in SCREEN_LISTS for w in PRINCIPALS])
def test_customer_lists_search_and_exports_hold_only_what_is_in_scope(
    screen: str, who: str
) -> None:
    crm, _store, ids = _world()
    principal = PRINCIPALS[who]
    action, call = SCREEN_LISTS[screen]
    if not _has_role(principal, action):
        with pytest.raises(PermissionDenied):
            call(crm, principal)
        return
    shown = call(crm, principal)
    count = crm.customers.count(principal)
    assert count == len(crm.customers.list(principal, limit=200).items)
    for target in TARGETS:
        visible = _in_scope(principal, target)
        assert (ids[target] in shown) == visible, (screen, who, target)
    # contact fields unmasked only for owners, collaborators and managers
    for raw in (PHONE_EAST, PHONE_WEST):
        if raw in shown:
            assert principal.is_manager or principal.rep_id in {"rep2", "w1"}, (screen, who)


POOL_SERVICES: dict[str, tuple[Action, Callable[[LeadToCash, Principal, ZoneId, str], Any]]] = {
    "assign": (
        Action.POOL_ASSIGN,
        lambda c, p, z, cid: c.pools.assign(p, cid, RepId("rep1" if z == EAST else "w1")),
    ),
    "update_rules": (
        Action.POOL_MANAGE,
        lambda c, p, z, _: c.reclaim.update_rules(p, PoolId(z), PoolRules(capacity=50), "tune"),
    ),
    "list_pool": (Action.CUSTOMER_READ, lambda c, p, z, _: c.pools.list_pool(p, PoolId(z))),
    "open_customer": (Action.POOL_BROWSE, lambda c, p, z, cid: c.pools.open_customer(p, cid)),
    "set_members": (
        Action.POOL_MANAGE,
        lambda c, p, z, _: c.pools.set_members(
            p, PoolId(z), PoolMembers(zones=frozenset({z})), "x"
        ),
    ),
    "allocate": (
        Action.POOL_ASSIGN,
        lambda c, p, z, cid: c.allocation.allocate(p, PoolId(z), [cid], seed=7),
    ),
    "distribute": (
        Action.POOL_ASSIGN,
        lambda c, p, z, cid: c.allocation.distribute(
            p, PoolId(z), [cid], [RepId("rep1" if z == EAST else "w1")], seed=7
        ),
    ),
}


def _pool_expected(service: str, principal: Principal, zone: ZoneId) -> bool:
    action, _ = POOL_SERVICES[service]
    if not _has_role(principal, action):
        return False
    scope = _scope(principal)
    if scope is DataScope.ALL:
        return True
    write = service not in ("list_pool", "open_customer")  # everyone sees their zone's pool;
    # team leads up act on it
    if write and scope.rank < DataScope.TEAM.rank:
        return False
    return principal.zone_id == zone


@pytest.mark.parametrize(
    ("service", "who", "zone"),
    [(s, w, z) for s in POOL_SERVICES for w in PRINCIPALS for z in (EAST, WEST)],
)
def test_pool_service_by_role_by_zone(service: str, who: str, zone: ZoneId) -> None:
    crm, store, ids = _world()
    principal, call = PRINCIPALS[who], POOL_SERVICES[service][1]
    before = (dict(store._rows), len(store._audit), dict(store._outbox))
    if _pool_expected(service, principal, zone):
        result = call(crm, principal, zone, ids[f"{zone}:pool_customer"])
        if service in ("allocate", "distribute"):
            assert len(result.assignments) == 1  # it really allocated
    else:
        with pytest.raises(PermissionDenied) as caught:
            call(crm, principal, zone, ids[f"{zone}:pool_customer"])
        assert caught.value.code in {"auth.permission_denied", "auth.out_of_scope"}
        assert (dict(store._rows), len(store._audit), dict(store._outbox)) == before


@pytest.mark.parametrize("who", list(PRINCIPALS))
def test_pool_lists_hold_the_pools_in_scope(who: str) -> None:
    crm, _store, _ids = _world()
    principal = PRINCIPALS[who]
    expected = [PoolId(z) for z in (EAST, WEST) if _pool_expected("list_pool", principal, z)]
    assert [p.id for p in crm.pools.list_pools(principal)] == expected


@pytest.mark.parametrize("who", list(PRINCIPALS))
def test_rescoring_every_lead_is_for_admins_and_the_system(who: str) -> None:
    crm, store, _ids = _world()
    principal = PRINCIPALS[who]
    before = (dict(store._rows), len(store._audit), dict(store._outbox))
    if _has_role(principal, Action.LEAD_RESCORE):
        report = crm.lead_scores.recompute(principal, reason="periodic refresh")
        assert report.finished
    else:
        with pytest.raises(PermissionDenied) as caught:
            crm.lead_scores.recompute(principal, reason="periodic refresh")
        assert caught.value.code == "auth.permission_denied"
        assert (dict(store._rows), len(store._audit), dict(store._outbox)) == before


@pytest.mark.parametrize(("who", "target"), [(w, t) for w in PRINCIPALS for t in TARGETS])
def test_opportunity_lists_hold_only_what_is_in_scope(who: str, target: str) -> None:
    crm, _store, ids = _world()
    principal = PRINCIPALS[who]
    if not _has_role(principal, Action.OPPORTUNITY_READ):
        with pytest.raises(PermissionDenied):
            crm.pipeline.opportunities(principal, "customer", ids[target])
        return
    listed = crm.pipeline.opportunities(principal, "customer", ids[target])
    expected = [ids[f"{target}:opportunity"]] if _in_scope(principal, target) else []
    assert [o.id for o in listed] == expected


ORG_SERVICES: dict[str, tuple[Action, Callable[[LeadToCash, Principal, ZoneId], Any]]] = {
    "create_team": (
        Action.ORG_MANAGE,
        lambda c, p, z: c.org.create_team(p, f"new-{z}", "New", z),
    ),
    "rename_zone": (Action.ORG_MANAGE, lambda c, p, z: c.org.rename_zone(p, z, "Renamed")),
    "join": (Action.REP_MANAGE, lambda c, p, z: c.org.join(p, f"new-{z}", "New", zone_id=z)),
    "set_weight": (
        Action.REP_MANAGE,
        lambda c, p, z: c.org.set_weight(p, "rep1" if z == EAST else "w1", 5),
    ),
    "go_on_leave": (
        Action.REP_MANAGE,
        lambda c, p, z: c.org.go_on_leave(p, "rep1" if z == EAST else "w1"),
    ),
    "get_rep": (Action.ORG_READ, lambda c, p, z: c.org.get_rep(p, "rep1" if z == EAST else "w1")),
    "zone_reps": (Action.ORG_READ, lambda c, p, z: c.org.zone_reps(p, z)),
}


def _org_expected(service: str, principal: Principal, zone: ZoneId) -> bool:
    action, _ = ORG_SERVICES[service]
    if not _has_role(principal, action):
        return False
    if action is not Action.REP_MANAGE:
        return True  # zones and teams are admins' (no scope), the directory is everyone's
    return _scope(principal) is DataScope.ALL or principal.zone_id == zone


@pytest.mark.parametrize(
    ("service", "who", "zone"),
    [(s, w, z) for s in ORG_SERVICES for w in PRINCIPALS for z in (EAST, WEST)],
)
def test_org_service_by_role_by_zone(service: str, who: str, zone: ZoneId) -> None:
    crm, store, _ids = _world()
    for z in (EAST, WEST):
        crm.org.create_zone(ADMIN, z, f"{z} zone")
    principal, call = PRINCIPALS[who], ORG_SERVICES[service][1]
    before = (dict(store._rows), len(store._audit), dict(store._outbox))
    if _org_expected(service, principal, zone):
        assert call(crm, principal, zone) is not None
    else:
        with pytest.raises(PermissionDenied) as caught:
            call(crm, principal, zone)
        assert caught.value.code in {"auth.permission_denied", "auth.out_of_scope"}
        assert (dict(store._rows), len(store._audit), dict(store._outbox)) == before


def test_the_documented_matrix_is_generated_from_the_policy() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/permission_matrix.py", "--check"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout


def test_masked_fields_never_leak_to_reps_through_reads_reports_or_events() -> None:
    crm, store, ids = _world()
    crm.pools.release(ADMIN, ids["east_rep2"], "back to the pool")
    outsider = PRINCIPALS["rep3_team_b"]
    outputs: list[Any] = [
        crm.pools.get_customer(outsider, ids["east_rep2"]),
        crm.pools.list_pool(outsider, PoolId(EAST)),
        # (a report may echo the caller's own input, so probe with the name only)
        crm.collisions.check_customer(outsider, "东区客户"),
    ]
    for caught_call in (
        lambda: crm.pools.get_customer(outsider, ids["west_w1"]),
        lambda: crm.collisions.create_customer(outsider, "东区客户", pool_id=PoolId(EAST)),
    ):
        try:
            caught_call()
        except Exception as exc:  # the refusal itself is an output
            outputs.append(exc)
            outputs.append(getattr(exc, "details", None))
    outputs += [m.payload for m in store.outbox_due(FakeClock().now().replace(year=2030))]
    text = repr(outputs)
    assert PHONE_EAST not in text
    assert PHONE_WEST not in text
    assert "13800000001" not in text


def test_amounts_never_leak_to_principals_without_the_right() -> None:
    """Deal amounts and budgets: hidden from after-sales and from collaborators who follow a
    deal they do not own, through reads, lists, classification results and refusals."""
    from leadtocash.access import RolePolicy

    crm, store, ids = _world()
    east, deal = ids["east_rep2"], ids["east_rep2:opportunity"]
    budget = Money("123456.78", "CNY")
    crm.classification.update_signals(ADMIN, east, budget=budget)
    follower = PRINCIPALS["rep3_team_b"]
    crm.pools.set_collaborator(ADMIN, east, RepId("rep3"), CollaboratorAccess.READ, "helps")
    owner, service, finance = PRINCIPALS["rep2_owner"], PRINCIPALS["service"], PRINCIPALS["finance"]
    # Without amount.read, even the owner is shown no money (a policy some companies choose).
    no_money = {a: r - {Role.REP} if a is Action.AMOUNT_READ else r
                for a, r in DEFAULT_PERMISSIONS.items()}  # fmt: skip
    strict = LeadToCash(store, FakeClock(), SequentialIds(), policy=RolePolicy(no_money))

    hidden: list[Any] = []
    for who, system in ((follower, crm), (service, crm), (owner, strict)):
        view = system.pipeline.get_opportunity(who, deal)
        assert view.amount is None and view.amount_hidden
        hidden += [view, system.pipeline.opportunities(who, "customer", east)]
        customer = system.pools.get_customer(who, east)
        assert customer.signals.budget is None
        hidden.append(customer)
        with pytest.raises(PermissionDenied) as refused:
            view.as_opportunity()
        hidden += [refused.value, refused.value.details]
    edited = strict.pipeline.edit(owner, deal, next_step="send the contract")  # writes too
    assert edited.amount is None and edited.next_step == "send the contract"
    hidden += [edited, strict.pipeline.advance(owner, deal)]
    hidden += [strict.classification.explain(owner, east)]
    hidden += [strict.classification.reclassify(owner, east, reason="check")]
    text = repr(hidden)
    for raw in ("987654.32", "987654", "123456.78", "123456"):
        assert raw not in text

    for who in (owner, finance, ADMIN):  # those with the right see the real figures
        assert crm.pipeline.get_opportunity(who, deal).amount == AMOUNT
        assert crm.pools.get_customer(who, east).signals.budget == budget


def test_lead_lists_and_tier_reports_count_only_what_is_in_scope() -> None:
    crm, _store, _ids = _world()
    leads = {}
    for who in ("rep1_team_a", "rep3_team_b"):
        rep = PRINCIPALS[who]
        payload = {"channel": "web_form", "company_name": f"{who} 公司", "zone_id": "east",
                   "email": f"{who}@example.com"}  # fmt: skip
        captured = crm.leads.capture(rep, payload)
        with crm.unit_of_work() as uow:  # handed to the rep (leads are captured unowned)
            uow.leads.save(attrs.evolve(uow.leads.get(captured.id), owner_id=rep.rep_id))
            uow.commit()
        leads[who] = crm.leads.get(ADMIN, captured.id)
    status = leads["rep1_team_a"].status
    mine = {lead.id for lead in leads.values()}  # (the world holds other leads too)
    seen = {
        who: {lead.id for lead in crm.leads.by_status(p, status, limit=100).items} & mine
        for who, p in PRINCIPALS.items()
        if _has_role(p, Action.LEAD_READ)
    }
    assert seen["team_lead_a"] == {leads["rep1_team_a"].id}  # own team only
    assert seen["rep1_team_a"] == {leads["rep1_team_a"].id}
    assert seen["zone_manager_east"] == seen["admin"] == {lead.id for lead in leads.values()}

    def report(who: str) -> dict[str, Any]:
        return crm.classification.distribution(PRINCIPALS[who]).as_dict()

    everything, east_only = report("admin"), report("zone_manager_east")
    assert everything["total"] == 4  # two owned customers and one waiting in each pool
    assert east_only["total"] == 2
    assert set(east_only["by_zone"]) == {"east"}
    assert report("team_lead_a")["total"] == 2  # rep2's customer (same team) and the pool's


def test_the_matrix_renders_any_policy_and_matches_the_committed_docs() -> None:
    assert permission_matrix_markdown() == (ROOT / "docs" / "permissions.md").read_text("utf-8")
    text = permission_matrix_markdown(
        {Action.POOL_CLAIM: frozenset({Role.REP})}, {Role.REP: DataScope.OWN}
    )
    rows = text.splitlines()
    header = rows.index("| action | " + " | ".join(r.value for r in Role) + " |")
    claim = next(r for r in rows if r.startswith(f"| `{Action.POOL_CLAIM.value}` |"))
    cells = claim.split(" | ")[1:]
    assert [c.strip(" |") for c in cells] == [
        "✓" if role in (Role.ADMIN, Role.REP) else "–" for role in Role
    ]
    assert header < rows.index(claim)
    assert rows[-3:] == ["| role | data scope |", "|---|---|", "| rep | own |"]


def _target(**kw: Any) -> ScopeTarget:
    return ScopeTarget("customer", "c1", owner_rep=RepId("rep2"), zone=EAST, **kw)


def test_a_principal_without_a_scoped_role_reaches_nothing() -> None:
    policy = ScopePolicy()
    nobody = Principal("guest", rep_id=RepId("rep2"), zone_id=EAST)
    assert policy.scope_of(nobody) is None
    assert policy.reason(nobody, _target(), write=False) is None  # even its "own" record
    with pytest.raises(PermissionDenied) as caught:
        policy.check(nobody, _target(), write=False)
    assert caught.value.code == "auth.out_of_scope"
    assert caught.value.details == {"kind": "customer", "id": "c1", "user_id": "guest",
                                    "write": False}  # fmt: skip


def test_collaborators_read_or_write_only_as_granted() -> None:
    policy = ScopePolicy()
    rep3 = PRINCIPALS["rep3_team_b"]
    target = _target(
        collaborators=(
            Collaborator(RepId("rep9"), CollaboratorAccess.WRITE),
            Collaborator(RepId("rep3"), CollaboratorAccess.READ),
        )
    )
    assert policy.check(rep3, target, write=False) == "collaborator:read"
    assert policy.reason(rep3, target, write=True) is None  # read access does not write
    writer = _target(collaborators=(Collaborator(RepId("rep3"), CollaboratorAccess.WRITE),))
    assert policy.check(rep3, writer, write=True) == "collaborator:write"


# -- lead pools (线索池): the customer pool's actions, over lead pools ---------------------------
def _lead_pool_world() -> tuple[LeadToCash, InMemoryStore, dict[ZoneId, str]]:
    crm, store, _ids = _world()
    waiting: dict[ZoneId, str] = {}
    for zone in (EAST, WEST):
        crm.lead_pools.create_pool(
            ADMIN, f"{zone} leads", zone_id=zone, pool_id=PoolId(f"l-{zone}")
        )
        payload = {"channel": "call", "company_name": f"{zone} 待分配线索", "zone_id": zone,
                   "email": f"waiting-{zone}@example.com"}  # fmt: skip
        lead = crm.leads.capture(ADMIN, payload)
        crm.lead_pools.add_lead(ADMIN, lead.id, PoolId(f"l-{zone}"))
        waiting[zone] = lead.id
    return crm, store, waiting


def _rep_of(zone: ZoneId) -> RepId:
    return RepId("rep1" if zone == EAST else "w1")


_LeadPoolCall = Callable[[LeadToCash, Principal, ZoneId, str], Any]
LEAD_POOL_SERVICES: dict[str, tuple[Action, _LeadPoolCall]] = {
    "assign": (
        Action.POOL_ASSIGN,
        lambda c, p, z, lid: c.lead_pools.assign(p, lid, _rep_of(z)),
    ),
    "update_rules": (
        Action.POOL_MANAGE,
        lambda c, p, z, _: c.lead_pools.update_rules(
            p, PoolId(f"l-{z}"), LeadPoolRules(capacity=50), "tune"
        ),
    ),
    "list_pool": (Action.LEAD_READ, lambda c, p, z, _: c.lead_pools.list_pool(p, PoolId(f"l-{z}"))),
    "set_members": (
        Action.POOL_MANAGE,
        lambda c, p, z, _: c.lead_pools.set_members(
            p, PoolId(f"l-{z}"), PoolMembers(zones=frozenset({z})), "x"
        ),
    ),
    "allocate": (
        Action.POOL_ASSIGN,
        lambda c, p, z, lid: c.lead_pools.allocate(p, PoolId(f"l-{z}"), [lid], seed=7),
    ),
    "distribute": (
        Action.POOL_ASSIGN,
        lambda c, p, z, lid: c.lead_pools.distribute(
            p, PoolId(f"l-{z}"), [lid], [_rep_of(z)], seed=7
        ),
    ),
    "sweep": (Action.POOL_SWEEP, lambda c, p, z, _: c.lead_pools.sweep(p)),
}


def _lead_pool_expected(service: str, principal: Principal, zone: ZoneId) -> bool:
    action, _ = LEAD_POOL_SERVICES[service]
    if not _has_role(principal, action):
        return False
    scope = _scope(principal)
    if scope is DataScope.ALL or service == "sweep":
        return True
    if service != "list_pool" and scope.rank < DataScope.TEAM.rank:
        return False  # everyone sees their zone's lead pool; team leads up act on it
    return principal.zone_id == zone


@pytest.mark.parametrize("who", list(PRINCIPALS))
def test_lead_pool_lists_hold_the_lead_pools_in_scope(who: str) -> None:
    crm, _store, _waiting = _lead_pool_world()
    principal = PRINCIPALS[who]
    if not _has_role(principal, Action.LEAD_READ):
        with pytest.raises(PermissionDenied):
            crm.lead_pools.list_pools(principal)
        return
    expected = [
        PoolId(f"l-{z}") for z in (EAST, WEST) if _lead_pool_expected("list_pool", principal, z)
    ]
    assert [p.id for p in crm.lead_pools.list_pools(principal)] == expected


@pytest.mark.parametrize(
    ("service", "who", "zone"),
    [(s, w, z) for s in LEAD_POOL_SERVICES for w in PRINCIPALS for z in (EAST, WEST)],
)
def test_lead_pool_service_by_role_by_zone(service: str, who: str, zone: ZoneId) -> None:
    crm, store, waiting = _lead_pool_world()
    principal, call = PRINCIPALS[who], LEAD_POOL_SERVICES[service][1]
    before = (dict(store._rows), len(store._audit), dict(store._outbox))
    if _lead_pool_expected(service, principal, zone):
        result = call(crm, principal, zone, waiting[zone])
        if service in ("allocate", "distribute"):
            assert len(result.assignments) == 1  # it really allocated
    else:
        with pytest.raises(PermissionDenied) as caught:
            call(crm, principal, zone, waiting[zone])
        assert caught.value.code in {"auth.permission_denied", "auth.out_of_scope"}
        assert (dict(store._rows), len(store._audit), dict(store._outbox)) == before
