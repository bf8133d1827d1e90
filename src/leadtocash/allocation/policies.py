"""Allocation policies behind one interface: fair (default), round robin, weighted, etc.

A policy sees the eligible candidates of one lead (after zone, skills, availability and caps)
and picks one. Every policy's lead is accounted in the same fairness ledger, so the
deviation from entitlement can be measured — and explained — whatever the policy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fractions import Fraction
from math import floor
from typing import Protocol, runtime_checkable

import attrs

from leadtocash.allocation.eligibility import LeadProfile, RepState
from leadtocash.model import RepId

__all__ = [
    "AllocationPolicy",
    "BatchSplit",
    "Candidate",
    "FairPolicy",
    "LoadBalanced",
    "PickContext",
    "RoundRobin",
    "Rule",
    "RuleBased",
    "Weighted",
    "fair_key",
    "has_scope",
    "is_fair",
]


@attrs.frozen
class Candidate:
    """An eligible rep for one lead, with their ledger figures at that moment."""

    rep: RepState
    position: int
    rank: int
    weight: int
    received: int
    assigned_now: int
    deficit_num: int
    share_num: int
    denominator: int

    @property
    def deficit(self) -> Fraction:
        """Entitlement − received, this lead's share included (before the pick)."""
        return Fraction(self.deficit_num, self.denominator)

    @property
    def share(self) -> Fraction:
        """This rep's share of this lead's unit of entitlement."""
        return Fraction(self.share_num, self.denominator)


@attrs.frozen
class PickContext:
    """Everything a policy may use to pick: the lead, its candidates, the cursor and δ."""

    lead: LeadProfile
    candidates: tuple[Candidate, ...]
    cursor: int | None
    delta: Fraction


@runtime_checkable
class AllocationPolicy(Protocol):
    """The one policy interface."""

    @property
    def name(self) -> str:
        """Stable policy name (shown in explanations)."""
        ...

    def scope(self, lead: LeadProfile) -> tuple[str, frozenset[RepId]] | None:
        """A rule restricting the lead to a rep set: ``(rule name, reps)``; ``None`` = all reps."""
        ...

    def choose(self, context: PickContext) -> Candidate:
        """Pick one of ``context.candidates`` (never empty)."""
        ...


def fair_key(candidate: Candidate, delta: Fraction) -> tuple[int, int, int]:
    """Tijdeman's order: released reps (deficit ≥ δ) by deadline step, then rank.

    The deadline step is ``floor((1 − δ − deficit) / share)``: how many more leads of this
    kind may pass before the rep would be ``1 − δ`` behind. Reps not yet released sort
    after every released one, by largest deficit (the fallback when nobody is released).
    """
    if candidate.deficit >= delta:
        return (0, floor((1 - delta - candidate.deficit) / candidate.share), candidate.rank)
    return (1, -candidate.deficit_num, candidate.rank)


class _AllReps:
    def scope(self, lead: LeadProfile) -> tuple[str, frozenset[RepId]] | None:
        """No rule: every rep may be considered."""
        return None


@attrs.frozen
class FairPolicy(_AllReps):
    """Default: Tijdeman's chairman-assignment rule over the fairness ledger (|dev| < 1)."""

    @property
    def name(self) -> str:
        """``"fair"``."""
        return "fair"

    def choose(self, context: PickContext) -> Candidate:
        """Earliest deadline among reps at least δ behind; seed rank breaks ties."""
        return min(context.candidates, key=lambda c: fair_key(c, context.delta))


@attrs.frozen
class RoundRobin(_AllReps):
    """Next eligible rep after the last one served, in ledger (join) order."""

    @property
    def name(self) -> str:
        """``"round_robin"``."""
        return "round_robin"

    def choose(self, context: PickContext) -> Candidate:
        """First candidate whose ledger position follows the cursor, wrapping around."""
        ordered = sorted(context.candidates, key=lambda c: c.position)
        if context.cursor is not None:
            for candidate in ordered:
                if candidate.position > context.cursor:
                    return candidate
        return ordered[0]


@attrs.frozen
class Weighted(_AllReps):
    """Smallest ``(received + 1) / weight`` (stride scheduling on lifetime counts)."""

    @property
    def name(self) -> str:
        """``"weighted"``."""
        return "weighted"

    def choose(self, context: PickContext) -> Candidate:
        """The rep whose next lead keeps their count per weight lowest; rank breaks ties."""
        return min(context.candidates, key=lambda c: (Fraction(c.received + 1, c.weight), c.rank))


@attrs.frozen
class LoadBalanced(_AllReps):
    """Fewest open leads first (the counters in the rep states, updated within the batch)."""

    @property
    def name(self) -> str:
        """``"load_balanced"``."""
        return "load_balanced"

    def choose(self, context: PickContext) -> Candidate:
        """The rep with the fewest open leads; rank breaks ties."""
        return min(context.candidates, key=lambda c: (c.rep.open_leads, c.rank))


def _conditions(
    value: Mapping[str, str | Iterable[str]] | tuple[tuple[str, frozenset[str]], ...],
) -> tuple[tuple[str, frozenset[str]], ...]:
    if isinstance(value, tuple):
        return value
    out = []
    for field, allowed in value.items():
        values = frozenset([allowed]) if isinstance(allowed, str) else frozenset(allowed)
        out.append((field, values))
    return tuple(sorted(out))  # field names are distinct, so this sorts by field name


def _rep_set(value: Iterable[RepId]) -> frozenset[RepId]:
    return frozenset(value)


@attrs.frozen
class Rule:
    """A territory rule: when every condition holds (field value in the set), use these reps."""

    name: str
    reps: frozenset[RepId] = attrs.field(converter=_rep_set)
    when: tuple[tuple[str, frozenset[str]], ...] = attrs.field(default=(), converter=_conditions)

    def matches(self, lead: LeadProfile) -> bool:
        """Whether every condition holds for the lead (no conditions: always)."""
        return all(lead.field(field) in allowed for field, allowed in self.when)


def _rules(value: Iterable[Rule]) -> tuple[Rule, ...]:
    return tuple(value)


@attrs.frozen
class RuleBased:
    """Ordered first-match rules on lead fields pick the rep set; ``then`` picks within it.

    A lead matching no rule has no eligible rep (refused) unless ``otherwise`` names a set.
    """

    rules: tuple[Rule, ...] = attrs.field(converter=_rules)
    then: AllocationPolicy = FairPolicy()
    otherwise: frozenset[RepId] | None = None

    @property
    def name(self) -> str:
        """``"rule_based"``."""
        return "rule_based"

    def scope(self, lead: LeadProfile) -> tuple[str, frozenset[RepId]] | None:
        """The first matching rule's reps (or the fallback set; empty when none)."""
        for rule in self.rules:
            if rule.matches(lead):
                return rule.name, rule.reps
        if self.otherwise is not None:
            return "otherwise", self.otherwise
        return "no rule matched", frozenset()

    def choose(self, context: PickContext) -> Candidate:
        """Delegate the pick to ``then``."""
        return self.then.choose(context)


@attrs.frozen
class BatchSplit(_AllReps):
    """Batch distribution (批量分配): fewest in this batch, then furthest behind, then rank."""

    @property
    def name(self) -> str:
        """``"batch_split"``."""
        return "batch_split"

    def choose(self, context: PickContext) -> Candidate:
        """Keeps batch counts within 1; the remainder goes to whoever the ledger owes most."""
        return min(context.candidates, key=lambda c: (c.assigned_now, -c.deficit_num, c.rank))


def has_scope(policy: AllocationPolicy) -> bool:
    """Whether the policy may restrict leads to rule rep sets (built-ins without rules never do)."""
    return not isinstance(policy, _AllReps)


def is_fair(policy: AllocationPolicy) -> bool:
    """Whether the engine may use its integer Tijdeman path for this policy."""
    if isinstance(policy, RuleBased):
        return is_fair(policy.then)
    return type(policy) is FairPolicy
