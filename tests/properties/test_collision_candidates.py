"""pick_candidates: a bounded, deterministic choice that reads the specific keys' records first."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from leadtocash.collision import pick_candidates

found_maps = st.dictionaries(
    st.text("abcdef", min_size=1, max_size=3),
    st.lists(st.integers(0, 40), max_size=20, unique=True),
    max_size=12,
)


@given(found_maps, st.integers(0, 60))
def test_at_most_budget_distinct_records_all_found(
    found: dict[str, list[int]], budget: int
) -> None:
    picked = pick_candidates(found, budget)
    everything = {holder for holders in found.values() for holder in holders}
    assert len(picked) == len(set(picked)) == min(budget, len(everything))
    assert set(picked) <= everything
    assert pick_candidates(found, budget) == picked  # deterministic


@given(found_maps, st.integers(1, 60))
def test_a_sole_holder_of_a_key_comes_before_records_of_shared_keys_only(
    found: dict[str, list[int]], budget: int
) -> None:
    picked = pick_candidates(found, budget)
    sole = {holders[0] for holders in found.values() if len(holders) == 1}
    left_out = {h for holders in found.values() for h in holders} - set(picked)
    if sole & left_out:  # a sole holder was cut: then every picked record weighs at least one
        weights = {h: 0.0 for hs in found.values() for h in hs}
        for holders in found.values():
            for holder in holders:
                weights[holder] += 1.0 / len(holders)
        assert all(weights[p] >= 1.0 - 1e-9 for p in picked)
