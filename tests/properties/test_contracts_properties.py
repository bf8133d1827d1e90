"""Properties of contract to cash: exact quote totals and plans, aging partitions, and a state
machine over quote → contract → deliveries → invoices (incl. red) → receipts (incl. reversals
and credit) in which not one minor unit is created or lost."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from leadtocash.access import Principal, Role
from leadtocash.contracts import (
    AgingBucket,
    AmendmentId,
    ApprovalPolicy,
    ContractId,
    CustomerCredit,
    DeliveryId,
    Invoice,
    InvoiceColor,
    InvoiceId,
    InvoiceKind,
    InvoicePolicy,
    InvoiceStatus,
    LineInput,
    MilestoneBasis,
    MilestoneSpec,
    QuoteId,
    QuotePolicy,
    Receipt,
    ReceiptId,
    ReceiptStatus,
    RefundId,
    ReversalId,
    accept_delivery,
    accept_quote,
    aging,
    allocate,
    allocate_oldest_first,
    applied_to,
    apply_credit,
    approve_amendment,
    approve_contract,
    build_plan,
    collection_forecast,
    confirm_receipt,
    contract_from_quote,
    delivered_quantities,
    deposit_credit,
    draft_invoice,
    draft_quote,
    draft_red_invoice,
    effective_lines,
    issue_invoice,
    issue_red_invoice,
    open_credit,
    outstanding,
    payment_plan,
    price_lines,
    propose_amendment,
    record_delivery,
    refund_credit,
    register_receipt,
    reject_amendment,
    release_credit,
    reverse_receipt,
    roll_up,
    send_quote,
    sign_contract,
    submit_contract,
    withdraw_credit,
)
from leadtocash.contracts.credit import CreditEntryKind
from leadtocash.errors import LeadToCashError, RuleViolation
from leadtocash.model import CustomerId
from leadtocash.money import Money
from leadtocash.testing.strategies import amendment_proposals

NOW = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)
CUSTOMER = CustomerId("cust")
RATES = st.sampled_from([Decimal("0.13"), Decimal("0.09"), Decimal("0.06"), Decimal(0)])
percent = st.integers(0, 40).map(lambda n: Decimal(n) / 100)
line_inputs = st.builds(
    lambda qty, fen, rate, discount: LineInput(
        Decimal(qty), description="line", unit_price=Money.from_minor_units(fen, "CNY"),
        tax_rate=rate, discount_rate=discount,
    ),
    st.integers(1, 5), st.integers(0, 2_000_000), RATES, percent,
)  # fmt: skip


def fen(money: Money) -> int:
    return money.minor_units


@given(st.lists(line_inputs, min_size=1, max_size=8), percent, st.booleans())
def test_quote_lines_add_up_to_the_quote_exactly(
    inputs: list[LineInput], discount: Decimal, inclusive: bool
) -> None:
    quote = draft_quote(QuoteId("q"), CUSTOMER, "a", "CNY", inputs, {}, NOW,
                        tax_inclusive=inclusive, discount_rate=discount)  # fmt: skip
    price = quote.price
    assert sum(fen(p.total) for p in price.lines) == fen(price.total)
    assert sum(fen(p.tax) for p in price.lines) == fen(price.tax)
    assert fen(price.net) + fen(price.tax) == fen(price.total)
    after = [fen(p.gross) - fen(p.line_discount) for p in price.lines]
    shares = sum(fen(p.quote_discount) for p in price.lines)
    assert shares == fen(Money.from_minor_units(sum(after), "CNY").times(discount))
    assert all(p.total.amount >= 0 and p.net.amount >= 0 for p in price.lines)
    again = price_lines(quote.lines, "CNY", tax_inclusive=inclusive, discount_rate=discount)
    assert again == price


@st.composite
def percentages(draw: st.DrawFn) -> list[int]:
    cuts = sorted(draw(st.lists(st.integers(0, 100), max_size=6)))
    points = [0, *cuts, 100]
    return [b - a for a, b in itertools.pairwise(points)]


@given(st.integers(0, 10**12), percentages())
def test_plans_sum_exactly_and_each_milestone_is_within_one_fen(
    total_fen: int, parts: list[int]
) -> None:
    total = Money.from_minor_units(total_fen, "CNY")
    specs = [MilestoneSpec(f"m{i}", percent=Decimal(p), due_date=date(2024, 4, 1))
             for i, p in enumerate(parts)]  # fmt: skip
    plan = build_plan(total, specs)
    assert sum(fen(m.amount) for m in plan) == total_fen
    for milestone, p in zip(plan, parts, strict=True):
        assert abs(Decimal(fen(milestone.amount)) - Decimal(total_fen) * p / 100) < 1


@given(st.lists(st.tuples(st.booleans(), st.integers(1, 10_000)), max_size=30))
def test_credit_is_never_negative_and_is_the_sum_of_its_entries(
    moves: list[tuple[bool, int]],
) -> None:
    credit = open_credit(CUSTOMER, "CNY")
    balance = 0
    for deposit, units in moves:
        amount = Money.from_minor_units(units, "CNY")
        if deposit:
            credit = deposit_credit(credit, CUSTOMER, amount, "r", NOW, "f")
            balance += units
        elif units > balance:
            with pytest.raises(RuleViolation) as refused:
                withdraw_credit(credit, CUSTOMER, amount, CreditEntryKind.REVERSAL, "r", NOW, "f")
            assert refused.value.code == "credit.insufficient"
        else:
            credit = withdraw_credit(credit, CUSTOMER, amount, CreditEntryKind.REVERSAL, "r", NOW,
                                     "f")  # fmt: skip
            balance -= units
        assert fen(credit.balance) == balance == sum(fen(e.amount) for e in credit.entries) >= 0


def _bucket_by_days(days: int) -> AgingBucket:
    """The aging buckets written as day ranges: (…, 0], [1, 30], [31, 60], [61, 90], [91, …)."""
    for bucket, last in ((AgingBucket.NOT_DUE, 0), (AgingBucket.DAYS_0_30, 30),
                         (AgingBucket.DAYS_31_60, 60), (AgingBucket.DAYS_61_90, 90)):  # fmt: skip
        if days <= last:
            return bucket
    return AgingBucket.DAYS_90_PLUS


POLICY = ApprovalPolicy()
MANAGER = Principal("mary", roles=frozenset({Role.ZONE_MANAGER}))


class ContractToCash(RuleBasedStateMachine):
    """One customer, one contract: deliveries, invoices, reds, receipts, credit and reversals."""

    def __init__(self) -> None:
        super().__init__()
        self.n = 0
        self.today = date(2024, 3, 5)
        self.invoices: dict[InvoiceId, Invoice] = {}
        self.receipts: dict[ReceiptId, Receipt] = {}
        self.credit: CustomerCredit = open_credit(CUSTOMER, "CNY")
        self.refunded = 0  # fen paid back to the customer

    def next_id(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}-{self.n}"

    @initialize(lines=st.lists(line_inputs, min_size=1, max_size=4), discount=percent)
    def sign(self, lines: list[LineInput], discount: Decimal) -> None:
        quote = draft_quote(QuoteId("q"), CUSTOMER, "alice", "CNY", lines, {}, NOW,
                            discount_rate=discount)  # fmt: skip
        accepted = accept_quote(send_quote(quote, QuotePolicy(discount_threshold=Decimal(1)), NOW,
                                           "alice"), NOW, "customer")  # fmt: skip
        plan = [
            MilestoneSpec("a", percent=Decimal(30), due_date=date(2024, 3, 20)),
            MilestoneSpec("b", percent=Decimal(60), basis=MilestoneBasis.FIRST_DELIVERY,
                          days_after_delivery=10),
            MilestoneSpec("c", percent=Decimal(10), basis=MilestoneBasis.FULL_DELIVERY),
        ]  # fmt: skip
        contract = contract_from_quote(accepted, ContractId("c"), NOW, "alice", plan=plan)
        contract = approve_contract(submit_contract(contract, NOW, "alice"), POLICY, MANAGER,
                                    "ok", NOW)  # fmt: skip
        self.contract = sign_contract(contract, NOW, NOW, "alice")
        self.contracted = accepted.total  # the quote's total, then each approved amendment's

    @rule(data=st.data(), approve=st.booleans())
    def amend(self, data: st.DataObject, approve: bool) -> None:
        """A supplementary agreement from the library's strategy: proposed, then approved or
        rejected; refused (changing nothing) when it would leave a line below what was
        delivered, anything negative, or the total below what was invoiced."""
        lines = len(effective_lines(self.contract))
        description, changes, milestones = data.draw(amendment_proposals("CNY", lines))
        ident = AmendmentId(self.next_id("a"))

        def act() -> None:
            proposed = propose_amendment(
                self.contract, ident, description, changes, milestones, NOW, "alice"
            )
            decide = approve_amendment if approve else reject_amendment
            self.contract = decide(proposed, ident, POLICY, MANAGER, "ok", NOW)

        if self.refused(act) and approve:
            self.contracted += self.contract.amendments[-1].delta

    def refused(self, call: Any, code: str | None = None) -> bool:
        """Run ``call`` on the world; a refusal must change nothing. True when it succeeded."""
        before = (self.contract, dict(self.invoices), dict(self.receipts), self.credit)
        found: LeadToCashError | None = None
        try:
            call()
        except LeadToCashError as error:
            found = error
        if found is None:
            return True
        assert code is None or found.code == code, found
        assert (self.contract, self.invoices, self.receipts, self.credit) == before
        return False

    @rule(days=st.integers(0, 40))
    def time_passes(self, days: int) -> None:
        self.today += timedelta(days=days)

    @rule(data=st.data())
    def deliver(self, data: st.DataObject) -> None:
        lines = effective_lines(self.contract)
        line = data.draw(st.sampled_from(lines))
        done = delivered_quantities(self.contract).get(line.line_no, Decimal(0))
        qty = Decimal(data.draw(st.integers(1, 6)))
        over = done + qty > line.quantity

        def act() -> None:
            self.contract = record_delivery(self.contract, DeliveryId(self.next_id("d")),
                                            {line.line_no: qty}, self.today, NOW, "w")  # fmt: skip

        assert self.refused(act, "contract.over_delivery") is not over

    @rule(data=st.data())
    def accept(self, data: st.DataObject) -> None:
        pending = [d for d in self.contract.deliveries if d.accepted_on is None]
        if pending:
            delivery = data.draw(st.sampled_from(pending))
            self.contract = accept_delivery(self.contract, delivery.id, self.today, NOW, "c")

    @rule(fen_amount=st.integers(1, 5_000_000), kind=st.sampled_from(InvoiceKind))
    def invoice(self, fen_amount: int, kind: InvoiceKind) -> None:
        amount = Money.from_minor_units(fen_amount, "CNY")
        over = self.contract.invoiced + amount > self.contract.total
        draft = draft_invoice(InvoiceId(self.next_id("i")), self.contract, kind, amount, NOW, "f")

        def act() -> None:
            inv, self.contract = issue_invoice(draft, self.contract, InvoicePolicy(), self.today,
                                               NOW, "f")  # fmt: skip
            self.invoices[inv.id] = inv

        assert self.refused(act, "invoice.over_contract") is not over

    def blue_open(self) -> list[Invoice]:
        return [i for i in self.invoices.values() if outstanding(i).amount > 0]

    @precondition(lambda self: self.blue_open())
    @rule(data=st.data(), extra=st.integers(-(10**6), 10))
    def red(self, data: st.DataObject, extra: int) -> None:
        original = data.draw(st.sampled_from(self.blue_open()))
        amount = outstanding(original) + Money.from_minor_units(extra, "CNY")
        if amount.amount <= 0:
            return

        def act() -> None:
            red = draft_red_invoice(original, InvoiceId(self.next_id("r")), "fix", NOW, "f",
                                    amount=amount)  # fmt: skip
            red, blue, self.contract = issue_red_invoice(red, original, self.contract, self.today,
                                                         NOW, "f")  # fmt: skip
            self.invoices[red.id] = red
            self.invoices[blue.id] = blue

        assert self.refused(act, "invoice.red_exceeds_outstanding") is (extra <= 0)

    @rule(fen_amount=st.integers(1, 5_000_000))
    def receive(self, fen_amount: int) -> None:
        receipt = register_receipt(ReceiptId(self.next_id("p")), CUSTOMER,
                                   Money.from_minor_units(fen_amount, "CNY"), self.today, "bank",
                                   "payer", NOW, "f")  # fmt: skip
        receipt = confirm_receipt(receipt, NOW, "finance")
        ids = list(self.invoices)
        receipt, paid, self.credit = allocate_oldest_first(
            receipt, [self.invoices[i] for i in ids], self.credit, NOW, "f"
        )
        self.invoices.update(zip(ids, paid, strict=True))
        self.receipts[receipt.id] = receipt

    @precondition(lambda self: self.blue_open())
    @rule(data=st.data())
    def over_allocate(self, data: st.DataObject) -> None:
        target = data.draw(st.sampled_from(self.blue_open()))
        too_much = outstanding(target) + Money.from_minor_units(1, "CNY")
        receipt = confirm_receipt(register_receipt(ReceiptId("x"), CUSTOMER, too_much, self.today,
                                                   "b", "p", NOW, "f"), NOW, "f")  # fmt: skip
        self.refused(lambda: allocate(receipt, target, too_much, NOW, "f"),
                     "receipt.over_allocation")  # fmt: skip

    @precondition(lambda self: self.blue_open() and self.credit.balance.amount > 0)
    @rule(data=st.data())
    def use_credit(self, data: st.DataObject) -> None:
        target = data.draw(st.sampled_from(self.blue_open()))
        self.credit, paid = apply_credit(self.credit, target, NOW, "f")
        self.invoices[paid.id] = paid

    @precondition(lambda self: any(applied_to(self.credit, i).amount > 0 for i in self.invoices))
    @rule(data=st.data(), part=st.integers(-1, 10**6))
    def release(self, data: st.DataObject, part: int) -> None:
        """Undo a use of credit (all of it, or ``part`` fen): refused beyond what was used."""
        used = [i for i in self.invoices if applied_to(self.credit, i).amount > 0]
        target = self.invoices[data.draw(st.sampled_from(used))]
        amount = None if part < 0 else Money.from_minor_units(part, "CNY")
        over = amount is not None and amount > applied_to(self.credit, target.id)

        def act() -> None:
            self.credit, self.invoices[target.id] = release_credit(
                self.credit, target, NOW, "f", amount
            )

        done = self.refused(act)
        assert done is (not over and part != 0)

    @rule(fen_amount=st.integers(1, 5_000_000))
    def refund(self, fen_amount: int) -> None:
        """Pay credit back: refused above the balance; the ledger falls by exactly the refund."""
        amount = Money.from_minor_units(fen_amount, "CNY")
        over = amount > self.credit.balance

        def act() -> None:
            refund, self.credit = refund_credit(
                self.credit, RefundId(self.next_id("f")), amount, "customer asked", NOW, "f"
            )
            self.refunded += fen(refund.amount)

        assert self.refused(act, "credit.insufficient" if over else None) is not over

    @precondition(
        lambda self: any(r.status is not ReceiptStatus.REVERSED for r in self.receipts.values())
    )
    @rule(data=st.data())
    def reverse(self, data: st.DataObject) -> None:
        live = [r for r in self.receipts.values() if r.status is not ReceiptStatus.REVERSED]
        receipt = data.draw(st.sampled_from(live))

        def act() -> None:
            ids = list(self.invoices)
            _, gone, invoices, self.credit = reverse_receipt(
                receipt, ReversalId(self.next_id("v")), [self.invoices[i] for i in ids],
                self.credit, "bounced", NOW, "f",
            )  # fmt: skip
            self.invoices.update(zip(ids, invoices, strict=True))
            self.receipts[gone.id] = gone

        self.refused(act, "receipt.credit_used")

    # -- invariants -----------------------------------------------------------------------

    def issued(self) -> list[Invoice]:
        return [i for i in self.invoices.values() if i.status is not InvoiceStatus.DRAFT]

    @invariant()
    def allocated_within_invoiced_within_contracted(self) -> None:
        invoiced = sum(fen(i.amount) for i in self.issued())
        paid = sum(fen(i.paid) for i in self.issued())
        assert invoiced == fen(self.contract.invoiced)
        assert 0 <= paid <= invoiced <= fen(self.contract.total) == fen(self.contracted)

    @invariant()
    def nothing_negative(self) -> None:
        assert all(outstanding(i).amount >= 0 for i in self.invoices.values())
        assert self.credit.balance.amount >= 0
        for invoice in self.invoices.values():
            if invoice.color is InvoiceColor.BLUE:
                assert fen(invoice.paid) + fen(invoice.credited) <= fen(invoice.amount)

    @invariant()
    def not_one_fen_created_or_lost(self) -> None:
        live = [r for r in self.receipts.values() if r.status is not ReceiptStatus.REVERSED]
        received = sum(fen(r.amount) for r in live)
        assert all(fen(r.unapplied) == 0 for r in live)
        assert received == sum(fen(r.allocated) + fen(r.credited) for r in live)
        used = (CreditEntryKind.APPLICATION, CreditEntryKind.RELEASE)
        applied = -sum(fen(e.amount) for e in self.credit.entries if e.kind in used)
        assert applied == sum(fen(applied_to(self.credit, i)) for i in self.invoices)
        paid = sum(fen(i.paid) for i in self.invoices.values())
        assert paid == sum(fen(r.allocated) for r in live) + applied
        assert received == paid + fen(self.credit.balance) + self.refunded
        reds = -sum(fen(i.amount) for i in self.issued() if i.color is InvoiceColor.RED)
        assert reds == sum(fen(i.credited) for i in self.invoices.values())

    @invariant()
    def aging_partitions_the_receivables(self) -> None:
        invoices = list(self.invoices.values())
        report = aging(invoices, self.today, "CNY")
        assert sum(fen(m) for _, m in report.buckets) == fen(report.total)
        assert fen(report.total) == sum(fen(outstanding(i)) for i in invoices)
        assert {b for b, _ in report.buckets} == set(AgingBucket)
        expected = dict.fromkeys(AgingBucket, 0)
        for invoice in invoices:
            left = fen(outstanding(invoice))
            if left and invoice.due_date is not None:
                expected[_bucket_by_days((self.today - invoice.due_date).days)] += left
            else:
                expected[AgingBucket.NOT_DUE] += left
        assert {b: fen(m) for b, m in report.buckets} == expected

    @invariant()
    def plan_and_rollup_follow_the_documents(self) -> None:
        plan = payment_plan(self.contract)
        assert sum(fen(m.amount) for m in plan) == fen(self.contract.total)
        summary = roll_up(self.contract, list(self.invoices.values()))
        assert summary == roll_up(self.contract, list(reversed(list(self.invoices.values()))))
        assert summary.invoiced == self.contract.invoiced
        assert fen(summary.outstanding) == fen(summary.invoiced) - fen(summary.collected)
        assert fen(summary.delivered) <= fen(summary.contracted)
        forecast = collection_forecast([self.contract], list(self.invoices.values()), self.today,
                                       "CNY")  # fmt: skip
        left = max(0, fen(summary.contracted) - fen(summary.collected))
        assert sum(fen(e.amount) for e in forecast) == left


TestContractToCash = ContractToCash.TestCase
