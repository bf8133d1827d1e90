"""Ownership rules of the public pool: who may take, give back or move a customer, and how.

Pure functions over the customer, the pool's rules and the counters the application loaded.
Each refusal is a RuleViolation with a stable code and the facts behind it (limit, count,
when a cooldown ends), so a rep sees why and when to try again.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import attrs

from leadtocash.durations import Duration, WorkingCalendar, deadline, is_provisional, local_day
from leadtocash.errors import RuleViolation, ValidationError
from leadtocash.model import Customer, PoolId, RepId, Tier
from leadtocash.pool.book import RepBook
from leadtocash.pool.rules import PoolRules

__all__ = [
    "OwnershipFacts",
    "check_capacity",
    "check_claim",
    "check_owned",
    "check_unowned",
    "next_local_midnight",
    "require_reason",
    "returned_to_pool",
    "taken_by",
]


@attrs.frozen
class OwnershipFacts:
    """What the rules need besides the customer: time, calendar and the rep's counters."""

    now: datetime
    timezone: str
    book: RepBook
    claims_today: int = 0
    calendar: WorkingCalendar | None = None
    claims_today_by_tier: Mapping[Tier, int] = attrs.field(factory=dict)


def next_local_midnight(now: datetime, timezone: str) -> datetime:
    """The next local midnight in ``timezone`` (when daily limits reset), in UTC."""
    tz = ZoneInfo(timezone)
    day = local_day(now, timezone) + timedelta(days=1)
    return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(now.tzinfo)


def require_reason(reason: str | None) -> str:
    """The trimmed reason, or a ValidationError on field ``reason``."""
    if reason is None or not reason.strip():
        raise ValidationError.single("reason", "field.required", "a reason is required")
    return reason.strip()


def check_unowned(customer: Customer) -> None:
    """Refuse when the customer already has an owner (no double ownership)."""
    if customer.owner_id is not None:
        raise RuleViolation(
            f"customer {customer.id} is already owned",
            code="pool.already_owned",
            details={"customer_id": customer.id},
        )


def check_owned(customer: Customer) -> RepId:
    """The owner; refuse when the customer sits in the pool."""
    if customer.owner_id is None:
        raise RuleViolation(
            f"customer {customer.id} is in the pool, not owned",
            code="pool.not_owned",
            details={"customer_id": customer.id},
        )
    return customer.owner_id


def _cooldown_end(
    start: datetime | None, cooldown: Duration | None, facts: OwnershipFacts
) -> tuple[datetime, bool] | None:
    """When a cooldown ends (None when over or off), and whether that rests on provisional days."""
    if start is None or cooldown is None or cooldown.off:
        return None
    end = deadline(start, cooldown, timezone=facts.timezone, calendar=facts.calendar)
    if end <= facts.now:
        return None
    provisional = is_provisional(
        facts.calendar, start, end, timezone=facts.timezone, unit=cooldown.unit
    )
    return end, provisional


def _cooldown_details(end: tuple[datetime, bool], **details: str) -> dict[str, object]:
    until, provisional = end
    found: dict[str, object] = {**details, "until": until.isoformat()}
    if provisional:
        found["provisional"] = True
    return found


def check_capacity(rules: PoolRules, facts: OwnershipFacts, *, override: bool = False) -> None:
    """Refuse when the rep's counted book is full (an authorized override skips this)."""
    if not rules.capacity_on or override:
        return
    counted = facts.book.counted(
        exclude_won=rules.capacity_excludes_won, exclude_locked=rules.capacity_excludes_locked
    )
    assert rules.capacity is not None
    if counted >= rules.capacity:
        raise RuleViolation(
            f"rep {facts.book.id} owns {counted} of {rules.capacity} allowed customers",
            code="pool.capacity_reached",
            details={"rep_id": facts.book.id, "capacity": rules.capacity, "counted": counted},
        )


def check_claim(customer: Customer, rep_id: RepId, rules: PoolRules, facts: OwnershipFacts) -> None:
    """Every rule a rep's own claim (领取) must pass, in the order a rep would want to hear."""
    check_unowned(customer)
    ends = _cooldown_end(customer.pool_entered_at, rules.new_in_pool_cooldown, facts)
    if ends is not None:
        raise RuleViolation(
            f"customer {customer.id} just entered the pool; claimable from {ends[0].isoformat()}",
            code="pool.new_in_pool_cooldown",
            details=_cooldown_details(ends, customer_id=customer.id),
        )
    if customer.previous_owner_id == rep_id:
        ends = _cooldown_end(customer.pool_entered_at, rules.reclaim_cooldown, facts)
        if ends is not None:
            raise RuleViolation(
                f"rep {rep_id} gave customer {customer.id} up; may claim again from "
                f"{ends[0].isoformat()}",
                code="pool.reclaim_cooldown",
                details=_cooldown_details(ends, customer_id=customer.id, rep_id=rep_id),
            )
    if rules.daily_limit_on:
        assert rules.daily_claim_limit is not None
        if facts.claims_today >= rules.daily_claim_limit:
            resets = next_local_midnight(facts.now, facts.timezone)
            raise RuleViolation(
                f"rep {rep_id} reached the daily claim limit of {rules.daily_claim_limit}",
                code="pool.daily_limit_reached",
                details={
                    "rep_id": rep_id,
                    "limit": rules.daily_claim_limit,
                    "count": facts.claims_today,
                    "resets_at": resets.isoformat(),
                },
            )
    tier_limit = rules.tier_claim_limits.get(customer.tier, 0)
    tier_count = facts.claims_today_by_tier.get(customer.tier, 0)
    if tier_limit and tier_count >= tier_limit:
        resets = next_local_midnight(facts.now, facts.timezone)
        raise RuleViolation(
            f"rep {rep_id} reached the daily limit of {tier_limit} tier-{customer.tier} claims",
            code="pool.tier_claim_limit_reached",
            details={
                "rep_id": rep_id,
                "tier": customer.tier.value,
                "limit": tier_limit,
                "count": tier_count,
                "resets_at": resets.isoformat(),
            },
        )
    check_capacity(rules, facts)


def taken_by(customer: Customer, rep_id: RepId, now: datetime) -> Customer:
    """``customer`` as owned by ``rep_id`` from ``now`` (protection starts afresh)."""
    return attrs.evolve(
        customer,
        owner_id=rep_id,
        owner_since=now,
        follow_ups_since_claim=0,
        warned_due_at=None,
        updated_at=now,
    )


def returned_to_pool(customer: Customer, pool_id: PoolId, now: datetime) -> Customer:
    """``customer`` back in ``pool_id`` (released or reclaimed): unowned, unlocked, cycle + 1."""
    return attrs.evolve(
        customer,
        owner_id=None,
        owner_since=None,
        previous_owner_id=customer.owner_id,
        pool_id=pool_id,
        pool_entered_at=now,
        pool_cycles=customer.pool_cycles + 1,
        locked=False,
        follow_ups_since_claim=0,
        reclaim_due_at=None,
        reclaim_rule=None,
        warn_at=None,
        warned_due_at=None,
        updated_at=now,
    )
