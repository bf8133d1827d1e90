"""Invoices (发票), receipts (回款), allocation (核销), credit and reminders through the facade.

``crm.billing``: invoices are drafted against an active contract (reps and finance) and
issued by finance — the contract's invoiced counter enforces the ceiling (contracted, or
delivered by policy) on one aggregate — voided while drafts, and corrected by red invoices
(红字发票) that are drafted and issued in one step. Finance registers receipts, confirms them,
allocates them to the customer's open invoices oldest-due-first or explicitly (the surplus
becomes customer credit), applies credit later, and reverses a receipt with a reversal
document. Issuing an invoice schedules its payment reminders; :meth:`BillingService.due_reminders`
reads only the reminders that are due (an indexed range on the next reminder's date) and
sends each once per invoice and kind. :meth:`BillingService.overdue` is the overdue scan: an
indexed range over open invoices' due dates, whose cost grows with what is due.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date, timedelta
from typing import TypeVar

import attrs

from leadtocash.access import Action, Principal
from leadtocash.app.context import AppContext, Change
from leadtocash.app.documents import (
    CashPolicies,
    batch_size,
    guard_document,
    in_scope,
    index_ids,
    page_limit,
)
from leadtocash.app.unit_of_work import Page, UnitOfWork
from leadtocash.collision import check_not_merged
from leadtocash.contracts import (
    Contract,
    ContractId,
    CreditRefund,
    CustomerCredit,
    Invoice,
    InvoiceId,
    InvoiceKind,
    Receipt,
    ReceiptId,
    ReceiptReversal,
    ReceiptStatus,
    RefundId,
    ReversalId,
    allocate,
    apply_credit,
    business_date,
    confirm_receipt,
    credit_id,
    draft_invoice,
    draft_red_invoice,
    issue_invoice,
    issue_red_invoice,
    oldest_due_first,
    open_credit,
    outstanding,
    refund_credit,
    register_receipt,
    release_credit,
    reverse_receipt,
    void_invoice,
)
from leadtocash.contracts import surplus_to_credit as move_surplus
from leadtocash.contracts.events import (
    CreditRefunded,
    InvoiceDueSoon,
    InvoiceIssued,
    InvoiceOverdue,
    ReceiptConfirmed,
)
from leadtocash.contracts.reminders import (
    DueReminders,
    ReminderKind,
    advance_reminders,
    schedule_reminders,
)
from leadtocash.errors import (
    ConcurrencyConflict,
    InvalidTransition,
    RuleViolation,
    ValidationError,
)
from leadtocash.model import CustomerId
from leadtocash.money import Money

__all__ = ["BillingService", "ReminderReport"]

_log = logging.getLogger(__name__)


@attrs.frozen
class ReminderReport:
    """What one reminder sweep did: reminders sent (invoice id, kind), schedules closed."""

    sent: tuple[tuple[str, str], ...] = ()
    closed: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()


def _credit_change(before: CustomerCredit | None, after: CustomerCredit) -> list[Change]:
    if before is not None and before == after:
        return []
    return [Change("customer_credit", after.id, before, after)]


D = TypeVar("D")


@attrs.frozen
class BillingService:
    """Invoices, receipts, allocation, customer credit and payment reminders."""

    ctx: AppContext

    @property
    def policies(self) -> CashPolicies:
        """The organisation's policies in force (``crm.settings``: stored, audited)."""
        return self.ctx.settings.cash

    # -- shared steps -----------------------------------------------------------------------
    def _guard(
        self, uow: UnitOfWork, principal: Principal, kind: str, ident: str, customer_id: str,
        *, write: bool = True,
    ) -> None:  # fmt: skip
        guard_document(self.ctx, uow, principal, kind, ident, customer_id, write=write)

    def _ledger(self, uow: UnitOfWork, customer_id: str, currency: str) -> CustomerCredit | None:
        return uow.repository(CustomerCredit).find(credit_id(CustomerId(customer_id), currency))

    def _save_credit(
        self, uow: UnitOfWork, before: CustomerCredit | None, after: CustomerCredit
    ) -> list[Change]:
        changes = _credit_change(before, after)
        if changes:
            repo = uow.repository(CustomerCredit)
            if before is None:
                repo.add(after)
            else:
                repo.save(after)
        return changes

    def _today(self) -> date:
        return business_date(self.ctx.clock.now(), self.ctx.timezone)

    # -- invoices ---------------------------------------------------------------------------
    def draft_invoice(
        self,
        principal: Principal,
        contract_id: str,
        kind: InvoiceKind,
        amount: Money,
        *,
        milestone_id: str | None = None,
        tax: Money | None = None,
    ) -> Invoice:
        """A draft blue invoice against an active contract (optionally one milestone)."""

        def command(uow: UnitOfWork) -> tuple[Invoice, list[Change]]:
            contract = uow.repository(Contract).get(contract_id)
            self._guard(uow, principal, "contract", contract.id, contract.customer_id)
            invoice = draft_invoice(
                InvoiceId(self.ctx.ids.new_id("invoice")), contract, kind, amount,
                self.ctx.clock.now(), principal.user_id, tax=tax, milestone_id=milestone_id,
            )  # fmt: skip
            uow.repository(Invoice).add(invoice)
            return invoice, [Change("invoice", invoice.id, None, invoice)]

        return self.ctx.execute(principal, Action.INVOICE_DRAFT, command)

    def issue_invoice(
        self,
        principal: Principal,
        invoice_id: str,
        *,
        issued_on: date | None = None,
        number: str | None = None,
        due_date: date | None = None,
    ) -> Invoice:
        """Issue a draft (finance): the contract's invoiced sum grows, reminders are scheduled.

        Refused above the ceiling: ``invoice.over_contract`` / ``invoice.over_delivered``.
        """

        def command(uow: UnitOfWork) -> tuple[Invoice, list[Change]]:
            invoices, contracts = uow.repository(Invoice), uow.repository(Contract)
            invoice = invoices.get(invoice_id)
            contract = contracts.get(invoice.contract_id)
            self._guard(uow, principal, "invoice", invoice.id, invoice.customer_id)
            now = self.ctx.clock.now()
            issued, counted = issue_invoice(
                invoice, contract, self.policies.invoices, issued_on or self._today(), now,
                principal.user_id, number=number, due_date=due_date,
            )  # fmt: skip
            invoices.save(issued)
            contracts.save(counted)
            assert issued.due_date is not None  # issuing always sets one
            reminders = schedule_reminders(
                issued.id, issued.customer_id, issued.due_date, self.policies.reminders
            )
            uow.repository(DueReminders).add(reminders)
            uow.record(
                InvoiceIssued(
                    now, issued.id, issued.contract_id, issued.customer_id, issued.amount,
                    issued.color.value, issued.due_date,
                )
            )  # fmt: skip
            return issued, [
                Change("invoice", issued.id, invoice, issued),
                Change("contract", contract.id, contract, counted, f"invoice {issued.id} issued"),
            ]

        return self.ctx.execute(principal, Action.INVOICE_ISSUE, command)

    def void_invoice(self, principal: Principal, invoice_id: str, reason: str) -> Invoice:
        """Void a draft (作废), with the reason; issued invoices take a red invoice instead."""

        def command(uow: UnitOfWork) -> tuple[Invoice, list[Change]]:
            repo = uow.repository(Invoice)
            invoice = repo.get(invoice_id)
            self._guard(uow, principal, "invoice", invoice.id, invoice.customer_id)
            after = void_invoice(invoice, reason, self.ctx.clock.now(), principal.user_id)
            repo.save(after)
            return after, [Change("invoice", invoice.id, invoice, after, reason)]

        return self.ctx.execute(principal, Action.INVOICE_DRAFT, command)

    def red_invoice(
        self,
        principal: Principal,
        original_id: str,
        reason: str,
        *,
        amount: Money | None = None,
        issued_on: date | None = None,
        number: str | None = None,
    ) -> Invoice:
        """Issue a red invoice (红字发票) negating ``amount`` (default: all outstanding).

        The original keeps its amount and gains ``credited``; the contract's invoiced sum
        shrinks. More than outstanding is ``invoice.red_exceeds_outstanding``.
        """

        def command(uow: UnitOfWork) -> tuple[Invoice, list[Change]]:
            invoices, contracts = uow.repository(Invoice), uow.repository(Contract)
            original = invoices.get(original_id)
            contract = contracts.get(original.contract_id)
            self._guard(uow, principal, "invoice", original.id, original.customer_id)
            now = self.ctx.clock.now()
            ident = InvoiceId(self.ctx.ids.new_id("invoice"))
            draft = draft_red_invoice(
                original, ident, reason, now, principal.user_id, amount=amount
            )
            red, credited, counted = issue_red_invoice(
                draft, original, contract, issued_on or self._today(), now, principal.user_id,
                number=number,
            )  # fmt: skip
            invoices.add(red)
            invoices.save(credited)
            contracts.save(counted)
            uow.record(
                InvoiceIssued(
                    now, red.id, red.contract_id, red.customer_id, red.amount, red.color.value,
                    original_id=original.id,
                )
            )  # fmt: skip
            return red, [
                Change("invoice", red.id, None, red, reason),
                Change("invoice", original.id, original, credited, f"red invoice {red.id}"),
                Change("contract", contract.id, contract, counted, f"red invoice {red.id}"),
            ]

        return self.ctx.execute(principal, Action.INVOICE_ISSUE, command)

    # -- receipts ---------------------------------------------------------------------------
    def register_receipt(
        self,
        principal: Principal,
        customer_id: str,
        amount: Money,
        received_on: date,
        bank_reference: str,
        payer: str,
        *,
        contract_id: str | None = None,
    ) -> Receipt:
        """Register money received (finance); it waits for confirmation.

        A contract the payer named must be the customer's (``receipt.customer_mismatch``); a
        customer merged into another takes no new receipt (``customer.merged``).
        """

        def command(uow: UnitOfWork) -> tuple[Receipt, list[Change]]:
            ident = ReceiptId(self.ctx.ids.new_id("receipt"))
            customer = guard_document(self.ctx, uow, principal, "receipt", ident, customer_id,
                                      write=True)  # fmt: skip
            check_not_merged(customer)  # the company's money goes to the survivor
            if contract_id is not None:
                contract = uow.repository(Contract).get(contract_id)
                if contract.customer_id != customer.id:
                    raise RuleViolation(
                        f"contract {contract.id} belongs to {contract.customer_id}",
                        code="receipt.customer_mismatch",
                        details={"customer_id": contract.customer_id, "given": customer.id},
                    )
            receipt = register_receipt(
                ident, CustomerId(customer_id), amount, received_on, bank_reference, payer,
                self.ctx.clock.now(), principal.user_id,
                contract_id=None if contract_id is None else ContractId(contract_id),
            )  # fmt: skip
            uow.repository(Receipt).add(receipt)
            return receipt, [Change("receipt", receipt.id, None, receipt)]

        return self.ctx.execute(principal, Action.RECEIPT_REGISTER, command)

    def confirm_receipt(self, principal: Principal, receipt_id: str) -> Receipt:
        """Finance confirms the money arrived: registered → confirmed (``receipt.confirmed``)."""

        def command(uow: UnitOfWork) -> tuple[Receipt, list[Change]]:
            repo = uow.repository(Receipt)
            receipt = repo.get(receipt_id)
            self._guard(uow, principal, "receipt", receipt.id, receipt.customer_id)
            now = self.ctx.clock.now()
            after = confirm_receipt(receipt, now, principal.user_id)
            repo.save(after)
            uow.record(
                ReceiptConfirmed(now, after.id, after.customer_id, after.amount, after.received_on)
            )
            return after, [Change("receipt", receipt.id, receipt, after)]

        return self.ctx.execute(principal, Action.RECEIPT_CONFIRM, command)

    def allocate_receipt(
        self,
        principal: Principal,
        receipt_id: str,
        allocations: Mapping[str, Money] | None = None,
        *,
        surplus_to_credit: bool = True,
    ) -> Receipt:
        """Allocate (核销) a confirmed receipt; the rest becomes customer credit.

        Without ``allocations`` (invoice id → amount, applied in order) the receipt pays the
        customer's open invoices in its currency oldest due first. Refused: more than an
        invoice's outstanding (``receipt.over_allocation``), more than the receipt has left
        (``receipt.insufficient_unapplied``), another customer's invoice or currency.
        """

        def command(uow: UnitOfWork) -> tuple[Receipt, list[Change]]:
            receipts, invoices = uow.repository(Receipt), uow.repository(Invoice)
            receipt = receipts.get(receipt_id)
            self._guard(uow, principal, "receipt", receipt.id, receipt.customer_id)
            if receipt.status is not ReceiptStatus.CONFIRMED:
                allowed = ("confirm",) if receipt.status is ReceiptStatus.REGISTERED else ()
                raise InvalidTransition("receipt", receipt.status.value, "allocate", allowed)
            now, actor = self.ctx.clock.now(), principal.user_id
            plan = (
                dict(allocations) if allocations is not None else self._oldest_first(uow, receipt)
            )
            before: dict[str, Invoice] = {}
            current: dict[str, Invoice] = {}
            after = receipt
            for invoice_id, amount in plan.items():
                invoice = current.get(invoice_id) or invoices.get(invoice_id)
                before.setdefault(invoice_id, invoice)
                after, current[invoice_id] = allocate(after, invoice, amount, now, actor)
            ledger = self._ledger(uow, receipt.customer_id, receipt.currency)
            credit = ledger or open_credit(receipt.customer_id, receipt.currency)
            credit_after = credit
            if surplus_to_credit:
                after, credit_after = move_surplus(after, credit, now, actor)
            if after == receipt:
                return receipt, []
            receipts.save(after)
            changes = [Change("receipt", receipt.id, receipt, after)]
            for invoice_id, new in current.items():
                invoices.save(new)
                old = before[invoice_id]
                changes.append(Change("invoice", new.id, old, new, f"receipt {receipt.id}"))
            if credit_after != credit:
                changes += self._save_credit(uow, ledger, credit_after)
            return after, changes

        return self.ctx.execute(principal, Action.RECEIPT_ALLOCATE, command)

    def _oldest_first(self, uow: UnitOfWork, receipt: Receipt) -> dict[str, Money]:
        """How much of ``receipt`` each open invoice of its customer gets, oldest due first."""
        found = uow.repository(Invoice).whole_group("open_customer", receipt.customer_id)
        same = [i for i in found if i.currency == receipt.currency]
        plan: dict[str, Money] = {}
        left = receipt.unapplied
        for index in oldest_due_first(same):
            if left.amount == 0:
                break
            due = outstanding(same[index])
            take = due if due < left else left
            plan[same[index].id] = take
            left = left - take
        return plan

    def apply_credit(
        self, principal: Principal, invoice_id: str, *, amount: Money | None = None
    ) -> Invoice:
        """Pay an invoice from its customer's credit (default: as much as both allow).

        No credit (or more than it holds) is ``credit.insufficient``.
        """

        def command(uow: UnitOfWork) -> tuple[Invoice, list[Change]]:
            invoices = uow.repository(Invoice)
            invoice = invoices.get(invoice_id)
            self._guard(uow, principal, "invoice", invoice.id, invoice.customer_id)
            ledger = self._ledger(uow, invoice.customer_id, invoice.currency)
            credit = ledger or open_credit(invoice.customer_id, invoice.currency)
            if credit.balance.amount == 0:
                raise RuleViolation(
                    f"customer {invoice.customer_id} has no credit in {invoice.currency}",
                    code="credit.insufficient",
                    details={
                        "id": credit.id,
                        "balance": str(credit.balance),
                        "requested": str(amount or outstanding(invoice)),
                    },
                )
            used, paid = apply_credit(
                credit, invoice, self.ctx.clock.now(), principal.user_id, amount
            )
            invoices.save(paid)
            changes = [Change("invoice", paid.id, invoice, paid, "paid from customer credit")]
            return paid, changes + self._save_credit(uow, ledger, used)

        return self.ctx.execute(principal, Action.RECEIPT_ALLOCATE, command)

    def release_credit(
        self, principal: Principal, invoice_id: str, *, amount: Money | None = None
    ) -> Invoice:
        """Undo a use of customer credit on an invoice (default: all of it): the invoice is
        outstanding again and the ledger holds the money again, e.g. before reversing the
        receipt that left the credit. More than credit pays on it is ``credit.not_applied``."""

        def command(uow: UnitOfWork) -> tuple[Invoice, list[Change]]:
            invoices = uow.repository(Invoice)
            invoice = invoices.get(invoice_id)
            self._guard(uow, principal, "invoice", invoice.id, invoice.customer_id)
            ledger = self._ledger(uow, invoice.customer_id, invoice.currency)
            credit = ledger or open_credit(invoice.customer_id, invoice.currency)
            freed, unpaid = release_credit(
                credit, invoice, self.ctx.clock.now(), principal.user_id, amount
            )
            invoices.save(unpaid)
            changes = [Change("invoice", unpaid.id, invoice, unpaid, "customer credit released")]
            return unpaid, changes + self._save_credit(uow, ledger, freed)

        return self.ctx.execute(principal, Action.RECEIPT_ALLOCATE, command)

    def refund_credit(
        self,
        principal: Principal,
        customer_id: str,
        amount: Money,
        reason: str,
        *,
        method: str | None = None,
        reference: str | None = None,
    ) -> CreditRefund:
        """Pay customer credit back (退款) with a refund document (``credit.refunded``); the
        ledger falls by exactly ``amount``. More than the balance is ``credit.insufficient``."""

        def command(uow: UnitOfWork) -> tuple[CreditRefund, list[Change]]:
            self._guard(uow, principal, "customer_credit", customer_id, customer_id)
            ledger = self._ledger(uow, customer_id, amount.currency)
            credit = ledger or open_credit(CustomerId(customer_id), amount.currency)
            refund, after = refund_credit(
                credit, RefundId(self.ctx.ids.new_id("refund")), amount, reason,
                self.ctx.clock.now(), principal.user_id, method=method, reference=reference,
            )  # fmt: skip
            uow.repository(CreditRefund).add(refund)
            uow.record(CreditRefunded(refund.at, refund.id, refund.customer_id, refund.amount))
            changes = [Change("credit_refund", refund.id, None, refund, reason)]
            return refund, changes + self._save_credit(uow, ledger, after)

        return self.ctx.execute(principal, Action.CREDIT_REFUND, command)

    def refunds(
        self,
        principal: Principal,
        customer_id: str,
        *,
        after: tuple[str, str] | None = None,
        limit: int = 100,
    ) -> Page[CreditRefund]:
        """One page of a customer's credit refunds, oldest first."""
        return self._customer_page(principal, CreditRefund, "customer_credit", customer_id,
                                   after, limit)  # fmt: skip

    def reverse_receipt(
        self, principal: Principal, receipt_id: str, reason: str
    ) -> ReceiptReversal:
        """Reverse a receipt with a new document: its invoices are outstanding again and the
        credit it left is taken back (``receipt.credit_used`` when that credit was spent)."""

        def command(uow: UnitOfWork) -> tuple[ReceiptReversal, list[Change]]:
            receipts, invoices = uow.repository(Receipt), uow.repository(Invoice)
            receipt = receipts.get(receipt_id)
            self._guard(uow, principal, "receipt", receipt.id, receipt.customer_id)
            ids = sorted({a.invoice_id for a in receipt.allocations})
            before = invoices.get_many(list(ids))
            ledger = self._ledger(uow, receipt.customer_id, receipt.currency)
            credit = ledger or open_credit(receipt.customer_id, receipt.currency)
            reversal, reversed_receipt, after, credit_after = reverse_receipt(
                receipt, ReversalId(self.ctx.ids.new_id("reversal")), before, credit, reason,
                self.ctx.clock.now(), principal.user_id,
            )  # fmt: skip
            uow.repository(ReceiptReversal).add(reversal)
            receipts.save(reversed_receipt)
            changes = [
                Change("receipt_reversal", reversal.id, None, reversal, reason),
                Change("receipt", receipt.id, receipt, reversed_receipt, reason),
            ]
            for old, new in zip(before, after, strict=True):
                if old != new:
                    invoices.save(new)
                    changes.append(Change("invoice", new.id, old, new, f"reversal {reversal.id}"))
            if ledger is not None:
                changes += self._save_credit(uow, ledger, credit_after)
            return reversal, changes

        return self.ctx.execute(principal, Action.RECEIPT_REVERSE, command)

    # -- reminders --------------------------------------------------------------------------
    def due_reminders(self, principal: Principal, *, batch: int = 500) -> ReminderReport:
        """Send every payment reminder due today (a system sweep, ``cash.sweep``).

        Reads the ``next`` index of reminder schedules up to today in the organisation's
        time zone — only reminders that are due, however many invoices exist — and handles
        each in its own unit of work: ``invoice.due_soon`` before the due date,
        ``invoice.overdue`` after it, each once per invoice; paid invoices close their
        schedule silently. The schedule change is audited.
        """
        batch_size(batch, "batch")
        self.ctx.policy.check(principal, Action.CASH_SWEEP)
        today = self._today()
        below = (today + timedelta(days=1)).isoformat()
        sent, closed, skipped = [], [], []
        for invoice_id in index_ids(self.ctx, DueReminders, "next", below=below, page=batch):
            try:
                kind = self._remind_one(principal, invoice_id, today)
            except ConcurrencyConflict:
                skipped.append(invoice_id)
                continue
            if kind is None:
                closed.append(invoice_id)
            else:
                sent.append((invoice_id, kind.value))
        _log.info(
            "payment reminders: %d sent, %d closed, %d skipped",
            len(sent),
            len(closed),
            len(skipped),
        )
        return ReminderReport(tuple(sent), tuple(closed), tuple(skipped))

    def _remind_one(
        self, principal: Principal, invoice_id: str, today: date
    ) -> ReminderKind | None:
        def command(uow: UnitOfWork) -> tuple[ReminderKind | None, list[Change]]:
            schedules = uow.repository(DueReminders)
            schedule = schedules.get(invoice_id)
            invoice = uow.repository(Invoice).get(invoice_id)
            now = self.ctx.clock.now()
            left = outstanding(invoice)
            after, kind = advance_reminders(
                schedule, today, now, self.policies.reminders, still_open=left.amount > 0
            )
            if after == schedule:
                return None, []
            schedules.save(after)
            if kind is not None:
                contract = uow.repository(Contract).find(invoice.contract_id)
                owner = contract.owner_id if contract is not None else None
                event = InvoiceDueSoon if kind is ReminderKind.DUE_SOON else InvoiceOverdue
                uow.record(event(now, invoice.id, invoice.customer_id, owner, left,
                                 schedule.due_date))  # fmt: skip
            why = f"payment reminder: {kind.value}" if kind else "invoice settled: no reminder"
            return kind, [Change("due_reminders", invoice_id, schedule, after, why)]

        return self.ctx.execute(principal, Action.CASH_SWEEP, command)

    # -- reads ------------------------------------------------------------------------------
    def overdue(
        self,
        principal: Principal,
        on: date | None = None,
        *,
        after: tuple[str, str] | None = None,
        limit: int = 100,
    ) -> Page[Invoice]:
        """The overdue scan: open invoices due before ``on`` (default today), oldest due first.

        One range of the ``open_due`` index (set only while an invoice is issued or partly
        paid, valued by its due date), so the cost grows with what is overdue, not with the
        number of invoices. Invoices outside the caller's scope are left out of the page.
        """
        size, day = page_limit(limit), on or self._today()

        def query(uow: UnitOfWork) -> Page[Invoice]:
            page = uow.repository(Invoice).query(
                "open_due", below=day.isoformat(), after=after, limit=size
            )
            kept = in_scope(
                self.ctx, uow, principal, "invoice", page.items, lambda i: i.customer_id,
                lambda i: i.id,
            )  # fmt: skip
            return Page(tuple(kept), page.next_cursor)

        return self.ctx.read(principal, Action.INVOICE_READ, query)

    def get_invoice(self, principal: Principal, invoice_id: str) -> Invoice:
        """One invoice of a customer in the caller's read scope."""

        def query(uow: UnitOfWork) -> Invoice:
            invoice = uow.repository(Invoice).get(invoice_id)
            self._guard(uow, principal, "invoice", invoice.id, invoice.customer_id, write=False)
            return invoice

        return self.ctx.read(principal, Action.INVOICE_READ, query)

    def invoices(
        self,
        principal: Principal,
        *,
        customer_id: str | None = None,
        contract_id: str | None = None,
        after: tuple[str, str] | None = None,
        limit: int = 100,
    ) -> Page[Invoice]:
        """One page of the invoices of a contract or of a customer, oldest first."""
        size = page_limit(limit)
        if (customer_id is None) == (contract_id is None):
            raise ValidationError.single(
                "customer_id", "field.required", "give a customer or a contract"
            )

        def query(uow: UnitOfWork) -> Page[Invoice]:
            owner: str
            if contract_id is not None:
                contract = uow.repository(Contract).get(contract_id)
                owner, index, key = contract.customer_id, "contract", str(contract.id)
            else:
                assert customer_id is not None
                owner, index, key = customer_id, "customer", customer_id
            self._guard(uow, principal, "invoice", key, owner, write=False)
            return uow.repository(Invoice).query_group(index, key, after=after, limit=size)

        return self.ctx.read(principal, Action.INVOICE_READ, query)

    def get_receipt(self, principal: Principal, receipt_id: str) -> Receipt:
        """One receipt of a customer in the caller's read scope."""

        def query(uow: UnitOfWork) -> Receipt:
            receipt = uow.repository(Receipt).get(receipt_id)
            self._guard(uow, principal, "receipt", receipt.id, receipt.customer_id, write=False)
            return receipt

        return self.ctx.read(principal, Action.RECEIPT_READ, query)

    def receipts(
        self,
        principal: Principal,
        customer_id: str,
        *,
        after: tuple[str, str] | None = None,
        limit: int = 100,
    ) -> Page[Receipt]:
        """One page of a customer's receipts by date received."""
        return self._customer_page(principal, Receipt, "receipt", customer_id, after, limit)

    def _customer_page(
        self,
        principal: Principal,
        document: type[D],
        kind: str,
        customer_id: str,
        after: tuple[str, str] | None,
        limit: int,
    ) -> Page[D]:
        """One page of a customer's documents of one type, in their ``customer`` index order."""
        size = page_limit(limit)

        def query(uow: UnitOfWork) -> Page[D]:
            self._guard(uow, principal, kind, customer_id, customer_id, write=False)
            return uow.repository(document).query_group(
                "customer", customer_id, after=after, limit=size
            )

        return self.ctx.read(principal, Action.RECEIPT_READ, query)

    def credit(self, principal: Principal, customer_id: str, currency: str) -> CustomerCredit:
        """The customer's credit ledger in ``currency`` (empty when it has none)."""

        def query(uow: UnitOfWork) -> CustomerCredit:
            self._guard(uow, principal, "customer_credit", customer_id, customer_id, write=False)
            found = self._ledger(uow, customer_id, currency)
            return found or open_credit(CustomerId(customer_id), currency)

        return self.ctx.read(principal, Action.RECEIPT_READ, query)
