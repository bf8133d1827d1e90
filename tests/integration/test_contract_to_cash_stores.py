"""Contract to cash on the real stores: the same flow on memory, SQLite and PostgreSQL.

Quote → contract → deliveries → invoices (one red-corrected) → receipts (oldest first, an
overpayment to credit, credit applied, a reversal) → reminders, overdue scan, aging, DSO,
forecast, roll-up, performance by cash → the contract ends and the customer goes back to the
pool. Every store gives the same figures, and its audit entries verify.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from leadtocash import LeadToCash, PoolId, Principal, RepId, Role, SalesRep, ZoneId
from leadtocash.contracts import (
    InvoiceKind,
    LineInput,
    MilestoneBasis,
    MilestoneSpec,
    ProductId,
)
from leadtocash.durations import Duration
from leadtocash.money import Money
from leadtocash.pool.rules import PoolRules, TierDurations
from leadtocash.ports import Store
from leadtocash.testing import FakeClock, SequentialIds
from store_flows import same_on_every_store

ADMIN = Principal("admin", roles=frozenset({Role.ADMIN}))
SYSTEM = Principal("sweeper", roles=frozenset({Role.SYSTEM}))
MANAGER = Principal("mia", roles=frozenset({Role.ZONE_MANAGER}), zone_id=ZoneId("east"))
FINANCE = Principal("fred", roles=frozenset({Role.FINANCE}))
REP = Principal("user1", roles=frozenset({Role.REP}), rep_id=RepId("rep1"), zone_id=ZoneId("east"))
START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # a Monday, 10:00 in Shanghai


def cny(text: str) -> Money:
    return Money(text, "CNY")


def _flow(store: Store) -> dict[str, Any]:
    clock = FakeClock(START)
    crm = LeadToCash(store, clock, SequentialIds())
    rules = PoolRules(after_contract_end=TierDurations(Duration.days(30)))
    pool = crm.pools.create_pool(ADMIN, "East", zone_id=ZoneId("east"), rules=rules,
                                 pool_id=PoolId("east"))  # fmt: skip
    crm.reps.register(ADMIN, SalesRep(RepId("rep1"), "Rep 1", zone_id=ZoneId("east")))
    cid = crm.pools.add_customer(
        ADMIN, "甲科技有限公司", pool_id=pool.id, phones=["13800000001"]
    ).id
    crm.pools.claim(REP, cid)
    crm.reclaim.record_facts(ADMIN, cid, won=True, reason="won")
    crm.products.create_product(ADMIN, "SRV", "服务器", "台", cny("1999.00"))
    crm.products.create_product(ADMIN, "INS", "安装", "次", cny("500.00"), Decimal("0.06"))

    quote = crm.quotes.draft(
        REP, cid, "CNY",
        [LineInput(Decimal(2), ProductId("SRV")), LineInput(Decimal(1), ProductId("INS"))],
        valid_until=date(2026, 3, 31),
    )  # fmt: skip
    crm.quotes.send(REP, quote.id)
    crm.quotes.accept(REP, quote.id)
    plan = [
        MilestoneSpec("预付款", percent=Decimal(30), due_date=date(2026, 3, 12)),
        MilestoneSpec("验收款", percent=Decimal(70), basis=MilestoneBasis.FULL_DELIVERY,
                      days_after_delivery=10),
    ]  # fmt: skip
    contract = crm.contracts.from_quote(REP, quote.id, plan=plan)
    crm.contracts.submit(REP, contract.id)
    crm.contracts.approve(MANAGER, contract.id, "ok")
    contract = crm.contracts.sign(REP, contract.id)
    d1 = crm.contracts.record_delivery(REP, contract.id, {1: Decimal(2)}, date(2026, 3, 3))
    crm.contracts.accept_delivery(REP, contract.id, d1.deliveries[0].id, date(2026, 3, 4))
    d2 = crm.contracts.record_delivery(REP, contract.id, {2: Decimal(1)}, date(2026, 3, 5))
    crm.contracts.accept_delivery(REP, contract.id, d2.deliveries[1].id, date(2026, 3, 6))

    inv1 = crm.billing.draft_invoice(FINANCE, contract.id, InvoiceKind.SPECIAL, cny("1349.40"),
                                     milestone_id="M1")  # fmt: skip
    crm.billing.issue_invoice(FINANCE, inv1.id, issued_on=date(2026, 3, 2))
    inv2 = crm.billing.draft_invoice(FINANCE, contract.id, InvoiceKind.SPECIAL, cny("3100.00"),
                                     milestone_id="M2")  # fmt: skip
    crm.billing.issue_invoice(FINANCE, inv2.id, issued_on=date(2026, 3, 6))
    crm.billing.red_invoice(FINANCE, inv2.id, "多开", amount=cny("51.40"),
                            issued_on=date(2026, 3, 7))  # fmt: skip
    inv3 = crm.billing.draft_invoice(FINANCE, contract.id, InvoiceKind.ORDINARY, cny("100.00"))
    crm.billing.issue_invoice(FINANCE, inv3.id, issued_on=date(2026, 3, 8))
    clock.advance(timedelta(days=7))  # 9 March: M1 falls due in 3 days
    reminders = crm.billing.due_reminders(SYSTEM)

    r1 = crm.billing.register_receipt(FINANCE, cid, cny("2000.00"), date(2026, 3, 10), "B1", "甲")
    crm.billing.confirm_receipt(FINANCE, r1.id)
    crm.billing.allocate_receipt(FINANCE, r1.id)  # pays inv1 (1349.40) and 650.60 of inv2
    r2 = crm.billing.register_receipt(FINANCE, cid, cny("3000.00"), date(2026, 3, 11), "B2", "甲")
    crm.billing.confirm_receipt(FINANCE, r2.id)
    crm.billing.allocate_receipt(FINANCE, r2.id)  # the rest: 2398.00 + 100.00, 502.00 credit
    r3 = crm.billing.register_receipt(FINANCE, cid, cny("10.00"), date(2026, 3, 11), "B3", "甲")
    crm.billing.confirm_receipt(FINANCE, r3.id)
    crm.billing.allocate_receipt(FINANCE, r3.id)
    crm.billing.reverse_receipt(FINANCE, r3.id, "退回")
    crm.billing.refund_credit(FINANCE, cid, cny("102.00"), "多付退回", method="bank")  # 退款
    refunds = [r.amount for r in crm.billing.refunds(FINANCE, cid).items]
    credit = crm.billing.credit(FINANCE, cid, "CNY").balance
    clock.advance(timedelta(days=30))
    on = clock.now().date()
    figures = {
        "reminders": [kind for _, kind in reminders.sent],
        "credit": credit,
        "refunds": refunds,
        "overdue": [i.id for i in crm.billing.overdue(FINANCE, on).items],
        "aging": crm.receivables.aging(FINANCE, on, "CNY").total,
        "dso": crm.receivables.dso(FINANCE, date(2026, 3, 1), date(2026, 3, 31), "CNY"),
        "forecast": crm.receivables.forecast(FINANCE, on, "CNY"),
        "roll_up": crm.contracts.roll_up(REP, contract.id),
        "performance": crm.receivables.performance(
            FINANCE, date(2026, 3, 1), date(2026, 3, 31), "CNY"
        ),
    }
    ended = clock.now()
    crm.contracts.complete(REP, contract.id)
    clock.advance(timedelta(days=30))
    figures["reclaimed"] = crm.reclaim.sweep(SYSTEM).reclaimed == (cid,)
    figures["due_after_end"] = ended + timedelta(days=30)
    figures["audit"] = len(store.audit_log(limit=1_000_000))
    return figures


def _check(figures: dict[str, Any]) -> None:
    assert figures["reminders"] == ["due_soon"]
    assert figures["credit"] == cny("400.00")  # 502.00 left, 102.00 refunded
    assert figures["refunds"] == [cny("102.00")]
    assert figures["overdue"] == []
    assert figures["aging"] == cny("0")
    summary = figures["roll_up"]
    assert (summary.contracted, summary.invoiced, summary.collected) == (
        cny("4498.00"), cny("4498.00"), cny("4498.00"),
    )  # fmt: skip
    assert figures["performance"] == {"rep1": cny("4498.00")}
    assert figures["reclaimed"] is True


(
    reference,
    test_the_flow_on_sqlite_matches_the_reference,
    pg_store,
    test_the_flow_on_postgres_matches_the_reference,
) = same_on_every_store(_flow, _check, "cash")
