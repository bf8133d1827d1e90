"""Pool browsing quota: how many pool customers a rep may open unmasked per organisation day.

Lists of a pool are always masked. Opening one pool customer's detail with its contact fields
(phones, e-mails, address) counts against the pool's ``rules.browse_quota``
(:class:`~leadtocash.pool.rules.BrowseQuota`: a number per team, zone or role, else a
default) on the rep's :class:`DailyBrowses` counter for that pool and local day (the
organisation's time zone, like the daily claim limit). Re-opening a customer already opened
that day costs nothing; a refused open counts nothing. Owners, collaborators and managers see
contact fields anyway and are never counted.
"""

from __future__ import annotations

from datetime import date, datetime

import attrs

from leadtocash.durations import local_day
from leadtocash.errors import RuleViolation
from leadtocash.model import Customer, CustomerId, PoolId, RepId
from leadtocash.pool.membership import Member, check_member
from leadtocash.pool.ownership import check_pool_zone, next_local_midnight
from leadtocash.pool.rules import Pool

__all__ = ["DailyBrowses", "browse_counter_id", "decide_browse"]


def browse_counter_id(pool_id: PoolId, rep_id: RepId, day: date) -> str:
    """Id of the counter of what ``rep_id`` opened from ``pool_id`` on local ``day``."""
    return f"{pool_id}|{rep_id}|{day.isoformat()}"


@attrs.frozen
class DailyBrowses:
    """The pool customers one rep opened unmasked from one pool on one local day."""

    id: str
    pool_id: PoolId
    rep_id: RepId
    day: date
    opened: tuple[CustomerId, ...] = ()
    version: int = 0

    @property
    def count(self) -> int:
        """How many distinct customers were opened."""
        return len(self.opened)

    def with_opened(self, customer_id: CustomerId) -> DailyBrowses:
        """This counter with ``customer_id`` opened (unchanged when it already was)."""
        if customer_id in self.opened:
            return self
        return attrs.evolve(self, opened=(*self.opened, customer_id))


def decide_browse(
    customer: Customer,
    member: Member,
    pool: Pool,
    counter: DailyBrowses,
    *,
    now: datetime,
    timezone: str,
) -> DailyBrowses:
    """The counter after ``member`` opens unowned pool customer ``customer`` unmasked.

    Refused, like a claim, for a rep of another zone than the pool's (``pool.zone_mismatch``)
    or a non-member (``pool.not_member``), and when the day's allowance is used up
    (``pool.browse_quota_exceeded``, with the limit, the count and when it resets).
    ``counter`` must be the member's counter of ``pool`` for the local day of ``now``.
    """
    rep_id = member.rep_id
    day = local_day(now, timezone)
    if (
        customer.owner_id is not None
        or customer.pool_id != pool.id
        or rep_id is None
        or (counter.pool_id, counter.rep_id, counter.day) != (pool.id, rep_id, day)
    ):
        raise ValueError(f"decide_browse needs an unowned customer of pool {pool.id}, its counter")
    check_pool_zone(pool, rep_id, member.zone_id)
    check_member(pool.id, pool.members, member)
    if customer.id in counter.opened:
        return counter
    limit = pool.rules.browse_quota.allowance(member)
    if counter.count >= limit:
        raise RuleViolation(
            f"rep {rep_id} opened {counter.count} of {limit} pool customers allowed today",
            code="pool.browse_quota_exceeded",
            details={
                "pool_id": pool.id,
                "rep_id": rep_id,
                "limit": limit,
                "count": counter.count,
                "resets_at": next_local_midnight(now, timezone).isoformat(),
            },
        )
    return counter.with_opened(customer.id)
