"""Random interleavings of the after-sales commands, through the facade, keep the SLA promises.

The domain properties (``test_aftersales_properties.py``) drive the SLA clock's pure
functions. This machine drives ``crm.tickets`` on a store as an app would: tickets opened by
the owner, a service agent or an admin (some with bad contacts, priorities or assignees),
worked by whoever tries (the owner, another rep, the agent, an admin), assigned, reprioritised,
rated, reopened, swept for SLA breaches as time passes over nights and weekends, while the
customer is released, claimed again and merged with another. After every step, read back from
the store:

* every ticket's due instants and pending check are what its history and terms give
  (``with_sla`` changes nothing), and its indexes (customer, assignee, team, ``sla_check``,
  ``rated``, ``breached``) are exactly what it holds;
* each breach recorded on a ticket was written to the outbox exactly once, with the instant it
  was due, raised no earlier; each warning at most once, for a target the ticket marks warned;
* right after a sweep, no ticket has a warning or breach pending up to now;
* right after a command that re-assesses churn (a rating, a breach), the customer's churn tags
  and risk are what the rules give for its tickets now;
* a rep who neither owns the customer nor works the ticket changes nothing;
* CSAT counts every rating; the audit log verifies; a refused command changed nothing.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, rule

from aftersales_fixtures import AGENT, service_world
from command_machine import CommandMachine, assert_indexes_exact, stored
from leadtocash.aftersales import SlaTarget, Ticket, churn_facts, with_sla
from leadtocash.app.service import sla_calendar
from leadtocash.calendars import ChinaStatutoryCalendar
from leadtocash.model import Customer, CustomerId
from pool_fixtures import ADMIN, SYSTEM, World, rep_principal

REP1, REP2 = rep_principal(1), rep_principal(2)
WHO = st.sampled_from([REP1, REP1, REP2, AGENT, ADMIN])
PRIORITY = st.sampled_from(["P1", "P2", "P3", "P4", "P9"])
ASSIGNEE = st.sampled_from([None, None, None, "agent1", "agent1", "rep2", "ghost"])
TEAM = st.sampled_from([None, None, "t1", "t1", "no-team"])
SCORE = st.none() | st.integers(0, 6)
REASON = st.sampled_from(["客户未回复", "", "  "])
FAR = datetime(2100, 1, 1, tzinfo=UTC)


class TicketLifecycle(CommandMachine):
    world: World

    @initialize(holidays=st.booleans())
    def setup(self, holidays: bool) -> None:
        # China's statutory calendar (the Spring Festival, make-up workdays) or weekdays only.
        self.world, first = service_world(ChinaStatutoryCalendar() if holidays else None)
        self.store = self.world.store
        self.customers = [first, self.world.customers[1]]
        self.tickets = [
            self.world.crm.tickets.open(
                REP1, first, "k1", subject="无法登录", category="software", channel="web",
                priority="P2",
            ).id
        ]  # fmt: skip

    # -- reads ------------------------------------------------------------------------------------
    def all_tickets(self) -> list[Ticket]:
        return stored(self.world.crm, Ticket)

    def ticket(self, ticket_id: str) -> Ticket:
        with self.world.crm.unit_of_work() as uow:
            return uow.repository(Ticket).get(ticket_id)

    def customer(self, cid: str) -> Customer:
        with self.world.crm.unit_of_work() as uow:
            return uow.customers.get(cid)

    def messages(self, topic: str) -> Counter[tuple[str, str, str]]:
        due = self.store.outbox_due(FAR, limit=1_000_000)
        return Counter(
            (m.payload["ticket_id"], m.payload["target"], m.payload["due_at"])
            for m in due
            if m.topic == topic
        )

    def may_work(self, ticket: Ticket) -> bool:
        """REP2's rights on ``ticket``: owner of its customer, or its assignee."""
        owner = self.customer(ticket.customer_id).owner_id
        return REP2.rep_id in (owner, ticket.assignee_id)

    def check_churn(self, customer_id: str) -> None:
        """The customer's churn tags and risk are what the rules give for its tickets now."""
        crm = self.world.crm
        customer = self.customer(customer_id)
        while customer.merged_into is not None:
            customer = self.customer(customer.merged_into)
        facts = churn_facts(CustomerId(customer.id), self.all_tickets())
        rules = crm.tickets.policies.churn
        ctx = crm.ctx
        assessment = rules.assess(
            facts, ctx.clock.now(), timezone=ctx.timezone, calendar=ctx.calendar
        )
        assert customer.signals.after_sales_risk is assessment.risk
        assert customer.tags & rules.tags == assessment.tags

    # -- commands ---------------------------------------------------------------------------------
    @rule(
        who=WHO,
        c=st.integers(0, 1),
        own_contact=st.booleans(),
        priority=PRIORITY,
        assignee=ASSIGNEE,
        team=TEAM,
    )
    def open(
        self, who: Any, c: int, own_contact: bool, priority: str, assignee: str | None,
        team: str | None,
    ) -> None:  # fmt: skip
        contact = ("k1", "k2")[c if own_contact else 1 - c]
        opened = self.attempt(
            "open", self.world.crm.tickets.open, who, self.customers[c], contact,
            subject="打印机无法连接", category="hardware", channel="phone", priority=priority,
            assignee_id=assignee, team_id=team,
        )  # fmt: skip
        if opened is not None:
            self.tickets.append(opened.id)

    @rule(
        data=st.data(),
        who=WHO,
        step=st.sampled_from(["start", "wait_on_customer", "resume", "resolve", "reopen"]),
        reason=REASON,
    )
    def step(self, data: st.DataObject, who: Any, step: str, reason: str) -> None:
        picked = self.pick(data, self.tickets)
        if picked is None:
            return
        before = self.ticket(picked)
        call = getattr(self.world.crm.tickets, step)
        if step == "reopen":
            done = self.attempt(step, call, who, picked, reason)
        elif step in ("wait_on_customer", "resolve"):
            done = self.attempt(step, call, who, picked, reason=reason or None)
        else:
            done = self.attempt(step, call, who, picked)
        self.check_rights(who, before, done)

    @rule(data=st.data(), who=WHO, score=SCORE, rate=st.booleans())
    def close_or_rate(self, data: st.DataObject, who: Any, score: int | None, rate: bool) -> None:
        picked = self.pick(data, self.tickets)
        if picked is None:
            return
        before, tickets = self.ticket(picked), self.world.crm.tickets
        if rate:
            done = self.attempt("rate", tickets.rate, who, picked, 3 if score is None else score)
        else:
            done = self.attempt("close", tickets.close, who, picked, score=score, comment="好")
        self.check_rights(who, before, done)
        if done is not None:
            self.check_churn(done.customer_id)

    @rule(data=st.data(), who=WHO, assignee=ASSIGNEE, team=TEAM)
    def assign(self, data: st.DataObject, who: Any, assignee: str | None, team: str | None) -> None:
        picked = self.pick(data, self.tickets)
        if picked is not None:
            before = self.ticket(picked)
            done = self.attempt(
                "assign", self.world.crm.tickets.assign, who, picked,
                assignee_id=assignee, team_id=team, reason="换人",
            )  # fmt: skip
            self.check_rights(who, before, done)

    @rule(data=st.data(), who=WHO, priority=PRIORITY)
    def reprioritise(self, data: st.DataObject, who: Any, priority: str) -> None:
        picked = self.pick(data, self.tickets)
        if picked is not None:
            before = self.ticket(picked)
            done = self.attempt(
                "priority", self.world.crm.tickets.change_priority, who, picked, priority
            )
            self.check_rights(who, before, done)
            if done is not None:
                assert done.breached >= before.breached, "a raised breach stays raised"

    def check_rights(self, who: Any, before: Ticket, done: Ticket | None) -> None:
        if who is REP2 and done is not None:
            assert self.may_work(before), "a rep outside the ticket changed it"

    @rule(minutes=st.integers(1, 120) | st.integers(1, 5 * 24 * 60))
    def tick(self, minutes: int) -> None:
        self.world.clock.advance(timedelta(minutes=minutes))

    @rule()
    def sweep(self) -> None:
        report = self.world.crm.tickets.sweep_sla(SYSTEM)
        assert report.skipped == ()
        event(f"sweep: {len(report.warned)} warned, {len(report.breached)} breached")
        now = self.world.clock.now()
        for ticket in self.all_tickets():
            assert ticket.sla_check_at is None or ticket.sla_check_at > now, ticket.id
        for cid in {self.ticket(t).customer_id for t, _ in report.breached}:
            self.check_churn(cid)

    # -- the customer moves -----------------------------------------------------------------------
    @rule(owner=st.sampled_from([REP1, REP2]))
    def release_and_claim(self, owner: Any) -> None:
        crm, cid = self.world.crm, self.customers[0]
        current = self.customer(cid).owner_id
        holder = REP1 if current == REP1.rep_id else REP2
        if current is not None:
            self.attempt("release", crm.pools.release, holder, cid, "交给同事")
        self.attempt("claim", crm.pools.claim, owner, cid)

    @rule(now=st.integers(0, 4))
    def merge(self, now: int) -> None:
        if now:  # rarely: after a merge only the survivor's tickets are left to work
            return
        crm = self.world.crm
        self.attempt("merge", crm.collisions.merge, ADMIN, *self.customers, "同一家公司")

    # -- invariants -------------------------------------------------------------------------------
    @invariant()
    def instants_follow_the_history(self) -> None:
        clock = sla_calendar(self.world.crm.ctx, self.world.crm.tickets.policies)
        for ticket in self.all_tickets():
            assert with_sla(ticket, clock) is ticket, f"{ticket.id}: stale SLA instants"

    @invariant()
    def indexes_are_exact(self) -> None:
        assert_indexes_exact(self.world.crm, Ticket)

    @invariant()
    def each_breach_is_raised_once_when_due(self) -> None:
        breached = self.messages("ticket.sla_breached")
        warned = self.messages("ticket.sla_warning")
        recorded: Counter[tuple[str, str, str]] = Counter()
        for ticket in self.all_tickets():
            for breach in ticket.breaches:
                assert breach.due_at <= breach.raised_at
                recorded[(ticket.id, breach.target.value, breach.due_at.isoformat())] += 1
            for ticket_id, target, _ in warned:
                if ticket_id == ticket.id:
                    assert SlaTarget(target) in ticket.warned
        assert breached == recorded
        assert max(Counter((t, g) for t, g, _ in warned).values(), default=0) <= 1

    @invariant()
    def csat_counts_every_rating(self) -> None:
        rated = [t for t in self.all_tickets() if t.satisfaction is not None]
        start = datetime(2000, 1, 1, tzinfo=UTC)
        report = self.world.crm.tickets.csat(ADMIN, start, FAR)
        assert report.total.responses == len(rated)


TestTicketLifecycle = TicketLifecycle.TestCase
TestTicketLifecycle.settings = settings(
    max_examples=max(10, settings().max_examples // 2), stateful_step_count=30, deadline=None
)
