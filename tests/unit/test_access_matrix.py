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

import pytest

from leadtocash import (
    DEFAULT_PERMISSIONS,
    Action,
    LeadToCash,
    Money,
    PermissionDenied,
    PoolId,
    PoolRules,
    Principal,
    RepId,
    Role,
    SalesRep,
    TeamId,
    ZoneId,
)
from leadtocash.scopes import DEFAULT_ROLE_SCOPES, DataScope
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


def _world() -> tuple[LeadToCash, InMemoryStore, dict[str, str]]:
    store = InMemoryStore()
    crm = LeadToCash(store, FakeClock(), SequentialIds())
    for zone in (EAST, WEST):
        crm.pools.create_pool(ADMIN, f"{zone} pool", zone_id=zone, pool_id=PoolId(zone),
                              rules=PoolRules())  # fmt: skip
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
    return crm, store, {"east_rep2": east.id, "west_w1": west.id}


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
    "create_opportunity": (
        Action.OPPORTUNITY_CREATE,
        True,
        lambda c, p, t: c.pipeline.create_opportunity(
            p, t, name="deal", amount=Money("1000", "CNY"), close_date=date(2026, 3, 31)
        ),
    ),
}


def _expected(service: str, principal: Principal, target: str) -> bool:
    action, _write, _ = SERVICES[service]
    if not (principal.has(Role.ADMIN) or principal.roles & DEFAULT_PERMISSIONS.get(action, set())):
        return False
    if service == "follow_up" and principal.rep_id is None:
        return False  # a follow-up is recorded under the rep who made it
    zone, team, owner = TARGETS[target]
    scope = max((DEFAULT_ROLE_SCOPES[r] for r in principal.roles), key=lambda s: s.rank)
    return {
        DataScope.ALL: True,
        DataScope.ZONE: principal.zone_id == zone,
        DataScope.TEAM: principal.team_id == team or principal.rep_id == owner,
        DataScope.OWN: principal.rep_id == owner,
    }[scope]


CASES = [(service, who, target) for service in SERVICES for who in PRINCIPALS for target in TARGETS]


@pytest.mark.parametrize(("service", "who", "target"), CASES)
def test_service_by_role_by_scope(service: str, who: str, target: str) -> None:
    crm, store, ids = _world()
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
        }
        assert (dict(store._rows), len(store._audit), dict(store._outbox)) == before
        for raw in (PHONE_EAST, PHONE_WEST):
            assert raw not in str(caught.value)
            assert raw not in str(caught.value.details)


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
