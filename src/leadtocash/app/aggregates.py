"""How each aggregate type is stored: its kind name, named indexes and unique (dedup) keys.

Adding an aggregate means adding one :class:`AggregateSpec` here; every adapter stores it
without changes, because the storage port only sees kinds, JSON, index text and keys.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import attrs

from leadtocash.model import Contact, Customer, FollowUp, Lead, SalesRep, Team, Zone
from leadtocash.pipeline.opportunity import Opportunity
from leadtocash.pool.book import DailyClaims, OwnershipChange, RepBook
from leadtocash.pool.rules import Pool

__all__ = ["SPECS", "AggregateSpec", "sortable_int", "sortable_time", "spec_for"]

T = TypeVar("T")


def sortable_time(value: datetime) -> str:
    """Index text for an instant whose text order is time order (UTC, fixed width)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sortable_int(value: int) -> str:
    """Index text for a non-negative integer whose text order is numeric order."""
    if value < 0:
        raise ValueError("sortable_int takes non-negative integers")
    return f"{value:020d}"


def _no_indexes(_agg: Any) -> Mapping[str, str | None]:
    return {}


def _no_keys(_agg: Any) -> frozenset[str]:
    return frozenset()


@attrs.frozen
class AggregateSpec(Generic[T]):
    """Storage description of one aggregate type."""

    kind: str
    type: type[T]
    indexes: Callable[[T], Mapping[str, str | None]] = _no_indexes
    unique_keys: Callable[[T], frozenset[str]] = _no_keys


def _lead_indexes(lead: Lead) -> Mapping[str, str | None]:
    return {
        "status": lead.status.value,
        "owner": lead.owner_id,
        "created": sortable_time(lead.created_at),
    }


def _customer_indexes(customer: Customer) -> Mapping[str, str | None]:
    owned = customer.owner_id is not None
    due = customer.reclaim_due_at if owned else None
    warn = customer.warn_at if owned and customer.warned_due_at != due else None
    return {
        "owner": customer.owner_id,
        "pool": None if owned else customer.pool_id,
        "owned_pool": customer.pool_id if owned else None,
        "reclaim_due": sortable_time(due) if due else None,
        "reclaim_warn": sortable_time(warn) if warn else None,
    }


def _customer_keys(customer: Customer) -> frozenset[str]:
    keys = {f"uscc:{customer.uscc}"} if customer.uscc else set()
    return frozenset(keys)


def _followup_indexes(follow_up: FollowUp) -> Mapping[str, str | None]:
    target = follow_up.customer_id or follow_up.lead_id
    return {"target": f"{target}|{sortable_time(follow_up.at)}"}


def _opportunity_indexes(opportunity: Opportunity) -> Mapping[str, str | None]:
    is_open = opportunity.closed_at is None
    return {
        "owner": opportunity.owner_id,
        "customer": opportunity.customer_id,
        "stage": opportunity.stage,
        "close_month": opportunity.close_month,
        "open_close_date": opportunity.close_date.isoformat() if is_open else None,
    }


SPECS: tuple[AggregateSpec[Any], ...] = (
    AggregateSpec("lead", Lead, _lead_indexes),
    AggregateSpec("customer", Customer, _customer_indexes, _customer_keys),
    AggregateSpec("contact", Contact, lambda c: {"customer": c.customer_id}),
    AggregateSpec("sales_rep", SalesRep, lambda r: {"zone": r.zone_id}),
    AggregateSpec("team", Team),
    AggregateSpec("zone", Zone),
    AggregateSpec("follow_up", FollowUp, _followup_indexes),
    AggregateSpec("pool", Pool),
    AggregateSpec("rep_book", RepBook),
    AggregateSpec("daily_claims", DailyClaims),
    AggregateSpec(
        "ownership_change",
        OwnershipChange,
        lambda c: {"customer": f"{c.customer_id}|{sortable_time(c.at)}|{c.id}"},
    ),
    AggregateSpec("opportunity", Opportunity, _opportunity_indexes),
)

_BY_TYPE: dict[type[Any], AggregateSpec[Any]] = {spec.type: spec for spec in SPECS}


def spec_for(cls: type[T]) -> AggregateSpec[T]:
    """The spec registered for ``cls``."""
    try:
        return _BY_TYPE[cls]
    except KeyError:
        raise TypeError(f"{cls.__name__} is not a registered aggregate") from None
