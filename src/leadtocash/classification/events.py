"""The classification's domain event."""

from __future__ import annotations

from typing import ClassVar

import attrs

from leadtocash.events import DomainEvent
from leadtocash.model import CustomerId, RepId, Tier

__all__ = ["TierChanged"]


@attrs.frozen
class TierChanged(DomainEvent):
    """A customer's tier or system tags changed on reclassification, and which rule decided."""

    topic: ClassVar[str] = "customer.tier_changed"
    customer_id: CustomerId
    before: Tier
    after: Tier
    rule: str
    owner_id: RepId | None = None
    tags_added: tuple[str, ...] = ()
    tags_removed: tuple[str, ...] = ()
