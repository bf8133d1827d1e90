"""Churn signals (流失预警) through the facade: assess one customer, or sweep those that moved.

A breach raised by the SLA sweep and a rating re-assess their customer in the same commit
(:mod:`leadtocash.app.tickets`). ``crm.churn.assess`` re-assesses one customer on demand and
``crm.churn.sweep`` those whose signals may have moved since: customers with a ticket breached
or rated within the rules' longest look-back window plus ``churn_fade`` (so a signal leaving
its window is cleared), with an open invoice overdue longer than the overdue rule allows
(the ``open_due`` index), or with a receipt received within ``churn_fade`` (a payment may
clear an overdue signal). Each customer's facts — its tickets and its open invoices — are
read through indexes, and the result reaches the customer through the write path: the churn
tags and ``signals.after_sales_risk`` change, the tier is reclassified, and the audit entry
explains both.
"""

from __future__ import annotations

from datetime import timedelta

import attrs

from leadtocash.access import Action, Principal
from leadtocash.aftersales import OverdueReceivableRule, Ticket
from leadtocash.app.aggregates import sortable_time
from leadtocash.app.context import AppContext, Change
from leadtocash.app.customers import CustomerWrites
from leadtocash.app.documents import all_pages
from leadtocash.app.service import ServicePolicies, churn_changes, look_back
from leadtocash.app.unit_of_work import UnitOfWork
from leadtocash.contracts import Invoice, Receipt, business_date
from leadtocash.durations import deadline, local_day
from leadtocash.errors import ConcurrencyConflict
from leadtocash.model import Customer

__all__ = ["ChurnReport", "ChurnService"]


@attrs.frozen
class ChurnReport:
    """What one churn sweep did: customers checked, those whose signals moved, conflicts."""

    checked: int = 0
    changed: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()


@attrs.frozen
class ChurnService:
    """Re-assesses customers' churn signals from their tickets and receivables."""

    ctx: AppContext
    customers: CustomerWrites = attrs.field(
        init=False, default=attrs.Factory(lambda self: CustomerWrites(self.ctx), takes_self=True)
    )

    @property
    def policies(self) -> ServicePolicies:
        """The organisation's policies in force (``crm.settings``: stored, audited)."""
        return self.ctx.settings.service

    def assess(self, principal: Principal, customer_id: str) -> Customer:
        """Re-assess one customer's churn signals now (managers in scope, or the system);
        the customer as the caller may see it."""

        def command(uow: UnitOfWork) -> tuple[Customer, list[Change]]:
            customer = uow.customers.get(customer_id)
            self.customers.guard(uow, principal, customer, write=True)
            changes = churn_changes(self.ctx, self.customers, self.policies.churn, uow, customer.id)
            return uow.customers.get(customer.id), changes

        stored = self.ctx.execute(principal, Action.CUSTOMER_CLASSIFY, command)
        return self.customers.visible(stored, principal)

    def _candidates(self) -> list[str]:
        """The customers whose churn signals may have moved (see the module docstring)."""
        now, tz, cal = self.ctx.clock.now(), self.ctx.timezone, self.ctx.calendar
        rules, fade = self.policies.churn, self.policies.churn_fade
        since = sortable_time(now - look_back(rules, fade))
        today = business_date(now, tz)
        fade_days = (local_day(deadline(now, fade, timezone=tz, calendar=cal), tz) - today).days
        paid_since = today - timedelta(days=max(fade_days, 1))
        found: set[str] = set()
        with self.ctx.unit_of_work() as uow:
            tickets = uow.repository(Ticket)
            for index in ("breached", "rated"):
                found |= {t.customer_id for t in all_pages(tickets, index, at_least=since)}
            days = [r.days for r in rules.rules if isinstance(r, OverdueReceivableRule)]
            if days:
                below = (today - timedelta(days=min(days))).isoformat()
                late = all_pages(uow.repository(Invoice), "open_due", below=below)
                found |= {i.customer_id for i in late}
            paid = paid_since.isoformat()
            receipts = all_pages(uow.repository(Receipt), "received", at_least=paid)
            found |= {r.customer_id for r in receipts}
        return sorted(found)

    def sweep(self, principal: Principal) -> ChurnReport:
        """Re-assess every customer whose churn signals may have moved (``service.sweep``);
        each in its own unit of work, audited when it changes."""
        self.ctx.policy.check(principal, Action.SERVICE_SWEEP)
        found = self._candidates()
        changed: list[str] = []
        skipped: list[str] = []
        for customer_id in found:

            def command(uow: UnitOfWork, ident: str = customer_id) -> tuple[bool, list[Change]]:
                changes = churn_changes(self.ctx, self.customers, self.policies.churn, uow, ident)
                return bool(changes), changes

            try:
                if self.ctx.execute(principal, Action.SERVICE_SWEEP, command):
                    changed.append(customer_id)
            except ConcurrencyConflict:
                skipped.append(customer_id)
        return ChurnReport(len(found), tuple(changed), tuple(skipped))
