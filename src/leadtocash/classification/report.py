"""Tier distribution report (分级分布): counts per tier, per zone and per owner, as plain data."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from leadtocash.classification.rules import TIERS
from leadtocash.model import Customer, Tier

__all__ = ["NONE_KEY", "TierDistribution", "tier_distribution"]

#: The key ``as_dict`` uses for customers without a zone or without an owner.
NONE_KEY = "-"


def _zero() -> dict[Tier, int]:
    return dict.fromkeys(TIERS, 0)


@attrs.frozen
class TierDistribution:
    """How many customers sit in each tier, overall, per zone and per owner (None = none)."""

    total: int
    by_tier: Mapping[Tier, int]
    by_zone: Mapping[str | None, Mapping[Tier, int]]
    by_owner: Mapping[str | None, Mapping[Tier, int]]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form: tier letters as keys, ``"-"`` for no zone / no owner."""

        def counts(row: Mapping[Tier, int]) -> dict[str, int]:
            return {tier.value: row.get(tier, 0) for tier in TIERS}

        def table(rows: Mapping[str | None, Mapping[Tier, int]]) -> dict[str, dict[str, int]]:
            return {NONE_KEY if key is None else key: counts(row) for key, row in rows.items()}

        return {
            "total": self.total,
            "by_tier": counts(self.by_tier),
            "by_zone": table(self.by_zone),
            "by_owner": table(self.by_owner),
        }


def tier_distribution(customers: Iterable[Customer]) -> TierDistribution:
    """Count ``customers`` per tier, per zone and per owner (every tier listed, zeros too)."""
    total = 0
    by_tier = _zero()
    by_zone: dict[str | None, dict[Tier, int]] = {}
    by_owner: dict[str | None, dict[Tier, int]] = {}
    for customer in customers:
        total += 1
        by_tier[customer.tier] += 1
        by_zone.setdefault(customer.zone_id, _zero())[customer.tier] += 1
        by_owner.setdefault(customer.owner_id, _zero())[customer.tier] += 1

    def ordered(rows: dict[str | None, dict[Tier, int]]) -> dict[str | None, Mapping[Tier, int]]:
        return {key: rows[key] for key in sorted(rows, key=lambda k: (k is None, k or ""))}

    return TierDistribution(total, by_tier, ordered(by_zone), ordered(by_owner))
