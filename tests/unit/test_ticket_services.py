"""After-sales through the facade on the in-memory store: tickets, the breach sweep, churn,
renewals, scopes and masking.

The hand-checked worked example of tests/unit/aftersales (a P3 opened Friday 17:30 before the
2026 Spring Festival) runs again end to end through ``crm.tickets`` with a fake clock and the
indexed sweep; every refusal is typed, coded and leaves the store (rows, indexes, audit,
outbox) exactly as it was.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from aftersales_fixtures import AGENT, OFFICE, cst, service_world
from contract_fixtures import add_products, signed_contract
from leadtocash import LeadToCash, Money, Principal, Role, Tier
from leadtocash.aftersales import CsatGrouping, SlaTarget, TicketStatus, warn_threshold
from leadtocash.app import ServicePolicies
from leadtocash.app.aggregates import sortable_time
from leadtocash.contracts import InvoiceKind, LineInput, MilestoneSpec, ProductId
from leadtocash.durations import Duration
from leadtocash.errors import LeadToCashError, ValidationError
from leadtocash.model import Contact, ContactId, CustomerId, TeamId
from leadtocash.pipeline.flows import DEFAULT_FLOW
from leadtocash.pipeline.opportunity import Opportunity
from leadtocash.scopes import DEFAULT_ROLE_SCOPES, DataScope, ScopePolicy
from pool_fixtures import ADMIN, MANAGER, SYSTEM, World, rep_principal

REP1, REP2 = rep_principal(1), rep_principal(2)
FINANCE = Principal("fred", roles=frozenset({Role.FINANCE}))


def _state(world: World) -> Any:
    store = world.store
    return (
        dict(store._rows),
        {k: list(v) for k, v in store._indexes.items()},
        [e.id for e in store.audit_log(limit=1_000_000)],
        [m.id for m in store.outbox_due(datetime(2100, 1, 1, tzinfo=UTC), limit=1_000_000)],
    )


def _refused(world: World, code: str, call: Any, *args: Any, **kwargs: Any) -> LeadToCashError:
    before = _state(world)
    with pytest.raises(LeadToCashError) as caught:
        call(*args, **kwargs)
    error = caught.value
    found = error.errors[0].code if isinstance(error, ValidationError) else error.code
    assert found == code, error
    assert _state(world) == before, "a refused operation must change nothing"
    return error


def _topics(world: World, prefix: str = "ticket.") -> list[str]:
    due = world.store.outbox_due(datetime(2100, 1, 1, tzinfo=UTC), limit=1_000_000)
    return [m.topic for m in due if m.topic.startswith(prefix)]


def _open(world: World, cid: str, priority: str = "P3", who: Principal = REP1, **kw: Any) -> str:
    return world.crm.tickets.open(
        who, cid, "k1", subject="打印机无法连接", category="hardware", channel="phone",
        priority=priority, **kw,
    ).id  # fmt: skip


def test_the_spring_festival_worked_example_through_the_facade_and_the_sweep() -> None:
    pytest.importorskip("chinese_calendar")
    from leadtocash.calendars import ChinaStatutoryCalendar

    world, cid = service_world(ChinaStatutoryCalendar(business_hours=OFFICE))
    crm, clock = world.crm, world.clock
    clock.set(cst(2026, 2, 13, 17, 30))  # Friday before the holiday
    ticket_id = _open(world, cid)
    ticket = crm.tickets.get(REP1, ticket_id)
    assert ticket.first_response_due_at == cst(2026, 2, 14, 13, 30)  # make-up Saturday
    assert ticket.resolution_due_at == cst(2026, 2, 27, 17, 30)
    assert ticket.sla_check_at == cst(2026, 2, 14, 11, 30)
    assert ticket.tier is Tier.D and ticket.sla.policy == "P3"

    clock.set(cst(2026, 2, 14, 10))
    assert crm.tickets.sweep_sla(SYSTEM).warned == ()
    crm.tickets.start(REP1, ticket_id)  # answered after 1.5 h: met
    clock.set(cst(2026, 2, 14, 11))
    crm.tickets.wait_on_customer(REP1, ticket_id, reason="请提供日志")
    clock.set(cst(2026, 2, 18, 10))  # the customer answers in the middle of the holiday
    ticket = crm.tickets.resume(REP1, ticket_id)
    assert ticket.resolution_due_at == cst(2026, 2, 28, 15, 30)  # make-up Saturday again
    assert ticket.sla_check_at == cst(2026, 2, 28, 14, 30)
    for day in (18, 22, 23, 27):  # nothing is due over the holiday, nor the week after
        clock.set(cst(2026, 2, day, 17, 59))
        report = crm.tickets.sweep_sla(SYSTEM)
        assert report.warned == report.breached == () and report.moved == ()
    assert _topics(world) == []

    clock.set(cst(2026, 2, 28, 14, 30))
    report = crm.tickets.sweep_sla(SYSTEM)
    assert report.warned == ((ticket_id, "resolution"),) and report.breached == ()
    clock.set(cst(2026, 2, 28, 15, 0))
    assert crm.tickets.sweep_sla(SYSTEM).warned == ()  # once
    clock.set(cst(2026, 2, 28, 15, 30))
    assert crm.tickets.sweep_sla(SYSTEM).breached == ((ticket_id, "resolution"),)
    clock.set(cst(2026, 3, 2, 9))
    assert crm.tickets.sweep_sla(SYSTEM) == type(report)()
    assert _topics(world) == ["ticket.sla_warning", "ticket.sla_breached"]
    ticket = crm.tickets.get(REP1, ticket_id)
    assert ticket.breached == {SlaTarget.RESOLUTION} and ticket.sla_check_at is None
    entries = [e for e in world.store.audit_log(limit=1000) if e.target_id == ticket_id]
    assert [e.action for e in entries][-2:] == ["service.sweep", "service.sweep"]
    assert entries[-1].reason == "SLA resolution breached"

    # resolve, close with a score, and the whole history is there
    crm.tickets.resolve(REP1, ticket_id, reason="驱动更新")
    closed = crm.tickets.close(REP1, ticket_id, score=4, comment="谢谢")
    assert closed.status is TicketStatus.CLOSED and closed.satisfaction is not None
    assert [h.stage_to for h in closed.history] == [
        "open", "in_progress", "waiting_on_customer", "in_progress", "resolved", "closed",
    ]  # fmt: skip


def test_every_refusal_is_typed_coded_and_changes_nothing() -> None:
    world, cid = service_world(service=ServicePolicies())
    crm = world.crm
    ticket_id = _open(world, cid)
    _refused(world, "ticket.unknown_priority", _open, world, cid, "P9")
    _refused(world, "ticket.unknown_channel", crm.tickets.open, REP1, cid, "k1",
             subject="x", category="y", channel="pigeon", priority="P3")  # fmt: skip
    _refused(world, "ticket.contact_mismatch", crm.tickets.open, REP1, cid, "k2",
             subject="x", category="y", channel="phone", priority="P3")  # fmt: skip
    _refused(world, "storage.not_found", _open, world, cid, assignee_id="nobody")
    _refused(world, "state.invalid_transition", crm.tickets.close, REP1, ticket_id)
    _refused(world, "state.invalid_transition", crm.tickets.resume, REP1, ticket_id)
    _refused(world, "ticket.not_rateable", crm.tickets.rate, REP1, ticket_id, 5)
    crm.tickets.start(REP1, ticket_id)
    crm.tickets.resolve(REP1, ticket_id)
    _refused(world, "satisfaction.score_range", crm.tickets.close, REP1, ticket_id, score=6)
    _refused(world, "satisfaction.score_range", crm.tickets.rate, REP1, ticket_id, 0)
    crm.tickets.close(REP1, ticket_id, score=5)
    error = _refused(world, "state.invalid_transition", crm.tickets.close, REP1, ticket_id)
    assert error.details["allowed"] == ["reopen"]
    world.clock.advance(timedelta(days=8))  # the 7-day reopen window has passed
    _refused(world, "ticket.reopen_window_passed", crm.tickets.reopen, REP1, ticket_id, "again")
    _refused(world, "field.required", crm.tickets.reopen, REP1, ticket_id, " ")
    # roles and scopes
    _refused(world, "auth.permission_denied", _open, world, cid, who=FINANCE)
    _refused(world, "auth.out_of_scope", _open, world, cid, who=REP2)
    _refused(world, "auth.out_of_scope", crm.tickets.get, REP2, ticket_id)
    _refused(world, "auth.permission_denied", crm.tickets.sweep_sla, REP1)
    _refused(world, "auth.permission_denied", crm.renewals.sweep, AGENT)
    _refused(world, "auth.permission_denied", crm.tickets.assign, REP1, ticket_id,
             assignee_id="rep2")  # fmt: skip


def test_roles_scopes_and_masked_contacts() -> None:
    world, cid = service_world()
    crm = world.crm
    mine = _open(world, cid)
    other = world.customers[1]
    crm.pools.claim(REP2, other)
    with world.crm.unit_of_work() as uow:
        uow.contacts.add(Contact(ContactId("k3"), other, "赵", phone="+8613900002222"))
        uow.commit()
    theirs = crm.tickets.open(
        REP2, other, "k3", subject="账单", category="billing", channel="email", priority="P4"
    ).id
    # the service role (scope "all") sees and works every ticket; contacts stay masked
    assert crm.tickets.get(AGENT, theirs).customer_id == other
    assert crm.tickets.contact(AGENT, mine).phone == "+86138****1111"
    assert crm.tickets.contact(REP1, mine).phone == "+8613800001111"  # the owner
    crm.tickets.assign(AGENT, mine, assignee_id="agent1", team_id="t1")
    assert crm.tickets.contact(AGENT, mine).phone == "+8613800001111"  # the assignee
    # reps see the tickets of their customers only
    assert [t.id for t in crm.tickets.for_customer(REP1, cid).items] == [mine]
    _refused(world, "auth.out_of_scope", crm.tickets.for_customer, REP1, other)
    assert crm.tickets.for_assignee(REP2, "agent1").items == ()
    assert [t.id for t in crm.tickets.for_assignee(REP1, "agent1").items] == [mine]
    # a service role scoped to its team sees the team's tickets and nothing else
    scoped = LeadToCash(world.store, world.clock, world.crm.ctx.ids)
    team_scopes = ScopePolicy({**DEFAULT_ROLE_SCOPES, Role.SERVICE: DataScope.TEAM})
    object.__setattr__(scoped.ctx, "scopes", team_scopes)
    colleague = Principal("agent2", roles=frozenset({Role.SERVICE}), team_id=TeamId("t1"))
    assert scoped.tickets.get(colleague, mine).id == mine
    assert [t.id for t in scoped.tickets.for_team(colleague, "t1").items] == [mine]
    _refused(world, "auth.out_of_scope", scoped.tickets.get, colleague, theirs)
    assert scoped.tickets.contact(colleague, mine).email == "w***@a.cn"


def test_a_tier_a_customer_with_two_breaches_in_30_days_drops_to_b_explained() -> None:
    world, cid = service_world()
    crm = world.crm
    crm.classification.update_signals(
        REP1, cid, need_confirmed=True, budget=Money(500_000, "CNY"),
        decision_maker_identified=True, expected_close=date(2026, 1, 20),
    )  # fmt: skip
    assert crm.pools.get_customer(ADMIN, cid).tier is Tier.A
    first, second = _open(world, cid, "P1"), _open(world, cid, "P1")
    assert crm.tickets.get(REP1, first).tier is Tier.A
    world.clock.advance(timedelta(hours=2))  # P1: first response within 1 business hour
    report = crm.tickets.sweep_sla(SYSTEM)
    assert sorted(report.breached) == [(first, "first_response"), (second, "first_response")]
    customer = crm.pools.get_customer(ADMIN, cid)
    assert customer.tier is Tier.B
    assert {"sla-breaches", "churn-risk"} <= customer.tags
    entry = [e for e in world.store.audit_log(limit=1000) if e.target_id == cid][-1]
    assert entry.action == "service.sweep" and entry.reason is not None
    assert entry.reason.startswith("after-sales risk none → medium (sla-breaches: 2 SLA breaches")
    assert "A → B" in entry.reason or "tier B" in entry.reason, entry.reason
    # 40 days on, the breaches left the window: the churn sweep clears the signal
    world.clock.advance(timedelta(days=40))
    swept = crm.churn.sweep(SYSTEM)
    assert swept.changed == (cid,)
    customer = crm.pools.get_customer(ADMIN, cid)
    assert "sla-breaches" not in customer.tags
    assert customer.signals.after_sales_risk.value == "none"
    assert crm.churn.sweep(SYSTEM).changed == ()


def test_a_low_score_and_an_overdue_receivable_are_churn_signals() -> None:
    world, cid = service_world()
    crm = world.crm
    ticket_id = _open(world, cid)
    crm.tickets.start(REP1, ticket_id)
    crm.tickets.resolve(REP1, ticket_id)
    crm.tickets.close(REP1, ticket_id, score=1, comment="太慢")
    assert "low-csat" in crm.pools.get_customer(ADMIN, cid).tags
    crm.tickets.rate(REP1, ticket_id, 5)  # the latest rating counts
    assert "low-csat" not in crm.pools.get_customer(ADMIN, cid).tags

    add_products(crm)
    contract = signed_contract(world, cid)
    invoice = crm.billing.draft_invoice(
        FINANCE, contract.id, InvoiceKind.ORDINARY, Money("1000.00", "CNY")
    )
    crm.billing.issue_invoice(FINANCE, invoice.id, due_date=date(2026, 1, 15))
    world.clock.advance(timedelta(days=75))  # more than 60 days overdue
    assert crm.churn.sweep(SYSTEM).changed == (cid,)
    customer = crm.pools.get_customer(ADMIN, cid)
    assert "overdue-receivable" in customer.tags
    assert customer.signals.after_sales_risk.value == "high"
    assert crm.churn.assess(MANAGER, cid).tags == customer.tags  # nothing moves twice


def test_a_merge_moves_tickets_and_invoices_whose_signals_are_the_survivors() -> None:
    """A merge moves the duplicate's tickets and invoices to the survivor (its service
    history, worked by its rep): a low score and an overdue invoice tag the survivor."""
    world, cid = service_world()
    crm = world.crm
    add_products(crm)
    ticket_id = _open(world, cid)
    contract = signed_contract(world, cid)
    invoice = crm.billing.draft_invoice(
        FINANCE, contract.id, InvoiceKind.ORDINARY, Money("1000.00", "CNY")
    )
    crm.billing.issue_invoice(FINANCE, invoice.id, due_date=date(2026, 1, 15))
    survivor = world.customers[1]
    crm.pools.claim(REP2, survivor)
    crm.collisions.merge(ADMIN, survivor, cid, "same company", prefer=CustomerId(survivor))
    assert crm.tickets.get(REP2, ticket_id).customer_id == survivor  # the survivor's rep
    crm.tickets.start(REP2, ticket_id)
    crm.tickets.resolve(REP2, ticket_id)
    crm.tickets.close(REP2, ticket_id, score=1, comment="太慢")
    assert "low-csat" in crm.pools.get_customer(ADMIN, survivor).tags
    world.clock.advance(timedelta(days=75))  # the archive's invoice, 60+ days overdue
    assert crm.churn.sweep(SYSTEM).changed == (survivor,)
    assert "overdue-receivable" in crm.pools.get_customer(ADMIN, survivor).tags
    assert crm.churn.sweep(SYSTEM).changed == ()  # nothing moves twice


def test_csat_per_rep_team_and_month() -> None:
    world, cid = service_world()
    crm = world.crm
    for score, who in ((5, "agent1"), (2, "agent1"), (4, "rep1")):
        ticket_id = _open(world, cid)
        team = "t1" if who == "agent1" else None
        crm.tickets.assign(ADMIN, ticket_id, assignee_id=who, team_id=team)
        crm.tickets.start(REP1, ticket_id)
        crm.tickets.resolve(REP1, ticket_id)
        crm.tickets.close(REP1, ticket_id, score=score)
        world.clock.advance(timedelta(hours=1))
    start = world.clock.now() - timedelta(days=1)
    report = crm.tickets.csat(MANAGER, start, start + timedelta(days=2))
    assert report.row("agent1").responses == 2 and str(report.row("agent1").csat) == "50.0"
    assert str(report.total.csat) == "66.7"
    by_team = crm.tickets.csat(AGENT, start, start + timedelta(days=2), by=CsatGrouping.TEAM)
    assert by_team.row("t1").responses == 2 and by_team.row(None).responses == 1
    assert crm.tickets.csat(MANAGER, start - timedelta(days=9), start).total.responses == 0
    _refused(world, "auth.permission_denied", crm.tickets.csat, REP1, start, start)


def test_change_priority_and_reopen_rederive_the_sla_clock() -> None:
    world, cid = service_world()
    crm = world.crm
    ticket_id = _open(world, cid, "P4")
    p4 = crm.tickets.get(REP1, ticket_id)
    p1 = crm.tickets.change_priority(REP1, ticket_id, "P1", reason="产线停机")
    assert p1.sla.policy == "P1" and p1.first_response_due_at is not None
    assert p4.first_response_due_at is not None
    assert p1.first_response_due_at < p4.first_response_due_at
    assert crm.tickets.change_priority(REP1, ticket_id, "P1").version == p1.version  # no-op
    crm.tickets.start(REP1, ticket_id)
    crm.tickets.resolve(REP1, ticket_id)
    world.clock.advance(timedelta(days=2))
    again = crm.tickets.reopen(REP1, ticket_id, "still broken")
    assert again.status is TicketStatus.IN_PROGRESS and again.reopen_count == 1
    assert again.sla_check_at is not None
    with world.crm.unit_of_work() as uow:
        due = uow.repository(type(again)).index_entries(
            "sla_check", below=sortable_time(again.sla_check_at) + "~", limit=10
        )
    assert [ident for _, ident in due] == [ticket_id]


def test_a_contract_nearing_its_end_opens_one_renewal_in_the_first_stage() -> None:
    world, cid = service_world()
    crm = world.crm
    add_products(crm)
    contract = signed_contract(world, cid)
    assert contract.ends_on is None
    assert crm.renewals.sweep(SYSTEM).created == ()  # open-ended: never renews
    today = world.clock.now().date()
    near = _contract_ending(world, cid, today + timedelta(days=45))
    far = _contract_ending(world, cid, today + timedelta(days=100))
    report = crm.renewals.sweep(SYSTEM)
    assert report.created == ((near, f"renewal:{near}"),)
    assert crm.renewals.sweep(SYSTEM).created == ()  # once
    with crm.unit_of_work() as uow:
        opportunity = uow.repository(Opportunity).get(f"renewal:{near}")
    assert opportunity.stage == DEFAULT_FLOW.stages[0].name
    assert opportunity.owner_id == "rep1" and opportunity.custom["renewal_of"] == near
    assert opportunity.close_date == today + timedelta(days=45)
    assert "opportunity.created" in _topics(world, "opportunity.")
    assert crm.pools.get_customer(ADMIN, cid).open_opportunity_stage is not None
    world.clock.advance(timedelta(days=41))  # the far contract's lead time begins
    assert crm.renewals.sweep(SYSTEM).created == ((far, f"renewal:{far}"),)
    assert [r.contract_id for r in crm.renewals.for_customer(REP1, cid).items] == [near, far]


def test_the_renewal_of_a_merged_away_customers_contract_is_the_survivors_deal() -> None:
    """A contract stays with a customer merged into another; its renewal deal opens on the
    survivor (the company reps work), where it can move on; on the archive it would have
    been out of sight and stuck (every step of a deal stages its customer)."""
    world, cid = service_world()
    crm = world.crm
    add_products(crm)
    ending = _contract_ending(world, cid, world.clock.now().date() + timedelta(days=45))
    survivor = world.customers[1]
    crm.collisions.merge(ADMIN, survivor, cid, "same company", prefer=CustomerId(survivor))
    assert crm.renewals.sweep(SYSTEM).created == ((ending, f"renewal:{ending}"),)
    with crm.unit_of_work() as uow:
        deal = uow.repository(Opportunity).get(f"renewal:{ending}")
    assert deal.customer_id == survivor
    assert [r.contract_id for r in crm.renewals.for_customer(ADMIN, survivor).items] == [ending]
    assert crm.pipeline.advance(ADMIN, deal.id).stage == DEFAULT_FLOW.stages[1].name


def _contract_ending(world: World, cid: str, ends_on: date) -> str:
    """A signed contract of ``cid`` whose term ends on ``ends_on`` (set on the draft)."""
    crm, today = world.crm, world.clock.now().date()
    quote = crm.quotes.draft(
        REP1, cid, "CNY", [LineInput(Decimal(1), ProductId("SRV-1"))],
        valid_until=today + timedelta(days=30),
    )  # fmt: skip
    crm.quotes.send(REP1, quote.id)
    crm.quotes.accept(REP1, quote.id)
    plan = [MilestoneSpec("全款", percent=Decimal(100), due_date=today + timedelta(days=10))]
    contract = crm.contracts.from_quote(REP1, quote.id, plan=plan)
    assert contract.ends_on is None
    assert crm.contracts.edit(REP1, contract.id, ends_on=ends_on).ends_on == ends_on
    crm.contracts.submit(REP1, contract.id)
    crm.contracts.approve(MANAGER, contract.id, "ok")
    signed = crm.contracts.sign(REP1, contract.id)
    assert signed.ends_on == ends_on
    _refused(world, "contract.signed_immutable", crm.contracts.edit, REP1, contract.id,
             ends_on=ends_on + timedelta(days=365))  # fmt: skip
    return contract.id


def test_a_p1_ticket_is_warned_at_half_its_one_hour_first_response() -> None:
    """P1 promises a first response in 1 business hour and the default warning is 1 hour
    ahead: the warning comes at half time instead of never."""
    bh = Duration.business_hours
    assert warn_threshold(bh(1), bh(1)) == timedelta(minutes=30)
    assert warn_threshold(bh(8), bh(1)) == timedelta(hours=7)
    assert warn_threshold(bh(1), bh(0)) is None and warn_threshold(bh(0), bh(1)) is None
    world, cid = service_world()
    crm, clock = world.crm, world.clock
    ticket_id = _open(world, cid, "P1")
    ticket = crm.tickets.get(REP1, ticket_id)
    assert ticket.first_response_due_at is not None and ticket.sla_check_at is not None
    assert ticket.sla_check_at < ticket.first_response_due_at
    clock.set(ticket.sla_check_at)
    report = crm.tickets.sweep_sla(SYSTEM)
    assert report.warned == ((ticket_id, "first_response"),) and report.breached == ()
    assert _topics(world) == ["ticket.sla_warning"]
