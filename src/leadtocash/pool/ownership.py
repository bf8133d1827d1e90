"""Ownership rules of the public pool: who may take, give back or move a customer, and how.

Pure functions over the customer, the pool's rules and the counters the application loaded.
Each refusal is a RuleViolation with a stable code and the facts behind it (limit, count,
when a cooldown ends), so a rep sees why and when to try again.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

import attrs

from leadtocash.durations import Duration, WorkingCalendar, deadline, is_provisional, local_day
from leadtocash.errors import RuleViolation, ValidationError
from leadtocash.model import Customer, PoolId, RepId, SalesRep, Tier, ZoneId, stricter_limit
from leadtocash.pool.book import DailyClaims, RepBook
from leadtocash.pool.membership import Member, check_member, claimer, rep_member
from leadtocash.pool.rules import Pool, PoolRules
from leadtocash.validators import replace

__all__ = [
    "ClaimDecision",
    "OwnershipFacts",
    "PoolRecord",
    "PoolZone",
    "already_owned",
    "check_active_rep",
    "check_available_rep",
    "check_capacity",
    "check_claim",
    "check_cooldowns",
    "check_daily_limit",
    "check_in_pool",
    "check_owned",
    "check_pool_zone",
    "check_unowned",
    "decide_assign",
    "decide_claim",
    "decide_release",
    "decide_transfer",
    "next_local_midnight",
    "refuse_capacity",
    "require_reason",
    "returned_to_pool",
    "taken_by",
]


class PoolRecord(Protocol):
    """What the ownership checks read of a pooled record (a customer or a lead)."""

    @property
    def id(self) -> str:
        """The record's id."""
        ...

    @property
    def owner_id(self) -> RepId | None:
        """Its owner, or None while it sits in a pool."""
        ...

    @property
    def pool_id(self) -> PoolId | None:
        """The pool it belongs to."""
        ...

    @property
    def pool_entered_at(self) -> datetime | None:
        """When it last entered its pool."""
        ...

    @property
    def previous_owner_id(self) -> RepId | None:
        """Who owned it before it went back to the pool."""
        ...


class PoolZone(Protocol):
    """What the zone check reads of a pool (a customer pool or a lead pool)."""

    @property
    def id(self) -> PoolId:
        """The pool's id."""
        ...

    @property
    def zone_id(self) -> ZoneId | None:
        """The pool's zone (None: any zone)."""
        ...


class _Moment(Protocol):
    @property
    def now(self) -> datetime: ...

    @property
    def timezone(self) -> str: ...

    @property
    def calendar(self) -> WorkingCalendar | None: ...


#: Error-code prefix per record kind: customers refuse with ``pool.*``, leads ``lead_pool.*``.
_PREFIX = {"customer": "pool", "lead": "lead_pool"}


def _code(kind: str, name: str) -> str:
    return f"{_PREFIX[kind]}.{name}"


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


def already_owned(record_id: str, *, kind: str = "customer") -> RuleViolation:
    """The refusal of taking record ``record_id`` (a customer, or ``kind``) that has an owner."""
    return RuleViolation(
        f"{kind} {record_id} is already owned",
        code=_code(kind, "already_owned"),
        details={f"{kind}_id": record_id},
    )


def check_unowned(customer: PoolRecord, *, kind: str = "customer") -> None:
    """Refuse when the customer (or lead: ``kind``) already has an owner (no double ownership)."""
    if customer.owner_id is not None:
        raise already_owned(customer.id, kind=kind)


def check_owned(customer: PoolRecord, *, kind: str = "customer") -> RepId:
    """The owner; refuse when the customer (or lead: ``kind``) sits in the pool."""
    if customer.owner_id is None:
        raise RuleViolation(
            f"{kind} {customer.id} is in the pool, not owned",
            code=_code(kind, "not_owned"),
            details={f"{kind}_id": customer.id},
        )
    return customer.owner_id


def check_in_pool(
    customer: PoolRecord, pool_id: PoolId | None = None, *, kind: str = "customer"
) -> PoolId:
    """The record's pool; refuse when it is in none (or not in ``pool_id`` when given)."""
    if customer.pool_id is not None and pool_id in (None, customer.pool_id):
        return customer.pool_id
    details: dict[str, str] = {f"{kind}_id": customer.id}
    message = f"{kind} {customer.id} is in no pool"
    if pool_id is not None:
        details["pool_id"] = pool_id
        message = f"{kind} {customer.id} is not in pool {pool_id}"
    raise RuleViolation(message, code=_code(kind, "not_in_pool"), details=details)


def check_pool_zone(pool: PoolZone | None, rep_id: RepId, rep_zone: ZoneId | None) -> None:
    """Refuse a rep of another zone than a zone's pool (a rep of no zone may serve any)."""
    if pool is None or pool.zone_id is None or rep_zone in (None, pool.zone_id):
        return
    raise RuleViolation(
        f"rep {rep_id} is in zone {rep_zone}, pool {pool.id} in {pool.zone_id}",
        code="pool.zone_mismatch",
        details={"rep_id": rep_id, "rep_zone": rep_zone, "pool_zone": pool.zone_id},
    )


def check_available_rep(rep: SalesRep) -> None:
    """Refuse a rep who may not be given work: inactive (left) or on leave."""
    if not rep.active:
        raise RuleViolation(
            f"rep {rep.id} is not active", code="pool.rep_inactive", details={"rep_id": rep.id}
        )
    if rep.on_leave:
        raise RuleViolation(
            f"rep {rep.id} is on leave", code="pool.rep_on_leave", details={"rep_id": rep.id}
        )


def check_active_rep(rep: SalesRep, pool: PoolZone | None) -> None:
    """Refuse an inactive rep, a rep on leave, or a rep of another zone than ``pool``'s."""
    check_available_rep(rep)
    check_pool_zone(pool, rep.id, rep.zone_id)


def _cooldown_end(
    start: datetime | None, cooldown: Duration | None, facts: _Moment
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
    refuse_capacity(facts.book.id, rules.capacity, counted)


def refuse_capacity(rep_id: RepId, capacity: int, counted: int, *, kind: str = "customer") -> None:
    """Refuse when ``counted`` records (customers, or open leads) already fill ``capacity``."""
    if counted >= capacity:
        noun = "customers" if kind == "customer" else "open leads"
        raise RuleViolation(
            f"rep {rep_id} owns {counted} of {capacity} allowed {noun}",
            code=_code(kind, "capacity_reached"),
            details={"rep_id": rep_id, "capacity": capacity, "counted": counted},
        )


def check_cooldowns(
    record: PoolRecord,
    rep_id: RepId,
    new_in_pool: Duration | None,
    reclaim: Duration | None,
    facts: _Moment,
    *,
    kind: str = "customer",
) -> None:
    """Refuse a record that just entered its pool, or a previous owner still cooling down."""
    key = f"{kind}_id"
    ends = _cooldown_end(record.pool_entered_at, new_in_pool, facts)
    if ends is not None:
        raise RuleViolation(
            f"{kind} {record.id} just entered the pool; claimable from {ends[0].isoformat()}",
            code=_code(kind, "new_in_pool_cooldown"),
            details=_cooldown_details(ends, **{key: record.id}),
        )
    if record.previous_owner_id == rep_id:
        ends = _cooldown_end(record.pool_entered_at, reclaim, facts)
        if ends is not None:
            raise RuleViolation(
                f"rep {rep_id} gave {kind} {record.id} up; may claim again from "
                f"{ends[0].isoformat()}",
                code=_code(kind, "reclaim_cooldown"),
                details=_cooldown_details(ends, **{key: record.id}, rep_id=rep_id),
            )


def check_daily_limit(rep_id: RepId, limit: int | None, count: int, facts: _Moment) -> None:
    """Refuse a rep who made ``limit`` claims today (``None``/0: no limit); says when it resets."""
    if limit and count >= limit:
        resets = next_local_midnight(facts.now, facts.timezone)
        raise RuleViolation(
            f"rep {rep_id} reached the daily claim limit of {limit}",
            code="pool.daily_limit_reached",
            details={
                "rep_id": rep_id,
                "limit": limit,
                "count": count,
                "resets_at": resets.isoformat(),
            },
        )


def check_claim(customer: Customer, rep_id: RepId, rules: PoolRules, facts: OwnershipFacts) -> None:
    """Every rule a rep's own claim (领取) must pass, in the order a rep would want to hear."""
    check_unowned(customer)
    check_cooldowns(customer, rep_id, rules.new_in_pool_cooldown, rules.reclaim_cooldown, facts)
    check_daily_limit(rep_id, rules.daily_claim_limit, facts.claims_today, facts)
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


@attrs.frozen
class ClaimDecision:
    """A granted claim: the customer as the rep's, and the rep's day counter with it counted."""

    customer: Customer
    counter: DailyClaims


def decide_claim(
    customer: Customer,
    rep_id: RepId,
    rep_zone: ZoneId | None,
    pool: Pool | None,
    counter: DailyClaims | None,
    facts: OwnershipFacts,
    *,
    rep_limit: int | None = None,
    member: Member | None = None,
) -> ClaimDecision:
    """The whole claim (领取) decision: unowned, in a pool of the rep's zone that the rep is a
    member of, then every rule of :func:`check_claim`; refused by the first rule that fails.

    ``pool`` is the customer's pool and ``counter`` the rep's claims from it today (the
    caller loads both once the customer is known to sit unowned in a pool); the counter, not
    ``facts``, says how many claims the rep made today. ``rep_limit`` is the rep's own daily
    claim limit (``SalesRep.daily_claim_limit``): the stricter of it and the pool's applies.
    ``member`` is who claims (team and roles, for the pool's membership); without it the rep
    counts with its id and zone only.
    """
    check_unowned(customer)
    in_pool = check_in_pool(customer)
    if pool is None or pool.id != in_pool or counter is None:
        raise ValueError(f"decide_claim needs pool {in_pool} and the rep's counter from it")
    check_pool_zone(pool, rep_id, rep_zone)
    check_member(pool.id, pool.members, claimer(rep_id, rep_zone, member))
    today = replace(facts, claims_today=counter.count, claims_today_by_tier=counter.by_tier)
    rules = pool.rules
    limit = stricter_limit(rules.daily_claim_limit, rep_limit)
    if limit != (rules.daily_claim_limit or None):  # None and 0 both mean no limit
        rules = replace(rules, daily_claim_limit=limit)
    check_claim(customer, rep_id, rules, today)
    return ClaimDecision(taken_by(customer, rep_id, facts.now), counter.counted(customer))


def decide_assign(
    customer: Customer,
    rep: SalesRep,
    pool: Pool | None,
    facts: OwnershipFacts,
    *,
    override: bool = False,
) -> Customer:
    """The customer given (分配) to an active rep of the pool's zone whom its membership admits,
    with room in the book (an authorized ``override`` skips membership and capacity)."""
    check_unowned(customer)
    check_active_rep(rep, pool)
    if pool is not None and not override:
        check_member(pool.id, pool.members, rep_member(rep))
    check_capacity(pool.rules if pool else PoolRules(), facts, override=override)
    return taken_by(customer, rep.id, facts.now)


def decide_release(customer: Customer, rules: PoolRules, now: datetime) -> Customer:
    """The customer given back (释放) to its pool, or to ``rules.release_to``; locked: refused."""
    check_owned(customer)
    if customer.locked:
        raise RuleViolation(
            f"customer {customer.id} is locked; unlock it first",
            code="pool.customer_locked",
            details={"customer_id": customer.id},
        )
    target = rules.release_to or customer.pool_id
    if target is None:
        raise RuleViolation(
            f"customer {customer.id} has no pool to go back to",
            code="pool.not_in_pool",
            details={"customer_id": customer.id},
        )
    return returned_to_pool(customer, target, now)


def decide_transfer(
    customer: Customer,
    rep: SalesRep,
    pool: Pool | None,
    facts: OwnershipFacts,
    *,
    override: bool = False,
) -> Customer:
    """The customer moved (转移) to ``rep`` and, when ``pool`` differs, into that pool's zone."""
    owner = check_owned(customer)
    if owner == rep.id and (pool is None or pool.id == customer.pool_id):
        raise RuleViolation(
            f"customer {customer.id} already belongs to {rep.id}",
            code="pool.same_owner",
            details={"customer_id": customer.id},
        )
    check_active_rep(rep, pool)
    if owner != rep.id:
        check_capacity(pool.rules if pool else PoolRules(), facts, override=override)
    after = taken_by(customer, rep.id, facts.now)
    if pool is None:
        return after
    return attrs.evolve(after, pool_id=pool.id, zone_id=pool.zone_id or after.zone_id)


def taken_by(customer: Customer, rep_id: RepId, now: datetime) -> Customer:
    """``customer`` as owned by ``rep_id`` from ``now`` (protection starts afresh)."""
    return replace(
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
