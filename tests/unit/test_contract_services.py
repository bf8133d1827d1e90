"""Contract to cash through the facade on the in-memory store.

The worked example of tests/unit/contracts (hand-checked numbers) runs again end to end
through ``crm.products``, ``crm.quotes``, ``crm.contracts``, ``crm.billing`` and
``crm.receivables``: every command authorized, audited and committed; every refusal typed,
coded and leaving the store (rows, indexes, audit, outbox) exactly as it was; contract facts
reach the customer through the write path, so reclaim follows contracts.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from contract_fixtures import PRODUCTS, cash_world, deliver_in_full, signed_contract
from leadtocash import (
    Action,
    CollaboratorAccess,
    LeadToCash,
    PermissionDenied,
    Principal,
    RepId,
    Role,
    RuleViolation,
)
from leadtocash.access import DEFAULT_PERMISSIONS, RolePolicy
from leadtocash.app import CashPolicies
from leadtocash.contracts import (
    AgingBucket,
    ContractStatus,
    InvoiceCeiling,
    InvoiceKind,
    InvoicePolicy,
    InvoiceStatus,
    LineInput,
    MilestoneBasis,
    MilestoneSpec,
    ProductId,
    QuotePolicy,
    QuoteStatus,
)
from leadtocash.durations import Duration
from leadtocash.errors import InvalidTransition, LeadToCashError, ValidationError
from leadtocash.model import ZoneId
from leadtocash.money import Money
from leadtocash.pool.rules import PoolRules, TierDurations
from pool_fixtures import ADMIN, MANAGER, SYSTEM, World, contact_of, make_world, rep_principal

REP1, REP2 = rep_principal(1), rep_principal(2)
FINANCE = Principal("fred", roles=frozenset({Role.FINANCE}))


def cny(text: str) -> Money:
    return Money(text, "CNY")


def at(day: int, month: int) -> datetime:
    return datetime(2026, month, day, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def _state(world: World) -> Any:
    store = world.store
    return (
        dict(store._rows),
        {k: list(v) for k, v in store._indexes.items()},
        [e.id for e in store.audit_log(limit=1_000_000)],
        [m.id for m in store.outbox_due(datetime(2100, 1, 1, tzinfo=UTC), limit=1_000_000)],
    )


def _refused(world: World, code: str, call: Any, *args: Any, **kwargs: Any) -> LeadToCashError:
    before = _state(world)
    with pytest.raises(LeadToCashError) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code, caught.value
    assert _state(world) == before, "a refused operation must change nothing"
    return caught.value


def _topics(world: World) -> list[str]:
    due = world.store.outbox_due(datetime(2100, 1, 1, tzinfo=UTC), limit=1_000_000)
    return [m.topic for m in due]


VAT = Decimal("0.13")


def test_quote_to_cash_by_hand_through_the_facade() -> None:
    policy = CashPolicies(quotes=QuotePolicy(discount_threshold=Decimal("0.08")))
    world, cid, _ = cash_world(cash=policy)
    crm = world.crm
    world.clock.set(at(1, 3))
    for code, name, unit, price in (
        ("SRV", "服务器", "台", "1999.00"), ("STO", "存储", "台", "888.80"),
        ("INS", "集成服务", "项", "1234.51"),
    ):  # fmt: skip
        crm.products.create_product(ADMIN, code, name, unit, cny(price), VAT)

    # -- the quote: line discounts 5% and 10%, quote discount 3%, 13% VAT included -------------
    quote = crm.quotes.draft(
        REP1, cid, "CNY",
        [
            LineInput(Decimal(3), ProductId("SRV"), discount_rate=Decimal("0.05")),
            LineInput(Decimal(2), ProductId("STO"), discount_rate=Decimal("0.10")),
            LineInput(Decimal(1), ProductId("INS")),
        ],
        valid_until=date(2026, 3, 31), discount_rate=Decimal("0.03"),
    )  # fmt: skip
    assert (quote.price.total, quote.price.tax) == (cny("8275.56"), cny("952.05"))
    assert quote.owner_id == "rep1" and quote.author_id == "user1"
    _refused(world, "quote.approval_required", crm.quotes.send, REP1, quote.id)
    crm.quotes.submit(REP1, quote.id)
    assert _topics(world)[-1] == "quote.approval_needed"
    _refused(world, "auth.permission_denied", crm.quotes.approve, REP1, quote.id, "mine")
    crm.quotes.approve(MANAGER, quote.id, "大客户")
    world.clock.set(at(2, 3))
    crm.quotes.send(REP1, quote.id)
    world.clock.set(at(4, 3))
    assert crm.quotes.accept(REP1, quote.id).status is QuoteStatus.ACCEPTED

    # -- the contract and its 30/60/10 plan: largest remainder, no fen created ------------------
    plan = [
        MilestoneSpec("预付款", percent=Decimal(30), due_date=date(2026, 3, 15)),
        MilestoneSpec("到货款", percent=Decimal(60), basis=MilestoneBasis.FIRST_DELIVERY,
                      days_after_delivery=10),
        MilestoneSpec("验收款", percent=Decimal(10), basis=MilestoneBasis.FULL_DELIVERY,
                      days_after_delivery=30),
    ]  # fmt: skip
    contract = crm.contracts.from_quote(REP1, quote.id, plan=plan)
    assert [m.amount for m in contract.plan] == [cny("2482.67"), cny("4965.34"), cny("827.55")]
    _refused(world, "contract.quote_has_contract", crm.contracts.from_quote, REP1, quote.id)
    crm.contracts.submit(REP1, contract.id)
    crm.contracts.approve(MANAGER, contract.id, "ok")
    world.clock.set(at(5, 3))
    contract = crm.contracts.sign(REP1, contract.id)
    assert contract.status is ContractStatus.ACTIVE
    assert crm.pools.get_customer(ADMIN, cid).has_active_contract
    assert "contract.signed" in _topics(world)

    # -- invoice 1 (M1), two partial deliveries -------------------------------------------------
    world.clock.set(at(6, 3))
    inv1 = crm.billing.draft_invoice(
        FINANCE, contract.id, InvoiceKind.SPECIAL, cny("2482.67"), milestone_id="M1"
    )
    assert inv1.tax == cny("285.62")
    _refused(world, "auth.permission_denied", crm.billing.issue_invoice, REP1, inv1.id)
    inv1 = crm.billing.issue_invoice(FINANCE, inv1.id, issued_on=date(2026, 3, 6))
    assert inv1.due_date == date(2026, 3, 15)
    assert _topics(world)[-1] == "invoice.issued"
    world.clock.set(at(10, 3))
    contract = crm.contracts.record_delivery(
        REP1, contract.id, {1: Decimal(2), 2: Decimal(2)}, date(2026, 3, 10)
    )
    first = contract.deliveries[0].id
    world.clock.set(at(12, 3))
    crm.contracts.accept_delivery(REP1, contract.id, first, date(2026, 3, 12))
    world.clock.set(at(20, 3))
    _refused(
        world, "contract.over_delivery", crm.contracts.record_delivery, REP1, contract.id,
        {2: Decimal(1)}, date(2026, 3, 20),
    )  # fmt: skip
    contract = crm.contracts.record_delivery(
        REP1, contract.id, {1: Decimal(1), 3: Decimal(1)}, date(2026, 3, 20)
    )
    world.clock.set(at(22, 3))
    inv2 = crm.billing.draft_invoice(
        FINANCE, contract.id, InvoiceKind.SPECIAL, cny("5000.00"), milestone_id="M2"
    )
    inv2 = crm.billing.issue_invoice(FINANCE, inv2.id, issued_on=date(2026, 3, 22))
    assert (inv2.tax, inv2.due_date) == (cny("575.22"), date(2026, 3, 22))
    world.clock.set(at(23, 3))
    red = crm.billing.red_invoice(
        FINANCE, inv2.id, "金额开错", amount=cny("34.66"), issued_on=date(2026, 3, 23)
    )
    assert (red.amount, red.tax) == (cny("-34.66"), cny("-3.99"))
    assert crm.billing.get_invoice(FINANCE, inv2.id).outstanding == cny("4965.34")
    world.clock.set(at(25, 3))
    second = contract.deliveries[1].id
    crm.contracts.accept_delivery(REP1, contract.id, second, date(2026, 3, 25))
    world.clock.set(at(26, 3))
    inv3 = crm.billing.draft_invoice(
        FINANCE, contract.id, InvoiceKind.ORDINARY, cny("827.55"), milestone_id="M3"
    )
    inv3 = crm.billing.issue_invoice(FINANCE, inv3.id, issued_on=date(2026, 3, 26))
    assert inv3.due_date == date(2026, 4, 24)
    assert crm.contracts.get(REP1, contract.id).invoiced == cny("8275.56")
    extra = crm.billing.draft_invoice(FINANCE, contract.id, InvoiceKind.ORDINARY, cny("0.01"))
    _refused(world, "invoice.over_contract", crm.billing.issue_invoice, FINANCE, extra.id)
    crm.billing.void_invoice(FINANCE, extra.id, "not needed")

    # -- receipts: oldest due first, a partial payment -------------------------------------------
    def receive(amount: str, day: date) -> str:
        world.clock.set(max(world.clock.now(), at(day.day, day.month)))
        receipt = crm.billing.register_receipt(
            FINANCE, cid, cny(amount), day, f"BANK-{day.isoformat()}", "某某科技"
        )
        _refused(world, "auth.permission_denied", crm.billing.confirm_receipt, REP1, receipt.id)
        crm.billing.confirm_receipt(FINANCE, receipt.id)
        return receipt.id

    r1 = receive("2482.67", date(2026, 3, 14))
    crm.billing.allocate_receipt(FINANCE, r1)
    assert crm.billing.get_invoice(FINANCE, inv1.id).status is InvoiceStatus.PAID
    r2 = receive("3000.00", date(2026, 3, 28))
    crm.billing.allocate_receipt(FINANCE, r2)
    assert crm.billing.get_invoice(FINANCE, inv2.id).outstanding == cny("1965.34")
    r3 = receive("1000.00", date(2026, 4, 15))
    crm.billing.allocate_receipt(FINANCE, r3)

    # -- aging, DSO and forecast on 1 May --------------------------------------------------------
    on = date(2026, 5, 1)
    world.clock.set(at(1, 5))
    report = crm.receivables.aging(FINANCE, on, "CNY")
    assert report.amount(AgingBucket.DAYS_31_60) == cny("965.34")
    assert report.amount(AgingBucket.DAYS_0_30) == cny("827.55")
    assert report.total == cny("1792.89")
    assert crm.receivables.dso(FINANCE, date(2026, 3, 1), on, "CNY") == Decimal("13.43")
    forecast = crm.receivables.forecast(FINANCE, on, "CNY")
    assert [(e.month, e.amount) for e in forecast] == [("2026-05", cny("1792.89"))]
    overdue = crm.billing.overdue(FINANCE, on)
    assert [i.id for i in overdue.items] == [inv2.id, inv3.id]

    # -- an explicit allocation that overpays: the surplus becomes credit, used later ----------
    r4 = receive("1000.00", date(2026, 5, 6))
    _refused(
        world, "receipt.over_allocation", crm.billing.allocate_receipt, FINANCE, r4,
        {inv3.id: cny("900.00")},
    )  # fmt: skip
    crm.billing.allocate_receipt(FINANCE, r4, {inv3.id: cny("827.55")})
    assert crm.billing.credit(FINANCE, cid, "CNY").balance == cny("172.45")
    world.clock.set(at(20, 5))
    paid2 = crm.billing.apply_credit(FINANCE, inv2.id)
    assert paid2.outstanding == cny("792.89")
    assert crm.billing.credit(FINANCE, cid, "CNY").balance == cny("0")

    # -- roll-up and performance by cash ---------------------------------------------------------
    summary = crm.contracts.roll_up(REP1, contract.id)
    assert (summary.contracted, summary.delivered, summary.invoiced) == (
        cny("8275.56"), cny("8275.56"), cny("8275.56"),
    )  # fmt: skip
    assert (summary.collected, summary.outstanding) == (cny("7482.67"), cny("792.89"))
    by_rep = crm.receivables.performance(FINANCE, date(2026, 3, 1), date(2026, 5, 31), "CNY")
    assert by_rep == {"rep1": cny("7482.67")}
    by_zone = crm.receivables.performance(
        FINANCE, date(2026, 3, 1), date(2026, 5, 31), "CNY", by="zone"
    )
    assert by_zone == {"east": cny("7482.67")}
    late = crm.receivables.aging(FINANCE, date(2026, 6, 30), "CNY")
    assert late.amount(AgingBucket.DAYS_90_PLUS) == late.total == cny("792.89")

    # -- every change was audited, the audit verifies, messages were written --------------------
    kinds = {e.target_kind for e in world.store.audit_log(limit=1_000_000)}
    assert {"product", "quote", "contract", "invoice", "receipt", "customer_credit"} <= kinds
    assert {"receipt.confirmed", "invoice.issued", "contract.signed"} <= set(_topics(world))


def test_a_reversal_restores_outstanding_and_takes_its_credit_back() -> None:
    world, cid, _ = cash_world()
    crm = world.crm
    contract = signed_contract(world, cid)
    inv = crm.billing.draft_invoice(FINANCE, contract.id, InvoiceKind.ORDINARY, cny("1349.40"))
    crm.billing.issue_invoice(FINANCE, inv.id)
    receipt = crm.billing.register_receipt(
        FINANCE, cid, cny("1500.00"), date(2026, 1, 6), "B1", "甲"
    )
    crm.billing.confirm_receipt(FINANCE, receipt.id)
    crm.billing.allocate_receipt(FINANCE, receipt.id)
    assert crm.billing.get_invoice(FINANCE, inv.id).status is InvoiceStatus.PAID
    assert crm.billing.credit(FINANCE, cid, "CNY").balance == cny("150.60")
    reversal = crm.billing.reverse_receipt(FINANCE, receipt.id, "退票")
    assert reversal.credit_reversed == cny("150.60")
    assert crm.billing.get_invoice(FINANCE, inv.id).outstanding == cny("1349.40")
    assert crm.billing.credit(FINANCE, cid, "CNY").balance == cny("0")
    assert crm.billing.get_receipt(FINANCE, receipt.id).status.value == "reversed"
    _refused(
        world, "state.invalid_transition", crm.billing.reverse_receipt, FINANCE, receipt.id, "x"
    )


def test_a_receipt_names_only_a_contract_of_its_customer() -> None:
    """The payer's contract reference must be the customer's: another customer's contract is
    refused (it credited the money to a contract the payer has nothing to do with)."""
    world, cid, other = cash_world()
    theirs = signed_contract(world, other, rep=2)
    error = _refused(
        world, "receipt.customer_mismatch", world.crm.billing.register_receipt,
        FINANCE, cid, cny("10.00"), date(2026, 1, 6), "B1", "甲", contract_id=theirs.id,
    )  # fmt: skip
    assert error.details == {"customer_id": other, "given": cid}
    mine = signed_contract(world, cid)
    receipt = world.crm.billing.register_receipt(
        FINANCE, cid, cny("10.00"), date(2026, 1, 6), "B2", "甲", contract_id=mine.id
    )
    assert receipt.contract_id == mine.id


def test_used_credit_is_released_before_its_receipt_is_reversed_and_credit_is_refunded() -> None:
    world, cid, other = cash_world()
    crm = world.crm
    contract = signed_contract(world, cid)
    first = crm.billing.draft_invoice(FINANCE, contract.id, InvoiceKind.ORDINARY, cny("1000.00"))
    crm.billing.issue_invoice(FINANCE, first.id)
    receipt = crm.billing.register_receipt(
        FINANCE, cid, cny("1500.00"), date(2026, 1, 6), "B1", "甲"
    )
    crm.billing.confirm_receipt(FINANCE, receipt.id)
    crm.billing.allocate_receipt(FINANCE, receipt.id)  # 1000.00 paid, 500.00 left as credit
    second = crm.billing.draft_invoice(FINANCE, contract.id, InvoiceKind.ORDINARY, cny("300.00"))
    crm.billing.issue_invoice(FINANCE, second.id)
    crm.billing.apply_credit(FINANCE, second.id)  # 300.00 of the credit used
    assert crm.billing.credit(FINANCE, cid, "CNY").balance == cny("200.00")
    _refused(world, "receipt.credit_used", crm.billing.reverse_receipt, FINANCE, receipt.id, "x")

    # undo part of the use, then the rest: the invoice is outstanding again, the ledger whole
    _refused(world, "credit.not_applied", crm.billing.release_credit, FINANCE, second.id,
             amount=cny("300.01"))  # fmt: skip
    _refused(world, "credit.not_applied", crm.billing.release_credit, FINANCE, first.id)
    _refused(world, "auth.permission_denied", crm.billing.release_credit, REP1, second.id)
    part = crm.billing.release_credit(FINANCE, second.id, amount=cny("100.00"))
    assert part.outstanding == cny("100.00")
    assert crm.billing.release_credit(FINANCE, second.id).outstanding == cny("300.00")
    assert crm.billing.credit(FINANCE, cid, "CNY").balance == cny("500.00")
    _refused(world, "credit.not_applied", crm.billing.release_credit, FINANCE, second.id)
    reversal = crm.billing.reverse_receipt(FINANCE, receipt.id, "退票")
    assert reversal.credit_reversed == cny("500.00")
    assert crm.billing.get_invoice(FINANCE, first.id).outstanding == cny("1000.00")

    # credit paid back (退款): a document per refund, the ledger down by exactly its amount
    more = crm.billing.register_receipt(FINANCE, cid, cny("800.00"), date(2026, 1, 8), "B2", "甲")
    crm.billing.confirm_receipt(FINANCE, more.id)
    crm.billing.allocate_receipt(FINANCE, more.id, {})  # nothing allocated: all credit
    assert crm.billing.credit(FINANCE, cid, "CNY").balance == cny("800.00")
    _refused(world, "credit.insufficient", crm.billing.refund_credit, FINANCE, cid,
             cny("800.01"), "退款")  # fmt: skip
    _refused(world, "validation.invalid", crm.billing.refund_credit, FINANCE, cid,
             cny("1.00"), " ")  # fmt: skip
    _refused(world, "auth.permission_denied", crm.billing.refund_credit, REP1, cid,
             cny("1.00"), "退款")  # fmt: skip
    refund = crm.billing.refund_credit(
        FINANCE, cid, cny("500.00"), "合同终止退款", method="bank", reference="TX-9"
    )
    assert (refund.customer_id, refund.amount, refund.by) == (cid, cny("500.00"), "fred")
    assert crm.billing.credit(FINANCE, cid, "CNY").balance == cny("300.00")
    crm.billing.refund_credit(FINANCE, cid, cny("300.00"), "余款退回")
    assert crm.billing.credit(FINANCE, cid, "CNY").balance == cny("0")
    listed = crm.billing.refunds(REP1, cid).items
    assert [r.amount for r in listed] == [cny("500.00"), cny("300.00")]
    _refused(world, "auth.out_of_scope", crm.billing.refunds, REP1, other)
    kinds = {e.target_kind for e in world.store.audit_log(limit=1_000_000)}
    assert "credit_refund" in kinds
    assert _topics(world).count("credit.refunded") == 2


def test_every_refusal_is_typed_coded_and_changes_nothing() -> None:
    world, cid, other = cash_world()
    crm = world.crm
    today = world.clock.now().date()
    lines = [LineInput(Decimal(1), ProductId("SRV-1"))]
    _refused(
        world, "quote.unknown_product", crm.quotes.draft, REP1, cid, "CNY",
        [LineInput(Decimal(1), ProductId("NOPE"))],
    )  # fmt: skip
    _refused(world, "contracts.currency_mismatch", crm.quotes.draft, REP1, cid, "USD", lines)
    _refused(world, "auth.out_of_scope", crm.quotes.draft, REP1, other, "CNY", lines)
    _refused(world, "product.duplicate_code", crm.products.create_product, ADMIN, "SRV-1", "x",
             "台", cny("1.00"))  # fmt: skip
    crm.products.deactivate_product(ADMIN, "CBL", "discontinued")
    _refused(
        world, "quote.unknown_product", crm.quotes.draft, REP1, cid, "CNY",
        [LineInput(Decimal(1), ProductId("CBL"))],
    )  # fmt: skip

    # approving one's own discount: the author holds a manager role too
    author = Principal("boss", roles=frozenset({Role.ZONE_MANAGER}), zone_id=ZoneId("east"))
    quote = crm.quotes.draft(author, cid, "CNY", lines, discount_rate=Decimal("0.5"))
    crm.quotes.submit(author, quote.id)
    _refused(world, "quote.self_approval", crm.quotes.approve, author, quote.id, "ok")

    contract = signed_contract(world, cid)
    _refused(world, "contract.signed_immutable", crm.contracts.edit, REP1, contract.id, title="x")
    _refused(world, "auth.out_of_scope", crm.contracts.record_delivery, REP2, contract.id,
             {1: Decimal(1)}, today)  # fmt: skip
    _refused(world, "auth.out_of_scope", crm.contracts.get, REP2, contract.id)
    _refused(world, "contract.over_delivery", crm.contracts.record_delivery, REP1, contract.id,
             {1: Decimal(3)}, today)  # fmt: skip
    _refused(world, "contracts.currency_mismatch", crm.billing.draft_invoice, FINANCE,
             contract.id, InvoiceKind.ORDINARY, Money("1.00", "USD"))  # fmt: skip
    big = crm.billing.draft_invoice(FINANCE, contract.id, InvoiceKind.ORDINARY, cny("4498.01"))
    _refused(world, "invoice.over_contract", crm.billing.issue_invoice, FINANCE, big.id)
    inv = crm.billing.draft_invoice(FINANCE, contract.id, InvoiceKind.ORDINARY, cny("1000.00"))
    crm.billing.issue_invoice(FINANCE, inv.id)
    _refused(world, "invoice.red_exceeds_outstanding", crm.billing.red_invoice, FINANCE, inv.id,
             "wrong", amount=cny("1000.01"))  # fmt: skip
    _refused(world, "auth.permission_denied", crm.billing.register_receipt, REP1, cid,
             cny("1.00"), today, "B", "P")  # fmt: skip
    receipt = crm.billing.register_receipt(FINANCE, cid, cny("500.00"), today, "B", "P")
    _refused(world, "auth.permission_denied", crm.billing.confirm_receipt, REP1, receipt.id)
    _refused(world, "state.invalid_transition", crm.billing.allocate_receipt, FINANCE,
             receipt.id)  # fmt: skip
    crm.billing.confirm_receipt(FINANCE, receipt.id)
    _refused(world, "receipt.insufficient_unapplied", crm.billing.allocate_receipt, FINANCE,
             receipt.id, {inv.id: cny("600.00")})  # fmt: skip
    _refused(world, "credit.insufficient", crm.billing.apply_credit, FINANCE, inv.id)
    _refused(world, "auth.permission_denied", crm.receivables.aging, REP1, today, "CNY")


def test_the_invoicing_ceiling_can_be_what_was_delivered() -> None:
    cash = CashPolicies(invoices=InvoicePolicy(ceiling=InvoiceCeiling.DELIVERED))
    world, cid, _ = cash_world(cash=cash)
    contract = signed_contract(world, cid)
    crm, today = world.crm, world.clock.now().date()
    inv = crm.billing.draft_invoice(FINANCE, contract.id, InvoiceKind.ORDINARY, cny("100.00"))
    _refused(world, "invoice.over_delivered", crm.billing.issue_invoice, FINANCE, inv.id)
    crm.contracts.record_delivery(REP1, contract.id, {2: Decimal(1)}, today)  # 500.00 delivered
    assert crm.billing.issue_invoice(FINANCE, inv.id).status is InvoiceStatus.ISSUED


def test_amendments_need_their_own_approval_and_change_the_total() -> None:
    world, cid, _ = cash_world()
    crm = world.crm
    contract = signed_contract(world, cid)
    from leadtocash.contracts import AmendmentLine, Milestone

    change = [AmendmentLine(2, Decimal(1), cny("500.00"))]
    extra = [Milestone("M3", "增补款", cny("500.00"), due_date=date(2026, 3, 1))]
    proposed = crm.contracts.propose_amendment(REP1, contract.id, "再装一次", change, extra)
    amendment = proposed.amendments[0].id
    assert _topics(world)[-1] == "contract.approval_needed"
    _refused(world, "auth.permission_denied", crm.contracts.approve_amendment, REP1,
             contract.id, amendment, "ok")  # fmt: skip
    approved = crm.contracts.approve_amendment(MANAGER, contract.id, amendment, "ok")
    assert approved.total == cny("4998.00")
    second = crm.contracts.propose_amendment(REP1, contract.id, "再加", change, extra[:0] or [
        Milestone("M4", "再增补", cny("500.00"), due_date=date(2026, 3, 1))
    ])  # fmt: skip
    rejected = crm.contracts.reject_amendment(MANAGER, contract.id, second.amendments[1].id, "no")
    assert rejected.total == cny("4998.00")


def test_quotes_expire_in_a_sweep_that_reads_only_what_ended() -> None:
    world, cid, _ = cash_world()
    crm = world.crm
    today = world.clock.now().date()
    lines = [LineInput(Decimal(1), ProductId("SRV-1"))]
    short = crm.quotes.draft(REP1, cid, "CNY", lines, valid_until=today)
    long = crm.quotes.draft(REP1, cid, "CNY", lines, valid_until=today + timedelta(days=9))
    accepted = crm.quotes.draft(REP1, cid, "CNY", lines, valid_until=today)
    crm.quotes.send(REP1, accepted.id)
    crm.quotes.accept(REP1, accepted.id)
    assert crm.quotes.expire_due(SYSTEM).expired == ()
    world.clock.advance(timedelta(days=1))
    _refused(world, "quote.expired", crm.quotes.send, REP1, short.id)
    report = crm.quotes.expire_due(SYSTEM)
    assert report.expired == (short.id,)
    assert crm.quotes.get(REP1, short.id).status is QuoteStatus.EXPIRED
    assert crm.quotes.get(REP1, long.id).status is QuoteStatus.DRAFT
    assert crm.quotes.expire_due(SYSTEM).expired == ()  # idempotent
    revised = crm.quotes.revise(REP1, short.id, valid_until=today + timedelta(days=30))
    assert (revised.revision, revised.previous_id) == (2, short.id)
    page = crm.quotes.for_customer(REP1, cid, limit=2)
    assert len(page.items) == 2 and page.next_cursor is not None


def test_payment_reminders_go_out_once_before_and_after_the_due_date() -> None:
    world, cid, _ = cash_world()
    crm = world.crm
    contract = signed_contract(world, cid)  # M1 due in 10 days
    inv = crm.billing.draft_invoice(
        FINANCE, contract.id, InvoiceKind.ORDINARY, cny("1349.40"), milestone_id="M1"
    )
    inv = crm.billing.issue_invoice(FINANCE, inv.id)
    assert inv.due_date == world.clock.now().date() + timedelta(days=10)
    paid = crm.billing.draft_invoice(FINANCE, contract.id, InvoiceKind.ORDINARY, cny("100.00"),
                                     milestone_id="M1")  # fmt: skip
    paid = crm.billing.issue_invoice(FINANCE, paid.id, due_date=inv.due_date)
    receipt = crm.billing.register_receipt(FINANCE, cid, cny("100.00"), date(2026, 1, 5), "B", "P")
    crm.billing.confirm_receipt(FINANCE, receipt.id)
    crm.billing.allocate_receipt(FINANCE, receipt.id, {paid.id: cny("100.00")})

    assert crm.billing.due_reminders(SYSTEM).sent == ()
    world.clock.advance(timedelta(days=7))  # 3 days before the due date
    first = crm.billing.due_reminders(SYSTEM)
    assert first.sent == ((inv.id, "due_soon"),) and first.closed == (paid.id,)
    assert _topics(world)[-1] == "invoice.due_soon"
    assert crm.billing.due_reminders(SYSTEM) == type(first)()  # once per invoice and kind
    world.clock.advance(timedelta(days=4))  # one day overdue
    assert crm.billing.overdue(FINANCE).items[0].id == inv.id
    assert crm.billing.due_reminders(SYSTEM).sent == ((inv.id, "overdue"),)
    assert _topics(world)[-1] == "invoice.overdue"
    world.clock.advance(timedelta(days=30))
    assert crm.billing.due_reminders(SYSTEM) == type(first)()
    entries = [e for e in world.store.audit_log(limit=10_000) if e.target_kind == "due_reminders"]
    assert len(entries) == 3


def test_a_won_customer_whose_last_contract_ends_is_reclaimed_n_days_later() -> None:
    rules = PoolRules(
        not_won=TierDurations(Duration.days(5)),
        after_contract_end=TierDurations(Duration.days(30)),
    )
    world, cid, _ = cash_world()
    crm = world.crm
    crm.reclaim.update_rules(ADMIN, world.pool_id, rules, "contract rules")
    crm.reclaim.record_facts(ADMIN, cid, won=True, reason="won offline")
    first = signed_contract(world, cid)
    second = signed_contract(world, cid)
    customer = crm.pools.get_customer(ADMIN, cid)
    assert customer.has_active_contract and customer.reclaim_due_at is None
    world.clock.advance(timedelta(days=60))  # an active contract: never reclaimed
    assert cid not in crm.reclaim.sweep(SYSTEM).reclaimed  # rep2's customer (not won) is
    deliver_in_full(crm, REP1, first, world.clock.now().date())
    crm.contracts.complete(REP1, first.id)  # the other one is still active
    customer = crm.pools.get_customer(ADMIN, cid)
    assert customer.has_active_contract and customer.last_contract_end_at is None
    ended = world.clock.advance(timedelta(days=1))
    crm.contracts.terminate(REP1, second.id, "customer insolvent")
    customer = crm.pools.get_customer(ADMIN, cid)
    assert not customer.has_active_contract and customer.last_contract_end_at == ended
    assert customer.reclaim_due_at == ended + timedelta(days=30)
    assert customer.reclaim_rule == "after_contract_end"
    assert "contract.terminated" in _topics(world)
    world.clock.advance(timedelta(days=29))
    assert cid not in crm.reclaim.sweep(SYSTEM).reclaimed
    world.clock.advance(timedelta(days=1))
    assert crm.reclaim.sweep(SYSTEM).reclaimed == (cid,)
    assert crm.pools.get_customer(ADMIN, cid).owner_id is None


def test_a_contract_from_a_won_opportunity() -> None:
    world = make_world(customers=1)
    crm = world.crm
    cid = world.customers[0]
    crm.pools.claim(REP1, cid)
    opportunity = crm.pipeline.create_opportunity(
        REP1,
        cid,
        name="ERP",
        amount=cny("11300.00"),
        close_date=date(2026, 3, 31),
        contact_id=contact_of(crm, cid),
    )
    _refused(world, "contract.opportunity_not_won", crm.contracts.from_opportunity, REP1,
             opportunity.id)  # fmt: skip
    for _ in range(3):
        crm.pipeline.advance(REP1, opportunity.id)
    crm.pipeline.win(REP1, opportunity.id)
    contract = crm.contracts.from_opportunity(REP1, opportunity.id)
    assert contract.total == cny("11300.00") and contract.lines[0].tax == cny("1300.00")
    assert contract.owner_id == "rep1" and contract.status is ContractStatus.DRAFT


def test_reads_keep_to_the_data_scope() -> None:
    world, cid, other = cash_world()
    crm = world.crm
    mine = signed_contract(world, cid, 1)
    theirs = signed_contract(world, other, 2)
    assert [c.id for c in crm.contracts.for_customer(REP1, cid).items] == [mine.id]
    _refused(world, "auth.out_of_scope", crm.contracts.for_customer, REP1, other)
    _refused(world, "auth.out_of_scope", crm.contracts.roll_up, REP1, theirs.id)
    for contract in (mine, theirs):
        inv = crm.billing.draft_invoice(FINANCE, contract.id, InvoiceKind.ORDINARY, cny("10.00"))
        crm.billing.issue_invoice(FINANCE, inv.id, due_date=date(2026, 1, 1))
    assert len(crm.billing.overdue(FINANCE).items) == 2
    on = date(2026, 3, 1)  # both invoices 59 days overdue: one customer's aging holds one
    assert crm.receivables.aging(FINANCE, on, "CNY").total == cny("20.00")
    for customer in (cid, other):
        one = crm.receivables.aging(FINANCE, on, "CNY", customer_id=customer)
        assert one.amount(AgingBucket.DAYS_31_60) == one.total == cny("10.00")
    assert [i.customer_id for i in crm.billing.overdue(REP1).items] == [cid]
    assert crm.billing.invoices(REP1, customer_id=cid).items[0].customer_id == cid
    assert len(crm.billing.invoices(FINANCE, contract_id=theirs.id).items) == 1
    assert crm.products.list_products(REP1).items[0].code == "CBL"
    assert len(crm.products.list_products(REP1, active_only=False, limit=2).items) == 2
    assert (
        crm.products.get_product(REP1, "SRV-1").list_price
        == PRODUCTS[ProductId("p-server")].list_price
    )
    _refused(world, "validation.invalid", crm.billing.invoices, REP1)
    with pytest.raises((InvalidTransition, ValidationError, RuleViolation, PermissionDenied)):
        crm.receivables.performance(FINANCE, date(2026, 2, 1), date(2026, 1, 1), "CNY")


def test_money_documents_need_the_right_to_the_customers_amounts() -> None:
    """A collaborator works the customer, not its money: quotes, contracts, invoices and
    receipts are refused to them (and left out of lists), though the customer is in scope."""
    world, cid, _ = cash_world()
    crm = world.crm
    contract = signed_contract(world, cid)
    inv = crm.billing.draft_invoice(FINANCE, contract.id, InvoiceKind.ORDINARY, cny("10.00"))
    crm.billing.issue_invoice(FINANCE, inv.id, due_date=date(2026, 1, 1))
    crm.pools.set_collaborator(MANAGER, cid, RepId("rep2"), CollaboratorAccess.WRITE, "协同")
    assert crm.pools.get_customer(REP2, cid).id == cid  # the customer itself is theirs to see
    lines = [LineInput(Decimal(1), ProductId("SRV-1"))]
    for call, args in (
        (crm.contracts.get, (contract.id,)),
        (crm.contracts.for_customer, (cid,)),
        (crm.contracts.roll_up, (contract.id,)),
        (crm.billing.get_invoice, (inv.id,)),
        (crm.billing.invoices, ()),
        (crm.billing.receipts, (cid,)),
        (crm.billing.credit, (cid, "CNY")),
        (crm.quotes.draft, (cid, "CNY", lines)),
    ):
        kwargs = {"customer_id": cid} if call == crm.billing.invoices else {}
        error = _refused(world, "auth.permission_denied", call, REP2, *args, **kwargs)
        assert error.details["action"] == "amount.read"
    assert crm.billing.overdue(REP2).items == ()
    assert [i.id for i in crm.billing.overdue(REP1).items] == [inv.id]

    # an organisation that takes amount.read from reps hides the documents from owners too
    no_money = dict(DEFAULT_PERMISSIONS)
    no_money[Action.AMOUNT_READ] = frozenset({Role.FINANCE})
    strict = LeadToCash(world.store, world.clock, crm.ctx.ids, policy=RolePolicy(no_money))
    _refused(world, "auth.permission_denied", strict.contracts.get, REP1, contract.id)
    assert strict.contracts.get(FINANCE, contract.id).id == contract.id


def test_the_facade_keeps_its_policies() -> None:
    world = make_world()
    crm = LeadToCash(world.store, world.clock, world.crm.ctx.ids)
    assert crm.quotes.policies == CashPolicies()
