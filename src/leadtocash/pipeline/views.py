"""What a principal is shown of an opportunity: every field, the amount only when allowed.

Read services return :class:`OpportunityView` rather than the aggregate, because a hidden
amount cannot be expressed by ``Money``. Who sees amounts is decided by
``leadtocash.pool.visibility.can_see_amounts`` (``amount.read``; reps only on their own deals).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

import attrs

from leadtocash.access import Principal, RolePolicy
from leadtocash.errors import PermissionDenied
from leadtocash.model import ContactId, CustomerId, LeadId, RepId
from leadtocash.money import Money
from leadtocash.pipeline.machine import StageChange
from leadtocash.pipeline.opportunity import Opportunity, OpportunityId
from leadtocash.pool.visibility import can_see_amounts

__all__ = ["OpportunityView", "visible_opportunity"]


@attrs.frozen
class OpportunityView:
    """An opportunity as one principal may see it; ``amount`` is None when hidden from them."""

    id: OpportunityId
    customer_id: CustomerId
    owner_id: RepId
    name: str
    amount: Money | None
    amount_hidden: bool
    close_date: date
    created_at: datetime
    stage: str
    flow: str
    history: tuple[StageChange, ...]
    lost_reason: str | None
    contact_id: ContactId | None
    lead_id: LeadId | None
    next_step: str | None
    custom: Mapping[str, str]
    closed_at: datetime | None
    updated_at: datetime | None
    contract_id: str | None
    version: int

    @classmethod
    def of(cls, opportunity: Opportunity, *, show_amount: bool) -> OpportunityView:
        """The view of ``opportunity``, with or without its amount."""
        fields = {
            f.name: getattr(opportunity, f.name)
            for f in attrs.fields(Opportunity)
            if f.name not in ("amount", "deleted")  # views show live opportunities only
        }
        amount = opportunity.amount if show_amount else None
        return cls(amount=amount, amount_hidden=not show_amount, **fields)

    def as_opportunity(self) -> Opportunity:
        """The aggregate again (for the analytics functions); refused when the amount is hidden."""
        if self.amount is None:
            raise PermissionDenied(
                f"the amount of opportunity {self.id} is hidden from you",
                code="auth.amount_hidden",
                details={"opportunity_id": self.id},
            )
        fields = attrs.asdict(self, recurse=False)
        del fields["amount_hidden"]
        return Opportunity(**fields)


def visible_opportunity(
    opportunity: Opportunity, principal: Principal, policy: RolePolicy
) -> OpportunityView:
    """``opportunity`` as ``principal`` may see it."""
    show = can_see_amounts(principal, opportunity.owner_id, policy)
    return OpportunityView.of(opportunity, show_amount=show)
