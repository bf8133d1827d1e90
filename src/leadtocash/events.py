"""Domain events: frozen facts about what happened, written to the outbox in the same commit.

Each event class has a stable ``topic`` used for routing notifications and webhooks.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

import attrs

from leadtocash.model import Channel, CustomerId, FollowUpId, LeadId, PoolId, RepId, utc

__all__ = [
    "CustomerAddedToPool",
    "CustomerLockChanged",
    "DomainEvent",
    "FollowUpDue",
    "FollowUpLogged",
    "LeadCaptured",
    "LeadOwnershipChanged",
    "LeadReclaimWarning",
    "OwnershipChanged",
    "ReclaimWarning",
    "event_types",
]


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


@attrs.frozen
class CustomerAddedToPool(DomainEvent):
    """A customer was created in (or moved into) a pool."""

    topic: ClassVar[str] = "pool.customer_added"
    customer_id: CustomerId
    pool_id: PoolId


@attrs.frozen
class OwnershipChanged(DomainEvent):
    """A customer changed hands: claim, assign, release, transfer or reclaim."""

    topic: ClassVar[str] = "pool.ownership_changed"
    customer_id: CustomerId
    action: str
    from_rep: RepId | None
    to_rep: RepId | None
    pool_id: PoolId | None
    reason: str | None = None


@attrs.frozen
class LeadOwnershipChanged(DomainEvent):
    """A pooled lead changed hands: claim, assign, release or reclaim (线索池)."""

    topic: ClassVar[str] = "lead_pool.ownership_changed"
    lead_id: LeadId
    action: str
    from_rep: RepId | None
    to_rep: RepId | None
    pool_id: PoolId | None
    reason: str | None = None


@attrs.frozen
class LeadReclaimWarning(DomainEvent):
    """The owner is warned that a lead will go back to its pool at ``due_at``."""

    topic: ClassVar[str] = "lead_pool.reclaim_warning"
    lead_id: LeadId
    rep_id: RepId
    due_at: datetime
    rule: str
    #: The deadline rests on an unpublished calendar year and may still move.
    provisional: bool = False


@attrs.frozen
class CustomerLockChanged(DomainEvent):
    """A customer was locked (never reclaimed) or unlocked."""

    topic: ClassVar[str] = "pool.lock_changed"
    customer_id: CustomerId
    locked: bool


@attrs.frozen
class ReclaimWarning(DomainEvent):
    """The owner is warned that a customer will go back to the pool at ``due_at``."""

    topic: ClassVar[str] = "pool.reclaim_warning"
    customer_id: CustomerId
    rep_id: RepId
    due_at: datetime
    rule: str
    #: The deadline rests on an unpublished calendar year and may still move.
    provisional: bool = False


@attrs.frozen
class FollowUpLogged(DomainEvent):
    """A rep logged a follow-up on a customer (extends protection)."""

    topic: ClassVar[str] = "customer.follow_up_logged"
    customer_id: CustomerId
    rep_id: RepId
    follow_up_id: FollowUpId


@attrs.frozen
class FollowUpDue(DomainEvent):
    """A follow-up plan (跟进计划) is due: remind its rep (sent once, by the reminder sweep)."""

    topic: ClassVar[str] = "customer.follow_up_due"
    follow_up_id: FollowUpId
    rep_id: RepId
    customer_id: CustomerId | None
    lead_id: LeadId | None
    due_at: datetime = attrs.field(validator=utc)
    plan: str = ""
