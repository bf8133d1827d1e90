"""The invoice aggregate (发票): 普通/专用, blue or red, against a contract and a milestone.

A blue invoice is drafted, then issued (with a due date) or voided while still a draft; it is
then ``issued`` → ``partly_paid`` → ``paid`` as payments are allocated, or ``credited`` once red
invoices (红字发票) negated all of it. Issued invoices are never edited: a red invoice, itself a
new document with a negative amount and a reference to the original, negates a blue one fully
or partly (never more than its outstanding). Issuing updates the contract's ``invoiced``
counter (blue adds, red subtracts), so invoiced ≤ contracted (or ≤ delivered, by policy) is
checked on one aggregate. ``outstanding = amount − credited − paid``; overdue is derived from a
date: outstanding > 0 and ``due_date`` before it.
"""

from __future__ import annotations

import enum
from datetime import date, datetime, timedelta

import attrs

from leadtocash.contracts.checks import currency_mismatch, step
from leadtocash.contracts.contract import (
    Contract,
    ContractStatus,
    contract_tax,
    delivered_value,
    payment_plan,
)
from leadtocash.contracts.delivery import require_active
from leadtocash.contracts.ids import ContractId, InvoiceId
from leadtocash.errors import FieldError, RuleViolation, ValidationError
from leadtocash.model import CustomerId
from leadtocash.money import Money
from leadtocash.pipeline.machine import Edge, StageChange, StateTable
from leadtocash.validators import day_count, non_blank, utc

__all__ = [
    "INVOICE_TABLE",
    "OPEN_INVOICE_STATUSES",
    "Invoice",
    "InvoiceCeiling",
    "InvoiceColor",
    "InvoiceKind",
    "InvoicePolicy",
    "InvoiceStatus",
    "days_overdue",
    "draft_invoice",
    "draft_red_invoice",
    "is_overdue",
    "issue_invoice",
    "issue_red_invoice",
    "outstanding",
    "record_payment",
    "undo_payment",
    "void_invoice",
]


class InvoiceKind(enum.StrEnum):
    """Invoice type: ordinary (增值税普通发票) or special VAT (增值税专用发票, deductible)."""

    ORDINARY = "ordinary"
    SPECIAL = "special"


class InvoiceColor(enum.StrEnum):
    """Blue invoices bill; red invoices (红字发票) negate a blue one."""

    BLUE = "blue"
    RED = "red"


class InvoiceStatus(enum.StrEnum):
    """Invoice states; the payment states follow from the amounts."""

    DRAFT = "draft"
    ISSUED = "issued"
    PARTLY_PAID = "partly_paid"
    PAID = "paid"
    CREDITED = "credited"
    VOID = "void"


class InvoiceCeiling(enum.StrEnum):
    """What invoicing may not exceed: the contract total, or the value delivered so far."""

    CONTRACTED = "contracted"
    DELIVERED = "delivered"


#: Statuses in which an invoice can still be (partly) outstanding: what the overdue scan reads.
OPEN_INVOICE_STATUSES: frozenset[InvoiceStatus] = frozenset(
    {InvoiceStatus.ISSUED, InvoiceStatus.PARTLY_PAID}
)

#: The lifecycle table of the explicit triggers (payments and credits move between the others).
INVOICE_TABLE = StateTable(
    "invoice",
    [s.value for s in InvoiceStatus],
    [Edge("issue", "draft", "issued"), Edge("void", "draft", "void")],
    initial="draft",
)


@attrs.frozen
class InvoicePolicy:
    """The invoicing ceiling and the default payment term (days after issue) of invoices."""

    ceiling: InvoiceCeiling = InvoiceCeiling.CONTRACTED
    payment_days: int = attrs.field(default=30, validator=day_count)


@attrs.frozen
class Invoice:
    """An invoice against a contract; red ones carry a negative amount and ``original_id``."""

    id: InvoiceId
    contract_id: ContractId
    customer_id: CustomerId
    kind: InvoiceKind
    amount: Money
    tax: Money
    created_at: datetime = attrs.field(validator=utc)
    created_by: str = attrs.field(validator=non_blank)
    color: InvoiceColor = InvoiceColor.BLUE
    milestone_id: str | None = None
    original_id: InvoiceId | None = None
    number: str | None = None
    issued_on: date | None = None
    due_date: date | None = None
    paid: Money = attrs.field(
        default=attrs.Factory(lambda self: Money.zero(self.amount.currency), takes_self=True)
    )
    credited: Money = attrs.field(
        default=attrs.Factory(lambda self: Money.zero(self.amount.currency), takes_self=True)
    )
    status: InvoiceStatus = InvoiceStatus.DRAFT
    reason: str | None = None
    history: tuple[StageChange, ...] = ()
    updated_at: datetime | None = attrs.field(default=None, validator=utc)
    version: int = 0

    def __attrs_post_init__(self) -> None:
        problems = []
        currency = self.amount.currency
        for name in ("tax", "paid", "credited"):
            if getattr(self, name).currency != currency:
                problems.append(FieldError(name, "contracts.currency_mismatch", "wrong currency"))
        if problems:
            raise ValidationError(problems)
        red = self.color is InvoiceColor.RED
        if red and (self.amount.amount >= 0 or self.original_id is None):
            problems.append(
                FieldError(
                    "amount", "invoice.red_shape", "a red invoice is negative, on an original"
                )
            )
        if not red and self.amount.amount <= 0:
            problems.append(FieldError("amount", "invoice.amount_positive", "must be > 0"))
        if self.paid.amount < 0 or self.credited.amount < 0:
            problems.append(FieldError("paid", "field.negative", "must be >= 0"))
        elif not red and self.paid + self.credited > self.amount:
            problems.append(FieldError("paid", "invoice.overpaid", "paid + credited > amount"))
        elif red and (self.paid.amount or self.credited.amount):
            problems.append(FieldError("paid", "invoice.red_shape", "red invoices are not paid"))
        if problems:
            raise ValidationError(problems)

    @property
    def currency(self) -> str:
        """The invoice's currency (the contract's)."""
        return self.amount.currency

    @property
    def outstanding(self) -> Money:
        """What is still to be paid (zero unless issued blue and not settled)."""
        return outstanding(self)


def outstanding(invoice: Invoice) -> Money:
    """``amount − credited − paid`` of an issued blue invoice; zero for drafts, void and red."""
    if invoice.color is InvoiceColor.RED or invoice.status in (
        InvoiceStatus.DRAFT,
        InvoiceStatus.VOID,
    ):
        return Money.zero(invoice.currency)
    return invoice.amount - invoice.credited - invoice.paid


def is_overdue(invoice: Invoice, on: date) -> bool:
    """True when something is outstanding and the due date lies before ``on``."""
    return (
        invoice.due_date is not None and invoice.due_date < on and outstanding(invoice).amount > 0
    )


def days_overdue(invoice: Invoice, on: date) -> int:
    """Days past the due date on ``on`` (0 when not overdue)."""
    if not is_overdue(invoice, on) or invoice.due_date is None:
        return 0
    return (on - invoice.due_date).days


def _settled(invoice: Invoice) -> InvoiceStatus:
    left = invoice.amount - invoice.credited - invoice.paid
    if left.amount > 0:
        return InvoiceStatus.PARTLY_PAID if invoice.paid.amount > 0 else InvoiceStatus.ISSUED
    return InvoiceStatus.PAID if invoice.paid.amount > 0 else InvoiceStatus.CREDITED


def _require_blue_issued(invoice: Invoice, what: str) -> None:
    if invoice.color is InvoiceColor.RED or invoice.status in (
        InvoiceStatus.DRAFT,
        InvoiceStatus.VOID,
    ):
        raise RuleViolation(
            f"invoice {invoice.id} is a {invoice.color.value} {invoice.status.value} invoice; "
            f"cannot {what}",
            code="invoice.not_issued",
            details={"id": invoice.id, "status": invoice.status.value, "action": what},
        )


def _ceiling(contract: Contract, amount: Money, policy: InvoicePolicy) -> None:
    after = contract.invoiced + amount
    if after > contract.total:
        raise RuleViolation(
            f"invoicing {amount} would bring contract {contract.id} to {after}, "
            f"above the {contract.total} contracted",
            code="invoice.over_contract",
            details={
                "contract_id": contract.id,
                "contracted": str(contract.total),
                "invoiced": str(contract.invoiced),
                "requested": str(amount),
            },
        )
    if policy.ceiling is InvoiceCeiling.DELIVERED:
        delivered = delivered_value(contract)
        if after > delivered:
            raise RuleViolation(
                f"invoicing {amount} would bring contract {contract.id} to {after}, "
                f"above the {delivered} delivered",
                code="invoice.over_delivered",
                details={
                    "contract_id": contract.id,
                    "delivered": str(delivered),
                    "invoiced": str(contract.invoiced),
                    "requested": str(amount),
                },
            )


def draft_invoice(
    invoice_id: InvoiceId,
    contract: Contract,
    kind: InvoiceKind,
    amount: Money,
    now: datetime,
    actor: str,
    *,
    tax: Money | None = None,
    milestone_id: str | None = None,
) -> Invoice:
    """A draft blue invoice of ``amount`` against an active contract (optionally a milestone).

    The tax defaults to the contract's tax share: ``contract tax × amount / contract total``,
    rounded. Refused: a wrong currency (``contracts.currency_mismatch``), an unknown milestone
    (``invoice.unknown_milestone``), a contract that is not active.
    """
    require_active(contract, "invoice")
    if amount.currency != contract.currency:
        raise currency_mismatch("amount", contract.currency, amount.currency, id=invoice_id)
    if milestone_id is not None and milestone_id not in {m.id for m in payment_plan(contract)}:
        raise RuleViolation(
            f"contract {contract.id} has no milestone {milestone_id!r}",
            code="invoice.unknown_milestone",
            details={"contract_id": contract.id, "milestone_id": milestone_id},
        )
    if tax is None and contract.total.amount:
        share = amount.amount / contract.total.amount
        tax = Money(contract_tax(contract).amount * share, amount.currency)
    elif tax is None:  # a contract of zero total: nothing to take a share of
        tax = Money.zero(amount.currency)
    return Invoice(
        id=invoice_id,
        contract_id=contract.id,
        customer_id=contract.customer_id,
        kind=kind,
        amount=amount,
        tax=tax,
        created_at=now,
        created_by=actor,
        milestone_id=milestone_id,
        history=(StageChange(None, InvoiceStatus.DRAFT.value, "create", now, actor),),
    )


def _same_contract(invoice: Invoice, contract: Contract) -> None:
    if invoice.contract_id != contract.id:
        raise RuleViolation(
            f"invoice {invoice.id} belongs to contract {invoice.contract_id}, not {contract.id}",
            code="invoice.contract_mismatch",
            details={"id": invoice.id, "contract_id": invoice.contract_id, "given": contract.id},
        )


def issue_invoice(
    invoice: Invoice,
    contract: Contract,
    policy: InvoicePolicy,
    issued_on: date,
    now: datetime,
    actor: str,
    *,
    number: str | None = None,
    due_date: date | None = None,
) -> tuple[Invoice, Contract]:
    """Issue a draft blue invoice: ``(issued invoice, contract with invoiced increased)``.

    The due date is ``due_date`` if given, else its milestone's due date when known, else
    ``issued_on`` + the policy's payment days. Refused above the ceiling
    (``invoice.over_contract`` / ``invoice.over_delivered``) or for another contract.
    """
    INVOICE_TABLE.target(invoice.status.value, "issue")
    if invoice.color is InvoiceColor.RED:
        raise RuleViolation(
            "issue a red invoice with issue_red_invoice",
            code="invoice.not_blue",
            details={"id": invoice.id},
        )
    _same_contract(invoice, contract)
    require_active(contract, "invoice")
    if invoice.currency != contract.currency:
        raise currency_mismatch("amount", contract.currency, invoice.currency, id=invoice.id)
    _ceiling(contract, invoice.amount, policy)
    if due_date is None and invoice.milestone_id is not None:
        due_date = {m.id: m.due_date for m in payment_plan(contract)}.get(invoice.milestone_id)
    if due_date is None:
        due_date = issued_on + timedelta(days=policy.payment_days)
    issued = step(
        INVOICE_TABLE,
        invoice,
        "issue",
        now,
        actor,
        issued_on=issued_on,
        due_date=due_date,
        number=number or invoice.number,
    )
    counted = attrs.evolve(contract, invoiced=contract.invoiced + invoice.amount, updated_at=now)
    return issued, counted


def void_invoice(invoice: Invoice, reason: str, now: datetime, actor: str) -> Invoice:
    """Void a draft (作废); issued invoices are corrected by red invoices instead."""
    if not reason.strip():
        raise ValidationError.single("reason", "field.required", "a reason is required")
    return step(INVOICE_TABLE, invoice, "void", now, actor, reason, reason=reason)


def draft_red_invoice(
    original: Invoice,
    red_id: InvoiceId,
    reason: str,
    now: datetime,
    actor: str,
    *,
    amount: Money | None = None,
) -> Invoice:
    """A draft red invoice negating ``amount`` (default: all outstanding) of a blue invoice.

    ``amount`` is the positive sum to negate; the red invoice stores it negated, with the tax
    negated in proportion (exactly the original's tax when negating all of it).
    """
    _require_blue_issued(original, "be credited")
    if not reason.strip():
        raise ValidationError.single("reason", "field.required", "a reason is required")
    magnitude = outstanding(original) if amount is None else amount
    if magnitude.currency != original.currency:
        raise currency_mismatch("amount", original.currency, magnitude.currency, id=red_id)
    if magnitude.amount <= 0:
        raise ValidationError.single("amount", "invoice.amount_positive", "must be > 0")
    _red_fits(original, magnitude)
    if magnitude == original.amount:
        tax = original.tax
    else:
        tax = Money(
            original.tax.amount * magnitude.amount / original.amount.amount, magnitude.currency
        )
    return Invoice(
        id=red_id,
        contract_id=original.contract_id,
        customer_id=original.customer_id,
        kind=original.kind,
        amount=-magnitude,
        tax=-tax,
        created_at=now,
        created_by=actor,
        color=InvoiceColor.RED,
        milestone_id=original.milestone_id,
        original_id=original.id,
        reason=reason,
        history=(StageChange(None, InvoiceStatus.DRAFT.value, "create", now, actor, reason),),
    )


def _red_fits(original: Invoice, magnitude: Money) -> None:
    left = outstanding(original)
    if magnitude > left:
        raise RuleViolation(
            f"invoice {original.id} has {left} outstanding; cannot negate {magnitude}",
            code="invoice.red_exceeds_outstanding",
            details={"id": original.id, "outstanding": str(left), "requested": str(magnitude)},
        )


def issue_red_invoice(
    red: Invoice,
    original: Invoice,
    contract: Contract,
    issued_on: date,
    now: datetime,
    actor: str,
    *,
    number: str | None = None,
) -> tuple[Invoice, Invoice, Contract]:
    """Issue a red invoice: ``(red issued, original credited, contract with invoiced reduced)``.

    The original is never edited beyond its ``credited`` sum and derived status; refused when
    the red amount exceeds what is still outstanding on it (``invoice.red_exceeds_outstanding``).
    """
    INVOICE_TABLE.target(red.status.value, "issue")
    if red.color is not InvoiceColor.RED or red.original_id != original.id:
        raise RuleViolation(
            f"invoice {red.id} is not a red invoice of {original.id}",
            code="invoice.not_blue",
            details={"id": red.id, "original_id": original.id},
        )
    _require_blue_issued(original, "be credited")
    _same_contract(original, contract)
    if contract.status in (ContractStatus.DRAFT, ContractStatus.PENDING_APPROVAL):
        require_active(contract, "credit an invoice")
    magnitude = -red.amount
    _red_fits(original, magnitude)
    issued = step(
        INVOICE_TABLE,
        red,
        "issue",
        now,
        actor,
        issued_on=issued_on,
        number=number or red.number,
    )
    credited = attrs.evolve(original, credited=original.credited + magnitude, updated_at=now)
    credited = attrs.evolve(credited, status=_settled(credited))
    counted = attrs.evolve(contract, invoiced=contract.invoiced - magnitude, updated_at=now)
    return issued, credited, counted


def record_payment(invoice: Invoice, amount: Money, now: datetime) -> Invoice:
    """The invoice with ``amount`` more paid (from a receipt or customer credit).

    Refused: not an issued blue invoice (``invoice.not_issued``), a wrong currency, more than
    outstanding (``receipt.over_allocation``).
    """
    _require_blue_issued(invoice, "be paid")
    if amount.currency != invoice.currency:
        raise currency_mismatch("amount", invoice.currency, amount.currency, id=invoice.id)
    if amount.amount <= 0:
        raise ValidationError.single("amount", "invoice.amount_positive", "must be > 0")
    left = outstanding(invoice)
    if amount > left:
        raise RuleViolation(
            f"invoice {invoice.id} has {left} outstanding; cannot allocate {amount}",
            code="receipt.over_allocation",
            details={"invoice_id": invoice.id, "outstanding": str(left), "requested": str(amount)},
        )
    paid = attrs.evolve(invoice, paid=invoice.paid + amount, updated_at=now)
    return attrs.evolve(paid, status=_settled(paid))


def undo_payment(invoice: Invoice, amount: Money, now: datetime) -> Invoice:
    """The invoice with ``amount`` of its payments undone (receipt reversed): outstanding again."""
    if amount > invoice.paid:
        raise ValidationError.single("amount", "invoice.overpaid", "more than was paid")
    unpaid = attrs.evolve(invoice, paid=invoice.paid - amount, updated_at=now)
    return attrs.evolve(unpaid, status=_settled(unpaid))
