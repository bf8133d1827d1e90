"""PoolRules and TierDurations: how a pool's configuration is checked and read (and how a
rep's book counts toward the configured capacity).

A bad rule set is refused when it is built, naming every offending field with the stable code
``pool.rule_invalid``, so an admin screen can show all of them at once.
"""

from __future__ import annotations

from typing import Any

import pytest

from leadtocash import PoolId, RepId, Tier, ValidationError
from leadtocash.durations import Duration
from leadtocash.pool.book import RepBook
from leadtocash.pool.rules import Pool, PoolRules, TierDurations


def _refusal(**rules: Any) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as caught:
        PoolRules(**rules)
    return [(e.path, e.code) for e in caught.value.errors]


@pytest.mark.parametrize("field", ["daily_claim_limit", "capacity", "exempt_from_stage"])
@pytest.mark.parametrize("value", [-1, True, 2.5, "3"], ids=["negative", "bool", "float", "text"])
def test_numeric_limits_must_be_none_or_a_non_negative_int(field: str, value: object) -> None:
    assert _refusal(**{field: value}) == [(field, "pool.rule_invalid")]


@pytest.mark.parametrize("field", ["daily_claim_limit", "capacity", "exempt_from_stage"])
def test_zero_and_none_are_valid_limits(field: str) -> None:
    zero: dict[str, Any] = {field: 0}
    unset: dict[str, Any] = {field: None}
    assert getattr(PoolRules(**zero), field) == 0
    assert getattr(PoolRules(**unset), field) is None


def test_zero_switches_the_daily_limit_and_the_capacity_off() -> None:
    assert (PoolRules().daily_limit_on, PoolRules().capacity_on) == (False, False)
    off = PoolRules(daily_claim_limit=0, capacity=0)
    assert (off.daily_limit_on, off.capacity_on) == (False, False)
    on = PoolRules(daily_claim_limit=1, capacity=1)
    assert (on.daily_limit_on, on.capacity_on) == (True, True)


def test_protection_durations_must_share_one_unit() -> None:
    assert _refusal(
        protection_base=Duration.days(3), protection_per_follow_up=Duration.working_days(1)
    ) == [("protection_base", "pool.rule_invalid")]
    assert _refusal(protection_base=Duration.days(3), protection_cap=Duration.hours(100)) == [
        ("protection_base", "pool.rule_invalid")
    ]


def test_an_off_duration_does_not_count_as_a_unit() -> None:
    rules = PoolRules(
        protection_base=Duration.working_days(3),
        protection_per_follow_up=Duration.hours(0),
        protection_cap=Duration.days(0),
    )
    assert rules.protection_base == Duration.working_days(3)


def test_the_protection_cap_may_not_be_below_the_base() -> None:
    assert _refusal(protection_base=Duration.days(5), protection_cap=Duration.days(4)) == [
        ("protection_cap", "pool.rule_invalid")
    ]
    # equal is the boundary and allowed; an off cap means "no cap"
    assert PoolRules(protection_base=Duration.days(5), protection_cap=Duration.days(5))
    assert PoolRules(protection_base=Duration.days(5), protection_cap=Duration.days(0))
    assert PoolRules(protection_cap=Duration.days(1)).protection_base is None


@pytest.mark.parametrize("value", [-1, True, 1.0], ids=["negative", "bool", "float"])
def test_per_tier_claim_limits_name_the_tier(value: object) -> None:
    assert _refusal(tier_claim_limits={Tier.A: 1, Tier.B: value}) == [
        ("tier_claim_limits[B]", "pool.rule_invalid")
    ]
    assert PoolRules(tier_claim_limits={Tier.B: 0}).tier_claim_limits == {Tier.B: 0}


def test_every_bad_rule_is_reported_at_once() -> None:
    with pytest.raises(ValidationError) as caught:
        PoolRules(
            protection_base=Duration.days(5),
            protection_per_follow_up=Duration.hours(1),
            protection_cap=Duration.days(2),
            tier_claim_limits={Tier.A: -1, Tier.C: -2},
        )
    assert caught.value.code == "validation.invalid"
    assert caught.value.paths == (
        "protection_base",
        "protection_cap",
        "tier_claim_limits[A]",
        "tier_claim_limits[C]",
    )
    assert {e.code for e in caught.value.errors} == {"pool.rule_invalid"}


def test_tier_durations_fall_back_to_the_default_and_off_means_no_rule() -> None:
    durations = TierDurations(
        Duration.days(30), {Tier.A: Duration.days(60), Tier.E: Duration.days(0)}
    )
    assert durations.for_tier(Tier.A) == Duration.days(60)
    assert durations.for_tier(Tier.C) == Duration.days(30)
    assert durations.for_tier(Tier.E) is None  # an off override beats the default
    assert TierDurations().for_tier(Tier.A) is None
    assert TierDurations(Duration.days(0)).for_tier(Tier.B) is None
    only_a = TierDurations(by_tier={Tier.A: Duration.working_days(5)})
    assert (only_a.for_tier(Tier.A), only_a.for_tier(Tier.B)) == (Duration.working_days(5), None)


def test_a_pool_needs_a_name() -> None:
    with pytest.raises(ValidationError) as caught:
        Pool(id=PoolId("p1"), name="  ")
    assert [(e.path, e.code) for e in caught.value.errors] == [("name", "field.required")]
    assert Pool(id=PoolId("p1"), name="East").rules == PoolRules()


@pytest.mark.parametrize(
    ("exclude_won", "exclude_locked", "counted"),
    [(False, False, 10), (True, False, 7), (False, True, 6), (True, True, 4)],
)
def test_capacity_counts_owned_customers_minus_the_configured_exclusions(
    exclude_won: bool, exclude_locked: bool, counted: int
) -> None:
    # 10 owned: 3 won, 4 locked, 1 of them both won and locked (excluded once, not twice)
    book = RepBook(RepId("rep1"), owned=10, won=3, locked=4, won_and_locked=1)
    assert book.counted(exclude_won=exclude_won, exclude_locked=exclude_locked) == counted
