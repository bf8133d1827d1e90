"""Customer credit (预收/余款): a ledger per customer and currency, never negative.

What a receipt leaves after allocation is deposited here and can later pay invoices. Every
movement is an entry (deposit +, application −, release +, reversal −, refund −); the balance
is their sum and may never drop below zero. A use can be undone (:func:`release_credit`: the
invoice is outstanding again, the money back in the ledger) and credit can be paid back to
the customer (:func:`refund_credit`, 退款) with its own document. The ledger's id is derived
from customer and currency (:func:`credit_id`), so there is exactly one per pair.
"""

from __future__ import annotations

import enum
from datetime import datetime

import attrs

from leadtocash.contracts.checks import check_currency, currency_mismatch, sum_money
from leadtocash.contracts.ids import CreditId, RefundId
from leadtocash.contracts.invoices import Invoice, outstanding, record_payment, undo_payment
from leadtocash.errors import FieldError, RuleViolation, ValidationError
from leadtocash.model import CustomerId
from leadtocash.money import Money
from leadtocash.validators import non_blank, utc

__all__ = [
    "CreditEntry",
    "CreditEntryKind",
    "CreditRefund",
    "CustomerCredit",
    "applied_to",
    "apply_credit",
    "credit_id",
    "deposit_credit",
    "open_credit",
    "refund_credit",
    "release_credit",
    "withdraw_credit",
]


class CreditEntryKind(enum.StrEnum):
    """Movements of customer credit."""

    DEPOSIT = "deposit"
    APPLICATION = "application"
    RELEASE = "release"
    REVERSAL = "reversal"
    REFUND = "refund"


@attrs.frozen
class CreditEntry:
    """One movement: signed amount (+ deposit, − use), the document it came from, when, who."""

    kind: CreditEntryKind
    amount: Money
    source_id: str
    at: datetime = attrs.field(validator=utc)
    by: str


@attrs.frozen
class CustomerCredit:
    """The credit ledger of one customer in one currency."""

    id: CreditId
    customer_id: CustomerId
    currency: str = attrs.field(validator=check_currency)
    entries: tuple[CreditEntry, ...] = ()
    version: int = 0

    def __attrs_post_init__(self) -> None:
        if any(e.amount.currency != self.currency for e in self.entries):
            raise ValidationError.single("entries", "contracts.currency_mismatch", "wrong currency")
        if self.balance.amount < 0:
            raise ValidationError([FieldError("entries", "credit.insufficient", "balance < 0")])

    @property
    def balance(self) -> Money:
        """The credit available: the sum of all entries."""
        return sum_money((e.amount for e in self.entries), self.currency)


def credit_id(customer_id: CustomerId, currency: str) -> CreditId:
    """The id of the one credit ledger of ``customer_id`` in ``currency``."""
    return CreditId(f"{customer_id}/{currency}")


def open_credit(customer_id: CustomerId, currency: str) -> CustomerCredit:
    """An empty ledger (what a customer without credit has)."""
    return CustomerCredit(credit_id(customer_id, currency), customer_id, currency)


def _check(credit: CustomerCredit, customer_id: CustomerId, amount: Money) -> None:
    if amount.currency != credit.currency:
        raise currency_mismatch("amount", credit.currency, amount.currency, id=credit.id)
    if customer_id != credit.customer_id:
        raise RuleViolation(
            f"credit {credit.id} belongs to {credit.customer_id}, not {customer_id}",
            code="receipt.customer_mismatch",
            details={"customer_id": credit.customer_id, "given": customer_id},
        )


def deposit_credit(
    credit: CustomerCredit,
    customer_id: CustomerId,
    amount: Money,
    source_id: str,
    now: datetime,
    actor: str,
) -> CustomerCredit:
    """The ledger with ``amount`` (> 0) deposited from document ``source_id``."""
    _check(credit, customer_id, amount)
    if amount.amount <= 0:
        raise ValidationError.single("amount", "invoice.amount_positive", "must be > 0")
    entry = CreditEntry(CreditEntryKind.DEPOSIT, amount, source_id, now, actor)
    return attrs.evolve(credit, entries=(*credit.entries, entry))


def withdraw_credit(
    credit: CustomerCredit,
    customer_id: CustomerId,
    amount: Money,
    kind: CreditEntryKind,
    source_id: str,
    now: datetime,
    actor: str,
) -> CustomerCredit:
    """The ledger with ``amount`` (> 0) taken out; above the balance: ``credit.insufficient``."""
    _check(credit, customer_id, amount)
    if amount.amount <= 0:  # a negative withdrawal would create credit out of nothing
        raise ValidationError.single("amount", "invoice.amount_positive", "must be > 0")
    if amount > credit.balance:
        raise RuleViolation(
            f"credit {credit.id} holds {credit.balance}; cannot take {amount}",
            code="credit.insufficient",
            details={"id": credit.id, "balance": str(credit.balance), "requested": str(amount)},
        )
    entry = CreditEntry(kind, -amount, source_id, now, actor)
    return attrs.evolve(credit, entries=(*credit.entries, entry))


def apply_credit(
    credit: CustomerCredit,
    invoice: Invoice,
    now: datetime,
    actor: str,
    amount: Money | None = None,
) -> tuple[CustomerCredit, Invoice]:
    """Pay an invoice from credit: ``(ledger, invoice)``; default the most both allow.

    Refused: more than the balance (``credit.insufficient``), more than the invoice's
    outstanding (``receipt.over_allocation``), another customer or currency.
    """
    if amount is None:
        amount = min(credit.balance, outstanding(invoice))
    paid = record_payment(invoice, amount, now)
    used = withdraw_credit(
        credit, invoice.customer_id, amount, CreditEntryKind.APPLICATION, invoice.id, now, actor
    )
    return used, paid


def applied_to(credit: CustomerCredit, invoice_id: str) -> Money:
    """How much of this ledger currently pays ``invoice_id``: its uses less their releases."""
    moves = (
        e.amount
        for e in credit.entries
        if e.source_id == invoice_id
        and e.kind in (CreditEntryKind.APPLICATION, CreditEntryKind.RELEASE)
    )
    return -sum_money(moves, credit.currency)


def release_credit(
    credit: CustomerCredit,
    invoice: Invoice,
    now: datetime,
    actor: str,
    amount: Money | None = None,
) -> tuple[CustomerCredit, Invoice]:
    """Undo a use of credit on an invoice: ``(ledger, invoice)``; default all of it.

    The invoice is outstanding again by ``amount`` and the ledger holds it again. Refused:
    more than credit pays on that invoice (``credit.not_applied``), another customer or
    currency, a non-positive amount.
    """
    _check(credit, invoice.customer_id, Money(0, invoice.currency))
    applied = applied_to(credit, invoice.id)
    if amount is None:
        amount = applied
    else:
        _check(credit, invoice.customer_id, amount)
        if amount.amount <= 0:
            raise ValidationError.single("amount", "invoice.amount_positive", "must be > 0")
    if amount.amount == 0 or amount > applied:
        raise RuleViolation(
            f"credit {credit.id} pays {applied} of invoice {invoice.id}; cannot release {amount}",
            code="credit.not_applied",
            details={"id": credit.id, "invoice_id": invoice.id, "applied": str(applied)},
        )
    entry = CreditEntry(CreditEntryKind.RELEASE, amount, invoice.id, now, actor)
    return attrs.evolve(credit, entries=(*credit.entries, entry)), undo_payment(
        invoice, amount, now
    )


@attrs.frozen
class CreditRefund:
    """The document paying customer credit back (退款): how much, why, how, when, by whom."""

    id: RefundId
    customer_id: CustomerId
    amount: Money
    reason: str = attrs.field(validator=non_blank)
    at: datetime = attrs.field(validator=utc)
    by: str = attrs.field(validator=non_blank)
    method: str | None = None
    reference: str | None = None
    version: int = 0


def refund_credit(
    credit: CustomerCredit,
    refund_id: RefundId,
    amount: Money,
    reason: str,
    now: datetime,
    actor: str,
    *,
    method: str | None = None,
    reference: str | None = None,
) -> tuple[CreditRefund, CustomerCredit]:
    """Pay ``amount`` of a customer's credit back: ``(refund document, ledger)``.

    Refused: a blank reason, a non-positive amount, more than the balance
    (``credit.insufficient``), another currency. No cent is created or lost: the ledger
    falls by exactly the refund.
    """
    if not reason.strip():
        raise ValidationError.single("reason", "field.required", "a reason is required")
    after = withdraw_credit(
        credit, credit.customer_id, amount, CreditEntryKind.REFUND, refund_id, now, actor
    )
    refund = CreditRefund(
        refund_id, credit.customer_id, amount, reason, now, actor, method, reference
    )
    return refund, after
