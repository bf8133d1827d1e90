"""The report of a run: numbers read back through the public API, as plain JSON-able data.

Everything here is read the way a sales-operations screen would read it (authorized
principals, scoped and masked reads): counts from ``crm.customers``, deals from
``crm.pipeline``, cash from ``crm.receivables``, the audit from ``verify_store_audit``. The
metrics the simulation counted itself (duplicates refused, reclaims, SLA breaches, fairness
over time) are added as such. The data holds codes and numbers only; labels are looked up in
the reader's language when it is rendered.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from leadtocash.access import Principal, Role
from leadtocash.app import CustomerFilter
from leadtocash.app.auditing import verify_store_audit
from leadtocash.audit import AuditReport
from leadtocash.model import PoolId
from leadtocash.pipeline import Opportunity, funnel, weighted_pipeline, win_rate
from leadtocash.simulation.engine import FINANCE, zone_ids
from leadtocash.simulation.run import TIMEZONE, Run

__all__ = ["build_report", "end_date"]

CNY = "CNY"
_READER = Principal("ops-report", roles=frozenset({Role.ADMIN}), locale="en")


def end_date(run: Run) -> Any:
    """The last simulated day."""
    return run.config.start + timedelta(days=run.config.days - 1)


def _money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


def _opportunities(run: Run) -> list[Opportunity]:
    found: list[Opportunity] = []
    for rep in (f"rep-{n + 1:02d}" for n in range(run.config.reps)):
        for view in run.crm.pipeline.opportunities(_READER, "owner", rep):
            found.append(view.as_opportunity())
    return sorted(found, key=lambda o: o.id)


def _pool_ages(run: Run, pool: str, now: datetime) -> tuple[int, float]:
    """How many customers wait in ``pool`` and their mean age there, in days."""
    ages: list[float] = []
    cursor = None
    while True:
        page = run.crm.customers.list(
            _READER, CustomerFilter(pool=PoolId(pool)), after=cursor, limit=200
        )
        for customer in page.items:
            if customer.owner_id is None:
                entered = customer.pool_entered_at or customer.created_at
                ages.append((now - entered).total_seconds() / 86400)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    return len(ages), round(statistics.fmean(ages), 1) if ages else 0.0


def build_report(run: Run, audit: Callable[[], AuditReport] | None = None) -> dict[str, Any]:
    """The whole report as JSON-able data (no paths, no timings: the same seed gives the same).

    ``audit`` answers the verification of the run's store when it is made elsewhere (in
    other processes, ``leadtocash.audit_processes``); without it the store is verified here.
    """
    crm, m, config = run.crm, run.metrics, run.config
    last = end_date(run)
    now = datetime.combine(last, time(23, 59), ZoneInfo(TIMEZONE)).astimezone(UTC)
    zones = zone_ids(config.zones)

    fairness = []
    for zone in zones:
        ledger = m.ledgers.get(zone)
        if ledger is None:
            continue
        for entry in ledger.entries:
            entitled = ledger.entitlement(entry.rep_id)
            fairness.append(
                {
                    "rep": entry.rep_id,
                    "zone": zone,
                    "weight": entry.weight,
                    "entitled": round(float(entitled), 2),
                    "received": entry.received,
                    "deviation": round(float(entry.received - entitled), 2),
                    "owned": crm.customers.count(_READER, CustomerFilter(owner=entry.rep_id)),
                }
            )
    last_round = m.fairness[-1] if m.fairness else (0, 0.0, 0.0, 0.0)
    worst = {
        "fair": round(max((r[1] for r in m.fairness), default=0.0), 2),
        "round_robin": round(max((r[2] for r in m.fairness), default=0.0), 2),
        "random": round(max((r[3] for r in m.fairness), default=0.0), 2),
        "fair_final": round(last_round[1], 2),
        "round_robin_final": round(last_round[2], 2),
        "random_final": round(last_round[3], 2),
    }

    opportunities = _opportunities(run)
    rows = funnel(opportunities)
    rate = win_rate(opportunities)
    weighted = weighted_pipeline(opportunities).get(CNY)

    pools = []
    for zone in zones:
        size, age = _pool_ages(run, zone, now)
        pools.append({"zone": zone, "size": size, "mean_age_days": age})
    taken = m.assigned + m.claims

    start = config.start
    collected = crm.receivables.performance(FINANCE, start, last, CNY, by="zone")
    cash = sum((money.amount for money in collected.values()), Decimal(0))
    aging = crm.receivables.aging(FINANCE, last, CNY)
    verified = verify_store_audit(run.store) if audit is None else audit()
    hours = sorted(m.first_contact_hours)

    return {
        "config": {
            "zones": config.zones,
            "reps": config.reps,
            "days": config.days,
            "leads": config.leads,
            "seed": config.seed,
            "start": start.isoformat(),
            "end": last.isoformat(),
            "rules": config.rules.as_dict(),
        },
        "intake": {
            "leads": m.captured,
            "duplicates": m.duplicate_customers,
            "customers": crm.customers.count(_READER),
            "by_channel": dict(sorted(m.captured_by_channel.items())),
            "duplicates_by_channel": dict(sorted(m.duplicates_by_channel.items())),
        },
        "fairness": {"reps": fairness, "max_deviation": worst},
        "ownership": {
            "assigned": m.assigned,
            "claims": m.claims,
            "reclaimed": m.reclaimed,
            "warned": m.warned,
            "follow_ups": m.follow_ups,
            "tier_changes": m.tier_changes,
            "reclaim_rate": round(m.reclaimed / taken, 3) if taken else 0.0,
            "first_contact_hours_median": round(statistics.median(hours), 1) if hours else None,
            "masked_reads": m.masked_reads,
            "unmasked_reads": m.unmasked_reads,
        },
        "pools": pools,
        "funnel": [
            {"stage": r.stage, "entered": r.entered, "advanced": r.advanced, "won": r.won}
            for r in rows
        ],
        "deals": {
            "opportunities": len(opportunities),
            "won": m.won,
            "lost": m.lost,
            "win_rate": float(rate) if rate is not None else None,
            "weighted_forecast": _money(weighted.amount) if weighted else "0.00",
            "contracts": m.contracts,
            "renewals": m.renewals,
        },
        "cash": {
            "invoices": m.invoices,
            "receipts": m.receipts,
            "collected": _money(cash),
            "outstanding": _money(aging.total.amount),
            "aging": {bucket.value: _money(amount.amount) for bucket, amount in aging.buckets},
            "curve": [[d, _money(c)] for d, _, _, c in m.daily],
        },
        "service": {
            "tickets": m.tickets,
            "sla_breaches": m.sla_breaches,
            "sla_warnings": m.sla_warnings,
        },
        "daily": [[d, reclaimed, in_pools] for d, reclaimed, in_pools, _ in m.daily],
        "fairness_series": [
            [d, round(f, 3), round(r, 3), round(x, 3)] for d, f, r, x in m.fairness
        ],
        "refusals": dict(sorted(m.refusals.items())),
        "audit": {
            "ok": verified.ok,
            "entries": verified.entries,
            "strands": verified.strands,
            "digests": verified.digests,
        },
    }
