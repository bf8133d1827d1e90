"""Receipts (回款): registered, confirmed by finance, allocated (核销) to invoices, reversible.

A receipt is registered (bank reference, payer, amount, date received), confirmed by finance,
then allocated to the customer's invoices — oldest due first or explicitly — never more than
an invoice's outstanding nor than the receipt's unapplied amount. What is left can go to the
customer's credit ledger. A reversal is a new document (:class:`ReceiptReversal`) that undoes
the receipt's allocations (the invoices are outstanding again) and takes its deposit back out
of credit; the receipt is kept, marked reversed. Conservation: for every receipt,
``amount = allocated + credited + unapplied``.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import date, datetime

import attrs

from leadtocash.contracts.checks import currency_mismatch, sum_money
from leadtocash.contracts.credit import (
    CreditEntryKind,
    CustomerCredit,
    deposit_credit,
    withdraw_credit,
)
from leadtocash.contracts.ids import ContractId, InvoiceId, ReceiptId, ReversalId
from leadtocash.contracts.invoices import Invoice, outstanding, record_payment, undo_payment
from leadtocash.errors import FieldError, InvalidTransition, RuleViolation, ValidationError
from leadtocash.model import CustomerId
from leadtocash.money import Money
from leadtocash.validators import non_blank, utc

__all__ = [
    "Allocation",
    "Receipt",
    "ReceiptReversal",
    "ReceiptStatus",
    "allocate",
    "allocate_oldest_first",
    "confirm_receipt",
    "oldest_due_first",
    "register_receipt",
    "reverse_receipt",
    "surplus_to_credit",
]


class ReceiptStatus(enum.StrEnum):
    """Receipt states (allocation progress follows from the amounts)."""

    REGISTERED = "registered"
    CONFIRMED = "confirmed"
    REVERSED = "reversed"


@attrs.frozen
class Allocation:
    """Part of a receipt applied to one invoice (核销)."""

    invoice_id: InvoiceId
    amount: Money
    at: datetime = attrs.field(validator=utc)
    by: str


@attrs.frozen
class Receipt:
    """Money received from a customer, and where it went (invoices, credit)."""

    id: ReceiptId
    customer_id: CustomerId
    amount: Money
    received_on: date
    bank_reference: str = attrs.field(validator=non_blank)
    payer: str = attrs.field(validator=non_blank)
    registered_at: datetime = attrs.field(validator=utc)
    registered_by: str = attrs.field(validator=non_blank)
    contract_id: ContractId | None = None
    status: ReceiptStatus = ReceiptStatus.REGISTERED
    confirmed_at: datetime | None = attrs.field(default=None, validator=utc)
    confirmed_by: str | None = None
    allocations: tuple[Allocation, ...] = ()
    credited: Money = attrs.field(
        default=attrs.Factory(lambda self: Money.zero(self.amount.currency), takes_self=True)
    )
    reversal_id: ReversalId | None = None
    updated_at: datetime | None = attrs.field(default=None, validator=utc)
    version: int = 0

    def __attrs_post_init__(self) -> None:
        currency = self.amount.currency
        if self.amount.amount <= 0:
            raise ValidationError.single("amount", "invoice.amount_positive", "must be > 0")
        if self.credited.currency != currency or any(
            a.amount.currency != currency for a in self.allocations
        ):
            raise ValidationError.single("allocations", "contracts.currency_mismatch", "currency")
        if any(a.amount.amount <= 0 for a in self.allocations) or self.credited.amount < 0:
            raise ValidationError.single("allocations", "field.negative", "must be > 0")
        if self.allocated + self.credited > self.amount:
            raise ValidationError(
                [FieldError("allocations", "receipt.insufficient_unapplied", "more than received")]
            )

    @property
    def currency(self) -> str:
        """The receipt's currency."""
        return self.amount.currency

    @property
    def allocated(self) -> Money:
        """The sum allocated to invoices."""
        return sum_money((a.amount for a in self.allocations), self.amount.currency)

    @property
    def unapplied(self) -> Money:
        """What is neither allocated nor moved to credit yet."""
        return self.amount - self.allocated - self.credited


def register_receipt(
    receipt_id: ReceiptId,
    customer_id: CustomerId,
    amount: Money,
    received_on: date,
    bank_reference: str,
    payer: str,
    now: datetime,
    actor: str,
    *,
    contract_id: ContractId | None = None,
) -> Receipt:
    """A newly registered receipt (amount > 0), waiting for finance to confirm it."""
    return Receipt(
        id=receipt_id,
        customer_id=customer_id,
        amount=amount,
        received_on=received_on,
        bank_reference=bank_reference,
        payer=payer,
        registered_at=now,
        registered_by=actor,
        contract_id=contract_id,
    )


def _transition(receipt: Receipt, trigger: str, allowed_from: ReceiptStatus) -> None:
    if receipt.status is not allowed_from:
        allowed = {
            ReceiptStatus.REGISTERED: ("confirm", "reverse"),
            ReceiptStatus.CONFIRMED: ("allocate", "reverse"),
        }.get(receipt.status, ())
        raise InvalidTransition("receipt", receipt.status.value, trigger, allowed)


def confirm_receipt(receipt: Receipt, now: datetime, actor: str) -> Receipt:
    """Finance confirms the money arrived: registered → confirmed."""
    _transition(receipt, "confirm", ReceiptStatus.REGISTERED)
    return attrs.evolve(
        receipt,
        status=ReceiptStatus.CONFIRMED,
        confirmed_at=now,
        confirmed_by=actor,
        updated_at=now,
    )


def _matches(receipt: Receipt, invoice: Invoice) -> None:
    if invoice.customer_id != receipt.customer_id:
        raise RuleViolation(
            f"invoice {invoice.id} is billed to {invoice.customer_id}, not {receipt.customer_id}",
            code="receipt.customer_mismatch",
            details={"customer_id": receipt.customer_id, "given": invoice.customer_id},
        )
    if invoice.currency != receipt.currency:
        raise currency_mismatch(
            f"invoice {invoice.id}", receipt.currency, invoice.currency, id=receipt.id
        )


def allocate(
    receipt: Receipt, invoice: Invoice, amount: Money, now: datetime, actor: str
) -> tuple[Receipt, Invoice]:
    """Allocate ``amount`` of a confirmed receipt to ``invoice``: ``(receipt, invoice)``.

    Refused: more than the invoice's outstanding (``receipt.over_allocation``), more than the
    receipt's unapplied amount (``receipt.insufficient_unapplied``), an unconfirmed receipt,
    another customer (``receipt.customer_mismatch``) or currency.
    """
    _transition(receipt, "allocate", ReceiptStatus.CONFIRMED)
    _matches(receipt, invoice)
    if amount > receipt.unapplied:
        raise RuleViolation(
            f"receipt {receipt.id} has {receipt.unapplied} unapplied; cannot allocate {amount}",
            code="receipt.insufficient_unapplied",
            details={
                "id": receipt.id,
                "unapplied": str(receipt.unapplied),
                "requested": str(amount),
            },
        )
    paid = record_payment(invoice, amount, now)
    entry = Allocation(invoice.id, amount, now, actor)
    return attrs.evolve(receipt, allocations=(*receipt.allocations, entry), updated_at=now), paid


def oldest_due_first(invoices: Sequence[Invoice]) -> list[int]:
    """Indexes of the open invoices, oldest due first (then issue date, then id)."""
    open_ones = [i for i, inv in enumerate(invoices) if outstanding(inv).amount > 0]
    return sorted(
        open_ones,
        key=lambda i: (
            invoices[i].due_date or date.max,
            invoices[i].issued_on or date.max,
            invoices[i].id,
        ),
    )


def surplus_to_credit(
    receipt: Receipt, credit: CustomerCredit, now: datetime, actor: str
) -> tuple[Receipt, CustomerCredit]:
    """Move the receipt's unapplied rest to the customer's credit: ``(receipt, credit)``."""
    _transition(receipt, "allocate", ReceiptStatus.CONFIRMED)
    rest = receipt.unapplied
    if rest.amount == 0:
        return receipt, credit
    deposited = deposit_credit(credit, receipt.customer_id, rest, receipt.id, now, actor)
    return attrs.evolve(receipt, credited=receipt.credited + rest, updated_at=now), deposited


def allocate_oldest_first(
    receipt: Receipt,
    invoices: Sequence[Invoice],
    credit: CustomerCredit,
    now: datetime,
    actor: str,
) -> tuple[Receipt, tuple[Invoice, ...], CustomerCredit]:
    """Allocate a confirmed receipt to ``invoices`` oldest due first; the rest becomes credit.

    Returns ``(receipt, invoices, credit)`` with ``invoices`` in the given order (the ones
    paid changed, the others as given). Every invoice must belong to the receipt's customer
    and currency; settled ones are skipped.
    """
    _transition(receipt, "allocate", ReceiptStatus.CONFIRMED)
    for invoice in invoices:
        _matches(receipt, invoice)
    result = list(invoices)
    for index in oldest_due_first(invoices):
        if receipt.unapplied.amount == 0:
            break
        amount = min(outstanding(result[index]), receipt.unapplied)
        receipt, result[index] = allocate(receipt, result[index], amount, now, actor)
    receipt, credit = surplus_to_credit(receipt, credit, now, actor)
    return receipt, tuple(result), credit


@attrs.frozen
class ReceiptReversal:
    """The document reversing a receipt (红冲/退回): what it undid, why, when and by whom."""

    id: ReversalId
    receipt_id: ReceiptId
    customer_id: CustomerId
    amount: Money
    allocations: tuple[Allocation, ...]
    credit_reversed: Money
    reason: str = attrs.field(validator=non_blank)
    at: datetime = attrs.field(validator=utc)
    by: str = attrs.field(validator=non_blank)
    version: int = 0


def reverse_receipt(
    receipt: Receipt,
    reversal_id: ReversalId,
    invoices: Sequence[Invoice],
    credit: CustomerCredit,
    reason: str,
    now: datetime,
    actor: str,
) -> tuple[ReceiptReversal, Receipt, tuple[Invoice, ...], CustomerCredit]:
    """Reverse a receipt: ``(reversal document, receipt marked reversed, invoices, credit)``.

    ``invoices`` must hold every invoice the receipt was allocated to (returned in the given
    order, those paid from it outstanding again). The credit it deposited is taken back out;
    when that credit was already used, ``receipt.credit_used`` (undo the use first).
    """
    if receipt.status is ReceiptStatus.REVERSED:
        raise InvalidTransition("receipt", receipt.status.value, "reverse", ())
    if not reason.strip():
        raise ValidationError.single("reason", "field.required", "a reason is required")
    result = list(invoices)
    where = {inv.id: i for i, inv in enumerate(result)}
    missing = sorted({a.invoice_id for a in receipt.allocations} - set(where))
    if missing:
        raise RuleViolation(
            f"pass the invoices {missing} to reverse receipt {receipt.id}",
            code="receipt.invoice_missing",
            details={"id": receipt.id, "missing": missing},
        )
    for allocation in receipt.allocations:
        index = where[allocation.invoice_id]
        result[index] = undo_payment(result[index], allocation.amount, now)
    if receipt.credited.amount > 0:
        if receipt.credited > credit.balance:
            raise RuleViolation(
                f"receipt {receipt.id} left {receipt.credited} as credit, "
                f"only {credit.balance} is unused",
                code="receipt.credit_used",
                details={
                    "id": receipt.id,
                    "credited": str(receipt.credited),
                    "balance": str(credit.balance),
                },
            )
        credit = withdraw_credit(
            credit,
            receipt.customer_id,
            receipt.credited,
            CreditEntryKind.REVERSAL,
            receipt.id,
            now,
            actor,
        )
    reversal = ReceiptReversal(
        id=reversal_id,
        receipt_id=receipt.id,
        customer_id=receipt.customer_id,
        amount=receipt.amount,
        allocations=receipt.allocations,
        credit_reversed=receipt.credited,
        reason=reason,
        at=now,
        by=actor,
    )
    reversed_receipt = attrs.evolve(
        receipt, status=ReceiptStatus.REVERSED, reversal_id=reversal_id, updated_at=now
    )
    return reversal, reversed_receipt, tuple(result), credit
