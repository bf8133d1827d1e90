"""Lead routing (线索分配规则): which reps may receive a lead, by channel, region, product line
and skills.

A :class:`Routing` is an ordered first-match table of :class:`Route` rows. The matching row
adds the skills a rep must have (checked by eligibility like any lead's skills) and may name
the reps it is for; the fair allocator then picks among the eligible reps with its usual
guarantees, and every explanation names the row (``rule``) and the skills that decided it.
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from leadtocash.allocation.eligibility import LeadProfile
from leadtocash.allocation.policies import AllocationPolicy, FairPolicy, Rule, RuleBased
from leadtocash.model import RepId, ZoneId, non_blank

__all__ = ["OTHERWISE", "Route", "Routing"]

#: Rule name of leads no route matched, when the table lets them go to every rep.
OTHERWISE = "otherwise"


def _strs(value: Iterable[str]) -> frozenset[str]:
    return frozenset(value)


def _reps(value: Iterable[RepId] | None) -> frozenset[RepId] | None:
    return None if value is None else frozenset(value)


@attrs.frozen
class Route:
    """One routing row: leads of these channels, zones (regions) and product lines (an empty
    set matches any) need reps with ``skills``; ``reps``, when given, names the only reps."""

    name: str = attrs.field(validator=non_blank)
    channels: frozenset[str] = attrs.field(default=frozenset(), converter=_strs)
    zones: frozenset[ZoneId] = attrs.field(default=frozenset(), converter=_strs)
    product_lines: frozenset[str] = attrs.field(default=frozenset(), converter=_strs)
    skills: frozenset[str] = attrs.field(default=frozenset(), converter=_strs)
    reps: frozenset[RepId] | None = attrs.field(default=None, converter=_reps)

    def conditions(self) -> dict[str, frozenset[str]]:
        """The row's conditions on lead fields (``channel``, ``zone``, ``product_line``)."""
        found = {"channel": self.channels, "zone": self.zones, "product_line": self.product_lines}
        return {field: values for field, values in found.items() if values}

    def matches(self, lead: LeadProfile) -> bool:
        """Whether the lead's channel, zone and product line are each in the row's sets."""
        return all(lead.field(field) in values for field, values in self.conditions().items())


def _routes(value: Iterable[Route]) -> tuple[Route, ...]:
    return tuple(value)


@attrs.frozen
class Routing:
    """An ordered first-match routing table. A lead no row matches goes to every rep when
    ``unmatched_to_all`` (rule ``otherwise``), else it is refused (nobody eligible)."""

    routes: tuple[Route, ...] = attrs.field(default=(), converter=_routes)
    unmatched_to_all: bool = True

    def route(self, lead: LeadProfile) -> Route | None:
        """The first row matching ``lead``, if any."""
        return next((row for row in self.routes if row.matches(lead)), None)

    def profile(self, lead: LeadProfile) -> LeadProfile:
        """``lead`` with the skills its row requires added."""
        row = self.route(lead)
        if row is None or not row.skills:
            return lead
        return attrs.evolve(lead, skills=lead.skills | row.skills)

    def policy(
        self, reps: Iterable[RepId], *, then: AllocationPolicy | None = None
    ) -> AllocationPolicy:
        """The allocation policy applying this table to ``reps`` (fair within each row's reps).

        Profiles must have gone through :meth:`profile` first, so rows' skills count.
        """
        everyone = frozenset(reps)
        rules = [
            Rule(row.name, everyone if row.reps is None else row.reps & everyone,
                 row.conditions())
            for row in self.routes
        ]  # fmt: skip
        otherwise = everyone if self.unmatched_to_all else None
        return RuleBased(rules, then=then or FairPolicy(), otherwise=otherwise)
