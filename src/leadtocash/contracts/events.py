"""Contract-to-cash events: what users subscribe to (approvals, signatures, invoices, cash).

Each event is written to the outbox in the commit of the change it reports and delivered at
least once by the relay; ``topic`` is the routing key and the i18n key of its text.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar

import attrs

from leadtocash.contracts.ids import ContractId, InvoiceId, QuoteId, ReceiptId, RefundId
from leadtocash.events import DomainEvent
from leadtocash.model import CustomerId, RepId
from leadtocash.money import Money

__all__ = [
    "ContractApprovalNeeded",
    "ContractCompleted",
    "ContractSigned",
    "ContractTerminated",
    "CreditRefunded",
    "InvoiceDueSoon",
    "InvoiceIssued",
    "InvoiceOverdue",
    "QuoteApprovalNeeded",
    "ReceiptConfirmed",
]


@attrs.frozen
class QuoteApprovalNeeded(DomainEvent):
    """A quote was submitted: its discount waits for an approver."""

    topic: ClassVar[str] = "quote.approval_needed"
    quote_id: QuoteId
    customer_id: CustomerId
    author_id: str
    total: Money
    discount: str


@attrs.frozen
class ContractApprovalNeeded(DomainEvent):
    """A contract (or an amendment of it, ``amendment_id``) waits for an approver."""

    topic: ClassVar[str] = "contract.approval_needed"
    contract_id: ContractId
    customer_id: CustomerId
    author_id: str
    amendment_id: str | None = None


@attrs.frozen
class ContractSigned(DomainEvent):
    """A contract was signed and is active."""

    topic: ClassVar[str] = "contract.signed"
    contract_id: ContractId
    customer_id: CustomerId
    owner_id: RepId | None
    total: Money


@attrs.frozen
class ContractCompleted(DomainEvent):
    """An active contract was completed."""

    topic: ClassVar[str] = "contract.completed"
    contract_id: ContractId
    customer_id: CustomerId
    owner_id: RepId | None


@attrs.frozen
class ContractTerminated(DomainEvent):
    """A contract was terminated early, with the reason."""

    topic: ClassVar[str] = "contract.terminated"
    contract_id: ContractId
    customer_id: CustomerId
    owner_id: RepId | None
    reason: str


@attrs.frozen
class InvoiceIssued(DomainEvent):
    """An invoice was issued (``color`` red: a correction of ``original_id``)."""

    topic: ClassVar[str] = "invoice.issued"
    invoice_id: InvoiceId
    contract_id: ContractId
    customer_id: CustomerId
    amount: Money
    color: str
    due_date: date | None = None
    original_id: InvoiceId | None = None


@attrs.frozen
class InvoiceDueSoon(DomainEvent):
    """Reminder before the due date: ``outstanding`` is due on ``due_date``."""

    topic: ClassVar[str] = "invoice.due_soon"
    invoice_id: InvoiceId
    customer_id: CustomerId
    owner_id: RepId | None
    outstanding: Money
    due_date: date


@attrs.frozen
class InvoiceOverdue(DomainEvent):
    """Reminder after the due date: ``outstanding`` was due on ``due_date`` and is unpaid."""

    topic: ClassVar[str] = "invoice.overdue"
    invoice_id: InvoiceId
    customer_id: CustomerId
    owner_id: RepId | None
    outstanding: Money
    due_date: date


@attrs.frozen
class ReceiptConfirmed(DomainEvent):
    """Finance confirmed a receipt: the money is in."""

    topic: ClassVar[str] = "receipt.confirmed"
    receipt_id: ReceiptId
    customer_id: CustomerId
    amount: Money
    received_on: date


@attrs.frozen
class CreditRefunded(DomainEvent):
    """Customer credit was paid back (退款): money left the company."""

    topic: ClassVar[str] = "credit.refunded"
    refund_id: RefundId
    customer_id: CustomerId
    amount: Money
