"""Steps shared by the after-sales services: policies, the SLA clock, ticket scopes, churn.

A ticket belongs to a customer: who may read or work one is decided by that customer's data
scope (its owner, zone and collaborators, like every contract-to-cash document), and also by
the ticket itself — the rep it is assigned to works it, and a principal whose scope reaches
their team (team leads, or a service role scoped ``team``) works the tickets of their team.
Churn signals are recomputed here, inside the caller's unit of work, and reach the customer
through the customer write path. Nothing here calls a service.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

import attrs

from leadtocash.access import Principal
from leadtocash.aftersales import (
    ChurnFacts,
    ChurnRules,
    SlaCalendar,
    Ticket,
    apply_churn,
    churn_facts,
    overdue_receivables,
)
from leadtocash.aftersales.policies import CHURN_FADE, ServicePolicies
from leadtocash.app.context import AppContext, Change
from leadtocash.app.customers import CustomerWrites, with_archives
from leadtocash.app.documents import document_target
from leadtocash.app.unit_of_work import UnitOfWork
from leadtocash.contracts import Invoice, business_date
from leadtocash.durations import Duration, DurationUnit, WeekdayCalendar
from leadtocash.model import Contact, Customer, CustomerId
from leadtocash.pool.visibility import MASK, can_see_contact, mask_email, mask_phone
from leadtocash.scopes import DataScope

__all__ = [
    "CHURN_FADE",
    "ServicePolicies",
    "churn_changes",
    "guard_ticket",
    "look_back",
    "sla_calendar",
    "ticket_in_scope",
    "visible_contact",
]


def sla_calendar(ctx: AppContext, policies: ServicePolicies) -> SlaCalendar:
    """The organisation's service clock: the context's time zone and calendar, the hours."""
    return SlaCalendar(
        ctx.timezone, ctx.calendar or WeekdayCalendar(), business_hours=policies.business_hours
    )


def _works_on(ctx: AppContext, principal: Principal, ticket: Ticket) -> bool:
    """The assignee, or a principal whose scope reaches the ticket's team."""
    if principal.rep_id is not None and principal.rep_id == ticket.assignee_id:
        return True
    scope = ctx.scopes.scope_of(principal)
    return (
        scope is not None
        and scope.rank >= DataScope.TEAM.rank
        and principal.team_id is not None
        and principal.team_id == ticket.team_id
    )


def guard_ticket(
    ctx: AppContext, uow: UnitOfWork, principal: Principal, ticket: Ticket, *, write: bool
) -> Customer:
    """The ticket's customer, after checking the principal may read or work the ticket.

    PermissionDenied ``auth.out_of_scope`` outside the scope; NotFound without the customer.
    The principal's team is the organisation model's (``AppContext.positioned``). A ``write``
    commits only if the customer is unchanged (``UnitOfWork.expect_unchanged``).
    """
    principal = ctx.positioned(uow, principal)
    customer = uow.customers.get(ticket.customer_id)
    if not _works_on(ctx, principal, ticket):
        ctx.guard(uow, principal, document_target("ticket", ticket.id, customer), write=write)
    if write:
        uow.expect_unchanged(customer)
    return customer


def ticket_in_scope(
    ctx: AppContext, uow: UnitOfWork, principal: Principal, tickets: Iterable[Ticket]
) -> list[Ticket]:
    """The tickets the principal may read (one read of their customers)."""
    principal = ctx.positioned(uow, principal)
    found = list(tickets)
    ids = sorted({t.customer_id for t in found})
    customers = {c.id: c for c in uow.customers.get_many(list(ids))}
    kept = []
    for ticket in found:
        customer = customers.get(ticket.customer_id)
        if _works_on(ctx, principal, ticket) or (
            customer is not None
            and ctx.in_scope(uow, principal, document_target("ticket", ticket.id, customer))
        ):
            kept.append(ticket)
    return kept


def visible_contact(
    contact: Contact, customer: Customer, ticket: Ticket, principal: Principal
) -> Contact:
    """``contact`` as ``principal`` may see it: masked unless they may see the customer's
    contact fields (owner, collaborators, managers) or are the ticket's assignee."""
    assigned = principal.rep_id is not None and principal.rep_id == ticket.assignee_id
    if assigned or can_see_contact(customer, principal):
        return contact
    return attrs.evolve(
        contact,
        phone=mask_phone(contact.phone) if contact.phone else None,
        email=mask_email(contact.email) if contact.email else None,
        title=MASK if contact.title else None,
    )


def churn_changes(
    ctx: AppContext,
    writes: CustomerWrites,
    rules: ChurnRules,
    uow: UnitOfWork,
    customer_id: str,
    *,
    current: Iterable[Ticket] = (),
) -> list[Change]:
    """Assess the customer's churn signals now and stage the result through the write path;
    when it was merged into another, the survivor's too (its company's signals).

    Facts: the tickets of the customer and of the duplicates merged into it (``current``
    replaces stored ones with the same id) and their open invoices overdue today (the
    ``open_customer`` index). The churn tags and ``signals.after_sales_risk`` change on the
    customer, which is reclassified and audited with the reason (what moved, and why). No
    change when nothing moved.
    """
    changes: list[Change] = []
    now_current = tuple(current)  # read once per customer of the chain
    for customer in writes.company(uow, customer_id):
        changes += _assessed(ctx, writes, rules, uow, customer, now_current)
    return changes


def _assessed(
    ctx: AppContext,
    writes: CustomerWrites,
    rules: ChurnRules,
    uow: UnitOfWork,
    customer: Customer,
    current: Iterable[Ticket],
) -> list[Change]:
    family = [one.id for one in with_archives(uow, customer)]
    tickets: dict[str, Ticket] = {}
    invoices: list[Invoice] = []
    for ident in family:
        tickets.update((t.id, t) for t in uow.repository(Ticket).whole_group("customer", ident))
        invoices += uow.repository(Invoice).whole_group("open_customer", ident)
    tickets.update((t.id, t) for t in current if t.customer_id in family)
    now = ctx.clock.now()
    overdue = overdue_receivables(invoices, business_date(now, ctx.timezone))
    parts = [churn_facts(CustomerId(ident), tickets.values()) for ident in family]
    facts = ChurnFacts(
        customer.id,
        breaches=[b for part in parts for b in part.breaches],
        ratings=[r for part in parts for r in part.ratings],
        overdue=overdue,
    )
    assessment = rules.assess(facts, now, timezone=ctx.timezone, calendar=ctx.calendar)
    update = apply_churn(customer, assessment, rules)
    if not update.changed:
        return []
    staged = writes.stage(uow, customer, update.after, reason=update.summary(), archive=True)
    return list(staged.changes)


def look_back(rules: ChurnRules, fade: Duration) -> timedelta:
    """The longest look-back window of the rules, plus ``fade`` (calendar time, at most)."""
    longest = max(
        (_as_days(w) for rule in rules.rules if (w := getattr(rule, "within", None)) is not None),
        default=timedelta(0),
    )
    return longest + _as_days(fade)


def _as_days(duration: Duration) -> timedelta:
    """An upper bound of ``duration`` in calendar time (working units stretched by holidays)."""
    if duration.unit is DurationUnit.HOURS:
        return timedelta(hours=duration.amount)
    if duration.unit is DurationUnit.BUSINESS_HOURS:  # an hour a working day at the least
        return timedelta(days=duration.amount * 2 + 14)
    if duration.unit is DurationUnit.CALENDAR_DAYS:
        return timedelta(days=duration.amount)
    return timedelta(days=duration.amount * 2 + 14)
