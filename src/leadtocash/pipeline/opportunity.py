"""The opportunity aggregate (商机): a deal with a customer moving through a stage flow.

The opportunity stores only data: its current stage, the name of its flow and the ordered
stage history. Which triggers are legal comes from the flow's shared state table
(``leadtocash.pipeline.flows``); ``leadtocash.pipeline.operations`` evolves opportunities.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any, NewType

import attrs

from leadtocash.errors import ValidationError
from leadtocash.model import ContactId, CustomerId, Deletion, LeadId, RepId, non_blank, utc
from leadtocash.money import Money
from leadtocash.pipeline.machine import StageChange

__all__ = ["Opportunity", "OpportunityId", "moved"]

OpportunityId = NewType("OpportunityId", str)


def _non_negative(_inst: object, _attr: object, value: Money) -> None:
    if not isinstance(value, Money) or value.amount < 0:
        raise ValidationError.single("amount", "opportunity.amount", "amount must be Money >= 0")


def _custom(value: Mapping[str, str]) -> dict[str, str]:
    return dict(value)


@attrs.frozen
class Opportunity:
    """A sales opportunity: customer, owner, amount, expected close date, stage and history."""

    id: OpportunityId
    customer_id: CustomerId
    owner_id: RepId
    name: str = attrs.field(validator=non_blank)
    amount: Money = attrs.field(validator=_non_negative)
    close_date: date
    created_at: datetime = attrs.field(validator=utc)
    stage: str
    flow: str = "default"
    history: tuple[StageChange, ...] = ()
    lost_reason: str | None = None
    contact_id: ContactId | None = None
    lead_id: LeadId | None = None
    next_step: str | None = None
    custom: Mapping[str, str] = attrs.field(factory=dict, converter=_custom)
    closed_at: datetime | None = attrs.field(default=None, validator=utc)
    updated_at: datetime | None = attrs.field(default=None, validator=utc)
    #: The latest contract drafted from this (won) opportunity; kept by the contract services.
    contract_id: str | None = None
    #: Set while the opportunity is in the recycle bin (回收站).
    deleted: Deletion | None = None
    version: int = 0

    @property
    def close_month(self) -> str:
        """The expected close month as ``YYYY-MM``."""
        return f"{self.close_date.year:04d}-{self.close_date.month:02d}"

    @property
    def entered_stage_at(self) -> datetime:
        """When the opportunity entered its current stage."""
        return self.history[-1].at if self.history else self.created_at


_NAMES = tuple(a.name for a in attrs.fields(Opportunity))
_GET_ALL = operator.attrgetter(*_NAMES)
# The slot descriptors of the frozen class; writing through them skips the frozen __setattr__.
_SETTERS: tuple[Callable[[Any, Any], None], ...] = tuple(
    getattr(Opportunity, name).__set__ for name in _NAMES
)
_STAGE, _HISTORY, _LOST, _CLOSED, _UPDATED = (
    _NAMES.index(n) for n in ("stage", "history", "lost_reason", "closed_at", "updated_at")
)


def moved(
    opportunity: Opportunity,
    stage: str,
    change: StageChange,
    lost_reason: str | None,
    closed_at: datetime | None,
) -> Opportunity:
    """A copy in ``stage`` with ``change`` appended to the history (the hot path of a trigger).

    Equal to ``attrs.evolve`` with the same changes, about four times faster: the unchanged
    fields were validated when the input was built, and the new values come from a validated
    StageChange and the flow's table, so they are not validated again.
    """
    values = list(_GET_ALL(opportunity))
    values[_STAGE] = stage
    values[_HISTORY] = (*opportunity.history, change)
    values[_LOST] = lost_reason
    values[_CLOSED] = closed_at
    values[_UPDATED] = change.at
    new = object.__new__(Opportunity)
    for setter, value in zip(_SETTERS, values, strict=True):
        setter(new, value)
    return new
