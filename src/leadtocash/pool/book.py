"""Counters and history that make pool rules race-free: rep books, daily claims, ownership log.

Counters are aggregates with versions, so two concurrent claims by one rep conflict at commit
instead of both slipping under a limit; the unit of work retries the loser with fresh counts.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import date, datetime
from typing import Protocol

import attrs

from leadtocash.model import Customer, CustomerId, PoolId, RepId, Tier, utc
from leadtocash.validators import replace

__all__ = [
    "DailyClaims",
    "OwnershipAction",
    "OwnershipChange",
    "RepBook",
    "Tiered",
    "book_place",
    "daily_claims_id",
]

#: Where a customer counts in the rep books: its owner, whether it is won, whether locked.
BookPlace = tuple[RepId, bool, bool]


def book_place(customer: Customer | None) -> BookPlace | None:
    """Where ``customer`` counts in the rep books (None: in none, e.g. in a pool or deleted).

    A change that keeps the place keeps every book's counts: ``adjust(before, -1)`` then
    ``adjust(after, +1)`` on the same book gives the book back.
    """
    if customer is None or customer.owner_id is None or customer.deleted is not None:
        return None
    return (customer.owner_id, customer.won, customer.locked)


@attrs.frozen
class RepBook:
    """How many customers a rep owns (私海), split so capacity exclusions can be applied.

    ``left_at``: when the rep last left (离职). Leaving saves the book, so a customer given
    to the rep concurrently (which saves the book too) meets the departure on its version.
    """

    id: RepId
    owned: int = 0
    won: int = 0
    locked: int = 0
    won_and_locked: int = 0
    left_at: datetime | None = attrs.field(default=None, validator=utc)
    version: int = 0

    def counted(self, *, exclude_won: bool, exclude_locked: bool) -> int:
        """Owned customers that count toward capacity under the given exclusions."""
        excluded = 0
        if exclude_won:
            excluded += self.won
        if exclude_locked:
            excluded += self.locked
        if exclude_won and exclude_locked:
            excluded -= self.won_and_locked
        return self.owned - excluded

    def adjust(self, customer: Customer, delta: int) -> RepBook:
        """Add (``delta=1``) or remove (``delta=-1``) ``customer`` from the counts."""
        return replace(
            self,
            owned=self.owned + delta,
            won=self.won + delta * customer.won,
            locked=self.locked + delta * customer.locked,
            won_and_locked=self.won_and_locked + delta * (customer.won and customer.locked),
        )


class Tiered(Protocol):
    """A claimed record as the day counter sees it: its tier (customers and leads have one)."""

    @property
    def tier(self) -> Tier:
        """The record's tier (A–E)."""
        ...


def daily_claims_id(pool_id: PoolId, rep_id: RepId, day: date) -> str:
    """Id of the counter of ``rep_id``'s claims from ``pool_id`` on local ``day``."""
    return f"{pool_id}|{rep_id}|{day.isoformat()}"


@attrs.frozen
class DailyClaims:
    """Claims one rep made from one pool on one local calendar day."""

    id: str
    pool_id: PoolId
    rep_id: RepId
    day: date
    count: int = 0
    by_tier: Mapping[Tier, int] = attrs.field(factory=dict)
    version: int = 0

    def counted(self, customer: Tiered) -> DailyClaims:
        """This counter after one more claim of ``customer`` or a lead (overall and its tier)."""
        by_tier = dict(self.by_tier)
        by_tier[customer.tier] = by_tier.get(customer.tier, 0) + 1
        return replace(self, count=self.count + 1, by_tier=by_tier)


class OwnershipAction(enum.StrEnum):
    """Why ownership changed."""

    CLAIM = "claim"
    ASSIGN = "assign"
    RELEASE = "release"
    TRANSFER = "transfer"
    RECLAIM = "reclaim"
    MERGE = "merge"


@attrs.frozen
class OwnershipChange:
    """One line of a customer's ownership history: who moved it, from whom, to whom, why."""

    id: str
    customer_id: CustomerId
    action: OwnershipAction
    at: datetime = attrs.field(validator=utc)
    actor_id: str
    from_rep: RepId | None = None
    to_rep: RepId | None = None
    from_pool: PoolId | None = None
    to_pool: PoolId | None = None
    reason: str | None = None
    override: bool = False
    version: int = 0
