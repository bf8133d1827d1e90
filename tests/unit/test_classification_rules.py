"""The tier rule validator: invalid or non-monotone tables are refused at load time, naming
the rule, and the tables it refuses for monotonicity really can lower a tier.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest

from leadtocash.classification import (
    Condition,
    DemandSignals,
    Facts,
    Operator,
    TierRule,
    TierRules,
    facts_of,
    tier_rank,
)
from leadtocash.errors import ValidationError
from leadtocash.model import Customer, CustomerId, Tier
from leadtocash.money import Money

NOW = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)
TZ = "Asia/Shanghai"
DEFAULT = TierRules().to_config()


def _config(**changes: Any) -> dict[str, Any]:
    """The default config with rules replaced by name: ``hot={...}`` (None deletes it)."""
    config = copy.deepcopy(DEFAULT)
    rules = []
    for rule in config["rules"]:
        key = rule["name"].replace("-", "_")
        if key not in changes:
            rules.append(rule)
        elif changes[key] is not None:
            rules.append({**rule, **changes[key]})
    config["rules"] = rules
    return config


def _refused(config: dict[str, Any]) -> list[tuple[str, str, str]]:
    with pytest.raises(ValidationError) as caught:
        TierRules.from_config(config)
    return [(e.path, e.code, e.message) for e in caught.value.errors]


def _one(config: dict[str, Any]) -> tuple[str, str, str]:
    (found,) = _refused(config)
    return found


def test_the_default_table_is_accepted_and_round_trips_through_plain_data() -> None:
    rules = TierRules.from_config(DEFAULT)
    assert rules == TierRules()
    assert [r.name for r in rules.rules] == [
        "hot", "warm", "nurture-timeline", "nurture-engaged", "latent", "invalid",
    ]  # fmt: skip


# -- invalid configurations, each error naming the rule ----------------------------------------


def test_an_unknown_fact_is_refused_naming_the_rule() -> None:
    when = {**DEFAULT["rules"][0]["when"], "shoe_size": "present"}
    path, code, message = _one(_config(hot={"when": when}))
    assert (path, code) == ("rules.hot.when.shoe_size", "field.unknown")
    assert "rule 'hot'" in message and "unknown fact 'shoe_size'" in message


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("lots", "'lots' is not a valid Operator"),
        ({"within_days": 30}, "within_days does not apply to budget"),
        ({"at_least": "lots CNY"}, "budget"),
        ({"at_least": "-5 CNY"}, "needs an amount of money >= 0"),
    ],
)
def test_operators_and_values_must_fit_the_fact(spec: object, words: str) -> None:
    when = {**DEFAULT["rules"][0]["when"], "budget": spec}
    path, code, message = _one(_config(hot={"when": when}))
    assert (path, code) == ("rules.hot.when.budget", "classification.rule_invalid")
    assert words in message and message.startswith("rule 'hot': ")


def test_out_of_range_thresholds_are_refused() -> None:
    errors = _refused(
        _config(
            warm={"when": {"expected_close": {"within_days": -1}, "invalid": "is_false"}},
            latent={"when": {"invalid": "is_false", "completeness": {"at_least": 120}}},
        )
    )
    assert [(p, c) for p, c, _ in errors] == [
        ("rules.warm.when.expected_close", "classification.rule_invalid"),
        ("rules.latent.when.completeness", "classification.rule_invalid"),
    ]


def test_two_bounds_on_one_fact_overlap() -> None:
    when = {"invalid": "is_false", "completeness": {"at_least": 20, "at_most": 10}}
    path, code, _ = _one(_config(latent={"when": when}))
    assert (path, code) == ("rules.latent.when.completeness", "classification.overlap")
    twice = (Condition("won", Operator.IS_TRUE), Condition("won", Operator.IS_TRUE))
    rules = (*TierRules().rules[:4], TierRule("latent", Tier.D, twice), TierRules().rules[5])
    with pytest.raises(ValidationError) as caught:
        TierRules(rules)
    assert caught.value.errors[0].code == "classification.overlap"
    assert "rule 'latent'" in caught.value.errors[0].message


def test_a_better_tier_with_a_looser_range_is_contradictory() -> None:
    hot = copy.deepcopy(DEFAULT["rules"][0])
    hot["when"]["expected_close"] = {"within_days": 120}  # B says 90
    path, code, message = _one(_config(hot=hot))
    assert (path, code) == ("rules.hot", "classification.overlap")
    assert "compared with 'warm' it lacks: expected close within 90 days" in message


def test_a_rule_that_can_never_fire_is_refused() -> None:
    warm = copy.deepcopy(DEFAULT["rules"][1])
    warm["when"] = {**DEFAULT["rules"][0]["when"], "won": "is_true"}  # stricter than hot
    errors = _refused(_config(warm=warm))
    assert ("rules.warm", "classification.overlap") in [(p, c) for p, c, _ in errors]
    never = next(m for p, c, m in errors if p == "rules.warm")
    assert "never fires" in never and "'hot'" in never


def test_every_tier_needs_a_reachable_rule() -> None:
    path, code, message = _one(_config(nurture_timeline=None, nurture_engaged=None))
    assert (path, code) == ("tiers.C", "classification.empty_tier")
    assert "tier C" in message


def test_the_last_rule_must_be_a_catch_all() -> None:
    errors = _refused(_config(invalid={"when": {"won": "is_true"}}))
    assert ("rules.invalid", "classification.rule_invalid") in [(p, c) for p, c, _ in errors]


def test_names_tiers_and_keys_are_checked() -> None:
    config = _config(warm={"name": "hot"}, latent={"tier": "F"}, invalid={"colour": "red"})
    config["typo"] = 1
    assert [(p, c) for p, c, _ in _refused(config)] == [
        ("rules.latent.tier", "classification.rule_invalid"),
        ("rules.invalid.colour", "field.unknown"),
        ("typo", "field.unknown"),
    ]
    assert _one(_config(warm={"name": "hot"}))[:2] == ("rules.hot", "classification.rule_invalid")
    assert "defined twice" in _one(_config(warm={"name": "hot"}))[2]


def test_completeness_may_count_only_information_fields() -> None:
    config = copy.deepcopy(DEFAULT)
    config["completeness_fields"] = ["phones", "signals.invalid_reason", "shoe", "phones"]
    assert [(p, c) for p, c, _ in _refused(config)] == [
        ("completeness_fields[1]", "classification.not_monotone"),
        ("completeness_fields[2]", "field.unknown"),
        ("completeness_fields[3]", "classification.rule_invalid"),
    ]


# -- non-monotone tables: refused, and really non-monotone ----------------------------------------


def _unchecked_tier(rules: list[TierRule], facts: Facts) -> Tier:
    """First-match evaluation without the validator (to exhibit counterexamples)."""
    return next((r.tier for r in rules if r.matches(facts)), Tier.E)


def _facts(signals: DemandSignals, fields: tuple[str, ...] = ()) -> Facts:
    customer = Customer(id=CustomerId("c"), name="c", created_at=NOW - timedelta(days=9))
    customer = attrs.evolve(customer, phones=("+8613800000000",))
    return facts_of(customer, signals, NOW, timezone=TZ, completeness_fields=fields)


def _lowered(rules: list[TierRule], before: Facts, after: Facts) -> bool:
    return tier_rank(_unchecked_tier(rules, after)) > tier_rank(_unchecked_tier(rules, before))


def _ladder(top: list[Condition]) -> list[TierRule]:
    valid = Condition("invalid", Operator.IS_FALSE)
    return [
        TierRule("a", Tier.A, (*top, valid)),
        TierRule("b", Tier.B, (Condition("has_phone", Operator.IS_TRUE), valid)),
        TierRule("c", Tier.C, (Condition("zone_count", Operator.AT_LEAST, 0), valid)),
        TierRule("d", Tier.D, (valid,)),
        TierRule("e", Tier.E),
    ]


@pytest.mark.parametrize(
    ("condition", "before", "after"),
    [
        # Confirming the need lowers the tier when a rule wants it unconfirmed.
        (
            Condition("need_confirmed", Operator.IS_FALSE),
            DemandSignals(),
            DemandSignals(need_confirmed=True),
        ),
        # Recording a budget lowers the tier when a rule wants it unknown.
        (
            Condition("budget", Operator.ABSENT),
            DemandSignals(),
            DemandSignals(budget=Money(1, "CNY")),
        ),
        # A bigger budget lowers the tier under an upper bound.
        (
            Condition("budget", Operator.AT_MOST, Money(1000, "CNY")),
            DemandSignals(budget=Money(10, "CNY")),
            DemandSignals(budget=Money(5000, "CNY")),
        ),
        # A fresh engagement lowers the tier when a rule wants it old.
        (
            Condition("last_engagement_at", Operator.OLDER_THAN_DAYS, 30),
            DemandSignals(last_engagement_at=NOW - timedelta(days=60)),
            DemandSignals(last_engagement_at=NOW - timedelta(days=1)),
        ),
    ],
)
def test_non_monotone_operators_are_refused_and_really_lower_tiers(
    condition: Condition, before: DemandSignals, after: DemandSignals
) -> None:
    rules = _ladder([Condition("has_phone", Operator.IS_TRUE), condition])
    assert _lowered(rules, _facts(before), _facts(after))
    with pytest.raises(ValidationError) as caught:
        TierRules(rules)
    (error,) = caught.value.errors
    assert (error.path, error.code) == (
        f"rules.a.when.{condition.fact}",
        "classification.not_monotone",
    )
    assert "rule 'a'" in error.message


def test_rules_out_of_tier_order_are_refused_and_really_lower_tiers() -> None:
    valid = Condition("invalid", Operator.IS_FALSE)
    rules = [
        TierRule("c-first", Tier.C, (Condition("need_confirmed", Operator.IS_TRUE), valid)),
        TierRule("a", Tier.A, (Condition("budget", Operator.PRESENT), valid)),
        TierRule("b", Tier.B, (Condition("won", Operator.IS_TRUE), valid)),
        TierRule("d", Tier.D, (valid,)),
        TierRule("e", Tier.E),
    ]
    funded = DemandSignals(budget=Money(1, "CNY"))
    assert _lowered(rules, _facts(funded), _facts(attrs.evolve(funded, need_confirmed=True)))
    with pytest.raises(ValidationError) as caught:
        TierRules(rules)
    first = caught.value.errors[0]
    assert (first.path, first.code) == ("rules.a", "classification.not_monotone")
    assert "rule 'a' (tier A) comes after rule 'c-first' (tier C)" in first.message


def test_counting_a_negative_field_in_completeness_is_refused_and_really_lowers_tiers() -> None:
    fields = ("phones", "signals.invalid_reason")
    rules = [
        TierRule("a", Tier.A, (Condition("completeness", Operator.AT_LEAST, 100),)),
        TierRule("e", Tier.E),
    ]
    marked = DemandSignals(invalid_reason="duplicate")
    cleared = DemandSignals()  # clearing the invalid mark is an improvement
    assert _lowered(rules, _facts(marked, fields), _facts(cleared, fields))
    with pytest.raises(ValidationError) as caught:
        TierRules(TierRules().rules, completeness_fields=fields)
    assert caught.value.errors[0].code == "classification.not_monotone"
