"""Random interleavings of the cash commands, through the facade, lose or create no fen.

The domain machine (``test_contracts_properties.py``) drives the pure functions. This one
drives ``crm.billing``, ``crm.contracts`` and ``crm.receivables`` on a store, as an app would:
two customers with a signed contract each; deliveries, invoices (drafted, issued, voided,
red), receipts (registered, confirmed, allocated, reversed), customer credit (applied,
released, refunded), contracts ending early and a merge of the two customers, as time
passes. After every step, read back from the store:

* every confirmed receipt is allocated or credited to the fen, and what the customers paid
  is what the invoices show paid (from receipts and credit), the credit balance and the
  refunds;
* each contract's invoiced sum is its issued invoices' (blue minus red), within its total;
* the receivables aging is the issued invoices' outstanding amounts;
* a customer has an active contract while one of its contracts runs, and after a merge
  every contract, invoice, receipt and credit entry is the survivor's;
* the audit log verifies, and a refused command changed nothing.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, rule

from command_machine import CommandMachine, stored
from contract_fixtures import cash_world, signed_contract
from leadtocash import CustomerId, Money
from leadtocash.contracts import (
    Contract,
    CreditRefund,
    CustomerCredit,
    Invoice,
    InvoiceColor,
    InvoiceKind,
    InvoiceStatus,
    Receipt,
    ReceiptStatus,
    outstanding,
)
from pool_fixtures import ADMIN, World

FINANCE = ADMIN
fen = st.integers(1, 300_000).map(lambda n: Money.from_minor_units(n, "CNY"))
which = st.integers(0, 1)


class CashLifecycle(CommandMachine):
    world: World

    @initialize()
    def setup(self) -> None:
        self.world, first, second = cash_world(customers=2)
        self.store = self.world.store
        self.customers = [first, second]
        self.contracts = [signed_contract(self.world, first).id,
                          signed_contract(self.world, second, rep=2).id]  # fmt: skip

    # -- reads ------------------------------------------------------------------------------------
    def invoices(self) -> list[Invoice]:
        return stored(self.world.crm, Invoice)

    def receipts(self) -> list[Receipt]:
        return stored(self.world.crm, Receipt)

    def contract(self, n: int) -> Contract:
        with self.world.crm.unit_of_work() as uow:
            return uow.repository(Contract).get(self.contracts[n])

    # -- delivery and invoices --------------------------------------------------------------------
    @rule(n=which)
    def deliver_everything(self, n: int) -> None:
        """Deliver what is left of every line, and accept it (the plan's second milestone)."""
        crm, contract = self.world.crm, self.contract(n)
        today = self.world.clock.now().date()
        done = {d.line_no: d.quantity for dl in contract.deliveries for d in dl.lines}
        left = {
            line.line_no: line.quantity - done.get(line.line_no, Decimal(0))
            for line in contract.lines
        }
        left = {no: qty for no, qty in left.items() if qty > 0}
        if left:
            delivered = self.attempt(
                "deliver", crm.contracts.record_delivery, ADMIN, contract.id, left, today
            )
            if delivered is not None:
                delivery = delivered.deliveries[-1].id
                crm.contracts.accept_delivery(ADMIN, contract.id, delivery, today)

    @rule(n=which, amount=fen, issue=st.booleans())
    def invoice(self, n: int, amount: Money, issue: bool) -> None:
        billing = self.world.crm.billing
        draft = self.attempt(
            "draft", billing.draft_invoice, FINANCE, self.contracts[n], InvoiceKind.ORDINARY, amount
        )
        if draft is not None and issue:
            self.attempt("issue", billing.issue_invoice, FINANCE, draft.id)

    @rule(data=st.data())
    def void(self, data: st.DataObject) -> None:
        drafts = [i.id for i in self.invoices() if i.status is InvoiceStatus.DRAFT]
        picked = self.pick(data, drafts)
        if picked is not None:
            self.attempt("void", self.world.crm.billing.void_invoice, FINANCE, picked, "typo")

    @rule(data=st.data(), part=st.none() | fen)
    def red(self, data: st.DataObject, part: Money | None) -> None:
        blue = [
            i.id for i in self.invoices()
            if i.color is InvoiceColor.BLUE and i.status is not InvoiceStatus.DRAFT
        ]  # fmt: skip
        picked = self.pick(data, blue)
        if picked is not None:
            billing = self.world.crm.billing
            self.attempt("red", billing.red_invoice, FINANCE, picked, "returned", amount=part)

    # -- receipts and credit ----------------------------------------------------------------------
    @rule(n=which, amount=fen, allocate=st.booleans())
    def receive(self, n: int, amount: Money, allocate: bool) -> None:
        billing, today = self.world.crm.billing, self.world.clock.now().date()
        receipt = self.attempt(
            "register", billing.register_receipt, FINANCE, self.customers[n], amount, today,
            "BANK-1", "客户",
        )  # fmt: skip
        if receipt is not None and self.attempt("confirm", billing.confirm_receipt, FINANCE,
                                                receipt.id) and allocate:  # fmt: skip
            self.attempt("allocate", billing.allocate_receipt, FINANCE, receipt.id)

    @rule(data=st.data())
    def reverse(self, data: st.DataObject) -> None:
        live = [r.id for r in self.receipts() if r.status is ReceiptStatus.CONFIRMED]
        picked = self.pick(data, live)
        if picked is not None:
            billing = self.world.crm.billing
            self.attempt("reverse", billing.reverse_receipt, FINANCE, picked, "bounced")

    @rule(data=st.data(), release=st.booleans())
    def credit(self, data: st.DataObject, release: bool) -> None:
        billing, invoices = self.world.crm.billing, self.invoices()
        if release:  # an invoice credit paid, else one with something outstanding
            eligible = [i.id for i in invoices if i.credited.amount > 0]
        else:
            eligible = [i.id for i in invoices if outstanding(i).amount > 0]
        picked = self.pick(data, eligible)
        if picked is not None:
            use = billing.release_credit if release else billing.apply_credit
            self.attempt("release credit" if release else "apply credit", use, FINANCE, picked)

    @rule(n=which, amount=fen)
    def refund(self, n: int, amount: Money) -> None:
        billing = self.world.crm.billing
        self.attempt("refund", billing.refund_credit, FINANCE, self.customers[n], amount, "asked")

    @rule()
    def merge(self) -> None:
        """The two customers are one company: the second is merged into the first (its
        documents and credit stay with it)."""
        first, second = self.customers
        self.attempt(
            "merge", self.world.crm.collisions.merge, ADMIN, first, second, "same company",
            prefer=CustomerId(first),
        )  # fmt: skip

    @rule(n=which)
    def end(self, n: int) -> None:
        """The contract ends early (its customer's contract facts follow)."""
        crm = self.world.crm
        self.attempt("terminate", crm.contracts.terminate, ADMIN, self.contracts[n], "cancelled")

    @rule(days=st.integers(1, 60))
    def time_passes(self, days: int) -> None:
        self.world.clock.advance(timedelta(days=days))

    # -- invariants -------------------------------------------------------------------------------
    @invariant()
    def not_one_fen_created_or_lost(self) -> None:
        receipts = [r for r in self.receipts() if r.status is not ReceiptStatus.REVERSED]
        confirmed = [r for r in receipts if r.status is ReceiptStatus.CONFIRMED]
        for receipt in confirmed:
            assert receipt.amount == receipt.allocated + receipt.credited + receipt.unapplied
        invoices = self.invoices()
        credits = stored(self.world.crm, CustomerCredit)
        refunds = stored(self.world.crm, CreditRefund)
        received = sum(r.amount.minor_units for r in confirmed)
        unapplied = sum(r.unapplied.minor_units for r in confirmed)
        paid = sum(i.paid.minor_units for i in invoices)
        balance = sum(c.balance.minor_units for c in credits)
        refunded = sum(r.amount.minor_units for r in refunds)
        assert received == paid + balance + refunded + unapplied

    @invariant()
    def contracts_invoice_what_their_invoices_say(self) -> None:
        issued = [i for i in self.invoices() if i.status is not InvoiceStatus.DRAFT
                  and i.status is not InvoiceStatus.VOID]  # fmt: skip
        for n, contract_id in enumerate(self.contracts):
            contract = self.contract(n)
            mine = [i.amount.minor_units for i in issued if i.contract_id == contract_id]
            assert contract.invoiced.minor_units == sum(mine), contract_id
            assert 0 <= contract.invoiced.minor_units <= contract.total.minor_units

    @invariant()
    def aging_is_the_outstanding_of_the_issued_invoices(self) -> None:
        today = self.world.clock.now().date()
        aging = self.world.crm.receivables.aging(FINANCE, today, "CNY")
        open_ = sum(outstanding(i).minor_units for i in self.invoices())
        assert aging.total.minor_units == open_

    @invariant()
    def customers_have_an_active_contract_while_the_companys_runs(self) -> None:
        with self.world.crm.unit_of_work() as uow:
            customers = [uow.customers.get(cid) for cid in self.customers]
        running = {c.customer_id for c in map(self.contract, (0, 1)) if c.status.value == "active"}
        for customer in customers:
            if customer.merged_into is None:  # an archive keeps the facts it was merged with
                assert customer.has_active_contract == (customer.id in running), customer.id

    @invariant()
    def the_cash_documents_are_the_companys(self) -> None:
        """A merge moves a duplicate's documents to the survivor: none names an archive."""
        with self.world.crm.unit_of_work() as uow:
            archived = {c.id for c in uow.customers.get_many(list(self.customers)) if c.merged_into}
        documents: list[Invoice | Receipt | Contract] = [
            *self.invoices(), *self.receipts(), *map(self.contract, (0, 1))
        ]  # fmt: skip
        assert not {d.customer_id for d in documents} & archived
        credit = stored(self.world.crm, CustomerCredit)
        assert all(not c.entries for c in credit if c.customer_id in archived)


TestCashLifecycle = CashLifecycle.TestCase
TestCashLifecycle.settings = settings(
    max_examples=max(10, settings().max_examples // 2), stateful_step_count=25, deadline=None
)
