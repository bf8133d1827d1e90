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
    ConditionCheck,
    DemandSignals,
    Facts,
    Operator,
    TierRule,
    TierRules,
    facts_of,
    implies,
    tier_rank,
)
from leadtocash.classification.conditions import condition_problems
from leadtocash.errors import ValidationError
from leadtocash.model import Customer, CustomerId, Tier
from leadtocash.money import Money
from leadtocash.signals import RiskLevel

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


# -- malformed tables and rules ------------------------------------------------------------------


def test_malformed_rules_are_refused_naming_their_position() -> None:
    valid = Condition("invalid", Operator.IS_FALSE)
    with pytest.raises(ValidationError) as caught:
        TierRules(
            [
                "hot",
                TierRule("  ", Tier.A, (valid,)),
                TierRule("b", "B", (valid,)),  # type: ignore[arg-type]
                TierRule("e", Tier.E),
            ]
        )
    assert [(e.path, e.code, e.message) for e in caught.value.errors] == [
        ("rules[0]", "classification.rule_invalid", "expected a TierRule"),
        ("rules[1]", "classification.rule_invalid", "rule 1 needs a name"),
        ("rules.b.tier", "classification.rule_invalid", "rule 'b': no tier"),
    ]


@pytest.mark.parametrize("rules", ["hot", 5, b"rules"], ids=["text", "number", "bytes"])
def test_the_rules_setting_must_be_a_list(rules: object) -> None:
    assert _refused({"rules": rules}) == [
        ("rules", "classification.rule_invalid", "expected a list of rules")
    ]


def test_each_configured_rule_must_be_a_mapping_with_a_condition_mapping() -> None:
    config = copy.deepcopy(DEFAULT)
    config["rules"][1] = ["warm", "B"]
    config["rules"][2]["when"] = ["need_confirmed"]
    assert [(p, c) for p, c, _ in _refused(config)] == [
        ("rules[1]", "classification.rule_invalid"),
        ("rules.nurture-timeline.when", "classification.rule_invalid"),
    ]


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        (5, "expected an operator name or {operator: value}, got 5"),
        (["present"], "expected an operator name or {operator: value}"),
        ({"present": 5}, "present takes no value"),
        ({"at_least": 5}, "5 is not an amount like '100000 CNY'"),
        ({"at_least": {"amount": 5}}, "'currency'"),
    ],
    ids=["number", "list", "value-for-present", "bare-number", "no-currency"],
)
def test_malformed_condition_specs_name_the_fact(spec: object, words: str) -> None:
    when = {**DEFAULT["rules"][0]["when"], "budget": spec}
    path, code, message = _one(_config(hot={"when": when}))
    assert (path, code) == ("rules.hot.when.budget", "classification.rule_invalid")
    assert words in message


def test_an_unknown_fact_with_a_bound_is_refused_as_unknown() -> None:
    when = {**DEFAULT["rules"][0]["when"], "shoe_size": {"at_least": 42}}
    path, code, _ = _one(_config(hot={"when": when}))
    assert (path, code) == ("rules.hot.when.shoe_size", "field.unknown")


@pytest.mark.parametrize(
    "budget",
    [{"amount": 100000, "currency": "CNY"}, Money(100000, "CNY"), "100000 CNY"],
    ids=["mapping", "money", "text"],
)
def test_money_bounds_are_read_from_text_mappings_or_money(budget: object) -> None:
    when = {**DEFAULT["rules"][0]["when"], "budget": {"at_least": budget}}
    rules = TierRules.from_config(_config(hot={"when": when}))
    bound = next(c for c in rules.rule("hot").when if c.fact == "budget")
    assert bound == Condition("budget", Operator.AT_LEAST, Money(100000, "CNY"))
    assert TierRules.from_config(rules.to_config()) == rules


def test_rules_are_found_by_name_and_by_tier() -> None:
    rules = TierRules()
    assert rules.rule("warm").tier is Tier.B
    assert [r.name for r in rules.rules_for(Tier.C)] == ["nurture-timeline", "nurture-engaged"]
    assert rules.rules_for(Tier.A)[0] is rules.rule("hot")
    with pytest.raises(ValidationError) as caught:
        rules.rule("lukewarm")
    assert [(e.path, e.code) for e in caught.value.errors] == [("rules.lukewarm", "field.unknown")]


# -- conditions: evaluation, implication, validation --------------------------------------------


def _at(**values: Any) -> Facts:
    return Facts(now=NOW, today=NOW.date(), **values)


def test_a_condition_on_an_unknown_fact_cannot_be_evaluated() -> None:
    with pytest.raises(ValidationError) as caught:
        Condition("shoe_size", Operator.PRESENT).holds(_at())
    assert [(e.path, e.code) for e in caught.value.errors] == [("shoe_size", "field.unknown")]


def test_dates_older_than_n_days_count_back_from_today() -> None:
    overdue = Condition("expected_close", Operator.OLDER_THAN_DAYS, 10)
    today = NOW.date()
    assert overdue.holds(_at(expected_close=today - timedelta(days=11)))
    assert not overdue.holds(_at(expected_close=today - timedelta(days=10)))  # boundary
    assert not overdue.holds(_at(expected_close=today + timedelta(days=30)))
    assert not overdue.holds(_at())  # unknown never meets a bound


def test_an_unmet_check_shows_the_value_it_saw() -> None:
    recent = Condition("last_engagement_at", Operator.WITHIN_DAYS, 30)
    seen = NOW - timedelta(days=45)
    check = ConditionCheck.of(recent, _at(last_engagement_at=seen))
    assert not check.met and check.actual == seen
    assert check.describe() == "last engagement within 30 days (now: 2026-01-16T04:00+00:00)"
    flag = ConditionCheck.of(Condition("won", Operator.IS_TRUE), _at())
    assert flag.describe() == "won (now: no)"
    assert ConditionCheck.of(Condition("budget", Operator.PRESENT), _at()).describe() == (
        "budget known (now: unknown)"
    )


def test_older_than_more_days_implies_older_than_fewer() -> None:
    older = Operator.OLDER_THAN_DAYS
    assert implies(Condition("expected_close", older, 60), Condition("expected_close", older, 30))
    assert implies(Condition("expected_close", older, 30), Condition("expected_close", older, 30))
    assert not implies(
        Condition("expected_close", older, 30), Condition("expected_close", older, 60)
    )


@pytest.mark.parametrize(
    ("condition", "code", "words"),
    [
        ("won", "classification.rule_invalid", "expected a Condition, got str"),
        (
            Condition("won", "maybe"),  # type: ignore[arg-type]
            "classification.rule_invalid",
            "unknown operator 'maybe'",
        ),
        (
            Condition("zone_count", Operator.AT_LEAST, RiskLevel.LOW),
            "classification.rule_invalid",
            "zone_count: at_least needs a whole number >= 0",
        ),
        (
            Condition("zone_count", Operator.AT_LEAST, -1),
            "classification.rule_invalid",
            "zone_count: at_least needs a whole number >= 0",
        ),
        (
            Condition("after_sales_risk", Operator.AT_MOST, 2),
            "classification.rule_invalid",
            "after_sales_risk: at_most needs a risk level",
        ),
    ],
    ids=["not-a-condition", "bad-operator", "level-for-count", "negative-count", "count-for-level"],
)
def test_condition_problems_name_what_is_wrong(condition: Any, code: str, words: str) -> None:
    ((found_code, message),) = condition_problems(condition, monotone=False)
    assert found_code == code and words in message
    assert condition_problems(Condition("zone_count", Operator.AT_LEAST, 0), monotone=True) == []
