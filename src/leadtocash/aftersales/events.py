"""After-sales domain events: SLA warnings and breaches, for the outbox."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

import attrs

from leadtocash.aftersales.ids import TicketId
from leadtocash.aftersales.priority import TicketPriority
from leadtocash.aftersales.sla_policy import SlaTarget
from leadtocash.events import DomainEvent
from leadtocash.model import CustomerId, RepId, TeamId

__all__ = ["SlaBreached", "SlaEvent", "SlaWarning"]


@attrs.frozen
class SlaWarning(DomainEvent):
    """A ticket's SLA target falls due soon (``warn_before`` of its clock remains)."""

    topic: ClassVar[str] = "ticket.sla_warning"
    ticket_id: TicketId
    customer_id: CustomerId
    target: SlaTarget
    priority: TicketPriority
    due_at: datetime
    assignee_id: RepId | None = None
    team_id: TeamId | None = None
    #: The instant rests on an unpublished calendar year and may still move.
    provisional: bool = False


@attrs.frozen
class SlaBreached(DomainEvent):
    """A ticket missed an SLA target (raised once per target and ticket)."""

    topic: ClassVar[str] = "ticket.sla_breached"
    ticket_id: TicketId
    customer_id: CustomerId
    target: SlaTarget
    priority: TicketPriority
    due_at: datetime
    assignee_id: RepId | None = None
    team_id: TeamId | None = None
    provisional: bool = False


#: Either SLA event.
SlaEvent = SlaWarning | SlaBreached
