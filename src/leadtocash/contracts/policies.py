"""The organisation's contract-to-cash policies as one value, stored in its settings."""

from __future__ import annotations

import attrs

from leadtocash.contracts.approvals import ApprovalPolicy
from leadtocash.contracts.invoices import InvoicePolicy
from leadtocash.contracts.quotes import QuotePolicy
from leadtocash.contracts.reminders import ReminderPolicy

__all__ = ["CashPolicies"]


@attrs.frozen
class CashPolicies:
    """The organisation's contract-to-cash policies (``OrganisationSettings.cash``).

    ``quotes``: discount threshold and approver roles of quotes; ``approvals``: approver roles
    of contracts and amendments; ``invoices``: the invoicing ceiling (contracted | delivered)
    and payment days; ``reminders``: days before and after the due date reminders go out.
    """

    quotes: QuotePolicy = attrs.field(factory=QuotePolicy)
    approvals: ApprovalPolicy = attrs.field(factory=ApprovalPolicy)
    invoices: InvoicePolicy = attrs.field(factory=InvoicePolicy)
    reminders: ReminderPolicy = attrs.field(factory=ReminderPolicy)
