"""Pool rule sets (PoolRules) and the Pool aggregate.

Every number is configurable and ``0``/``None`` means "off" explicitly (for the browsing
quota, which grants rather than limits, ``0`` means none is granted). Durations carry their
unit (calendar days, working days, hours); per-tier values fall back to a default.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from leadtocash.access import Role
from leadtocash.durations import Duration
from leadtocash.errors import FieldError, ValidationError
from leadtocash.model import PoolId, TeamId, Tier, ZoneId, non_blank
from leadtocash.pool.membership import Member, PoolMembers

__all__ = ["BrowseQuota", "Pool", "PoolRules", "TierDurations"]


def _limit(_inst: object, attribute: attrs.Attribute[int | None], value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise ValidationError.single(attribute.name, "pool.rule_invalid", "must be None or >= 0")


@attrs.frozen
class TierDurations:
    """A duration per customer tier (A–E) with a default; an ``off`` duration disables it."""

    default: Duration | None = None
    by_tier: Mapping[Tier, Duration] = attrs.field(factory=dict)

    def for_tier(self, tier: Tier) -> Duration | None:
        """The duration for ``tier`` (None or 0 = rule off for that tier)."""
        found = self.by_tier.get(tier, self.default)
        return None if found is None or found.off else found


def _count_errors(path: str, value: object) -> list[FieldError]:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return [FieldError(path, "pool.rule_invalid", "must be a whole number >= 0")]
    return []


@attrs.frozen
class BrowseQuota:
    """Pool customers a rep may open unmasked per local day: by team, else zone, else role.

    The most specific entry that matches the rep applies (its team's, else its zone's, else
    the largest of its roles'), else ``default``. ``0`` allows none — the default, so a pool
    without a quota keeps contact fields masked until a customer is claimed.
    """

    default: int = 0
    by_role: Mapping[Role, int] = attrs.field(factory=dict)
    by_zone: Mapping[ZoneId, int] = attrs.field(factory=dict)
    by_team: Mapping[TeamId, int] = attrs.field(factory=dict)

    def __attrs_post_init__(self) -> None:
        errors = _count_errors("browse_quota.default", self.default)
        for name, table in (("by_role", self.by_role), ("by_zone", self.by_zone),
                            ("by_team", self.by_team)):  # fmt: skip
            for key, value in table.items():
                errors += _count_errors(f"browse_quota.{name}[{key}]", value)
        if errors:
            raise ValidationError(errors)

    def allowance(self, member: Member) -> int:
        """How many customers ``member`` may open unmasked per day."""
        if member.team_id is not None and member.team_id in self.by_team:
            return self.by_team[member.team_id]
        if member.zone_id is not None and member.zone_id in self.by_zone:
            return self.by_zone[member.zone_id]
        by_role = [self.by_role[r] for r in member.roles if r in self.by_role]
        return max(by_role) if by_role else self.default


@attrs.frozen
class PoolRules:
    """Every rule of one pool. ``None`` or ``0`` switches a rule off.

    * ``daily_claim_limit``: claims per rep per local calendar day (org time zone).
    * ``tier_claim_limits``: the same, per customer tier (e.g. at most 2 A-tier customers a
      day); a missing tier or ``0`` is off.
    * ``capacity``: customers a rep may own (库容); won/locked ones are excluded when the flags
      say so.
    * ``reclaim_cooldown``: how long a previous owner must wait to claim a customer again.
    * ``new_in_pool_cooldown``: how long a customer that just entered the pool is unclaimable.
    * ``protection_base`` + ``protection_per_follow_up`` (capped at ``protection_cap``): how long
      a claim is protected; when it runs out the customer is reclaimed (unless exempt).
    * ``no_follow_up`` / ``no_new_opportunity`` / ``not_won``: reclaim when nothing happened for
      that long, per tier.
    * exemptions: locked customers, an open opportunity at or past ``exempt_from_stage``, an
      active contract, and (``exempt_won``) customers already won.
    * ``after_contract_end``: reclaim this long (per tier) after a customer's last contract
      ended with none active — even a won customer (the won exemption yields to it).
    * ``warn_before``: notify the owner this long before reclaim.
    * ``release_to``: pool receiving released/reclaimed customers (None = this pool).
    * ``browse_quota``: pool customers a rep may open unmasked per local day
      (:mod:`leadtocash.pool.browsing`); the default allows none.
    """

    daily_claim_limit: int | None = attrs.field(default=None, validator=_limit)
    tier_claim_limits: Mapping[Tier, int] = attrs.field(factory=dict)
    capacity: int | None = attrs.field(default=None, validator=_limit)
    capacity_excludes_won: bool = True
    capacity_excludes_locked: bool = True
    reclaim_cooldown: Duration | None = None
    new_in_pool_cooldown: Duration | None = None
    protection_base: Duration | None = None
    protection_per_follow_up: Duration | None = None
    protection_cap: Duration | None = None
    no_follow_up: TierDurations = attrs.field(factory=TierDurations)
    no_new_opportunity: TierDurations = attrs.field(factory=TierDurations)
    not_won: TierDurations = attrs.field(factory=TierDurations)
    after_contract_end: TierDurations = attrs.field(factory=TierDurations)
    exempt_locked: bool = True
    exempt_from_stage: int | None = attrs.field(default=None, validator=_limit)
    exempt_active_contract: bool = True
    exempt_won: bool = True
    warn_before: Duration | None = None
    release_to: PoolId | None = None
    browse_quota: BrowseQuota = attrs.field(factory=BrowseQuota)

    def __attrs_post_init__(self) -> None:
        errors = []
        units = {
            d.unit
            for d in (self.protection_base, self.protection_per_follow_up, self.protection_cap)
            if d is not None and not d.off
        }
        if len(units) > 1:
            errors.append(
                FieldError(
                    "protection_base",
                    "pool.rule_invalid",
                    "protection durations must share one unit",
                )
            )
        base, cap = self.protection_base, self.protection_cap
        if base is not None and cap is not None and not cap.off and cap.amount < base.amount:
            errors.append(FieldError("protection_cap", "pool.rule_invalid", "cap must be >= base"))
        for tier, limit in self.tier_claim_limits.items():
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
                errors.append(
                    FieldError(f"tier_claim_limits[{tier}]", "pool.rule_invalid", "must be >= 0")
                )
        if errors:
            raise ValidationError(errors)

    @property
    def daily_limit_on(self) -> bool:
        """True when the daily claim limit is enforced."""
        return bool(self.daily_claim_limit)

    @property
    def capacity_on(self) -> bool:
        """True when the capacity is enforced."""
        return bool(self.capacity)


@attrs.frozen
class Pool:
    """A public pool (公海池) of one zone or product line, with its rules and its members
    (:mod:`leadtocash.pool.membership`: who may see it and claim from it; default everyone)."""

    id: PoolId
    name: str = attrs.field(validator=non_blank)
    zone_id: ZoneId | None = None
    product_line: str | None = None
    rules: PoolRules = attrs.field(factory=PoolRules)
    members: PoolMembers = attrs.field(factory=PoolMembers)
    version: int = 0
