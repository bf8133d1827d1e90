"""Cash and service policies stored as organisation settings on every reference store.

A store gets service hours with a lunch break, a one-hour P3 first response and a stricter
quote discount threshold through ``crm.settings.update``; a second facade on the same store
(a restart) runs with them without being told: a ticket opened at 11:30 is due after lunch,
and a 5% discount needs approval. Times of day, Decimals and the churn rules' tags must read
back the same from SQLite's JSON text and PostgreSQL's jsonb.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Any

from leadtocash import LeadToCash, PoolId, Principal, RepId, Role, RuleViolation, SalesRep, ZoneId
from leadtocash.aftersales import ChurnRules, LowSatisfactionRule, SlaPolicies, SlaPolicy
from leadtocash.aftersales.policies import ServicePolicies
from leadtocash.contracts import LineInput, ProductId, QuotePolicy
from leadtocash.contracts.policies import CashPolicies
from leadtocash.durations import BusinessHours, Duration
from leadtocash.model import Contact, ContactId, CustomerId
from leadtocash.money import Money
from leadtocash.ports import Store
from leadtocash.testing import FakeClock, SequentialIds
from store_flows import same_on_every_store

ADMIN = Principal("admin", roles=frozenset({Role.ADMIN}))
REP = Principal("user1", roles=frozenset({Role.REP}), rep_id=RepId("rep1"), zone_id=ZoneId("east"))
AGENT = Principal("agent1", roles=frozenset({Role.SERVICE}), rep_id=RepId("agent1"))
START = datetime(2026, 3, 6, 3, 30, tzinfo=UTC)  # Friday 11:30 in Shanghai

_bh = Duration.business_hours
SERVICE = ServicePolicies(
    sla=SlaPolicies(
        policies=[
            SlaPolicy(p, _bh(n), _bh(8 * n))
            for p, n in (("P1", 1), ("P2", 1), ("P3", 1), ("P4", 2))
        ]
    ),
    churn=ChurnRules(rules=(LowSatisfactionRule(at_most=1, within=Duration.days(30)),)),
    business_hours=BusinessHours(time(9), time(18), (time(12), time(13, 30))),
)
CASH = CashPolicies(quotes=QuotePolicy(discount_threshold=Decimal("0.03")))


def _flow(store: Store) -> dict[str, Any]:
    clock = FakeClock(START)
    ids = SequentialIds()
    first = LeadToCash(store, clock, ids)
    first.settings.update(ADMIN, "our service hours and discounts", cash=CASH, service=SERVICE)
    crm = LeadToCash(store, clock, ids)  # a restart, told nothing
    pool = crm.pools.create_pool(ADMIN, "East", zone_id=ZoneId("east"), pool_id=PoolId("east"))
    crm.reps.register(ADMIN, SalesRep(RepId("rep1"), "Rep 1", zone_id=ZoneId("east")))
    crm.reps.register(ADMIN, SalesRep(RepId("agent1"), "Agent 1"))
    cid = crm.pools.add_customer(ADMIN, "甲科技有限公司", pool_id=pool.id).id
    crm.pools.claim(REP, cid)
    with crm.unit_of_work() as uow:
        uow.contacts.add(Contact(ContactId("k1"), CustomerId(cid), "王"))
        uow.commit()
    ticket = crm.tickets.open(
        AGENT, cid, "k1", subject="系统故障", category="software", channel="phone", priority="P3"
    )  # fmt: skip
    crm.products.create_product(ADMIN, "SRV", "服务器", "台", Money("1000.00", "CNY"))
    line = LineInput(Decimal(1), ProductId("SRV"), discount_rate=Decimal("0.05"))
    quote = crm.quotes.draft(REP, cid, "CNY", [line], valid_until=datetime(2026, 4, 1).date())
    try:
        crm.quotes.send(REP, quote.id)
        refusal = None
    except RuleViolation as error:
        refusal = error.code
    settings = crm.settings.get(ADMIN)
    return {
        "same_policies": (settings.cash, settings.service) == (CASH, SERVICE),
        "version": settings.version,
        "first_response_due": ticket.first_response_due_at,
        "send": refusal,
    }


def _check(figures: dict[str, Any]) -> None:
    assert figures == {
        "same_policies": True,
        "version": 1,
        # 11:30–12:00 counts half an hour, lunch does not, 13:30–14:00 the other half
        "first_response_due": datetime(2026, 3, 6, 6, 0, tzinfo=UTC),
        "send": "quote.approval_required",
    }


(
    reference,
    test_the_flow_on_sqlite_matches_the_reference,
    pg_store,
    test_the_flow_on_postgres_matches_the_reference,
) = same_on_every_store(_flow, _check, "policy_settings")
