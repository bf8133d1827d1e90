"""Receivables (应收) through the facade: aging, DSO, collection forecast, performance by cash.

``crm.receivables`` answers for the documents inside the caller's data scope (finance and
admins: all; zone managers: their zone; team leads: their team), each figure computed by the
pure functions of :mod:`leadtocash.contracts.receivables` from documents read through indexes
that hold only what the figure needs: open invoices (``open_due``) for aging and outstanding,
invoices issued in the period (``issued_on``), active contracts (``active``), receipts
received in the period (``received``) and credit ledgers used since the period began
(``last_applied``).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

import attrs

from leadtocash.access import Action, Principal
from leadtocash.app.aggregates import sortable_time
from leadtocash.app.context import AppContext
from leadtocash.app.documents import all_pages, in_scope
from leadtocash.app.unit_of_work import UnitOfWork
from leadtocash.contracts import (
    Aging,
    Contract,
    ContractId,
    CustomerCredit,
    ForecastEntry,
    Invoice,
    InvoiceId,
    Receipt,
    aging,
    collection_forecast,
    days_sales_outstanding,
    performance_by_cash,
    start_of_day,
)
from leadtocash.errors import ValidationError
from leadtocash.model import SalesRep
from leadtocash.money import Money

__all__ = ["ReceivablesService"]

Grouping = Literal["rep", "team", "zone"]


def _invoice_scope(ctx: AppContext, uow: UnitOfWork, principal: Principal) -> Any:
    def keep(invoices: Sequence[Invoice]) -> list[Invoice]:
        return in_scope(
            ctx, uow, principal, "invoice", invoices, lambda i: i.customer_id, lambda i: i.id
        )

    return keep


@attrs.frozen
class ReceivablesService:
    """Figures over the receivables in the caller's scope, at a date or over a period."""

    ctx: AppContext

    def _open_invoices(
        self, uow: UnitOfWork, principal: Principal, currency: str, customer_id: str | None
    ) -> list[Invoice]:
        repo = uow.repository(Invoice)
        if customer_id is None:
            found = all_pages(repo, "open_due")
        else:  # one customer's open invoices only, through the per-customer index
            found = repo.whole_group("open_customer", customer_id)
        mine = [
            i
            for i in found
            if i.currency == currency and (customer_id is None or i.customer_id == customer_id)
        ]
        kept: list[Invoice] = _invoice_scope(self.ctx, uow, principal)(mine)
        return kept

    def aging(
        self, principal: Principal, on: date, currency: str, *, customer_id: str | None = None
    ) -> Aging:
        """Outstanding receivables per bucket (not due, 1–30, 31–60, 61–90, 90+) on ``on``.

        Reads only open invoices (the ``open_due`` index); for one customer, only theirs
        (the ``open_customer`` index).
        """

        def query(uow: UnitOfWork) -> Aging:
            return aging(self._open_invoices(uow, principal, currency, customer_id), on, currency)

        return self.ctx.read(principal, Action.RECEIVABLES_READ, query)

    def dso(self, principal: Principal, start: date, end: date, currency: str) -> Decimal | None:
        """Days sales outstanding over ``start``–``end``: outstanding ÷ credit sales × days.

        Outstanding: open invoices issued by ``end``; credit sales: blue minus red amounts
        issued in the period; days: ``end − start + 1``. None when nothing was invoiced.
        """
        if end < start:
            raise ValidationError.single("end", "field.out_of_range", "the period ends first")

        def query(uow: UnitOfWork) -> Decimal | None:
            repo = uow.repository(Invoice)
            below = (end + timedelta(days=1)).isoformat()
            issued = all_pages(repo, "issued_on", at_least=start.isoformat(), below=below)
            found = {i.id: i for i in (*self._open_invoices(uow, principal, currency, None),)}
            keep = _invoice_scope(self.ctx, uow, principal)
            found.update((i.id, i) for i in keep([i for i in issued if i.currency == currency]))
            return days_sales_outstanding(list(found.values()), start, end, currency)

        return self.ctx.read(principal, Action.RECEIVABLES_READ, query)

    def forecast(self, principal: Principal, on: date, currency: str) -> tuple[ForecastEntry, ...]:
        """Expected collections by month from the payment plans of the active contracts."""

        def query(uow: UnitOfWork) -> tuple[ForecastEntry, ...]:
            contracts = [
                c for c in all_pages(uow.repository(Contract), "active") if c.currency == currency
            ]
            contracts = in_scope(
                self.ctx, uow, principal, "contract", contracts, lambda c: c.customer_id,
                lambda c: c.id,
            )  # fmt: skip
            invoices: list[Invoice] = []
            repo = uow.repository(Invoice)
            for contract in contracts:
                invoices += repo.whole_group("contract", contract.id)
            return collection_forecast(contracts, invoices, on, currency)

        return self.ctx.read(principal, Action.RECEIVABLES_READ, query)

    def performance(
        self,
        principal: Principal,
        start: date,
        end: date,
        currency: str,
        *,
        by: Grouping = "rep",
    ) -> dict[str | None, Money]:
        """Cash collected (业绩按回款) per rep, team or zone of the contract's owner.

        Counts receipt allocations received in the period (reversed receipts excluded) and
        customer credit applied in it; ``None`` collects contracts without an owner (or
        owners without a team or zone).
        """
        if by not in ("rep", "team", "zone"):
            raise ValidationError.single("by", "field.unknown", "rep, team or zone")
        if end < start:
            raise ValidationError.single("end", "field.out_of_range", "the period ends first")
        tz = self.ctx.timezone

        def query(uow: UnitOfWork) -> dict[str | None, Money]:
            below = (end + timedelta(days=1)).isoformat()
            receipts = all_pages(
                uow.repository(Receipt), "received", at_least=start.isoformat(), below=below
            )
            since = sortable_time(start_of_day(start, tz))
            credits = all_pages(uow.repository(CustomerCredit), "last_applied", at_least=since)
            invoice_ids: set[str] = {a.invoice_id for r in receipts for a in r.allocations}
            invoice_ids |= {e.source_id for c in credits for e in c.entries}
            invoices = uow.repository(Invoice).get_many(sorted(invoice_ids))
            invoices = _invoice_scope(self.ctx, uow, principal)(invoices)
            contract_ids = sorted({i.contract_id for i in invoices})
            contracts = uow.repository(Contract).get_many(list(contract_ids))
            key = self._grouping(uow, contracts, by)
            result: dict[Any, Money] = performance_by_cash(
                receipts, credits, {InvoiceId(i.id): i for i in invoices},
                {ContractId(c.id): c for c in contracts}, start, end, currency, key=key,
                timezone=tz,
            )  # fmt: skip
            return result

        return self.ctx.read(principal, Action.RECEIVABLES_READ, query)

    def _grouping(
        self, uow: UnitOfWork, contracts: Sequence[Contract], by: Grouping
    ) -> Callable[[Contract], Hashable]:
        if by == "rep":
            return lambda contract: contract.owner_id
        owners = sorted({c.owner_id for c in contracts if c.owner_id is not None})
        reps = {r.id: r for r in uow.repository(SalesRep).get_many(list(owners))}

        def group(contract: Contract) -> Hashable:
            rep = reps.get(contract.owner_id) if contract.owner_id else None
            if rep is None:
                return None
            return rep.team_id if by == "team" else rep.zone_id

        return group
