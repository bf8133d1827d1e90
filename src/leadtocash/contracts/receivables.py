"""Receivables (应收): aging, DSO, collection forecast, contract roll-ups, performance by cash.

Every figure is a pure function of the documents (contracts, invoices, receipts, credit
ledgers) and an explicit date, so the same documents always give the same answer.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TypeVar

import attrs

from leadtocash.contracts.checks import (
    DEFAULT_TIMEZONE,
    business_date,
    currency_mismatch,
    sum_money,
)
from leadtocash.contracts.contract import Contract, ContractStatus, delivered_value, payment_plan
from leadtocash.contracts.credit import CreditEntryKind, CustomerCredit
from leadtocash.contracts.ids import ContractId, InvoiceId
from leadtocash.contracts.invoices import Invoice, InvoiceStatus, days_overdue, outstanding
from leadtocash.contracts.receipts import Receipt, ReceiptStatus
from leadtocash.model import RepId
from leadtocash.money import Money

__all__ = [
    "Aging",
    "AgingBucket",
    "ContractRollUp",
    "ForecastEntry",
    "aging",
    "aging_bucket",
    "collection_forecast",
    "days_sales_outstanding",
    "dso",
    "performance_by_cash",
    "roll_up",
]

K = TypeVar("K", bound=Hashable)


class AgingBucket(enum.StrEnum):
    """Aging buckets by days overdue (not yet due, 1–30, 31–60, 61–90, over 90)."""

    NOT_DUE = "not_due"
    DAYS_0_30 = "0_30"
    DAYS_31_60 = "31_60"
    DAYS_61_90 = "61_90"
    DAYS_90_PLUS = "90_plus"


def aging_bucket(overdue_days: int) -> AgingBucket:
    """The bucket of an amount ``overdue_days`` past due (0: due today or later: not due)."""
    if overdue_days <= 0:
        return AgingBucket.NOT_DUE
    if overdue_days <= 30:
        return AgingBucket.DAYS_0_30
    if overdue_days <= 60:
        return AgingBucket.DAYS_31_60
    if overdue_days <= 90:
        return AgingBucket.DAYS_61_90
    return AgingBucket.DAYS_90_PLUS


@attrs.frozen
class Aging:
    """Outstanding receivables per bucket on a date; the buckets add up to ``total`` exactly."""

    on: date
    currency: str
    buckets: tuple[tuple[AgingBucket, Money], ...]
    total: Money

    def amount(self, bucket: AgingBucket) -> Money:
        """The outstanding amount in ``bucket``."""
        return dict(self.buckets)[bucket]


def _same_currency(invoices: Iterable[Invoice], currency: str) -> None:
    for invoice in invoices:
        if invoice.currency != currency:
            raise currency_mismatch(f"invoice {invoice.id}", currency, invoice.currency)


def aging(invoices: Sequence[Invoice], on: date, currency: str) -> Aging:
    """Age the outstanding of ``invoices`` (all in ``currency``) on ``on``."""
    _same_currency(invoices, currency)
    sums = {bucket: Money.zero(currency) for bucket in AgingBucket}
    for invoice in invoices:  # a settled invoice adds zero (and is never overdue)
        bucket = aging_bucket(days_overdue(invoice, on))
        sums[bucket] = sums[bucket] + outstanding(invoice)
    total = sum_money((outstanding(i) for i in invoices), currency)
    return Aging(on, currency, tuple(sums.items()), total)


def dso(receivables: Money, credit_sales: Money, days: int) -> Decimal | None:
    """Days sales outstanding: ``receivables / credit sales × days``, to 0.01 (half-even).

    ``receivables`` is what is outstanding at the end of the period, ``credit_sales`` what was
    invoiced during it and ``days`` its length; None when nothing was invoiced.
    """
    if credit_sales.amount == 0:
        return None
    value = receivables.amount / credit_sales.amount * days
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)


def _issued(invoice: Invoice) -> bool:
    return invoice.status not in (InvoiceStatus.DRAFT, InvoiceStatus.VOID)


def days_sales_outstanding(
    invoices: Sequence[Invoice], start: date, end: date, currency: str
) -> Decimal | None:
    """DSO over ``start``–``end`` (both included) from the invoices as they stand now.

    receivables = outstanding of the invoices issued by ``end``; credit sales = the amounts
    (blue minus red) issued from ``start`` to ``end``; days = ``(end − start) + 1``.
    """
    _same_currency(invoices, currency)
    issued = [i for i in invoices if _issued(i) and i.issued_on is not None and i.issued_on <= end]
    receivables = sum_money((outstanding(i) for i in issued), currency)
    sales = sum_money(
        (i.amount for i in issued if i.issued_on is not None and i.issued_on >= start), currency
    )
    return dso(receivables, sales, (end - start).days + 1)


@attrs.frozen
class ContractRollUp:
    """One contract's figures from its documents: contracted → delivered → invoiced → collected."""

    contract_id: ContractId
    contracted: Money
    delivered: Money
    invoiced: Money
    collected: Money
    outstanding: Money


def roll_up(contract: Contract, invoices: Iterable[Invoice]) -> ContractRollUp:
    """The roll-up of ``contract`` from its invoices (others in ``invoices`` are ignored).

    invoiced = issued blue minus red amounts; collected = paid on them (receipts and credit);
    outstanding = invoiced − collected.
    """
    own = [i for i in invoices if i.contract_id == contract.id and _issued(i)]
    currency = contract.currency
    return ContractRollUp(
        contract_id=contract.id,
        contracted=contract.total,
        delivered=delivered_value(contract),
        invoiced=sum_money((i.amount for i in own), currency),
        collected=sum_money((i.paid for i in own), currency),
        outstanding=sum_money((outstanding(i) for i in own), currency),
    )


@attrs.frozen
class ForecastEntry:
    """Cash expected in a month (``YYYY-MM``), or ``None``: waiting for a delivery acceptance."""

    month: str | None
    amount: Money


def collection_forecast(
    contracts: Sequence[Contract], invoices: Sequence[Invoice], on: date, currency: str
) -> tuple[ForecastEntry, ...]:
    """Expected collections of the active contracts from their payment plans, by month.

    Per contract, what was collected already pays the milestones in due-date order; the rest of
    each milestone is expected in its due month (overdue ones in ``on``'s month) or, while its
    delivery is not accepted, under ``None``. Per contract the entries add up to
    ``total − collected`` exactly. Months ascend; ``None`` comes last.
    """
    sums: dict[str | None, Money] = {}
    for contract in contracts:
        if contract.status is not ContractStatus.ACTIVE:
            continue
        if contract.currency != currency:
            raise currency_mismatch(f"contract {contract.id}", currency, contract.currency)
        covered = roll_up(contract, invoices).collected
        plan = sorted(payment_plan(contract), key=lambda m: (m.due_date or date.max, m.id))
        for milestone in plan:
            take = min(milestone.amount, covered)
            covered = covered - take
            rest = milestone.amount - take
            if rest.amount == 0:
                continue
            due = milestone.due_date
            month = None if due is None else f"{max(due, on):%Y-%m}"
            sums[month] = sums.get(month, Money.zero(currency)) + rest
    dated = sorted(m for m in sums if m is not None)
    months: list[str | None] = [*dated, None] if None in sums else [*dated]
    return tuple(ForecastEntry(month, sums[month]) for month in months)


def _owner(contract: Contract) -> RepId | None:
    return contract.owner_id


def performance_by_cash(
    receipts: Iterable[Receipt],
    credits: Iterable[CustomerCredit],
    invoices: Mapping[InvoiceId, Invoice],
    contracts: Mapping[ContractId, Contract],
    start: date,
    end: date,
    currency: str,
    *,
    key: Callable[[Contract], K] = _owner,  # type: ignore[assignment]
    timezone: str = DEFAULT_TIMEZONE,
) -> dict[K, Money]:
    """Cash collected per ``key`` of the contract (default its owner rep: 业绩按回款).

    Counted: allocations of receipts not reversed, received from ``start`` to ``end``, and
    credit applied to invoices in that period (dated in ``timezone``). Credit not applied
    yet belongs to no contract and counts nowhere.
    """
    result: dict[K, Money] = {}

    def add(invoice_id: str, amount: Money) -> None:
        invoice = invoices.get(InvoiceId(invoice_id))
        contract = contracts.get(invoice.contract_id) if invoice is not None else None
        if contract is None or amount.currency != currency:
            return
        who = key(contract)
        result[who] = result.get(who, Money.zero(currency)) + amount

    for receipt in receipts:
        if receipt.status is ReceiptStatus.REVERSED or not start <= receipt.received_on <= end:
            continue
        for allocation in receipt.allocations:
            add(allocation.invoice_id, allocation.amount)
    for credit in credits:
        for entry in credit.entries:
            if entry.kind is CreditEntryKind.APPLICATION and (
                start <= business_date(entry.at, timezone) <= end
            ):
                add(entry.source_id, -entry.amount)
    return result
