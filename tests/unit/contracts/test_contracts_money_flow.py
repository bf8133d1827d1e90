"""Invoices, receipts, credit and reversals: every refusal is typed, coded and changes nothing;
every aggregate round-trips through leadtocash.serialization."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import attrs
import pytest

from contract_fixtures import AUTHOR, CUSTOMER, MANAGER, NOW, PRODUCTS, accepted_quote
from leadtocash.contracts import (
    AmendmentId,
    AmendmentLine,
    ApprovalPolicy,
    Contract,
    ContractId,
    CustomerCredit,
    DeliveryId,
    Invoice,
    InvoiceCeiling,
    InvoiceId,
    InvoiceKind,
    InvoicePolicy,
    InvoiceStatus,
    Milestone,
    MilestoneSpec,
    Product,
    Quote,
    Receipt,
    ReceiptId,
    ReceiptReversal,
    ReceiptStatus,
    ReversalId,
    accept_delivery,
    allocate,
    allocate_oldest_first,
    apply_credit,
    approve_contract,
    collection_forecast,
    confirm_receipt,
    contract_from_quote,
    draft_invoice,
    draft_red_invoice,
    issue_invoice,
    issue_red_invoice,
    open_credit,
    propose_amendment,
    record_delivery,
    register_receipt,
    reverse_receipt,
    sign_contract,
    submit_contract,
    void_invoice,
)
from leadtocash.errors import InvalidTransition, LeadToCashError, RuleViolation, ValidationError
from leadtocash.model import CustomerId
from leadtocash.money import Money
from leadtocash.serialization import structure, unstructure

POLICY = InvoicePolicy()
DAY = date(2024, 3, 6)


def cny(text: str) -> Money:
    return Money(text, "CNY")


def signed() -> Contract:
    """Contract c-1 over 4498.00 CNY (2 servers 3998.00 + installation 500.00), 50/50 plan."""
    plan = [
        MilestoneSpec("a", percent=Decimal(50), due_date=date(2024, 3, 15)),
        MilestoneSpec("b", percent=Decimal(50), due_date=date(2024, 4, 15)),
    ]
    draft = contract_from_quote(accepted_quote(), ContractId("c-1"), NOW, AUTHOR, plan=plan)
    approved = approve_contract(
        submit_contract(draft, NOW, AUTHOR), ApprovalPolicy(), MANAGER, "ok", NOW
    )
    return sign_contract(approved, NOW, NOW, AUTHOR)


def issued(contract: Contract, ident: str, amount: str, **kw: Any) -> tuple[Invoice, Contract]:
    draft = draft_invoice(InvoiceId(ident), contract, InvoiceKind.SPECIAL, cny(amount), NOW, "f")
    return issue_invoice(draft, contract, POLICY, DAY, NOW, "f", **kw)


def confirmed(amount: str, ident: str = "r-1", customer: str = CUSTOMER) -> Receipt:
    receipt = register_receipt(
        ReceiptId(ident), CustomerId(customer), cny(amount), DAY, "B-1", "payer", NOW, "f"
    )
    return confirm_receipt(receipt, NOW, "finance")


def refused(code: str, call: Any, *inputs: object) -> LeadToCashError:
    """Run ``call``, expect ``code``, and check that no input changed."""
    before = [attrs.evolve(x) if attrs.has(type(x)) else x for x in inputs]  # type: ignore[misc]
    with pytest.raises(LeadToCashError) as caught:
        call()
    assert caught.value.code == code, caught.value
    assert list(inputs) == before
    return caught.value


def test_invoicing_never_exceeds_the_contract_or_the_delivered_value() -> None:
    contract = signed()
    inv, contract = issued(contract, "i-1", "4000.00")
    assert contract.invoiced == cny("4000.00") and inv.status is InvoiceStatus.ISSUED
    more = draft_invoice(InvoiceId("i-2"), contract, InvoiceKind.SPECIAL, cny("498.01"), NOW, "f")
    error = refused(
        "invoice.over_contract",
        lambda: issue_invoice(more, contract, POLICY, DAY, NOW, "f"),
        more,
        contract,
    )
    assert error.details["contracted"] == "4498.00 CNY"
    by_delivery = InvoicePolicy(ceiling=InvoiceCeiling.DELIVERED)
    fresh = signed()
    first = draft_invoice(InvoiceId("i-1"), fresh, InvoiceKind.ORDINARY, cny("1999.01"), NOW, "f")
    delivered = record_delivery(fresh, DeliveryId("d"), {1: Decimal(1)}, DAY, NOW, "w")  # 1999.00
    refused(
        "invoice.over_delivered",
        lambda: issue_invoice(first, delivered, by_delivery, DAY, NOW, "f"),
        first,
        delivered,
    )
    ok, _ = issue_invoice(
        attrs.evolve(first, amount=cny("1999.00")), delivered, by_delivery, DAY, NOW, "f"
    )
    assert ok.due_date == date(2024, 4, 5)  # 6 March + 30 days


def test_invoice_currency_contract_and_milestone_are_checked() -> None:
    contract = signed()
    refused(
        "contracts.currency_mismatch",
        lambda: draft_invoice(
            InvoiceId("i"), contract, InvoiceKind.SPECIAL, Money("1", "USD"), NOW, "f"
        ),
        contract,
    )
    refused(
        "invoice.unknown_milestone",
        lambda: draft_invoice(
            InvoiceId("i"), contract, InvoiceKind.SPECIAL, cny("1"), NOW, "f", milestone_id="zz"
        ),
        contract,
    )
    other = attrs.evolve(contract, id=ContractId("c-2"))
    draft = draft_invoice(InvoiceId("i"), contract, InvoiceKind.SPECIAL, cny("1"), NOW, "f")
    refused(
        "invoice.contract_mismatch",
        lambda: issue_invoice(draft, other, POLICY, DAY, NOW, "f"),
        draft,
        other,
    )
    assert void_invoice(draft, "typo", NOW, "f").status is InvoiceStatus.VOID
    inv, contract = issued(contract, "i-1", "10.00")
    with pytest.raises(InvalidTransition):
        void_invoice(inv, "too late", NOW, "f")


def test_red_invoices_negate_part_or_all_and_never_more_than_outstanding() -> None:
    contract = signed()
    inv, contract = issued(contract, "i-1", "1000.00")
    refused(
        "invoice.red_exceeds_outstanding",
        lambda: draft_red_invoice(inv, InvoiceId("r"), "x", NOW, "f", amount=cny("1000.01")),
        inv,
    )
    red = draft_red_invoice(inv, InvoiceId("red-1"), "开错", NOW, "f", amount=cny("400.00"))
    later = draft_red_invoice(inv, InvoiceId("red-9"), "开错", NOW, "f", amount=cny("400.00"))
    red, inv2, contract2 = issue_red_invoice(red, inv, contract, DAY, NOW, "f")
    assert (red.amount, inv2.outstanding, contract2.invoiced) == (
        cny("-400.00"),
        cny("600.00"),
        cny("600.00"),
    )
    assert inv2.amount == inv.amount  # the original is never edited, only credited
    refused(
        "invoice.not_issued", lambda: draft_red_invoice(red, InvoiceId("rr"), "x", NOW, "f"), red
    )
    full = draft_red_invoice(inv2, InvoiceId("red-2"), "作废重开", NOW, "f")
    assert full.amount == cny("-600.00")
    _, gone, contract3 = issue_red_invoice(full, inv2, contract2, DAY, NOW, "f")
    assert gone.status is InvoiceStatus.CREDITED and contract3.invoiced == cny("0")
    # paying first leaves less to negate
    receipt = confirmed("700.00")
    _, paid = allocate(receipt, inv, cny("700.00"), NOW, "f")
    refused(
        "invoice.red_exceeds_outstanding",
        lambda: issue_red_invoice(later, paid, contract, DAY, NOW, "f"),
        later,
        paid,
        contract,
    )


def test_allocation_refusals_change_nothing() -> None:
    contract = signed()
    inv, contract = issued(contract, "i-1", "100.00")
    receipt = confirmed("150.00")
    refused(
        "receipt.over_allocation",
        lambda: allocate(receipt, inv, cny("100.01"), NOW, "f"),
        receipt,
        inv,
    )
    small = confirmed("50.00")
    refused(
        "receipt.insufficient_unapplied",
        lambda: allocate(small, inv, cny("60.00"), NOW, "f"),
        small,
        inv,
    )
    stranger = confirmed("50.00", customer="someone-else")
    refused(
        "receipt.customer_mismatch",
        lambda: allocate(stranger, inv, cny("10.00"), NOW, "f"),
        stranger,
        inv,
    )
    dollars = confirm_receipt(
        register_receipt(ReceiptId("u"), CUSTOMER, Money("10", "USD"), DAY, "B", "p", NOW, "f"),
        NOW,
        "f",
    )
    refused(
        "contracts.currency_mismatch",
        lambda: allocate(dollars, inv, Money("10", "USD"), NOW, "f"),
        dollars,
        inv,
    )
    unconfirmed = register_receipt(ReceiptId("n"), CUSTOMER, cny("10"), DAY, "B", "p", NOW, "f")
    with pytest.raises(InvalidTransition):
        allocate(unconfirmed, inv, cny("10"), NOW, "f")
    credit = open_credit(CUSTOMER, "CNY")
    refused(
        "credit.insufficient", lambda: apply_credit(credit, inv, NOW, "f", cny("1.00")), credit, inv
    )


def test_oldest_due_first_then_credit_then_reversal_restores_everything() -> None:
    contract = signed()
    late, contract = issued(contract, "i-late", "300.00", due_date=date(2024, 5, 1))
    early, contract = issued(contract, "i-early", "200.00", due_date=date(2024, 4, 1))
    credit = open_credit(CUSTOMER, "CNY")
    receipt = confirmed("600.00")
    receipt, (late2, early2), credit = allocate_oldest_first(
        receipt, (late, early), credit, NOW, "f"
    )
    assert [a.invoice_id for a in receipt.allocations] == ["i-early", "i-late"]
    assert (late2.status, early2.status) == (InvoiceStatus.PAID, InvoiceStatus.PAID)
    assert credit.balance == cny("100.00") and receipt.unapplied == cny("0")
    # using the credit blocks the reversal until the use is undone
    third, contract = issued(contract, "i-3", "80.00")
    used, third_paid = apply_credit(credit, third, NOW, "f")
    refused(
        "receipt.credit_used",
        lambda: reverse_receipt(
            receipt, ReversalId("v"), (late2, early2), used, "bounced", NOW, "f"
        ),
        receipt,
        late2,
        early2,
        used,
    )
    assert third_paid.status is InvoiceStatus.PAID and used.balance == cny("20.00")
    refused(
        "receipt.invoice_missing",
        lambda: reverse_receipt(receipt, ReversalId("v"), (late2,), credit, "bounced", NOW, "f"),
        receipt,
        late2,
        credit,
    )
    reversal, gone, (late3, early3), credit2 = reverse_receipt(
        receipt, ReversalId("v-1"), (late2, early2), credit, "退票", NOW, "f"
    )
    assert gone.status is ReceiptStatus.REVERSED and gone.allocations == receipt.allocations
    assert (late3, early3) == (late, early) or (late3.outstanding, early3.outstanding) == (
        late.amount,
        early.amount,
    )
    assert credit2.balance == cny("0") and reversal.credit_reversed == cny("100.00")
    with pytest.raises(InvalidTransition):
        reverse_receipt(gone, ReversalId("v-2"), (late3, early3), credit2, "again", NOW, "f")


def test_amendments_cannot_cut_below_what_was_invoiced() -> None:
    contract = signed()
    _, contract = issued(contract, "i-1", "4000.00")
    cut = AmendmentLine(2, Decimal(0), cny("-500.00"))
    error = refused(
        "contract.below_invoiced",
        lambda: propose_amendment(
            contract,
            AmendmentId("a"),
            "cut",
            [cut],
            [Milestone("M2", "b", cny("-500.00"), due_date=date(2024, 4, 15))],
            NOW,
            AUTHOR,
        ),
        contract,
    )
    assert error.details["invoiced"] == "4000.00 CNY"


def test_forecast_waits_for_deliveries_and_sums_to_what_is_left() -> None:
    plan = [
        MilestoneSpec("a", percent=Decimal(50), due_date=date(2024, 3, 15)),
        MilestoneSpec("b", percent=Decimal(50), basis="full_delivery"),  # type: ignore[arg-type]
    ]
    contract = contract_from_quote(accepted_quote(), ContractId("c"), NOW, AUTHOR, plan=plan)
    contract = sign_contract(
        approve_contract(
            submit_contract(contract, NOW, AUTHOR), ApprovalPolicy(), MANAGER, "ok", NOW
        ),
        NOW,
        NOW,
        "a",
    )
    forecast = collection_forecast([contract], [], date(2024, 3, 1), "CNY")
    assert [(e.month, e.amount) for e in forecast] == [
        ("2024-03", cny("2249.00")),
        (None, cny("2249.00")),
    ]
    done = record_delivery(contract, DeliveryId("d"), {1: Decimal(2), 2: Decimal(1)}, DAY, NOW, "w")
    done = accept_delivery(done, DeliveryId("d"), date(2024, 4, 2), NOW, "c")
    forecast = collection_forecast([done], [], date(2024, 3, 1), "CNY")
    assert [e.month for e in forecast] == ["2024-03", "2024-04"]


def _everything() -> list[object]:
    contract = signed()
    contract = record_delivery(contract, DeliveryId("d"), {1: Decimal(1)}, DAY, NOW, "w")
    contract = accept_delivery(contract, DeliveryId("d"), DAY, NOW, "c")
    contract = propose_amendment(
        contract,
        AmendmentId("a"),
        "more",
        [AmendmentLine(3, Decimal(1), cny("10.00"), "x", Decimal("0.13"))],
        [Milestone("M9", "m", cny("10.00"), due_date=date(2024, 9, 1))],
        NOW,
        AUTHOR,
    )
    inv, contract = issued(contract, "i-1", "1000.00")
    red = draft_red_invoice(inv, InvoiceId("red"), "x", NOW, "f", amount=cny("1.00"))
    red, inv, contract = issue_red_invoice(red, inv, contract, DAY, NOW, "f")
    receipt, (inv,), credit = allocate_oldest_first(
        confirmed("2000.00"), (inv,), open_credit(CUSTOMER, "CNY"), NOW, "f"
    )
    reversal, receipt2, _, credit2 = reverse_receipt(
        receipt, ReversalId("v"), (inv,), credit, "x", NOW, "f"
    )
    product = next(iter(PRODUCTS.values()))
    return [
        product,
        accepted_quote(),
        contract,
        inv,
        red,
        receipt,
        receipt2,
        credit,
        credit2,
        reversal,
    ]


@pytest.mark.parametrize("value", _everything(), ids=lambda v: type(v).__name__)
def test_every_aggregate_round_trips_through_serialization(value: object) -> None:
    assert structure(unstructure(value), type(value)) == value
    assert getattr(value, "version") == 0  # noqa: B009
    assert attrs.fields(type(value))[-1].name == "version"  # type: ignore[arg-type]
    assert hasattr(value, "id")


def test_aggregate_kinds_are_all_covered() -> None:
    kinds = {type(v) for v in _everything()}
    assert kinds == {Product, Quote, Contract, Invoice, Receipt, CustomerCredit, ReceiptReversal}


def test_no_floats_anywhere() -> None:
    with pytest.raises(ValidationError):
        Product(PRODUCTS[next(iter(PRODUCTS))].id, "c", "n", "u", cny("1"), 0.13)  # type: ignore[arg-type]
    with pytest.raises(RuleViolation):
        draft_invoice(InvoiceId("i"), signed(), InvoiceKind.SPECIAL, Money("1", "USD"), NOW, "f")
    with pytest.raises(ValidationError):
        register_receipt(ReceiptId("r"), CUSTOMER, cny("0"), DAY, "B", "p", NOW, "f")
    assert datetime(2024, 1, 1, tzinfo=UTC) < NOW
