"""Hypothesis strategies for allocation: reps, weights, eligibility, lead batches, scenarios.

For users' own property tests of allocation rules, e.g.::

    @given(allocation_scenarios(equal_eligibility=True))
    def test_my_rule(scenario): ...
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
from hypothesis import strategies as st

from leadtocash.allocation import LeadProfile, RepState
from leadtocash.model import RepId, ZoneId

__all__ = [
    "SKILLS",
    "ZONES",
    "AllocationScenario",
    "allocation_scenarios",
    "lead_batches",
    "lead_profiles",
    "rep_states",
    "rosters",
    "seeds",
    "weights",
]

#: Zones used by the strategies (small, so eligibility sets overlap often).
ZONES: tuple[ZoneId, ...] = (ZoneId("east"), ZoneId("west"), ZoneId("north"))
#: Skills used by the strategies.
SKILLS: tuple[str, ...] = ("zh", "en", "vip")

#: Explicit integer seeds for deterministic tie-breaks.
seeds = st.integers(min_value=0, max_value=2**63 - 1)


def weights(max_weight: int = 100) -> st.SearchStrategy[int]:
    """Positive rep weights up to ``max_weight``."""
    return st.integers(min_value=1, max_value=max_weight)


def rep_states(
    rep_id: str, *, max_weight: int = 100, constrained: bool = True, caps: bool = True
) -> st.SearchStrategy[RepState]:
    """One rep; ``constrained`` draws zones/skills/leave, ``caps`` draws capacity and daily caps."""
    zone = st.sampled_from((None, *ZONES)) if constrained else st.none()
    extra = (
        st.frozensets(st.sampled_from(ZONES), max_size=2) if constrained else st.just(frozenset())
    )
    skills = st.frozensets(st.sampled_from(SKILLS)) if constrained else st.just(frozenset())
    on_leave = st.booleans() if constrained else st.just(False)
    cap = st.one_of(st.none(), st.integers(0, 12)) if caps else st.none()
    used = st.integers(0, 6) if caps else st.just(0)
    return st.builds(
        RepState,
        rep_id=st.just(RepId(rep_id)),
        weight=weights(max_weight),
        zone_id=zone,
        zones=extra,
        skills=skills,
        on_leave=on_leave,
        owned=used,
        capacity=cap,
        today=used,
        daily_cap=cap,
        open_leads=st.integers(0, 20),
    )


@st.composite
def rosters(
    draw: st.DrawFn,
    min_size: int = 1,
    max_size: int = 8,
    *,
    equal_eligibility: bool = False,
    caps: bool = False,
    max_weight: int = 100,
) -> list[RepState]:
    """Reps with unique ids ``r0, r1, …``; ``equal_eligibility``: everyone fits every lead."""
    size = draw(st.integers(min_size, max_size))
    constrained = not equal_eligibility
    return [
        draw(
            rep_states(
                f"r{i}",
                max_weight=max_weight,
                constrained=constrained,
                caps=caps and constrained,
            )
        )
        for i in range(size)
    ]


def lead_profiles(
    lead_id: str, *, constrained: bool = True, fields: Sequence[str] = ("web_form", "call")
) -> st.SearchStrategy[LeadProfile]:
    """One lead; ``constrained`` draws a zone and required skills, plus a ``channel`` field."""
    zone = st.sampled_from((None, *ZONES)) if constrained else st.none()
    skills = (
        st.frozensets(st.sampled_from(SKILLS), max_size=1) if constrained else st.just(frozenset())
    )
    channel = st.sampled_from(tuple(fields)).map(lambda c: {"channel": c})
    return st.builds(LeadProfile, st.just(lead_id), zone, skills, channel)


@st.composite
def lead_batches(
    draw: st.DrawFn,
    *,
    min_batches: int = 1,
    max_batches: int = 4,
    max_batch_size: int = 25,
    constrained: bool = False,
) -> list[list[LeadProfile]]:
    """A sequence of lead batches with unique lead ids across the whole sequence."""
    count = draw(st.integers(min_batches, max_batches))
    batches = []
    serial = 0
    for _ in range(count):
        size = draw(st.integers(0, max_batch_size))
        batch = []
        for _ in range(size):
            batch.append(draw(lead_profiles(f"l{serial}", constrained=constrained)))
            serial += 1
        batches.append(batch)
    return batches


@attrs.frozen
class AllocationScenario:
    """Reps, a sequence of lead batches and a seed."""

    reps: tuple[RepState, ...]
    batches: tuple[tuple[LeadProfile, ...], ...]
    seed: int


@st.composite
def allocation_scenarios(
    draw: st.DrawFn,
    *,
    equal_eligibility: bool = False,
    caps: bool = False,
    max_reps: int = 8,
    max_weight: int = 100,
    max_batches: int = 4,
    max_batch_size: int = 25,
) -> AllocationScenario:
    """A roster, batches that fit it (constrained unless ``equal_eligibility``) and a seed."""
    reps = draw(
        rosters(
            max_size=max_reps, equal_eligibility=equal_eligibility, caps=caps, max_weight=max_weight
        )
    )
    batches = draw(
        lead_batches(
            max_batches=max_batches,
            max_batch_size=max_batch_size,
            constrained=not equal_eligibility,
        )
    )
    return AllocationScenario(tuple(reps), tuple(tuple(b) for b in batches), draw(seeds))
