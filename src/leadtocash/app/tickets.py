"""Tickets (工单) through the facade: the lifecycle, the SLA breach sweep, CSAT.

``crm.tickets`` opens a ticket against a customer and one of its contacts (optionally a
contract and a product) under the SLA terms of its priority and the customer's tier, assigns
it, moves it through the shared state machine (start, wait on the customer, resume, resolve,
close with a score, reopen within the window), changes its priority and records ratings. The
SLA clock counts business hours of the organisation's calendar (the context's time zone and
calendar, the policies' business hours). :meth:`TicketService.sweep_sla` is the breach sweep:
it reads the ``sla_check`` index up to now — only tickets with a warning or breach pending,
however many are open — and writes ``ticket.sla_warning`` / ``ticket.sla_breached`` to the
outbox in the commit that records them on the ticket, so each is raised once per target. A
breach or a rating re-assesses the customer's churn signals in the same commit, through the
customer write path. Every command is authorized, atomic and audits each aggregate it changes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import attrs

from leadtocash.access import Action, Principal
from leadtocash.aftersales import (
    CsatGrouping,
    CsatReport,
    SlaBreached,
    SlaTarget,
    Ticket,
    TicketChannel,
    TicketId,
    TicketPriority,
    assign_ticket,
    change_priority,
    close_ticket,
    csat_report,
    open_ticket,
    rate_ticket,
    reopen_ticket,
    resolve_ticket,
    resume_work,
    start_work,
    sweep_sla,
    wait_on_customer,
)
from leadtocash.app.aggregates import sortable_time
from leadtocash.app.context import AppContext, Change
from leadtocash.app.customers import CustomerWrites
from leadtocash.app.documents import (
    all_pages,
    batch_size,
    check_of_customer,
    guard_document,
    index_ids,
    page_limit,
)
from leadtocash.app.service import (
    ServicePolicies,
    churn_changes,
    guard_ticket,
    sla_calendar,
    ticket_in_scope,
    visible_contact,
)
from leadtocash.app.unit_of_work import Page, UnitOfWork
from leadtocash.collision import check_not_merged
from leadtocash.contracts import Contract, ContractId, Product, ProductId
from leadtocash.errors import ConcurrencyConflict, NotFound, ValidationError
from leadtocash.model import Contact, ContactId, RepId, TeamId

__all__ = ["SlaSweepReport", "TicketService"]

_log = logging.getLogger(__name__)

_TICK = timedelta(microseconds=1)
_Step = Callable[[Ticket, datetime], Ticket]


@attrs.frozen
class SlaSweepReport:
    """What one breach sweep did: (ticket id, target) pairs warned and breached, the
    tickets whose instants only moved, and those skipped after repeated conflicts."""

    warned: tuple[tuple[str, str], ...] = ()
    breached: tuple[tuple[str, str], ...] = ()
    moved: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()


@attrs.frozen
class TicketService:
    """Tickets of the caller's customers (or assigned to them): lifecycle, sweep, CSAT."""

    ctx: AppContext
    customers: CustomerWrites = attrs.field(
        init=False, default=attrs.Factory(lambda self: CustomerWrites(self.ctx), takes_self=True)
    )

    @property
    def policies(self) -> ServicePolicies:
        """The organisation's policies in force (``crm.settings``: stored, audited)."""
        return self.ctx.settings.service

    # -- shared steps -----------------------------------------------------------------------
    def _churn(self, uow: UnitOfWork, ticket: Ticket) -> list[Change]:
        return churn_changes(
            self.ctx, self.customers, self.policies.churn, uow, ticket.customer_id,
            current=(ticket,),
        )  # fmt: skip

    def _step(
        self,
        principal: Principal,
        action: Action,
        ticket_id: str,
        step: _Step,
        *,
        churn: bool = False,
    ) -> Ticket:
        """Apply ``step`` to the ticket and save it. A reason the step takes is kept in the
        ticket's history (salted in audit snapshots, erasable: docs/decisions/0006), not
        repeated as the audit entry's reason, which could not be erased."""

        def command(uow: UnitOfWork) -> tuple[Ticket, list[Change]]:
            repo = uow.repository(Ticket)
            ticket = repo.get(ticket_id)
            guard_ticket(self.ctx, uow, principal, ticket, write=True)
            after = step(ticket, self.ctx.clock.now())
            if after == ticket:
                return ticket, []
            repo.save(after)
            changes = [Change("ticket", ticket.id, ticket, after)]
            if churn and after.satisfaction != ticket.satisfaction:
                changes += self._churn(uow, after)
            return after, changes

        return self.ctx.execute(principal, action, command)

    # -- commands ---------------------------------------------------------------------------
    def open(
        self,
        principal: Principal,
        customer_id: str,
        contact_id: str,
        *,
        subject: str,
        category: str,
        channel: TicketChannel | str,
        priority: TicketPriority | str,
        contract_id: str | None = None,
        product_id: str | None = None,
        assignee_id: str | None = None,
        team_id: str | None = None,
        description: str | None = None,
    ) -> Ticket:
        """Open a ticket for a customer in the caller's scope, under the SLA terms of its
        priority and the customer's tier.

        The contact must be the customer's (``ticket.contact_mismatch``), a contract too
        (``ticket.contract_mismatch``); an unknown priority or channel is a ValidationError.
        """
        clock = sla_calendar(self.ctx, self.policies)

        def command(uow: UnitOfWork) -> tuple[Ticket, list[Change]]:
            ident = TicketId(self.ctx.ids.new_id("ticket"))
            customer = guard_document(self.ctx, uow, principal, "ticket", ident, customer_id,
                                      write=True, money=False)  # fmt: skip
            check_not_merged(customer)  # a new record goes to the survivor
            contact = uow.contacts.get(contact_id)
            check_of_customer(contact, customer.id, code="ticket.contact_mismatch",
                              field="contact_id")  # fmt: skip
            if contract_id is not None:
                contract = uow.repository(Contract).get(contract_id)
                check_of_customer(contract, customer.id, code="ticket.contract_mismatch",
                                  field="contract_id")  # fmt: skip
            if product_id is not None:
                uow.repository(Product).get(product_id)
            self._check_assignee(uow, assignee_id, team_id)
            ticket = open_ticket(
                ident, customer_id=customer.id, contact_id=ContactId(contact.id),
                subject=subject, category=category, channel=channel, priority=priority,
                now=self.ctx.clock.now(), actor=principal.user_id, clock=clock,
                policies=self.policies.sla, tier=customer.tier,
                contract_id=None if contract_id is None else ContractId(contract_id),
                product_id=None if product_id is None else ProductId(product_id),
                assignee_id=None if assignee_id is None else RepId(assignee_id),
                team_id=None if team_id is None else TeamId(team_id), description=description,
            )  # fmt: skip
            uow.repository(Ticket).add(ticket)
            return ticket, [Change("ticket", ticket.id, None, ticket)]

        return self.ctx.execute(principal, Action.TICKET_WRITE, command)

    def _check_assignee(
        self, uow: UnitOfWork, assignee_id: str | None, team_id: str | None
    ) -> None:
        if assignee_id is not None and uow.reps.find(assignee_id) is None:
            raise NotFound("sales_rep", assignee_id)
        if team_id is not None and uow.teams.find(team_id) is None:
            raise NotFound("team", team_id)

    def assign(
        self,
        principal: Principal,
        ticket_id: str,
        *,
        assignee_id: str | None,
        team_id: str | None = None,
        reason: str | None = None,
    ) -> Ticket:
        """Assign a ticket to a rep (a service agent registered as a rep) and a team.

        None clears either; an unknown rep or team is NotFound.
        """

        def command(uow: UnitOfWork) -> tuple[Ticket, list[Change]]:
            repo = uow.repository(Ticket)
            ticket = repo.get(ticket_id)
            guard_ticket(self.ctx, uow, principal, ticket, write=True)
            self._check_assignee(uow, assignee_id, team_id)
            after = assign_ticket(
                ticket, self.ctx.clock.now(),
                assignee_id=None if assignee_id is None else RepId(assignee_id),
                team_id=None if team_id is None else TeamId(team_id),
            )  # fmt: skip
            if (after.assignee_id, after.team_id) == (ticket.assignee_id, ticket.team_id):
                return ticket, []
            repo.save(after)
            return after, [Change("ticket", ticket.id, ticket, after, reason)]

        return self.ctx.execute(principal, Action.TICKET_ASSIGN, command)

    def start(self, principal: Principal, ticket_id: str) -> Ticket:
        """open → in progress: the first response."""
        clock, who = sla_calendar(self.ctx, self.policies), principal.user_id
        return self._step(
            principal, Action.TICKET_WRITE, ticket_id,
            lambda t, now: start_work(t, now, who, clock=clock),
        )  # fmt: skip

    def wait_on_customer(
        self, principal: Principal, ticket_id: str, *, reason: str | None = None
    ) -> Ticket:
        """→ waiting on the customer: the resolution clock pauses."""
        clock, who = sla_calendar(self.ctx, self.policies), principal.user_id
        return self._step(
            principal, Action.TICKET_WRITE, ticket_id,
            lambda t, now: wait_on_customer(t, now, who, clock=clock, reason=reason),
        )  # fmt: skip

    def resume(self, principal: Principal, ticket_id: str) -> Ticket:
        """waiting on the customer → in progress: the clock runs again."""
        clock, who = sla_calendar(self.ctx, self.policies), principal.user_id
        return self._step(
            principal, Action.TICKET_WRITE, ticket_id,
            lambda t, now: resume_work(t, now, who, clock=clock),
        )  # fmt: skip

    def resolve(self, principal: Principal, ticket_id: str, *, reason: str | None = None) -> Ticket:
        """→ resolved: the resolution clock stops."""
        clock, who = sla_calendar(self.ctx, self.policies), principal.user_id
        return self._step(
            principal, Action.TICKET_WRITE, ticket_id,
            lambda t, now: resolve_ticket(t, now, who, clock=clock, reason=reason),
        )  # fmt: skip

    def close(
        self,
        principal: Principal,
        ticket_id: str,
        *,
        score: int | None = None,
        comment: str | None = None,
    ) -> Ticket:
        """resolved → closed, with the customer's score (1–5) and comment if given.

        A score re-assesses the customer's churn signals in the same commit.
        """
        clock, who = sla_calendar(self.ctx, self.policies), principal.user_id
        return self._step(
            principal, Action.TICKET_WRITE, ticket_id,
            lambda t, now: close_ticket(t, now, who, clock=clock, score=score, comment=comment),
            churn=True,
        )  # fmt: skip

    def reopen(self, principal: Principal, ticket_id: str, reason: str) -> Ticket:
        """resolved/closed → in progress within the reopen window (with the reason)."""
        clock, who = sla_calendar(self.ctx, self.policies), principal.user_id
        policy = self.policies.tickets
        return self._step(
            principal, Action.TICKET_WRITE, ticket_id,
            lambda t, now: reopen_ticket(t, now, who, clock=clock, reason=reason, policy=policy),
        )  # fmt: skip

    def change_priority(
        self,
        principal: Principal,
        ticket_id: str,
        priority: TicketPriority | str,
        *,
        reason: str | None = None,
    ) -> Ticket:
        """A new priority: the SLA terms of it and the customer's current tier apply, the due
        instants are derived again; breaches already raised stay raised."""
        clock = sla_calendar(self.ctx, self.policies)

        def command(uow: UnitOfWork) -> tuple[Ticket, list[Change]]:
            repo = uow.repository(Ticket)
            ticket = repo.get(ticket_id)
            customer = guard_ticket(self.ctx, uow, principal, ticket, write=True)
            after = change_priority(
                ticket, priority, self.ctx.clock.now(), clock=clock,
                policies=self.policies.sla, tier=customer.tier,
            )  # fmt: skip
            if after.sla == ticket.sla and after.priority is ticket.priority:
                return ticket, []
            repo.save(after)
            return after, [Change("ticket", ticket.id, ticket, after, reason)]

        return self.ctx.execute(principal, Action.TICKET_WRITE, command)

    def rate(
        self, principal: Principal, ticket_id: str, score: int, *, comment: str | None = None
    ) -> Ticket:
        """Record the customer's rating of a resolved or closed ticket (the latest counts).

        A score outside 1–5 is ``satisfaction.score_range``; the customer's churn signals
        are re-assessed in the same commit.
        """
        who = principal.user_id
        return self._step(
            principal, Action.TICKET_WRITE, ticket_id,
            lambda t, now: rate_ticket(t, score, now, who, comment=comment), churn=True,
        )  # fmt: skip

    # -- the breach sweep -------------------------------------------------------------------
    def sweep_sla(self, principal: Principal, *, batch: int = 500) -> SlaSweepReport:
        """Raise every SLA warning and breach due now (a system sweep, ``service.sweep``).

        Reads the ``sla_check`` index up to now — only tickets with something pending — and
        handles each in its own unit of work: the ticket records what was raised and the
        events go to the outbox in the same commit (a retry after a conflict sees them
        recorded, so nothing is raised twice). A breach re-assesses the customer's churn
        signals in that commit. The ticket change is audited.
        """
        batch_size(batch, "batch")
        self.ctx.policy.check(principal, Action.SERVICE_SWEEP)
        below = sortable_time(self.ctx.clock.now() + _TICK)
        due = index_ids(self.ctx, Ticket, "sla_check", below=below, page=batch)
        warned: list[tuple[str, str]] = []
        breached: list[tuple[str, str]] = []
        moved: list[str] = []
        skipped: list[str] = []
        for ticket_id in due:
            try:
                events = self._sweep_one(principal, ticket_id)
            except ConcurrencyConflict:
                skipped.append(ticket_id)
                continue
            if events is None:
                continue
            if not events:
                moved.append(ticket_id)
            for kind, target in events:
                (breached if kind == "breached" else warned).append((ticket_id, target))
        _log.info(
            "SLA sweep: %d warned, %d breached, %d moved, %d skipped",
            len(warned), len(breached), len(moved), len(skipped),
        )  # fmt: skip
        return SlaSweepReport(tuple(warned), tuple(breached), tuple(moved), tuple(skipped))

    def _sweep_one(self, principal: Principal, ticket_id: str) -> list[tuple[str, str]] | None:
        clock = sla_calendar(self.ctx, self.policies)

        def command(uow: UnitOfWork) -> tuple[list[tuple[str, str]] | None, list[Change]]:
            repo = uow.repository(Ticket)
            ticket = repo.get(ticket_id)
            now = self.ctx.clock.now()
            result = sweep_sla(ticket, now, clock)
            if not result.changed:
                return None, []
            after = result.ticket
            repo.save(after)
            raised: list[tuple[str, str]] = []
            for event in result.events:
                uow.record(event)
                kind = "breached" if isinstance(event, SlaBreached) else "warning"
                raised.append((kind, SlaTarget(event.target).value))
            why = ", ".join(f"SLA {target} {kind}" for kind, target in raised) or "SLA re-derived"
            changes = [Change("ticket", ticket.id, ticket, after, why)]
            if any(kind == "breached" for kind, _ in raised):
                changes += self._churn(uow, after)
            return raised, changes

        return self.ctx.execute(principal, Action.SERVICE_SWEEP, command)

    # -- reads ------------------------------------------------------------------------------
    def get(self, principal: Principal, ticket_id: str) -> Ticket:
        """One ticket the caller may read (its customer in scope, assigned to them or their
        team)."""

        def query(uow: UnitOfWork) -> Ticket:
            ticket = uow.repository(Ticket).get(ticket_id)
            guard_ticket(self.ctx, uow, principal, ticket, write=False)
            return ticket

        return self.ctx.read(principal, Action.TICKET_READ, query)

    def contact(self, principal: Principal, ticket_id: str) -> Contact:
        """The ticket's contact, its phone, e-mail and title masked unless the caller may see
        the customer's contact fields or is the ticket's assignee."""

        def query(uow: UnitOfWork) -> Contact:
            ticket = uow.repository(Ticket).get(ticket_id)
            customer = guard_ticket(self.ctx, uow, principal, ticket, write=False)
            contact = uow.contacts.get(ticket.contact_id)
            return visible_contact(contact, customer, ticket, principal)

        return self.ctx.read(principal, Action.TICKET_READ, query)

    def for_customer(
        self,
        principal: Principal,
        customer_id: str,
        *,
        after: tuple[str, str] | None = None,
        limit: int = 100,
    ) -> Page[Ticket]:
        """One page of a customer's tickets, oldest first (the customer in the read scope)."""
        size = page_limit(limit)

        def query(uow: UnitOfWork) -> Page[Ticket]:
            guard_document(self.ctx, uow, principal, "ticket", customer_id, customer_id,
                           write=False, money=False)  # fmt: skip
            return uow.repository(Ticket).query_group("customer", customer_id, after=after,
                                                      limit=size)  # fmt: skip

        return self.ctx.read(principal, Action.TICKET_READ, query)

    def _grouped(
        self, principal: Principal, index: str, key: str, after: tuple[str, str] | None, size: int
    ) -> Page[Ticket]:
        def query(uow: UnitOfWork) -> Page[Ticket]:
            page = uow.repository(Ticket).query_group(index, key, after=after, limit=size)
            kept = ticket_in_scope(self.ctx, uow, principal, page.items)
            return Page(tuple(kept), page.next_cursor)

        return self.ctx.read(principal, Action.TICKET_READ, query)

    def for_assignee(
        self,
        principal: Principal,
        assignee_id: str,
        *,
        after: tuple[str, str] | None = None,
        limit: int = 100,
    ) -> Page[Ticket]:
        """One page of the tickets assigned to a rep, oldest first (those the caller may read;
        the cursor continues the index even when a page comes back shorter)."""
        return self._grouped(principal, "assignee", assignee_id, after, page_limit(limit))

    def for_team(
        self,
        principal: Principal,
        team_id: str,
        *,
        after: tuple[str, str] | None = None,
        limit: int = 100,
    ) -> Page[Ticket]:
        """One page of a team's tickets, oldest first (those the caller may read)."""
        return self._grouped(principal, "team", team_id, after, page_limit(limit))

    def csat(
        self,
        principal: Principal,
        since: datetime,
        until: datetime,
        *,
        by: CsatGrouping | str = CsatGrouping.REP,
    ) -> CsatReport:
        """CSAT of the ratings given in ``[since, until)`` per rep, team or local month.

        Reads the ``rated`` index over the period (only the tickets rated in it) and counts
        those the caller may read.
        """
        try:
            grouping = CsatGrouping(by)
        except ValueError:
            choices = ", ".join(g.value for g in CsatGrouping)
            raise ValidationError.single("by", "field.choice", f"one of {choices}") from None

        def query(uow: UnitOfWork) -> CsatReport:
            rated = all_pages(
                uow.repository(Ticket), "rated",
                at_least=sortable_time(since), below=sortable_time(until),
            )  # fmt: skip
            kept = ticket_in_scope(self.ctx, uow, principal, rated)
            return csat_report(
                kept, since=since, until=until, grouping=grouping, timezone=self.ctx.timezone
            )

        return self.ctx.read(principal, Action.CSAT_READ, query)
