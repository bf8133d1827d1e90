"""Invoices, receipts, credit and reversals: every refusal is typed, coded and changes nothing;
every aggregate round-trips through leadtocash.serialization."""

from __future__ import annotations

import decimal
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import attrs
import pytest

from contract_fixtures import AUTHOR, CUSTOMER, MANAGER, NOW, PRODUCTS, REP, accepted_quote
from leadtocash.contracts import (
    AgingBucket,
    Allocation,
    AmendmentId,
    AmendmentLine,
    ApprovalPolicy,
    Contract,
    ContractId,
    ContractStatus,
    CreditEntry,
    CreditEntryKind,
    CustomerCredit,
    DeliveryId,
    Invoice,
    InvoiceCeiling,
    InvoiceColor,
    InvoiceId,
    InvoiceKind,
    InvoicePolicy,
    InvoiceStatus,
    LineInput,
    Milestone,
    MilestoneSpec,
    Product,
    Quote,
    QuoteId,
    QuotePolicy,
    Receipt,
    ReceiptId,
    ReceiptReversal,
    ReceiptStatus,
    ReversalId,
    accept_delivery,
    accept_quote,
    aging,
    aging_bucket,
    allocate,
    allocate_oldest_first,
    apply_credit,
    approve_contract,
    collection_forecast,
    confirm_receipt,
    contract_from_quote,
    credit_id,
    days_overdue,
    days_sales_outstanding,
    deposit_credit,
    draft_invoice,
    draft_quote,
    draft_red_invoice,
    dso,
    is_overdue,
    issue_invoice,
    issue_red_invoice,
    oldest_due_first,
    open_credit,
    performance_by_cash,
    propose_amendment,
    record_delivery,
    record_payment,
    register_receipt,
    reverse_receipt,
    roll_up,
    send_quote,
    sign_contract,
    submit_contract,
    surplus_to_credit,
    terminate_contract,
    undo_payment,
    void_invoice,
    withdraw_credit,
)
from leadtocash.errors import InvalidTransition, LeadToCashError, RuleViolation, ValidationError
from leadtocash.model import CustomerId, RepId
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


E = TypeVar("E", bound=LeadToCashError)


def explained(error: E) -> E:
    """Check that a refusal says why in words (the wording itself is not pinned)."""
    assert isinstance(error.message, str) and error.message.strip()
    for field in getattr(error, "errors", ()):
        assert isinstance(field.message, str) and field.message.strip()
    return error


def refused(code: str, call: Any, *inputs: object) -> LeadToCashError:
    """Run ``call``, expect ``code``, and check that no input changed."""
    before = [attrs.evolve(x) if attrs.has(type(x)) else x for x in inputs]  # type: ignore[misc]
    with pytest.raises(LeadToCashError) as caught:
        call()
    assert caught.value.code == code, caught.value
    assert list(inputs) == before
    return explained(caught.value)


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


# -- customer credit: never negative, every movement an entry (docs/mutation.md) ---------------

LATER = datetime(2024, 3, 2, 2, 0, tzinfo=UTC)


def test_one_credit_ledger_per_customer_and_currency() -> None:
    assert credit_id(CUSTOMER, "CNY") == "cust-1/CNY"
    empty = open_credit(CUSTOMER, "USD")
    assert (empty.id, empty.customer_id, empty.currency, empty.entries) == (
        "cust-1/USD",
        CUSTOMER,
        "USD",
        (),
    )
    assert empty.balance == Money("0", "USD")


def test_credit_entries_are_signed_and_can_be_used_down_to_exactly_zero() -> None:
    credit = open_credit(CUSTOMER, "CNY")
    credit = deposit_credit(credit, CUSTOMER, cny("10.00"), "r-1", NOW, "f")
    credit = withdraw_credit(
        credit, CUSTOMER, cny("4.00"), CreditEntryKind.REVERSAL, "r-9", LATER, "g"
    )
    assert credit.entries == (
        CreditEntry(CreditEntryKind.DEPOSIT, cny("10.00"), "r-1", NOW, "f"),
        CreditEntry(CreditEntryKind.REVERSAL, cny("-4.00"), "r-9", LATER, "g"),
    )
    assert credit.balance == cny("6.00")
    error = refused(
        "credit.insufficient",
        lambda: withdraw_credit(
            credit, CUSTOMER, cny("6.01"), CreditEntryKind.REVERSAL, "x", NOW, "f"
        ),
        credit,
    )
    assert error.details == {"id": "cust-1/CNY", "balance": "6.00 CNY", "requested": "6.01 CNY"}
    drained = withdraw_credit(
        credit, CUSTOMER, cny("6.00"), CreditEntryKind.REVERSAL, "x", NOW, "f"
    )
    assert drained.balance == cny("0") and len(drained.entries) == 3
    for amount in (cny("0"), cny("-1.00")):  # a negative withdrawal would create credit
        with pytest.raises(ValidationError) as caught:
            withdraw_credit(credit, CUSTOMER, amount, CreditEntryKind.REVERSAL, "x", NOW, "f")
        found = [(e.path, e.code) for e in caught.value.errors]
        assert found == [("amount", "invoice.amount_positive")]


def test_credit_deposits_are_positive_and_for_its_own_customer_and_currency() -> None:
    credit = open_credit(CUSTOMER, "CNY")
    for amount in (cny("0"), cny("-1.00")):
        with pytest.raises(ValidationError) as caught:
            deposit_credit(credit, CUSTOMER, amount, "r", NOW, "f")
        assert [(e.path, e.code) for e in explained(caught.value).errors] == [
            ("amount", "invoice.amount_positive")
        ]
    error = refused(
        "receipt.customer_mismatch",
        lambda: deposit_credit(credit, CustomerId("other"), cny("1"), "r", NOW, "f"),
        credit,
    )
    assert error.details == {"customer_id": CUSTOMER, "given": "other"}
    error = refused(
        "contracts.currency_mismatch",
        lambda: withdraw_credit(
            credit, CUSTOMER, Money("1", "USD"), CreditEntryKind.REVERSAL, "r", NOW, "f"
        ),
        credit,
    )
    assert error.details == {
        "what": "amount",
        "expected": "CNY",
        "found": "USD",
        "id": "cust-1/CNY",
    }


def test_a_ledger_can_never_be_built_negative_or_mixed() -> None:
    deposit = CreditEntry(CreditEntryKind.DEPOSIT, cny("1.00"), "r", NOW, "f")
    use = CreditEntry(CreditEntryKind.APPLICATION, cny("-1.00"), "i", NOW, "f")
    ident = credit_id(CUSTOMER, "CNY")
    assert CustomerCredit(ident, CUSTOMER, "CNY", (deposit, use)).balance == cny("0")
    with pytest.raises(ValidationError) as caught:
        CustomerCredit(ident, CUSTOMER, "CNY", (deposit, use, use))
    assert [(e.path, e.code) for e in explained(caught.value).errors] == [
        ("entries", "credit.insufficient")
    ]
    dollars = CreditEntry(CreditEntryKind.DEPOSIT, Money("1", "USD"), "r", NOW, "f")
    with pytest.raises(ValidationError) as caught:
        CustomerCredit(ident, CUSTOMER, "CNY", (deposit, dollars))
    assert [(e.path, e.code) for e in explained(caught.value).errors] == [
        ("entries", "contracts.currency_mismatch")
    ]


def test_applying_credit_takes_the_most_both_allow_or_what_is_asked() -> None:
    contract = signed()
    inv, contract = issued(contract, "i-1", "100.00")
    rich = deposit_credit(open_credit(CUSTOMER, "CNY"), CUSTOMER, cny("150.00"), "r", NOW, "f")
    used, paid = apply_credit(rich, inv, LATER, "g")  # the invoice's 100.00
    assert paid.updated_at == LATER
    assert (used.balance, paid.outstanding, paid.status) == (
        cny("50.00"),
        cny("0"),
        InvoiceStatus.PAID,
    )
    assert used.entries[-1] == CreditEntry(
        CreditEntryKind.APPLICATION, cny("-100.00"), "i-1", LATER, "g"
    )
    poor = deposit_credit(open_credit(CUSTOMER, "CNY"), CUSTOMER, cny("30.00"), "r", NOW, "f")
    used, paid = apply_credit(poor, inv, NOW, "f")  # the credit's 30.00
    assert (used.balance, paid.outstanding, paid.status) == (
        cny("0"),
        cny("70.00"),
        InvoiceStatus.PARTLY_PAID,
    )
    used, paid = apply_credit(rich, inv, NOW, "f", cny("0.01"))
    assert (used.balance, paid.outstanding) == (cny("149.99"), cny("99.99"))
    refused(
        "receipt.over_allocation",
        lambda: apply_credit(rich, inv, NOW, "f", cny("100.01")),
        rich,
        inv,
    )
    stranger = deposit_credit(
        open_credit(CustomerId("x"), "CNY"), CustomerId("x"), cny("5"), "r", NOW, "f"
    )
    refused(
        "receipt.customer_mismatch", lambda: apply_credit(stranger, inv, NOW, "f"), stranger, inv
    )


# -- receipts: conservation, oldest first, reversal (docs/mutation.md) -------------------------


def test_a_receipt_never_holds_more_than_it_received() -> None:
    def receipt(**kw: Any) -> Receipt:
        base = confirmed("10.00")
        return attrs.evolve(base, **kw)

    def codes(**kw: Any) -> list[tuple[str, str]]:
        with pytest.raises(ValidationError) as caught:
            receipt(**kw)
        return [(e.path, e.code) for e in explained(caught.value).errors]

    def part(amount: str) -> Allocation:
        return Allocation(InvoiceId("i"), cny(amount), NOW, "f")

    # exactly the amount, split between invoices and credit
    full = receipt(allocations=(part("6.00"),), credited=cny("4.00"))
    assert (full.allocated, full.credited, full.unapplied) == (cny("6.00"), cny("4.00"), cny("0"))
    assert codes(allocations=(part("6.00"),), credited=cny("4.01")) == [
        ("allocations", "receipt.insufficient_unapplied")
    ]
    assert codes(amount=cny("0")) == [("amount", "invoice.amount_positive")]
    assert codes(allocations=(part("0"),)) == [("allocations", "field.negative")]
    assert codes(credited=cny("-0.01")) == [("allocations", "field.negative")]
    assert codes(credited=Money("0", "USD")) == [("allocations", "contracts.currency_mismatch")]
    dollars = Allocation(InvoiceId("i"), Money("1", "USD"), NOW, "f")
    assert codes(allocations=(dollars,)) == [("allocations", "contracts.currency_mismatch")]


def test_allocation_up_to_exactly_the_unapplied_amount() -> None:
    contract = signed()
    inv, contract = issued(contract, "i-1", "100.00")
    receipt = confirmed("60.00")
    receipt, inv = allocate(receipt, inv, cny("40.00"), LATER, "g")
    assert inv.updated_at == LATER
    assert receipt.allocations == (Allocation(InvoiceId("i-1"), cny("40.00"), LATER, "g"),)
    assert (receipt.unapplied, receipt.updated_at, inv.outstanding) == (
        cny("20.00"),
        LATER,
        cny("60.00"),
    )
    error = refused(
        "receipt.insufficient_unapplied",
        lambda: allocate(receipt, inv, cny("20.01"), NOW, "f"),
        receipt,
        inv,
    )
    assert error.details == {"id": "r-1", "unapplied": "20.00 CNY", "requested": "20.01 CNY"}
    receipt, inv = allocate(receipt, inv, cny("20.00"), NOW, "f")
    assert receipt.unapplied == cny("0") and inv.outstanding == cny("40.00")
    stranger = confirmed("5.00", customer="someone-else")
    error = refused(
        "receipt.customer_mismatch", lambda: allocate(stranger, inv, cny("1"), NOW, "f"), stranger
    )
    assert error.details == {"customer_id": "someone-else", "given": CUSTOMER}
    dollars = confirm_receipt(
        register_receipt(ReceiptId("u"), CUSTOMER, Money("10", "USD"), DAY, "B", "p", NOW, "f"),
        NOW,
        "f",
    )
    error = refused(
        "contracts.currency_mismatch", lambda: allocate(dollars, inv, cny("1"), NOW, "f"), dollars
    )
    assert error.details == {"what": "invoice i-1", "expected": "USD", "found": "CNY", "id": "u"}


def test_receipt_transitions_name_what_is_allowed() -> None:
    registered = register_receipt(ReceiptId("r"), CUSTOMER, cny("1"), DAY, "B", "p", NOW, "f")
    assert registered.status is ReceiptStatus.REGISTERED and registered.confirmed_at is None
    with pytest.raises(InvalidTransition) as caught:
        allocate(registered, issued(signed(), "i-1", "1.00")[0], cny("1"), NOW, "f")
    assert caught.value.details == {
        "entity": "receipt", "state": "registered", "trigger": "allocate",
        "allowed": ["confirm", "reverse"],
    }  # fmt: skip
    with pytest.raises(InvalidTransition) as caught:
        surplus_to_credit(registered, open_credit(CUSTOMER, "CNY"), NOW, "f")
    assert (caught.value.trigger, caught.value.state) == ("allocate", "registered")
    assert register_receipt(ReceiptId("r"), CUSTOMER, cny("1"), DAY, "B", "p", NOW, "f",
                            contract_id=ContractId("c-1")).contract_id == "c-1"  # fmt: skip
    confirmed_one = confirm_receipt(registered, LATER, "boss")
    assert (confirmed_one.status, confirmed_one.confirmed_at, confirmed_one.confirmed_by) == (
        ReceiptStatus.CONFIRMED,
        LATER,
        "boss",
    )
    assert confirmed_one.updated_at == LATER
    with pytest.raises(InvalidTransition) as caught:
        confirm_receipt(confirmed_one, NOW, "f")
    assert caught.value.details == {
        "entity": "receipt", "state": "confirmed", "trigger": "confirm",
        "allowed": ["allocate", "reverse"],
    }  # fmt: skip
    credit = open_credit(CUSTOMER, "CNY")
    _, gone, _, _ = reverse_receipt(registered, ReversalId("v"), (), credit, "x", NOW, "f")
    with pytest.raises(InvalidTransition) as caught:
        reverse_receipt(gone, ReversalId("v-2"), (), credit, "again", NOW, "f")
    assert caught.value.details == {
        "entity": "receipt", "state": "reversed", "trigger": "reverse", "allowed": [],
    }  # fmt: skip
    with pytest.raises(InvalidTransition) as caught:
        surplus_to_credit(gone, credit, NOW, "f")
    assert caught.value.allowed == ()


def test_oldest_due_first_orders_by_due_date_then_issue_date_then_id() -> None:
    contract = signed()
    made = {}
    for ident, issued_on, due in [
        ("b", date(2024, 3, 2), date(2024, 4, 1)),
        ("a", date(2024, 3, 2), date(2024, 4, 1)),
        ("z", date(2024, 3, 1), date(2024, 4, 1)),
        ("y", date(2024, 3, 9), date(2024, 3, 31)),
    ]:
        draft = draft_invoice(
            InvoiceId(ident), contract, InvoiceKind.SPECIAL, cny("10.00"), NOW, "f"
        )
        made[ident], contract = issue_invoice(
            draft, contract, POLICY, issued_on, NOW, "f", due_date=due
        )
    settled = record_payment(made["y"], cny("10.00"), NOW)
    invoices = [made["b"], made["a"], made["z"], made["y"]]
    assert oldest_due_first(invoices) == [3, 2, 1, 0]  # y, z (issued earlier), a, b (by id)
    assert oldest_due_first([*invoices[:3], settled]) == [2, 1, 0]
    # a receipt of exactly the oldest two stops there: nothing else paid, nothing credited
    credit = open_credit(CUSTOMER, "CNY")
    receipt, result, after = allocate_oldest_first(confirmed("20.00"), invoices, credit, LATER, "g")
    assert [a.invoice_id for a in receipt.allocations] == ["y", "z"]
    assert receipt.allocations[0] == Allocation(InvoiceId("y"), cny("10.00"), LATER, "g")
    assert result[3].updated_at == LATER
    registered = register_receipt(ReceiptId("n"), CUSTOMER, cny("1"), DAY, "B", "p", NOW, "f")
    with pytest.raises(InvalidTransition) as caught:
        allocate_oldest_first(registered, invoices, credit, NOW, "f")
    assert (caught.value.trigger, caught.value.state) == ("allocate", "registered")
    assert [i.outstanding for i in result] == [cny("10.00"), cny("10.00"), cny("0"), cny("0")]
    assert result[0] is invoices[0] and after is credit and receipt.credited == cny("0")
    # one fen more goes to credit, dated and signed by who allocated
    receipt, result, after = allocate_oldest_first(confirmed("40.01"), invoices, credit, LATER, "g")
    assert [a.invoice_id for a in receipt.allocations] == ["y", "z", "a", "b"]
    assert after.entries == (CreditEntry(CreditEntryKind.DEPOSIT, cny("0.01"), "r-1", LATER, "g"),)
    assert after.balance == cny("0.01")
    assert (receipt.credited, receipt.unapplied, receipt.updated_at) == (
        cny("0.01"),
        cny("0"),
        LATER,
    )
    # another customer's invoice is refused before anything is paid
    other = attrs.evolve(made["b"], customer_id=CustomerId("other"))
    refused(
        "receipt.customer_mismatch",
        lambda: allocate_oldest_first(confirmed("5.00"), [*invoices, other], credit, NOW, "f"),
        *invoices,
        credit,
    )


def test_surplus_of_nothing_changes_nothing() -> None:
    contract = signed()
    inv, contract = issued(contract, "i-1", "10.00")
    receipt, _ = allocate(confirmed("10.00"), inv, cny("10.00"), NOW, "f")
    credit = open_credit(CUSTOMER, "CNY")
    assert surplus_to_credit(receipt, credit, LATER, "g") == (receipt, credit)


def test_a_surplus_under_one_yuan_is_credited_and_reversed_to_the_fen() -> None:
    contract = signed()
    inv, contract = issued(contract, "i-1", "10.00")
    receipt, paid = allocate(confirmed("10.50"), inv, cny("10.00"), NOW, "f")
    receipt, credit = surplus_to_credit(receipt, open_credit(CUSTOMER, "CNY"), LATER, "g")
    assert (receipt.credited, receipt.updated_at, credit.balance) == (cny("0.50"), LATER,
                                                                      cny("0.50"))  # fmt: skip
    _, _, _, after = reverse_receipt(receipt, ReversalId("v"), (paid,), credit, "x", NOW, "f")
    assert after.balance == cny("0") and after.entries[-1].amount == cny("-0.50")


def test_a_reversal_documents_what_it_undid() -> None:
    contract = signed()
    inv, contract = issued(contract, "i-1", "10.00")
    credit = open_credit(CUSTOMER, "CNY")
    receipt, (inv2,), credit = allocate_oldest_first(confirmed("15.00"), (inv,), credit, NOW, "f")
    reversal, gone, (inv3,), credit2 = reverse_receipt(
        receipt, ReversalId("v-1"), (inv2,), credit, "退票", LATER, "g"
    )
    assert reversal == ReceiptReversal(
        ReversalId("v-1"),
        ReceiptId("r-1"),
        CUSTOMER,
        cny("15.00"),
        receipt.allocations,
        cny("5.00"),
        "退票",
        LATER,
        "g",
    )
    assert (gone.status, gone.reversal_id, gone.updated_at) == (
        ReceiptStatus.REVERSED,
        "v-1",
        LATER,
    )
    assert (inv3.outstanding, inv3.status, inv3.updated_at) == (
        cny("10.00"),
        InvoiceStatus.ISSUED,
        LATER,
    )
    assert credit2.entries[-1] == CreditEntry(
        CreditEntryKind.REVERSAL, cny("-5.00"), "r-1", LATER, "g"
    )
    # the ledger held exactly what the receipt credited (credited ≤ balance): reversible
    assert credit.balance == receipt.credited and credit2.balance == cny("0")
    # no credit left: the ledger is returned untouched (no zero entry)
    exact, (inv4,), credit3 = allocate_oldest_first(
        confirmed("10.00", "r-2"), (inv,), open_credit(CUSTOMER, "CNY"), NOW, "f"
    )
    assert reverse_receipt(exact, ReversalId("v"), (inv4,), credit3, "x", NOW, "f")[3] is credit3
    for blank in ("", "  "):
        with pytest.raises(ValidationError) as caught:
            reverse_receipt(exact, ReversalId("v"), (inv4,), credit3, blank, NOW, "f")
        assert [(e.path, e.code) for e in explained(caught.value).errors] == [
            ("reason", "field.required")
        ]
    error = refused(
        "receipt.invoice_missing",
        lambda: reverse_receipt(receipt, ReversalId("v"), (), credit, "x", NOW, "f"),
        receipt,
        credit,
    )
    assert error.details == {"id": "r-1", "missing": ["i-1"]}
    used = withdraw_credit(
        credit, CUSTOMER, cny("0.01"), CreditEntryKind.APPLICATION, "i", NOW, "f"
    )
    error = refused(
        "receipt.credit_used",
        lambda: reverse_receipt(receipt, ReversalId("v"), (inv2,), used, "x", NOW, "f"),
        receipt,
        used,
    )
    assert error.details == {"id": "r-1", "credited": "5.00 CNY", "balance": "4.99 CNY"}


# -- receivables: aging buckets, DSO, roll-up, forecast, performance (docs/mutation.md) --------


@pytest.mark.parametrize(
    ("days", "bucket"),
    [
        (-5, AgingBucket.NOT_DUE),
        (0, AgingBucket.NOT_DUE),
        (1, AgingBucket.DAYS_0_30),
        (30, AgingBucket.DAYS_0_30),
        (31, AgingBucket.DAYS_31_60),
        (60, AgingBucket.DAYS_31_60),
        (61, AgingBucket.DAYS_61_90),
        (90, AgingBucket.DAYS_61_90),
        (91, AgingBucket.DAYS_90_PLUS),
        (10_000, AgingBucket.DAYS_90_PLUS),
    ],
)
def test_aging_bucket_boundaries(days: int, bucket: AgingBucket) -> None:
    assert aging_bucket(days) is bucket


def test_aging_puts_each_outstanding_amount_in_the_bucket_of_its_days_overdue() -> None:
    on = date(2024, 7, 1)
    contract = signed()
    invoices = []
    # one invoice per boundary, each of a distinct amount (days overdue on 1 July)
    for n, days in enumerate((0, 1, 30, 31, 60, 61, 90, 91), 1):
        due = on - timedelta(days=days)
        inv, contract = issued(contract, f"i-{days}", f"{n}.00", due_date=due)
        assert days_overdue(inv, on) == days and is_overdue(inv, on) is (days > 0)
        invoices.append(inv)
    settled = record_payment(invoices[-1], cny("8.00"), NOW)  # 91 days, but paid
    assert days_overdue(settled, on) == 0 and not is_overdue(settled, on)
    report = aging([*invoices[:-1], settled], on, "CNY")
    assert dict(report.buckets) == {
        AgingBucket.NOT_DUE: cny("1.00"),
        AgingBucket.DAYS_0_30: cny("5.00"),  # 2 + 3
        AgingBucket.DAYS_31_60: cny("9.00"),  # 4 + 5
        AgingBucket.DAYS_61_90: cny("13.00"),  # 6 + 7
        AgingBucket.DAYS_90_PLUS: cny("0"),
    }
    assert [b for b, _ in report.buckets] == list(AgingBucket)
    assert (report.on, report.currency, report.total) == (on, "CNY", cny("28.00"))
    assert aging(invoices, on, "CNY").amount(AgingBucket.DAYS_90_PLUS) == cny("8.00")
    # one fen outstanding is still overdue (and still the oldest to pay)
    fen_left = record_payment(invoices[-1], cny("7.99"), NOW)
    assert is_overdue(fen_left, on) and days_overdue(fen_left, on) == 91
    assert aging([fen_left], on, "CNY").amount(AgingBucket.DAYS_90_PLUS) == cny("0.01")
    assert oldest_due_first([invoices[0], fen_left]) == [1, 0]
    dollars = attrs.evolve(
        invoices[0],
        id=InvoiceId("u"),
        amount=Money("1", "USD"),
        tax=Money("0", "USD"),
        paid=Money("0", "USD"),
        credited=Money("0", "USD"),
    )
    error = refused("contracts.currency_mismatch", lambda: aging([dollars], on, "CNY"))
    assert error.details == {"what": "invoice u", "expected": "CNY", "found": "USD"}


def test_dso_is_receivables_over_credit_sales_times_days_rounded_half_even() -> None:
    assert dso(cny("1.00"), cny("8.00"), 1) == Decimal("0.12")  # 0.125 → 0.12
    assert dso(cny("3.00"), cny("8.00"), 1) == Decimal("0.38")  # 0.375 → 0.38
    assert dso(cny("10.00"), cny("40.00"), 30) == Decimal("7.50")
    assert dso(cny("40.00"), cny("10.00"), 30) == Decimal("120.00")
    assert dso(cny("10.00"), cny("0"), 30) is None
    with decimal.localcontext(rounding=decimal.ROUND_HALF_UP):  # whatever the caller's context
        assert dso(cny("1.00"), cny("8.00"), 1) == Decimal("0.12")


def test_dso_counts_sales_issued_in_the_period_both_ends_included() -> None:
    start, end = date(2024, 3, 10), date(2024, 3, 19)  # 10 days
    contract = signed()
    invoices = []
    for ident, day, amount in [
        ("before", date(2024, 3, 9), "100.00"),  # receivable, not a sale of the period
        ("first", start, "10.00"),
        ("last", end, "30.00"),
        ("after", date(2024, 3, 20), "1000.00"),  # neither
    ]:
        draft = draft_invoice(
            InvoiceId(ident), contract, InvoiceKind.SPECIAL, cny(amount), NOW, "f"
        )
        inv, contract = issue_invoice(draft, contract, POLICY, day, NOW, "f")
        invoices.append(inv)
    red = draft_red_invoice(invoices[2], InvoiceId("red"), "x", NOW, "f", amount=cny("20.00"))
    red, invoices[2], contract = issue_red_invoice(red, invoices[2], contract, end, NOW, "f")
    undrafted = draft_invoice(InvoiceId("d"), contract, InvoiceKind.SPECIAL, cny("7.00"), NOW, "f")
    void = void_invoice(undrafted, "x", NOW, "f")
    everything = [*invoices, red, undrafted, void]
    # receivables 100 + 10 + (30 − 20) = 120; sales 10 + 30 − 20 = 20; 120 / 20 × 10 = 60
    assert days_sales_outstanding(everything, start, end, "CNY") == Decimal("60.00")
    # one day: only "first" sold (10), receivables 110; 110 / 10 × 1 = 11
    assert days_sales_outstanding(everything, start, start, "CNY") == Decimal("11.00")
    assert days_sales_outstanding(everything, date(2024, 1, 1), date(2024, 1, 31), "CNY") is None


def test_roll_up_counts_only_the_contracts_issued_invoices() -> None:
    contract = signed()
    inv, contract = issued(contract, "i-1", "100.00")
    _, paid = allocate(confirmed("40.00"), inv, cny("40.00"), NOW, "f")
    other = attrs.evolve(paid, id=InvoiceId("o"), contract_id=ContractId("c-other"))
    draft = draft_invoice(InvoiceId("d"), contract, InvoiceKind.SPECIAL, cny("9.00"), NOW, "f")
    summary = roll_up(contract, [paid, other, draft])
    assert (summary.contract_id, summary.contracted, summary.delivered) == (
        "c-1",
        cny("4498.00"),
        cny("0"),
    )
    assert (summary.invoiced, summary.collected, summary.outstanding) == (
        cny("100.00"),
        cny("40.00"),
        cny("60.00"),
    )


def test_forecast_pays_milestones_in_due_order_and_moves_overdue_ones_to_today() -> None:
    contract = signed()  # 2249.00 due 15 March, 2249.00 due 15 April
    inv, contract = issued(contract, "i-1", "3000.00")
    _, paid = allocate(confirmed("2249.00"), inv, cny("2249.00"), NOW, "f")
    # collected exactly the first milestone: only April is left
    on = date(2024, 3, 1)
    assert [(e.month, e.amount) for e in collection_forecast([contract], [paid], on, "CNY")] == [
        ("2024-04", cny("2249.00"))
    ]
    _, paid = allocate(confirmed("2249.01"), inv, cny("2249.01"), NOW, "f")
    assert [(e.month, e.amount) for e in collection_forecast([contract], [paid], on, "CNY")] == [
        ("2024-04", cny("2248.99"))
    ]
    # nothing collected, on 20 March: March is overdue and expected in March (on's month)
    late = collection_forecast([contract], [inv], date(2024, 3, 20), "CNY")
    assert [(e.month, e.amount) for e in late] == [
        ("2024-03", cny("2249.00")),
        ("2024-04", cny("2249.00")),
    ]
    later = collection_forecast([contract], [inv], date(2024, 5, 2), "CNY")
    assert [(e.month, e.amount) for e in later] == [("2024-05", cny("4498.00"))]
    # contracts no longer active expect nothing; another currency is refused
    done = terminate_contract(contract, "x", NOW, "f")
    assert collection_forecast([done], [inv], on, "CNY") == ()
    # several contracts: skipped ones skipped, months ascending whatever the contract order
    plan = [
        MilestoneSpec("a", percent=Decimal(90), due_date=date(2024, 2, 1)),
        MilestoneSpec("b", percent=Decimal(10), basis="full_delivery"),  # type: ignore[arg-type]
    ]
    early = contract_from_quote(accepted_quote(), ContractId("c-2"), NOW, AUTHOR, plan=plan)
    early = sign_contract(
        approve_contract(submit_contract(early, NOW, AUTHOR), ApprovalPolicy(), MANAGER, "ok",
                         NOW), NOW, NOW, AUTHOR,
    )  # fmt: skip
    both = collection_forecast([done, contract, early], [inv], date(2024, 1, 1), "CNY")
    assert [(e.month, e.amount) for e in both] == [
        ("2024-02", cny("4048.20")), ("2024-03", cny("2249.00")), ("2024-04", cny("2249.00")),
        (None, cny("449.80")),
    ]  # fmt: skip
    error = refused(
        "contracts.currency_mismatch", lambda: collection_forecast([contract], [], on, "USD")
    )
    assert error.details == {"what": "contract c-1", "expected": "USD", "found": "CNY"}


def test_performance_by_cash_counts_the_period_both_ends_included() -> None:
    contract = signed()
    inv, contract = issued(contract, "i-1", "1000.00")
    invoices = {inv.id: inv}
    contracts = {contract.id: contract}
    start, end = date(2024, 3, 10), date(2024, 3, 20)

    def received(ident: str, day: date, amount: str) -> Receipt:
        receipt = register_receipt(ReceiptId(ident), CUSTOMER, cny(amount), day, "B", "p", NOW, "f")
        return allocate(confirm_receipt(receipt, NOW, "f"), inv, cny(amount), NOW, "f")[0]

    receipts = [
        received("r-before", date(2024, 3, 9), "1.00"),
        received("r-start", start, "10.00"),
        received("r-end", end, "20.00"),
        received("r-after", date(2024, 3, 21), "100.00"),
    ]
    bounced = reverse_receipt(
        received("r-x", start, "300.00"),
        ReversalId("v"),
        [record_payment(inv, cny("300.00"), NOW)],
        open_credit(CUSTOMER, "CNY"),
        "x",
        NOW,
        "f",
    )[1]
    # credit applied at 16:30 UTC on 20 March = 00:30 on 21 March in Shanghai: after the period
    credit = deposit_credit(open_credit(CUSTOMER, "CNY"), CUSTOMER, cny("50.00"), "r", NOW, "f")
    credit, _ = apply_credit(credit, inv, datetime(2024, 3, 10, 0, 0, tzinfo=UTC), "f", cny("4.00"))
    credit, _ = apply_credit(
        credit, inv, datetime(2024, 3, 20, 16, 30, tzinfo=UTC), "f", cny("8.00")
    )
    by_rep: dict[RepId | None, Money] = performance_by_cash(
        [*receipts, bounced], [credit], invoices, contracts, start, end, "CNY"
    )
    assert by_rep == {REP: cny("34.00")}  # 10 + 20 + 4 (the deposit itself counts nowhere)
    in_utc: dict[RepId | None, Money] = performance_by_cash(
        [], [credit], invoices, contracts, start, end, "CNY", timezone="UTC"
    )
    assert in_utc == {REP: cny("12.00")}
    by_contract = performance_by_cash(
        receipts, [], invoices, contracts, start, start, "CNY", key=lambda c: c.id
    )
    assert by_contract == {"c-1": cny("10.00")}
    # unknown invoices, unknown contracts and other currencies count nowhere
    assert performance_by_cash(receipts, [credit], {}, contracts, start, end, "CNY") == {}
    assert performance_by_cash(receipts, [credit], invoices, {}, start, end, "CNY") == {}
    assert performance_by_cash(receipts, [credit], invoices, contracts, start, end, "USD") == {}


# -- invoices: ceilings, due dates, red invoices, payments (docs/mutation.md) ------------------


def _field_codes(call: Any) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as caught:
        call()
    return [(e.path, e.code) for e in explained(caught.value).errors]


def _with(invoice: Invoice, name: str, value: Money) -> Invoice:
    changes: dict[str, Any] = {name: value}
    return attrs.evolve(invoice, **changes)


def test_an_invoice_checks_its_own_amounts() -> None:
    inv, _ = issued(signed(), "i-1", "10.00")
    # paid + credited may reach the amount exactly, not more
    full = attrs.evolve(inv, paid=cny("6.00"), credited=cny("4.00"))
    assert full.outstanding == cny("0")
    assert _field_codes(lambda: attrs.evolve(full, paid=cny("6.01"))) == [
        ("paid", "invoice.overpaid")
    ]
    assert _field_codes(lambda: attrs.evolve(inv, amount=cny("0"))) == [
        ("amount", "invoice.amount_positive")
    ]
    assert _field_codes(lambda: attrs.evolve(inv, paid=cny("-0.01"))) == [
        ("paid", "field.negative")
    ]
    assert _field_codes(lambda: attrs.evolve(inv, credited=cny("-0.01"))) == [
        ("paid", "field.negative")
    ]
    for name in ("tax", "paid", "credited"):
        assert _field_codes(lambda n=name: _with(inv, n, Money("0", "USD"))) == [
            (name, "contracts.currency_mismatch")
        ]
    red = draft_red_invoice(inv, InvoiceId("r"), "x", NOW, "f", amount=cny("1.00"))
    assert _field_codes(lambda: attrs.evolve(red, amount=cny("0"))) == [
        ("amount", "invoice.red_shape")
    ]
    assert _field_codes(lambda: attrs.evolve(red, original_id=None)) == [
        ("amount", "invoice.red_shape")
    ]
    for name in ("paid", "credited"):
        assert _field_codes(lambda n=name: _with(red, n, cny("0.01"))) == [
            ("paid", "invoice.red_shape")
        ]
    # outstanding is zero for drafts, void and red invoices
    draft = draft_invoice(InvoiceId("d"), signed(), InvoiceKind.SPECIAL, cny("5"), NOW, "f")
    assert draft.outstanding == red.outstanding == cny("0")
    assert void_invoice(draft, "x", NOW, "f").outstanding == cny("0")


def test_due_dates_come_from_the_call_then_the_milestone_then_the_payment_term() -> None:
    contract = signed()  # milestone M1 due 15 March
    policy = InvoicePolicy(payment_days=10)

    def issue(**kw: Any) -> Invoice:
        draft = draft_invoice(
            InvoiceId("i"),
            contract,
            InvoiceKind.SPECIAL,
            cny("10"),
            NOW,
            "f",
            milestone_id=kw.pop("milestone_id", None),
        )
        return issue_invoice(draft, contract, policy, DAY, NOW, "f", **kw)[0]

    assert issue().due_date == date(2024, 3, 16)  # 6 March + 10 days
    assert issue(milestone_id="M1").due_date == date(2024, 3, 15)
    assert issue(milestone_id="M1", due_date=date(2024, 5, 1)).due_date == date(2024, 5, 1)
    assert InvoicePolicy().payment_days == 30
    zero = issue_invoice(
        draft_invoice(InvoiceId("i"), contract, InvoiceKind.SPECIAL, cny("10"), NOW, "f"),
        contract,
        InvoicePolicy(payment_days=0),
        DAY,
        NOW,
        "f",
    )[0]
    assert zero.due_date == DAY
    # a delivery milestone not yet accepted has no date: the payment term applies
    plan = [
        MilestoneSpec("a", percent=Decimal(50), due_date=date(2024, 3, 15)),
        MilestoneSpec("b", percent=Decimal(50), basis="full_delivery"),  # type: ignore[arg-type]
    ]
    draft_c = contract_from_quote(accepted_quote(), ContractId("c-9"), NOW, AUTHOR, plan=plan)
    waiting = sign_contract(
        approve_contract(
            submit_contract(draft_c, NOW, AUTHOR), ApprovalPolicy(), MANAGER, "ok", NOW
        ),
        NOW,
        NOW,
        AUTHOR,
    )
    draft = draft_invoice(
        InvoiceId("i"), waiting, InvoiceKind.SPECIAL, cny("10"), NOW, "f", milestone_id="M2"
    )
    assert issue_invoice(draft, waiting, policy, DAY, NOW, "f")[0].due_date == date(2024, 3, 16)


def test_issuing_records_number_date_history_and_the_contracts_invoiced_sum() -> None:
    contract = signed()
    later = datetime(2024, 3, 7, 2, 0, tzinfo=UTC)
    draft = draft_invoice(
        InvoiceId("i-1"), contract, InvoiceKind.ORDINARY, cny("100.00"), NOW, "f", milestone_id="M2"
    )
    assert (draft.status, draft.milestone_id, draft.kind, draft.customer_id) == (
        InvoiceStatus.DRAFT,
        "M2",
        InvoiceKind.ORDINARY,
        CUSTOMER,
    )
    assert [(h.stage_from, h.stage_to, h.trigger, h.actor) for h in draft.history] == [
        (None, "draft", "create", "f")
    ]
    inv, counted = issue_invoice(draft, contract, POLICY, DAY, later, "g", number="NO-1")
    assert (inv.history[-1].trigger, inv.history[-1].actor) == ("issue", "g")
    assert (inv.number, inv.issued_on, inv.status, inv.updated_at) == (
        "NO-1",
        DAY,
        InvoiceStatus.ISSUED,
        later,
    )
    assert (counted.invoiced, counted.updated_at) == (cny("100.00"), later)
    numbered = attrs.evolve(draft, number="PRE")
    assert issue_invoice(numbered, contract, POLICY, DAY, NOW, "f")[0].number == "PRE"
    assert issue_invoice(draft, contract, POLICY, DAY, NOW, "f")[0].number is None


def test_the_default_tax_is_the_contracts_tax_share() -> None:
    contract = signed()  # 4498.00 with 459.95 + 28.30 = 488.25 tax
    inv = draft_invoice(InvoiceId("i"), contract, InvoiceKind.SPECIAL, cny("4498.00"), NOW, "f")
    assert inv.tax == cny("488.25")
    half = draft_invoice(InvoiceId("i"), contract, InvoiceKind.SPECIAL, cny("2249.00"), NOW, "f")
    assert half.tax == cny("244.12")  # 244.125 → 244.12 (half-even)
    given = draft_invoice(
        InvoiceId("i"), contract, InvoiceKind.SPECIAL, cny("1"), NOW, "f", tax=cny("0.10")
    )
    assert given.tax == cny("0.10")
    # a contract of zero total has no tax to share (and nothing can be issued against it)
    free = draft_quote(QuoteId("q-0"), CUSTOMER, AUTHOR, "CNY",
                       [LineInput(Decimal(1), description="赠品", unit_price=cny("0"),
                                  tax_rate=Decimal("0.13"))], {}, NOW)  # fmt: skip
    free = accept_quote(send_quote(free, QuotePolicy(), NOW, AUTHOR), NOW, "customer")
    plan = [MilestoneSpec("all", percent=Decimal(100), due_date=date(2024, 4, 1))]
    zero = contract_from_quote(free, ContractId("c-0"), NOW, AUTHOR, plan=plan)
    zero = sign_contract(
        approve_contract(submit_contract(zero, NOW, AUTHOR), ApprovalPolicy(), MANAGER, "ok",
                         NOW), NOW, NOW, AUTHOR,
    )  # fmt: skip
    assert zero.total == cny("0")
    nothing = draft_invoice(InvoiceId("i"), zero, InvoiceKind.SPECIAL, cny("1"), NOW, "f")
    assert nothing.tax == cny("0")


def test_invoice_refusals_carry_their_details() -> None:
    contract = signed()
    error = refused(
        "invoice.unknown_milestone",
        lambda: draft_invoice(
            InvoiceId("i"), contract, InvoiceKind.SPECIAL, cny("1"), NOW, "f", milestone_id="zz"
        ),
    )
    assert error.details == {"contract_id": "c-1", "milestone_id": "zz"}
    error = refused(
        "contracts.currency_mismatch",
        lambda: draft_invoice(
            InvoiceId("i"), contract, InvoiceKind.SPECIAL, Money("1", "USD"), NOW, "f"
        ),
    )
    assert error.details == {"what": "amount", "expected": "CNY", "found": "USD", "id": "i"}
    inv, contract = issued(contract, "i-1", "4000.00")
    more = draft_invoice(InvoiceId("i-2"), contract, InvoiceKind.SPECIAL, cny("498.01"), NOW, "f")
    error = refused(
        "invoice.over_contract", lambda: issue_invoice(more, contract, POLICY, DAY, NOW, "f")
    )
    assert error.details == {
        "contract_id": "c-1",
        "contracted": "4498.00 CNY",
        "invoiced": "4000.00 CNY",
        "requested": "498.01 CNY",
    }
    delivered = record_delivery(signed(), DeliveryId("d"), {1: Decimal(1)}, DAY, NOW, "w")
    first = draft_invoice(
        InvoiceId("i-1"), delivered, InvoiceKind.SPECIAL, cny("1999.01"), NOW, "f"
    )
    by_delivery = InvoicePolicy(ceiling=InvoiceCeiling.DELIVERED)
    error = refused(
        "invoice.over_delivered",
        lambda: issue_invoice(first, delivered, by_delivery, DAY, NOW, "f"),
    )
    assert error.details == {
        "contract_id": "c-1",
        "delivered": "1999.00 CNY",
        "invoiced": "0.00 CNY",
        "requested": "1999.01 CNY",
    }
    other = attrs.evolve(contract, id=ContractId("c-2"))
    error = refused(
        "invoice.contract_mismatch", lambda: issue_invoice(more, other, POLICY, DAY, NOW, "f")
    )
    assert error.details == {"id": "i-2", "contract_id": "c-1", "given": "c-2"}
    red = draft_red_invoice(inv, InvoiceId("r"), "x", NOW, "f", amount=cny("1.00"))
    error = refused("invoice.not_blue", lambda: issue_invoice(red, contract, POLICY, DAY, NOW, "f"))
    assert error.details == {"id": "r"}
    error = refused("invoice.not_issued", lambda: record_payment(red, cny("1"), NOW))
    assert error.details == {"id": "r", "status": "draft", "action": "be paid"}
    dollars = attrs.evolve(
        more,
        amount=Money("1", "USD"),
        tax=Money("0", "USD"),
        paid=Money("0", "USD"),
        credited=Money("0", "USD"),
    )
    error = refused(
        "contracts.currency_mismatch",
        lambda: issue_invoice(dollars, contract, POLICY, DAY, NOW, "f"),
    )
    assert error.details == {"what": "amount", "expected": "CNY", "found": "USD", "id": "i-2"}
    error = refused(
        "contract.not_active",
        lambda: issue_invoice(
            more, terminate_contract(contract, "x", NOW, "f"), POLICY, DAY, NOW, "f"
        ),
    )
    assert error.details["action"] == "invoice"
    error = refused(
        "contract.not_active",
        lambda: draft_invoice(InvoiceId("i"), terminate_contract(contract, "x", NOW, "f"),
                              InvoiceKind.SPECIAL, cny("1"), NOW, "f"),
    )  # fmt: skip
    assert error.details == {"id": "c-1", "status": "terminated", "action": "invoice"}
    for blank in ("", " "):
        assert _field_codes(lambda b=blank: void_invoice(more, b, NOW, "f")) == [
            ("reason", "field.required")
        ]
    voided = void_invoice(more, "typo", NOW, "f")
    assert (voided.reason, voided.history[-1].reason) == ("typo", "typo")
    assert (voided.history[-1].actor, voided.history[-1].trigger) == ("f", "void")


def test_payments_up_to_exactly_the_outstanding_and_undone_up_to_what_was_paid() -> None:
    inv, _ = issued(signed(), "i-1", "10.00")
    later = datetime(2024, 3, 7, 2, 0, tzinfo=UTC)
    part = record_payment(inv, cny("4.00"), later)
    assert (part.paid, part.status, part.updated_at) == (
        cny("4.00"),
        InvoiceStatus.PARTLY_PAID,
        later,
    )
    error = refused("receipt.over_allocation", lambda: record_payment(part, cny("6.01"), NOW))
    assert error.details == {
        "invoice_id": "i-1",
        "outstanding": "6.00 CNY",
        "requested": "6.01 CNY",
    }
    for nothing in (cny("0"), cny("-1")):
        assert _field_codes(lambda n=nothing: record_payment(part, n, NOW)) == [
            ("amount", "invoice.amount_positive")
        ]
    error = refused(
        "contracts.currency_mismatch", lambda: record_payment(part, Money("1", "USD"), NOW)
    )
    assert error.details == {"what": "amount", "expected": "CNY", "found": "USD", "id": "i-1"}
    # statuses follow the amounts to the fen
    assert record_payment(inv, cny("0.50"), NOW).status is InvoiceStatus.PARTLY_PAID
    assert record_payment(inv, cny("9.50"), NOW).status is InvoiceStatus.PARTLY_PAID
    assert record_payment(inv, cny("9.99"), NOW).outstanding == cny("0.01")
    red = draft_red_invoice(inv, InvoiceId("r"), "x", NOW, "f", amount=cny("9.50"))
    _, credited, _ = issue_red_invoice(red, inv, signed(), DAY, NOW, "f")
    assert credited.status is InvoiceStatus.ISSUED  # 0.50 left, nothing paid
    assert record_payment(credited, cny("0.50"), NOW).status is InvoiceStatus.PAID
    red = draft_red_invoice(credited, InvoiceId("r2"), "x", NOW, "f")
    assert issue_red_invoice(red, credited, signed(), DAY, NOW, "f")[1].status is (
        InvoiceStatus.CREDITED
    )
    paid = record_payment(part, cny("6.00"), NOW)
    assert paid.status is InvoiceStatus.PAID and paid.outstanding == cny("0")
    assert _field_codes(lambda: undo_payment(paid, cny("10.01"), NOW)) == [
        ("amount", "invoice.overpaid")
    ]
    undone = undo_payment(paid, cny("10.00"), later)
    assert (undone.paid, undone.status, undone.updated_at) == (
        cny("0"),
        InvoiceStatus.ISSUED,
        later,
    )
    assert undo_payment(paid, cny("6.00"), NOW).status is InvoiceStatus.PARTLY_PAID


def test_red_invoices_document_what_they_negate() -> None:
    contract = signed()
    draft = draft_invoice(InvoiceId("i-1"), contract, InvoiceKind.SPECIAL, cny("1000.00"), NOW,
                          "f", milestone_id="M1")  # fmt: skip
    inv, contract = issue_invoice(draft, contract, POLICY, DAY, NOW, "f", number="B-1")
    later = datetime(2024, 3, 7, 2, 0, tzinfo=UTC)
    red = draft_red_invoice(inv, InvoiceId("r-1"), "折让", later, "g", amount=cny("250.00"))
    # tax in proportion: 108.55 × 250 / 1000 = 27.1375 → 27.14 (the full tax when it is all)
    assert (inv.tax, red.tax, red.amount) == (cny("108.55"), cny("-27.14"), cny("-250.00"))
    assert (red.color, red.original_id, red.reason, red.kind, red.status) == (
        InvoiceColor.RED,
        "i-1",
        "折让",
        InvoiceKind.SPECIAL,
        InvoiceStatus.DRAFT,
    )
    assert (red.contract_id, red.customer_id, red.created_at, red.created_by) == (
        "c-1",
        CUSTOMER,
        later,
        "g",
    )
    assert [(h.stage_to, h.trigger, h.reason, h.actor) for h in red.history] == [
        ("draft", "create", "折让", "g")
    ]
    assert red.milestone_id == inv.milestone_id == "M1"
    whole = draft_red_invoice(inv, InvoiceId("r-2"), "x", NOW, "f")
    assert (whole.amount, whole.tax) == (cny("-1000.00"), cny("-108.55"))
    for nothing in (cny("0"), cny("-1")):
        assert _field_codes(
            lambda n=nothing: draft_red_invoice(inv, InvoiceId("r"), "x", NOW, "f", amount=n)
        ) == [("amount", "invoice.amount_positive")]
    for blank in ("", " "):
        assert _field_codes(
            lambda b=blank: draft_red_invoice(inv, InvoiceId("r"), b, NOW, "f")
        ) == [("reason", "field.required")]
    error = refused(
        "contracts.currency_mismatch",
        lambda: draft_red_invoice(inv, InvoiceId("r"), "x", NOW, "f", amount=Money("1", "USD")),
    )
    assert error.details == {"what": "amount", "expected": "CNY", "found": "USD", "id": "r"}
    error = refused(
        "invoice.red_exceeds_outstanding",
        lambda: draft_red_invoice(inv, InvoiceId("r"), "x", NOW, "f", amount=cny("1000.01")),
    )
    assert error.details == {"id": "i-1", "outstanding": "1000.00 CNY", "requested": "1000.01 CNY"}
    draft = draft_invoice(InvoiceId("d"), contract, InvoiceKind.SPECIAL, cny("1"), NOW, "f")
    error = refused("invoice.not_issued", lambda: draft_red_invoice(draft, InvoiceId("r"), "x",
                                                                    NOW, "f"))  # fmt: skip
    assert error.details == {"id": "d", "status": "draft", "action": "be credited"}
    error = refused("invoice.not_issued",
                    lambda: issue_red_invoice(attrs.evolve(red, original_id=InvoiceId("d")), draft,
                                              contract, DAY, NOW, "f"))  # fmt: skip
    assert error.details == {"id": "d", "status": "draft", "action": "be credited"}
    red, credited, counted = issue_red_invoice(red, inv, contract, DAY, later, "g", number="R-1")
    assert (red.history[-1].actor, red.history[-1].trigger) == ("g", "issue")
    assert (red.status, red.number, red.issued_on, red.updated_at) == (
        InvoiceStatus.ISSUED,
        "R-1",
        DAY,
        later,
    )
    assert (credited.credited, credited.status, credited.updated_at) == (
        cny("250.00"),
        InvoiceStatus.ISSUED,
        later,
    )
    assert (counted.invoiced, counted.updated_at) == (cny("750.00"), later)
    assert credited.number == "B-1" and red.due_date is None
    other = draft_red_invoice(credited, InvoiceId("r-3"), "x", NOW, "f", amount=cny("1.00"))
    error = refused(
        "invoice.not_blue",
        lambda: issue_red_invoice(
            other,
            attrs.evolve(credited, id=InvoiceId("i-9")),
            counted,
            DAY,
            NOW,
            "f",
        ),
    )
    assert error.details == {"id": "r-3", "original_id": "i-9"}
    # a terminated contract can still be credited; a draft one cannot
    gone = terminate_contract(counted, "x", NOW, "f")
    assert issue_red_invoice(other, credited, gone, DAY, NOW, "f")[2].invoiced == cny("749.00")
    for status in (ContractStatus.DRAFT, ContractStatus.PENDING_APPROVAL):
        error = refused(
            "contract.not_active",
            lambda s=status: issue_red_invoice(
                other, credited, attrs.evolve(counted, status=s), DAY, NOW, "f"
            ),
        )
        assert error.details["action"] == "credit an invoice"
    # paid after a red invoice: paid and credited settle it, status paid
    paid = record_payment(credited, cny("750.00"), NOW)
    assert paid.status is InvoiceStatus.PAID
