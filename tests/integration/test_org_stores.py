"""The organisation admin flow (issue #27) on memory, SQLite and PostgreSQL.

Zones and teams are set up, reps join with caps, move, go on leave; a manager converts an
unowned lead for a named rep; allocation skips the rep on leave and stops at the other's own
cap; a rep leaves with a handover of their book. Every store gives the same result, reads the
org model back as written, and its audit entries verify.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from leadtocash import (
    Channel,
    Lead,
    LeadId,
    LeadStatus,
    LeadToCash,
    Money,
    PoolId,
    Principal,
    RepId,
    Role,
    RuleViolation,
    ZoneId,
)
from leadtocash.app.auditing import verify_store_audit
from leadtocash.ports import Store
from leadtocash.testing import FakeClock, SequentialIds
from store_flows import same_on_every_store

ADMIN = Principal("admin", roles=frozenset({Role.ADMIN}))
MANAGER = Principal("mia", roles=frozenset({Role.ZONE_MANAGER}), zone_id=ZoneId("east"))
START = datetime(2026, 3, 6, 1, 0, tzinfo=UTC)


def _flow(store: Store) -> dict[str, Any]:
    crm = LeadToCash(store, FakeClock(START), SequentialIds())
    org = crm.org
    org.create_zone(ADMIN, "east", "华东战区")
    org.create_zone(ADMIN, "west", "西部战区", timezone="Asia/Urumqi")
    org.create_team(ADMIN, "e1", "华东一组", "east")
    org.join(MANAGER, "li", "李雷", team_id="e1", weight=2, skills=["erp"],
             daily_claim_limit=5, daily_allocation_cap=2)  # fmt: skip
    org.join(MANAGER, "han", "韩梅梅", team_id="e1")
    org.join(ADMIN, "wu", "吴", zone_id="west")
    org.set_team_lead(MANAGER, "e1", "li")
    org.go_on_leave(MANAGER, "han", "annual leave")
    pool = crm.pools.create_pool(ADMIN, "华东公海", zone_id=ZoneId("east"), pool_id=PoolId("e"))
    customers = [
        crm.pools.add_customer(ADMIN, f"客户{n}有限公司", pool_id=pool.id).id for n in range(4)
    ]
    report = crm.allocation.allocate(MANAGER, pool.id, customers, seed=11)
    lead = Lead(
        LeadId("lead-1"), Channel.WEB_FORM, "远航物流有限公司", START, contact_name="王五",
        phone="+8613900139001", zone_id=ZoneId("east"), status=LeadStatus.QUALIFIED,
    )  # fmt: skip
    with crm.unit_of_work() as uow:
        uow.leads.add(lead)
        uow.commit()
    converted = crm.pipeline.convert(
        MANAGER, "lead-1", amount=Money(80000, "CNY"), close_date=date(2026, 6, 30), rep_id="li"
    )
    org.return_from_leave(MANAGER, "han")
    try:
        org.leave(MANAGER, "li", "resigned")
        refused: dict[str, Any] = {}
    except RuleViolation as error:
        refused = error.details
    org.leave(MANAGER, "li", "resigned", handover_to="han")
    reps = {r.id: r for r in org.zone_reps(ADMIN, "east")}
    return {
        "allocated": report.counts(),
        "refused": len(report.refusals),
        "converted_for": converted.customer.owner_id,
        "refused_leave": refused,
        "owners": sorted(
            str(crm.pools.get_customer(ADMIN, cid).owner_id)
            for cid in [*customers, converted.customer.id]
        ),
        "li": (reps[RepId("li")].active, reps[RepId("li")].daily_allocation_cap),
        "han": (reps[RepId("han")].active, reps[RepId("han")].on_leave),
        "team": (org.get_team(ADMIN, "e1").zone_id, org.get_team(ADMIN, "e1").lead_rep_id),
        "west": org.get_zone(ADMIN, "west").timezone,
        "members": [r.id for r in org.members(ADMIN, "e1")],
        "audit_ok": verify_store_audit(store).ok,
    }


def _check(figures: dict[str, Any]) -> None:
    # han on leave gets nothing; li stops at their own cap of 2; the rest stays in the pool
    assert figures["allocated"] == {"li": 2} and figures["refused"] == 2
    assert figures["converted_for"] == "li"
    assert figures["refused_leave"] == {"rep_id": "li", "customers": 3, "leads": 0}
    assert figures["owners"] == ["None", "None", "han", "han", "han"]
    assert figures["li"] == (False, 2) and figures["han"] == (True, False)
    assert figures["team"] == ("east", None)  # li led e1 and left
    assert figures["west"] == "Asia/Urumqi"
    assert figures["members"] == ["han", "li"]
    assert figures["audit_ok"]


(
    reference,
    test_the_org_flow_on_sqlite_matches_the_reference,
    pg_store,
    test_the_org_flow_on_postgres_matches_the_reference,
) = same_on_every_store(_flow, _check, "org")
