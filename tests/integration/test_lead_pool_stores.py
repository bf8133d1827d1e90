"""Lead pools (线索池) on the real stores: the same flow on memory, SQLite and PostgreSQL.

A lead pool with daily limit, capacity, "no follow-up" and "no progress" rules in working
days; leads are claimed, assigned, distributed fairly with routing, followed up, released;
the sweep warns and reclaims through the indexes across a weekend. Every store gives the same
figures (owners, schedules, refusals, sweep reports, ledger, outbox topics) and its audit
entries verify.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from leadtocash import LeadToCash, PoolId, Principal, RepId, Role, SalesRep, ZoneId
from leadtocash.allocation.routing import Route, Routing
from leadtocash.app.auditing import verify_store_audit
from leadtocash.app.lead_writes import lead_ledger_id
from leadtocash.durations import Duration
from leadtocash.errors import LeadToCashError
from leadtocash.pool.leads import LeadPoolRules
from leadtocash.ports import Store
from leadtocash.testing import FakeClock, SequentialIds
from store_flows import same_on_every_store

ADMIN = Principal("admin", roles=frozenset({Role.ADMIN}))
SYSTEM = Principal("sweeper", roles=frozenset({Role.SYSTEM}))
MANAGER = Principal("mia", roles=frozenset({Role.ZONE_MANAGER}), zone_id=ZoneId("east"))
START = datetime(2026, 3, 5, 1, 0, tzinfo=UTC)  # Thursday 09:00 in Shanghai
POOL = PoolId("leads-east")
RULES = LeadPoolRules(
    daily_claim_limit=2,
    capacity=4,
    no_follow_up=Duration.working_days(2),
    no_progress=Duration.working_days(5),
    warn_before=Duration.working_days(1),
)


def _rep(n: int) -> Principal:
    return Principal(
        f"user{n}", roles=frozenset({Role.REP}), rep_id=RepId(f"rep{n}"), zone_id=ZoneId("east")
    )


def _flow(store: Store) -> dict[str, Any]:
    clock = FakeClock(START)
    crm = LeadToCash(store, clock, SequentialIds())
    crm.lead_pools.create_pool(
        ADMIN, "East leads", zone_id=ZoneId("east"), product_line="crm", rules=RULES,
        pool_id=POOL,
    )  # fmt: skip
    for n in (1, 2, 3):
        skills = frozenset({"telesales"}) if n == 3 else frozenset()
        crm.reps.register(
            ADMIN, SalesRep(RepId(f"rep{n}"), f"Rep {n}", zone_id=ZoneId("east"), skills=skills)
        )
    ids = []
    for n in range(8):
        payload = {"channel": "call" if n % 2 else "web_form", "company_name": f"线索{n}公司",
                   "email": f"lead{n}@example.com"}  # fmt: skip
        lead_id = crm.leads.capture(ADMIN, payload).id
        crm.lead_pools.add_lead(ADMIN, lead_id, POOL)
        ids.append(lead_id)
    refusals = []

    def refused(call: Any, *args: Any) -> None:
        try:
            call(*args)
        except LeadToCashError as exc:
            refusals.append(exc.code)

    crm.lead_pools.claim(_rep(1), ids[0])
    crm.lead_pools.claim(_rep(1), ids[1])
    refused(crm.lead_pools.claim, _rep(1), ids[2])  # daily limit
    refused(crm.lead_pools.claim, _rep(2), ids[0])  # owned
    crm.lead_pools.assign(MANAGER, ids[2], RepId("rep2"), reason="knows them")
    routing = Routing([Route("calls", channels={"call"}, skills={"telesales"})])
    report = crm.lead_pools.allocate(MANAGER, POOL, ids[3:7], seed=5, routing=routing)
    clock.advance(timedelta(days=1))  # Friday
    crm.lead_pools.log_follow_up(_rep(1), ids[0], note="called")
    crm.lead_pools.release(_rep(2), ids[2], "wrong region")
    sweeps = []
    for _day in range(6):  # Saturday … Thursday: working days count, the weekend does not
        clock.advance(timedelta(days=1))
        sweep = crm.lead_pools.sweep(SYSTEM)
        sweeps.append((sorted(sweep.warned), sorted(sweep.reclaimed)))
    pooled = crm.lead_pools.list_pool(MANAGER, POOL, limit=100)
    with crm.unit_of_work() as uow:
        leads = [uow.leads.get(lead_id) for lead_id in ids]
        ledger = uow.repository(type(report.ledger)).get(lead_ledger_id(POOL))
    due = store.outbox_due(datetime(2100, 1, 1, tzinfo=UTC), limit=1_000_000)
    return {
        "owners": [(lead.owner_id, lead.previous_owner_id, lead.pool_cycles) for lead in leads],
        "allocated": [(a.lead_id, a.rep_id, a.explanation.rule) for a in report.assignments],
        "refusals": refusals,
        "sweeps": sweeps,
        "pooled": sorted(lead.id for lead in pooled.items),
        "ledger": sorted((e.rep_id, e.received) for e in ledger.entries),
        "topics": sorted(m.topic for m in due if m.topic.startswith("lead_pool.")),
        "audit_ok": verify_store_audit(store).ok,
        "ids": ids,
    }


def _check(figures: dict[str, Any]) -> None:
    ids = figures["ids"]
    assert figures["refusals"] == ["pool.daily_limit_reached", "lead_pool.already_owned"]
    # rep1 claimed 2 today (its cap); calls need telesales (rep3, then capped at 2 too), so
    # the second call waits in the pool
    assert figures["allocated"] == [
        (ids[3], "rep3", "calls"), (ids[4], "rep3", "otherwise"), (ids[6], "rep2", "otherwise"),
    ]  # fmt: skip
    assert figures["ledger"] == [("rep1", 0), ("rep2", 1), ("rep3", 2)]
    taken_thursday = sorted([ids[1], ids[3], ids[4], ids[6]])
    assert figures["sweeps"] == [
        ([], []),  # Saturday
        ([], []),  # Sunday: the weekend counts no working day
        (taken_thursday, []),  # Monday: one working day left
        ([ids[0]], taken_thursday),  # Tuesday: two working days without a follow-up
        ([], [ids[0]]),  # Wednesday: the lead followed up on Friday
        ([], []),
    ]
    assert figures["owners"][2] == (None, "rep2", 1)  # released
    assert figures["pooled"] == sorted(ids)  # every lead is back in the pool
    assert figures["topics"].count("lead_pool.reclaim_warning") == 5
    assert figures["audit_ok"]


(
    reference,
    test_the_flow_on_sqlite_matches_the_reference,
    pg_store,
    test_the_flow_on_postgres_matches_the_reference,
) = same_on_every_store(_flow, _check, "lead_pools")
