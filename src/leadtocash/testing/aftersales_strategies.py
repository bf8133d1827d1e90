"""Hypothesis strategies for the after-sales aggregates: tickets and renewal markers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import strategies as st

from leadtocash.aftersales import (
    TICKET_TABLE,
    Renewal,
    RenewalId,
    SlaCalendar,
    Ticket,
    TicketChannel,
    TicketId,
    TicketPriority,
    TicketTrigger,
    fire_ticket,
    open_ticket,
    rate_ticket,
    sweep_sla,
)
from leadtocash.aftersales.ticket import TicketPolicy
from leadtocash.contracts import ContractId, ProductId
from leadtocash.model import ContactId, CustomerId, RepId, TeamId, Tier
from leadtocash.pipeline.opportunity import OpportunityId

__all__ = ["renewals", "tickets"]

_T0 = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)
_CLOCK = SlaCalendar("Asia/Shanghai")
_ANY_TIME = TicketPolicy(reopen_window=None)
_IDS = st.text("abcdefghijk0123456789-", min_size=1, max_size=12)
_TEXT = st.text(st.characters(codec="utf-8", categories=("L", "N")), min_size=1, max_size=20)


@st.composite
def _ticket(draw: st.DrawFn) -> Ticket:
    opened = _T0 + timedelta(minutes=draw(st.integers(0, 60 * 24 * 60)))
    ticket = open_ticket(
        TicketId(draw(_IDS)),
        customer_id=CustomerId(draw(_IDS)),
        contact_id=ContactId(draw(_IDS)),
        subject=draw(_TEXT),
        category=draw(st.sampled_from(["hardware", "software", "billing", "其他"])),
        channel=draw(st.sampled_from(TicketChannel)),
        priority=draw(st.sampled_from(TicketPriority)),
        now=opened,
        actor="agent",
        clock=_CLOCK,
        tier=draw(st.none() | st.sampled_from(Tier)),
        contract_id=draw(st.none() | _IDS.map(ContractId)),
        product_id=draw(st.none() | _IDS.map(ProductId)),
        assignee_id=draw(st.none() | _IDS.map(RepId)),
        team_id=draw(st.none() | _IDS.map(TeamId)),
        description=draw(st.none() | _TEXT),
    )
    now = opened
    for _ in range(draw(st.integers(0, 5))):
        now += timedelta(minutes=draw(st.integers(0, 60 * 24 * 3)))
        if draw(st.booleans()):
            ticket = sweep_sla(ticket, now, _CLOCK).ticket
        allowed = TICKET_TABLE.allowed(ticket.status.value)
        trigger = draw(st.sampled_from(sorted(allowed)))
        reason = "again" if trigger == TicketTrigger.REOPEN else None
        ticket = fire_ticket(
            ticket, trigger, now, "agent", clock=_CLOCK, reason=reason, policy=_ANY_TIME
        )
    if ticket.status.value in ("resolved", "closed") and draw(st.booleans()):
        comment = draw(st.none() | _TEXT)
        ticket = rate_ticket(ticket, draw(st.integers(1, 5)), now, "customer", comment=comment)
    return ticket


def tickets() -> st.SearchStrategy[Ticket]:
    """Tickets opened, moved through random legal triggers and sweeps, sometimes rated."""
    return _ticket()


def renewals() -> st.SearchStrategy[Renewal]:
    """Renewal markers of contracts."""

    def build(contract: str, customer: str, owner: str, ends: date, minutes: int) -> Renewal:
        return Renewal(
            id=RenewalId(f"renewal:{contract}"),
            contract_id=ContractId(contract),
            customer_id=CustomerId(customer),
            owner_id=RepId(owner),
            opportunity_id=OpportunityId(f"renewal:{contract}"),
            ends_on=ends,
            created_at=_T0 + timedelta(minutes=minutes),
        )

    return st.builds(
        build, _IDS, _IDS, _IDS, st.dates(date(2024, 1, 1), date(2035, 1, 1)),
        st.integers(0, 10**6),
    )  # fmt: skip
