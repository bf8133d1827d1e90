"""Ticket lifecycle: the shared machine, history, typed refusals, reopen window, ratings."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from aftersales_fixtures import CUSTOMER, WEEKDAYS, cst, new_ticket
from leadtocash.aftersales import (
    TICKET_TABLE,
    Renewal,
    RenewalId,
    SlaPolicies,
    SlaPolicy,
    SlaTarget,
    Ticket,
    TicketChannel,
    TicketPolicy,
    TicketPriority,
    TicketStatus,
    TicketTrigger,
    assign_ticket,
    change_priority,
    close_ticket,
    fire_ticket,
    parse_priority,
    rate_ticket,
    reopen_ticket,
    resolve_ticket,
    resume_work,
    start_work,
    sweep_sla,
    ticket_diagram,
    wait_on_customer,
)
from leadtocash.aftersales.diagrams import diagrams
from leadtocash.contracts import ContractId, ProductId
from leadtocash.durations import Duration
from leadtocash.errors import InvalidTransition, RuleViolation, ValidationError
from leadtocash.model import RepId, TeamId, Tier
from leadtocash.pipeline.diagrams import render_blocks
from leadtocash.pipeline.opportunity import OpportunityId
from leadtocash.serialization import structure, unstructure

MON = cst(2026, 3, 2, 10)  # Monday 10:00 in Shanghai


def test_a_new_ticket_is_open_with_its_creation_in_the_history() -> None:
    ticket = new_ticket(MON, contract_id=ContractId("k-1"), product_id=ProductId("p-1"))
    assert ticket.status is TicketStatus.OPEN and ticket.priority is TicketPriority.P3
    assert ticket.channel is TicketChannel.PHONE and ticket.sla.policy == "P3"
    (created,) = ticket.history
    assert (created.stage_from, created.stage_to, created.trigger) == (None, "open", "create")
    assert created.actor == "agent-1" and created.at == MON
    # P3: 4 business hours to respond (Mon 10:00 → 12:00 is 2 h, lunch, 13:00 → 15:00 is 2 h)
    assert ticket.first_response_due_at == cst(2026, 3, 2, 15)
    assert ticket.sla_check_at == cst(2026, 3, 2, 14)  # warning 1 business hour before


def test_the_lifecycle_records_who_when_from_to_and_why() -> None:
    ticket = new_ticket(MON)
    ticket = start_work(ticket, MON + timedelta(hours=1), "agent-2", clock=WEEKDAYS)
    ticket = wait_on_customer(
        ticket, MON + timedelta(hours=2), "agent-2", clock=WEEKDAYS, reason="需要日志"
    )
    ticket = resume_work(ticket, MON + timedelta(hours=3), "agent-2", clock=WEEKDAYS)
    ticket = resolve_ticket(ticket, MON + timedelta(hours=4), "agent-2", clock=WEEKDAYS)
    ticket = close_ticket(ticket, MON + timedelta(hours=5), "agent-2", clock=WEEKDAYS)
    steps = [(c.stage_from, c.stage_to, c.trigger, c.reason) for c in ticket.history[1:]]
    assert steps == [
        ("open", "in_progress", "start", None),
        ("in_progress", "waiting_on_customer", "wait_on_customer", "需要日志"),
        ("waiting_on_customer", "in_progress", "resume", None),
        ("in_progress", "resolved", "resolve", None),
        ("resolved", "closed", "close", None),
    ]
    assert ticket.first_responded_at == MON + timedelta(hours=1)
    assert ticket.resolved_at == MON + timedelta(hours=4)
    assert ticket.closed_at == MON + timedelta(hours=5)
    assert TICKET_TABLE.replay(ticket.history) == "closed"
    assert ticket.first_response_due_at is None and ticket.resolution_due_at is None
    assert ticket.sla_check_at is None  # nothing left to sweep


def test_an_illegal_trigger_names_the_allowed_ones_and_changes_nothing() -> None:
    ticket = new_ticket(MON)
    before = unstructure(ticket)
    with pytest.raises(InvalidTransition) as caught:
        fire_ticket(ticket, TicketTrigger.CLOSE, MON, "agent-1", clock=WEEKDAYS)
    assert caught.value.code == "state.invalid_transition"
    assert caught.value.details["allowed"] == ["start", "wait_on_customer", "resolve"]
    assert caught.value.details["state"] == "open"
    assert unstructure(ticket) == before


def test_closing_an_already_closed_ticket_is_refused_with_reopen_allowed() -> None:
    ticket = resolve_ticket(new_ticket(MON), MON, "agent-1", clock=WEEKDAYS)
    closed = close_ticket(ticket, MON + timedelta(hours=1), "agent-1", clock=WEEKDAYS)
    before = unstructure(closed)
    with pytest.raises(InvalidTransition) as caught:
        close_ticket(closed, MON + timedelta(hours=2), "agent-1", clock=WEEKDAYS)
    assert caught.value.allowed == ("reopen",) and caught.value.trigger == "close"
    assert unstructure(closed) == before


@pytest.mark.parametrize("value", ["P5", "urgent", "", 3, None])
def test_an_unknown_priority_is_a_validation_error_naming_the_field(value: object) -> None:
    with pytest.raises(ValidationError) as caught:
        new_ticket(MON, priority=value)
    assert caught.value.paths == ("priority",)
    assert caught.value.errors[0].code == "ticket.unknown_priority"
    assert parse_priority(" p2 ") is TicketPriority.P2


def test_an_unknown_channel_is_a_validation_error() -> None:
    with pytest.raises(ValidationError) as caught:
        new_ticket(MON, channel="fax")
    assert caught.value.errors[0].code == "ticket.unknown_channel"


def test_changes_dated_before_the_last_one_are_refused() -> None:
    ticket = start_work(new_ticket(MON), MON + timedelta(hours=1), "a", clock=WEEKDAYS)
    with pytest.raises(ValidationError) as caught:
        resolve_ticket(ticket, MON, "a", clock=WEEKDAYS)
    assert caught.value.errors[0].code == "ticket.out_of_order"


def test_reopen_within_the_window_resumes_the_resolution_clock() -> None:
    ticket = resolve_ticket(new_ticket(MON), MON + timedelta(hours=1), "a", clock=WEEKDAYS)
    ticket = close_ticket(ticket, MON + timedelta(hours=2), "a", clock=WEEKDAYS)
    reopened = reopen_ticket(
        ticket, MON + timedelta(days=6), "customer", clock=WEEKDAYS, reason="又坏了"
    )
    assert reopened.status is TicketStatus.IN_PROGRESS and reopened.reopen_count == 1
    assert reopened.resolved_at is None and reopened.closed_at is None
    assert reopened.history[-1].reason == "又坏了"
    assert reopened.resolution_due_at is not None  # the clock runs again


def test_reopen_after_the_window_or_without_a_reason_is_refused() -> None:
    resolved = resolve_ticket(new_ticket(MON), MON, "a", clock=WEEKDAYS)
    before = unstructure(resolved)
    with pytest.raises(RuleViolation) as caught:
        reopen_ticket(resolved, MON + timedelta(days=7, seconds=1), "c", clock=WEEKDAYS, reason="x")
    assert caught.value.code == "ticket.reopen_window_passed"
    assert caught.value.details["window_ends_at"] == (MON + timedelta(days=7)).isoformat()
    with pytest.raises(ValidationError):
        reopen_ticket(resolved, MON, "c", clock=WEEKDAYS, reason="  ")
    never = TicketPolicy(reopen_window=Duration.days(0))
    with pytest.raises(RuleViolation):
        reopen_ticket(resolved, MON, "c", clock=WEEKDAYS, reason="x", policy=never)
    anytime = TicketPolicy(reopen_window=None)
    late = MON + timedelta(days=400)
    assert reopen_ticket(resolved, late, "c", clock=WEEKDAYS, reason="x", policy=anytime)
    assert unstructure(resolved) == before


def test_a_rating_is_a_score_from_1_to_5_on_a_resolved_or_closed_ticket() -> None:
    ticket = assign_ticket(
        new_ticket(MON), MON, assignee_id=RepId("rep-1"), team_id=TeamId("team-1")
    )
    with pytest.raises(RuleViolation) as refused:
        rate_ticket(ticket, 5, MON, "customer")
    assert refused.value.code == "ticket.not_rateable"
    resolved = resolve_ticket(ticket, MON, "a", clock=WEEKDAYS)
    for bad in (0, 6, -1, True, 4.5, "5"):
        with pytest.raises(ValidationError) as caught:
            rate_ticket(resolved, bad, MON, "customer")  # type: ignore[arg-type]
        assert caught.value.errors[0].code == "satisfaction.score_range"
        assert caught.value.paths == ("score",)
    closed = close_ticket(resolved, MON, "a", clock=WEEKDAYS, score=2, comment=" 太慢 ")
    assert closed.satisfaction is not None
    assert (closed.satisfaction.score, closed.satisfaction.comment) == (2, "太慢")
    assert closed.satisfaction.rep_id == "rep-1" and closed.satisfaction.team_id == "team-1"
    assert rate_ticket(closed, 5, MON, "customer").satisfaction.score == 5  # type: ignore[union-attr]


def test_closing_with_a_bad_score_changes_nothing() -> None:
    resolved = resolve_ticket(new_ticket(MON), MON, "a", clock=WEEKDAYS)
    before = unstructure(resolved)
    with pytest.raises(ValidationError):
        close_ticket(resolved, MON, "a", clock=WEEKDAYS, score=7)
    assert unstructure(resolved) == before and resolved.status is TicketStatus.RESOLVED


def test_policies_per_tier_win_over_the_default_and_priority_changes_re_derive() -> None:
    bh = Duration.business_hours
    policies = SlaPolicies(
        (
            *SlaPolicies().policies,
            SlaPolicy(TicketPriority.P3, bh(1), bh(8), tier=Tier.A),
        )
    )
    vip = new_ticket(MON, policies=policies, tier=Tier.A)
    assert vip.sla.policy == "P3/A" and vip.first_response_due_at == cst(2026, 3, 2, 11)
    other = new_ticket(MON, policies=policies, tier=Tier.B)
    assert other.sla.policy == "P3"
    urgent = change_priority(other, "P1", MON, clock=WEEKDAYS, policies=policies)
    assert urgent.priority is TicketPriority.P1 and urgent.sla.policy == "P1"
    assert urgent.first_response_due_at == cst(2026, 3, 2, 11)


def test_invalid_policy_tables_are_refused_naming_the_row() -> None:
    bh = Duration.business_hours
    with pytest.raises(ValidationError) as caught:
        SlaPolicies((SlaPolicy("P1", bh(1), bh(8)), SlaPolicy("P1", bh(1), Duration.days(2))))
    codes = {e.code for e in caught.value.errors}
    assert codes == {"sla.policy_duplicate", "sla.unit", "sla.policy_missing"}
    assert "policies.P2" in caught.value.paths


def test_every_aggregate_round_trips_through_serialization() -> None:
    ticket = new_ticket(MON, contract_id=ContractId("k-1"), tier=Tier.B)
    ticket = start_work(ticket, MON + timedelta(hours=1), "a", clock=WEEKDAYS)
    ticket = sweep_sla(ticket, MON + timedelta(days=30), WEEKDAYS).ticket
    ticket = resolve_ticket(ticket, MON + timedelta(days=30), "a", clock=WEEKDAYS)
    ticket = close_ticket(ticket, MON + timedelta(days=30), "a", clock=WEEKDAYS, score=4)
    assert ticket.breached == {SlaTarget.RESOLUTION}
    assert structure(unstructure(ticket), Ticket) == ticket
    renewal = Renewal(
        id=RenewalId("renewal:k-1"),
        contract_id=ContractId("k-1"),
        customer_id=CUSTOMER,
        owner_id=RepId("rep-1"),
        opportunity_id=OpportunityId("renewal:k-1"),
        ends_on=MON.date(),
        created_at=MON,
    )
    assert structure(unstructure(renewal), Renewal) == renewal
    assert structure(unstructure(SlaPolicies()), SlaPolicies) == SlaPolicies()


def test_stored_data_with_an_unknown_priority_is_a_validation_error() -> None:
    data = unstructure(new_ticket(MON))
    data["priority"] = "P9"
    with pytest.raises(ValidationError):
        structure(data, Ticket)


def test_the_diagram_draws_every_transition_of_the_live_machine() -> None:
    drawn = ticket_diagram()
    assert "stateDiagram-v2" in drawn and "待客户回复 waiting_on_customer" in drawn
    for edge in TICKET_TABLE.edges:
        assert f"{edge.source} --> {edge.dest}: {edge.trigger}" in drawn


def test_the_docs_page_embeds_the_current_diagram() -> None:
    page = Path(__file__).resolve().parents[3] / "docs" / "aftersales.md"
    current = page.read_text("utf-8")
    assert render_blocks(current, diagrams()) == current, "regenerate docs/aftersales.md"
