"""Domain events: frozen facts about what happened, written to the outbox in the same commit.

Each event class has a stable ``topic`` used for routing notifications and webhooks.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

import attrs

from leadtocash.model import Channel, LeadId, utc

__all__ = ["DomainEvent", "LeadCaptured", "event_types"]


@attrs.frozen
class DomainEvent:
    """Base of all events: when it happened; subclasses add the facts and a ``topic``."""

    topic: ClassVar[str] = "event"
    occurred_at: datetime = attrs.field(validator=utc)


@attrs.frozen
class LeadCaptured(DomainEvent):
    """A new lead entered the system from a channel."""

    topic: ClassVar[str] = "lead.captured"
    lead_id: LeadId
    channel: Channel
    company_name: str


def event_types() -> dict[str, type[DomainEvent]]:
    """Every concrete event class by topic (used to read outbox payloads back)."""
    found: dict[str, type[DomainEvent]] = {}
    pending: list[type[DomainEvent]] = [DomainEvent]
    while pending:
        cls = pending.pop()
        for sub in cls.__subclasses__():
            found[sub.topic] = sub
            pending.append(sub)
    return found
