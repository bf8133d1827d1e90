"""Pipeline domain events: lead status changes, conversions and opportunity stage moves."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

import attrs

from leadtocash.events import DomainEvent
from leadtocash.model import ContactId, CustomerId, LeadId, RepId
from leadtocash.money import Money
from leadtocash.pipeline.flows import StageFlow, StageKind
from leadtocash.pipeline.machine import StageChange
from leadtocash.pipeline.opportunity import Opportunity, OpportunityId

__all__ = [
    "LeadConverted",
    "LeadStatusChanged",
    "OpportunityCreated",
    "OpportunityLost",
    "OpportunityReopened",
    "OpportunityStageChanged",
    "OpportunityWon",
    "lead_status_changed",
    "stage_events",
]


@attrs.frozen
class LeadStatusChanged(DomainEvent):
    """A lead moved through its lifecycle (start working, qualify, disqualify, convert)."""

    topic: ClassVar[str] = "lead.status_changed"
    lead_id: LeadId
    trigger: str
    status_from: str
    status_to: str
    actor: str
    reason: str | None = None


@attrs.frozen
class LeadConverted(DomainEvent):
    """A qualified lead became customer + contact + opportunity (customer possibly reused)."""

    topic: ClassVar[str] = "lead.converted"
    lead_id: LeadId
    customer_id: CustomerId
    contact_id: ContactId | None
    opportunity_id: OpportunityId
    reused_customer: bool


@attrs.frozen
class OpportunityCreated(DomainEvent):
    """A new opportunity was opened for a customer."""

    topic: ClassVar[str] = "opportunity.created"
    opportunity_id: OpportunityId
    customer_id: CustomerId
    owner_id: RepId
    stage: str
    amount: Money
    close_date: date


@attrs.frozen
class OpportunityStageChanged(DomainEvent):
    """An opportunity moved between stages (every trigger, including win, lose and reopen)."""

    topic: ClassVar[str] = "opportunity.stage_changed"
    opportunity_id: OpportunityId
    customer_id: CustomerId
    trigger: str
    stage_from: str
    stage_to: str
    actor: str
    reason: str | None = None


@attrs.frozen
class OpportunityWon(DomainEvent):
    """An opportunity was won (赢单)."""

    topic: ClassVar[str] = "opportunity.won"
    opportunity_id: OpportunityId
    customer_id: CustomerId
    owner_id: RepId
    amount: Money


@attrs.frozen
class OpportunityLost(DomainEvent):
    """An opportunity was lost (输单), with its reason."""

    topic: ClassVar[str] = "opportunity.lost"
    opportunity_id: OpportunityId
    customer_id: CustomerId
    owner_id: RepId
    reason: str


@attrs.frozen
class OpportunityReopened(DomainEvent):
    """A lost opportunity was reopened."""

    topic: ClassVar[str] = "opportunity.reopened"
    opportunity_id: OpportunityId
    customer_id: CustomerId
    stage: str
    reason: str | None = None


def lead_status_changed(lead_id: LeadId, change: StageChange) -> LeadStatusChanged:
    """The event of one lead history entry."""
    return LeadStatusChanged(
        change.at,
        lead_id,
        change.trigger,
        change.stage_from or "",
        change.stage_to,
        change.actor,
        change.reason,
    )


def stage_events(
    opportunity: Opportunity, change: StageChange, flow: StageFlow
) -> list[DomainEvent]:
    """Events of one opportunity stage change: always StageChanged, plus Won/Lost/Reopened."""
    o = opportunity
    events: list[DomainEvent] = [
        OpportunityStageChanged(
            change.at,
            o.id,
            o.customer_id,
            change.trigger,
            change.stage_from or "",
            change.stage_to,
            change.actor,
            change.reason,
        )
    ]
    kind = flow.stage(change.stage_to).kind
    if kind is StageKind.WON:
        events.append(OpportunityWon(change.at, o.id, o.customer_id, o.owner_id, o.amount))
    elif kind is StageKind.LOST:
        events.append(
            OpportunityLost(change.at, o.id, o.customer_id, o.owner_id, o.lost_reason or "")
        )
    elif change.stage_from == flow.lost_stage:
        events.append(OpportunityReopened(change.at, o.id, o.customer_id, o.stage, change.reason))
    return events
