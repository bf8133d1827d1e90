"""Five-tier classification (五级): default rules, explanations, tags, required fields, reports."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import attrs
import pytest

from leadtocash.classification import (
    Condition,
    DemandSignals,
    FieldRequirements,
    Operator,
    RequiredFields,
    RiskLevel,
    TagRule,
    TagRules,
    TierRules,
    apply_classification,
    classify,
    facts_of,
    tier_distribution,
)
from leadtocash.classification.paths import path_error, value_at
from leadtocash.errors import ValidationError
from leadtocash.model import Customer, CustomerId, Lead, LeadId, RepId, Tier, ZoneId
from leadtocash.money import Money

# 2026-03-02 12:00 in Shanghai.
NOW = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)
TODAY = date(2026, 3, 2)
TZ = "Asia/Shanghai"
RULES = TierRules()


def _customer(**changes: object) -> Customer:
    base = Customer(id=CustomerId("c1"), name="客户", created_at=NOW - timedelta(days=400))
    return attrs.evolve(base, **changes)  # type: ignore[arg-type]


def _tier(signals: DemandSignals, **changes: object) -> Tier:
    return classify(_customer(**changes), signals, RULES, NOW, timezone=TZ).tier


HOT = DemandSignals(
    need_confirmed=True,
    budget=Money(500_000, "CNY"),
    decision_maker_identified=True,
    expected_close=TODAY + timedelta(days=20),
)


def test_default_rules_give_each_tier_from_its_signals() -> None:
    assert _tier(HOT) is Tier.A
    assert _tier(attrs.evolve(HOT, expected_close=TODAY + timedelta(days=60))) is Tier.B
    assert _tier(attrs.evolve(HOT, decision_maker_identified=False)) is Tier.B
    assert _tier(attrs.evolve(HOT, expected_close=TODAY + timedelta(days=150))) is Tier.C
    engaged = DemandSignals(need_confirmed=True, last_engagement_at=NOW - timedelta(days=3))
    assert _tier(engaged) is Tier.C
    assert _tier(DemandSignals()) is Tier.D
    assert _tier(attrs.evolve(HOT, invalid_reason="company closed")) is Tier.E


def test_follow_ups_count_as_engagement() -> None:
    need = DemandSignals(need_confirmed=True)
    assert _tier(need) is Tier.D
    assert _tier(need, last_follow_up_at=NOW - timedelta(days=10)) is Tier.C
    assert _tier(need, last_follow_up_at=NOW - timedelta(days=31)) is Tier.D


def test_expected_close_counts_from_today_in_the_org_time_zone() -> None:
    # 2026-03-01 20:00 UTC is already 2026-03-02 in Shanghai: a close on 04-01 is 30 days away.
    evening = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)
    signals = attrs.evolve(HOT, expected_close=date(2026, 4, 1))
    assert classify(_customer(), signals, RULES, evening, timezone=TZ).tier is Tier.A
    assert classify(_customer(), signals, RULES, evening, timezone="UTC").tier is Tier.B
    overdue = attrs.evolve(HOT, expected_close=TODAY - timedelta(days=1))
    assert _tier(overdue) is Tier.D  # an overdue timeline is stale, not "closing soon"


def test_after_sales_risk_caps_the_tier() -> None:
    assert _tier(attrs.evolve(HOT, after_sales_risk=RiskLevel.LOW)) is Tier.A
    assert _tier(attrs.evolve(HOT, after_sales_risk=RiskLevel.MEDIUM)) is Tier.B
    assert _tier(attrs.evolve(HOT, after_sales_risk=RiskLevel.HIGH)) is Tier.C


def test_the_explanation_names_the_rule_the_matches_and_what_to_do_next() -> None:
    signals = attrs.evolve(HOT, decision_maker_identified=False, budget=None)
    result = classify(_customer(), signals, RULES, NOW, timezone=TZ)
    assert (result.tier, result.rule.name) == (Tier.B, "warm")
    assert all(check.met for check in result.matched)
    assert [c.condition.fact for c in result.matched] == [
        "need_confirmed", "expected_close", "after_sales_risk", "invalid",
    ]  # fmt: skip
    assert (result.next_tier, result.next_rule and result.next_rule.name) == (Tier.A, "hot")
    assert [c.condition.fact for c in result.missing] == ["budget", "decision_maker_identified"]
    assert result.to_do == ("budget known (now: unknown)", "decision maker identified (now: no)")
    text = result.explain()
    assert "tier B by rule 'warm'" in text and "to reach tier A (rule 'hot')" in text


def test_the_explanation_lists_empty_required_fields_of_the_next_tier() -> None:
    requirements = RequiredFields().of("customer")
    result = classify(_customer(), DemandSignals(), RULES, NOW, requirements=requirements)
    assert result.next_tier is Tier.C
    assert result.missing_fields == ("phones", "signals.need_confirmed")
    assert result.to_do[-2:] == ("fill in phones", "fill in signals.need_confirmed")
    top = classify(_customer(), HOT, RULES, NOW, timezone=TZ, requirements=requirements)
    assert (top.tier, top.next_tier, top.missing, top.to_do) == (Tier.A, None, (), ())


def test_the_catch_all_explains_how_to_leave_tier_e() -> None:
    result = classify(_customer(), DemandSignals(invalid_reason="wrong number"), RULES, NOW)
    assert (result.tier, result.rule.name, result.matched) == (Tier.E, "invalid", ())
    assert result.to_do == ("not marked invalid (now: yes)",)


def test_completeness_counts_filled_information_fields() -> None:
    empty = facts_of(_customer(), DemandSignals(), NOW, timezone=TZ)
    assert empty.completeness == 0
    full = _customer(phones=("+8613800000000",), emails=("a@b.com",), uscc="X", address="上海")
    facts = facts_of(full, HOT, NOW, timezone=TZ)
    assert facts.completeness == 100
    half = facts_of(_customer(phones=("+8613800000000",)), HOT, NOW, timezone=TZ)
    assert half.completeness == 62  # 5 of 8, rounded down
    blank_address = facts_of(_customer(address="  "), DemandSignals(), NOW, timezone=TZ)
    assert (blank_address.completeness, blank_address.has_address) == (0, False)


def _by_completeness(a: int, b: int, c: int) -> dict[str, object]:
    valid = {"invalid": "is_false"}
    return {
        "rules": [
            {"name": "a", "tier": "A", "when": {**valid, "completeness": {"at_least": a}}},
            {"name": "b", "tier": "B", "when": {**valid, "completeness": {"at_least": b}}},
            {"name": "c", "tier": "C", "when": {**valid, "completeness": {"at_least": c}}},
            {"name": "d", "tier": "D", "when": valid},
            {"name": "e", "tier": "E"},
        ],
        "completeness_fields": ["phones", "emails", "uscc", "address"],
    }


def test_completeness_can_gate_a_tier() -> None:
    rules = TierRules.from_config(_by_completeness(75, 50, 25))
    customer = _customer(phones=("+8613800000000",), emails=("a@b.com",))
    assert classify(customer, DemandSignals(), rules, NOW).tier is Tier.B
    assert classify(attrs.evolve(customer, uscc="X"), DemandSignals(), rules, NOW).tier is Tier.A


# -- tags --------------------------------------------------------------------------------------


def test_system_tags_follow_the_facts_and_free_tags_are_never_touched() -> None:
    tags = TagRules()
    customer = _customer(
        tags=frozenset({"vip-dinner", "dormant"}),
        zone_id=ZoneId("east"),
        signals=DemandSignals(
            budget=Money(2_000_000, "CNY"),
            after_sales_risk=RiskLevel.HIGH,
            collaborating_zones=frozenset({"west"}),
            last_engagement_at=NOW - timedelta(days=5),
        ),
    )
    result = apply_classification(customer, RULES, tags, NOW, timezone=TZ)
    assert result.after.tags == {"vip-dinner", "high-value", "churn-risk", "multi-zone"}
    assert (set(result.tags_added), set(result.tags_removed)) == (
        {"high-value", "churn-risk", "multi-zone"}, {"dormant"},
    )  # fmt: skip
    calm = attrs.evolve(
        result.after,
        signals=DemandSignals(last_engagement_at=NOW - timedelta(days=120)),
        zone_id=None,
    )
    again = apply_classification(calm, RULES, tags, NOW, timezone=TZ)
    assert again.after.tags == {"vip-dinner", "dormant"}
    assert "tags +dormant, -churn-risk, -high-value, -multi-zone" in again.summary()


def test_budgets_in_another_currency_do_not_meet_a_cny_bound() -> None:
    facts = facts_of(_customer(), DemandSignals(budget=Money(5_000_000, "USD")), NOW, timezone=TZ)
    assert "high-value" not in TagRules().tags_for(facts)


def test_people_edit_free_tags_but_not_system_tags() -> None:
    tags = TagRules()
    assert tags.edit_free(frozenset({"a"}), add=["b"], remove=["a"]) == {"b"}
    with pytest.raises(ValidationError) as caught:
        tags.edit_free(frozenset(), add=["high-value", " "], remove=["churn-risk"])
    assert [(e.path, e.code) for e in caught.value.errors] == [
        ("add[0]", "tag.reserved"), ("add[1]", "field.required"), ("remove[0]", "tag.reserved"),
    ]  # fmt: skip


def test_tag_rules_may_use_any_operator_but_must_be_valid() -> None:
    rules = TagRules.from_config({"tags": [{"tag": "no-phone", "when": {"has_phone": "is_false"}}]})
    assert rules.tags_for(facts_of(_customer(), DemandSignals(), NOW, timezone=TZ)) == {"no-phone"}
    assert TagRules.from_config(rules.to_config()) == rules
    with pytest.raises(ValidationError) as caught:
        TagRules(
            (
                TagRule("", (Condition("won", Operator.IS_TRUE),)),
                TagRule("x", ()),
                TagRule("y", (Condition("shoe_size", Operator.PRESENT),)),
            )
        )
    assert [e.code for e in caught.value.errors] == [
        "classification.rule_invalid", "classification.rule_invalid", "field.unknown",
    ]  # fmt: skip
    assert caught.value.paths[2] == "tags.y[2].when.shoe_size"


# -- required fields ---------------------------------------------------------------------------


def test_required_fields_per_tier_and_stage_list_every_missing_path() -> None:
    required = RequiredFields()
    customer = _customer(phones=("+8613800000000",))
    assert required.of("customer").missing(customer, tier=Tier.A) == (
        "uscc", "signals.need_confirmed", "signals.budget",
        "signals.decision_maker_identified", "signals.expected_close",
    )  # fmt: skip
    with pytest.raises(ValidationError) as caught:
        required.of("customer").check(customer, tier=Tier.B)
    assert caught.value.paths == ("signals.need_confirmed", "signals.expected_close")
    assert {e.code for e in caught.value.errors} == {"field.required"}
    assert required.of("customer").completeness(customer, tier=Tier.B) == 50
    assert required.of("customer").completeness(customer) == 100
    lead = Lead(id=LeadId("l1"), channel="web_form", company_name="甲", created_at=NOW)  # type: ignore[arg-type]
    assert required.of("lead").missing(lead, stage="qualified") == ("contact_name", "phone")
    assert required.of("lead").missing(lead, stage="new") == ()


def test_required_field_paths_are_checked_at_load_time() -> None:
    with pytest.raises(ValidationError) as caught:
        FieldRequirements(
            Customer,
            always=("name", "nmae"),
            by_tier={Tier.A: ("signals.budgett", "name.first")},
        )
    assert caught.value.paths == (
        "customer.always.nmae",
        "customer.by_tier.A.signals.budgett",
        "customer.by_tier.A.name.first",
    )
    assert {e.code for e in caught.value.errors} == {"field.unknown"}
    with pytest.raises(ValidationError):
        RequiredFields().of("invoice")


# -- report ------------------------------------------------------------------------------------


def test_the_tier_distribution_counts_per_tier_zone_and_owner() -> None:
    rows = [
        (Tier.A, "east", "rep1"),
        (Tier.A, "east", "rep2"),
        (Tier.C, "west", "rep1"),
        (Tier.E, None, None),
    ]
    customers = [
        _customer(id=CustomerId(f"c{n}"), tier=tier, zone_id=zone, owner_id=owner)
        for n, (tier, zone, owner) in enumerate(rows)
    ]
    report = tier_distribution(customers)
    assert report.total == 4
    assert report.by_tier == {Tier.A: 2, Tier.B: 0, Tier.C: 1, Tier.D: 0, Tier.E: 1}
    assert report.by_zone["east"][Tier.A] == 2 and report.by_zone[None][Tier.E] == 1
    assert report.by_owner[RepId("rep1")] == {
        Tier.A: 1, Tier.B: 0, Tier.C: 1, Tier.D: 0, Tier.E: 0,
    }  # fmt: skip
    data = report.as_dict()
    assert list(data["by_zone"]) == ["east", "west", "-"]
    assert data["by_tier"] == {"A": 2, "B": 0, "C": 1, "D": 0, "E": 1}
    assert tier_distribution([]).as_dict()["total"] == 0


def test_demand_signals_default_to_nothing_known_and_convert_their_inputs() -> None:
    signals = DemandSignals(after_sales_risk="medium", collaborating_zones=["west", "north"])
    assert signals.after_sales_risk is RiskLevel.MEDIUM
    assert signals.collaborating_zones == frozenset({"west", "north"})
    assert DemandSignals(collaborating_zones=()).collaborating_zones == frozenset()
    assert [r.rank for r in RiskLevel] == [0, 1, 2, 3]
    assert DemandSignals(budget=Money(0, "CNY")).budget == Money(0, "CNY")  # zero is a budget


@pytest.mark.parametrize(
    ("changes", "path", "code"),
    [
        ({"expected_close": NOW}, "expected_close", "field.type"),  # a datetime is not a date
        ({"expected_close": "2026-03-31"}, "expected_close", "field.type"),
        ({"budget": 5000}, "budget", "field.type"),
        ({"budget": Money(-1, "CNY")}, "budget", "field.negative"),
        ({"after_sales_risk": "severe"}, "after_sales_risk", "field.type"),
        ({"collaborating_zones": "west"}, "collaborating_zones", "field.type"),  # not one string
        ({"collaborating_zones": 7}, "collaborating_zones", "field.type"),
        ({"collaborating_zones": ["west", ""]}, "collaborating_zones", "field.type"),
        ({"collaborating_zones": [1]}, "collaborating_zones", "field.type"),
        ({"invalid_reason": "  "}, "invalid_reason", "field.required"),
        ({"invalid_reason": 3}, "invalid_reason", "field.required"),
        ({"last_engagement_at": NOW.replace(tzinfo=None)}, "last_engagement_at", "time.naive"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_bad_demand_signals_are_refused_naming_the_field(
    changes: dict[str, object], path: str, code: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        DemandSignals(**changes)  # type: ignore[arg-type]
    assert [(e.path, e.code) for e in caught.value.errors] == [(path, code)]


def test_malformed_tag_rules_are_refused_naming_the_tag() -> None:
    won = Condition("won", Operator.IS_TRUE)
    with pytest.raises(ValidationError) as caught:
        TagRules(("vip", TagRule("twice", (won, won))))  # type: ignore[arg-type]
    assert [(e.path, e.code) for e in caught.value.errors] == [
        ("tags[0]", "classification.rule_invalid"),
        ("tags.twice[1].when.won", "classification.overlap"),
    ]
    assert caught.value.errors[1].message == "tag rule 'twice': two conditions on won overlap"
    with pytest.raises(ValidationError) as config:
        TagRules.from_config(
            {
                "tags": [
                    "vip",
                    {"tag": "listy", "when": ["won"]},
                    {"tag": "big", "when": {"budget": {"at_least": "lots"}}},
                    {"tag": "ok", "when": {"won": "is_true"}},
                ]
            }
        )
    assert [(e.path, e.code) for e in config.value.errors] == [
        ("tags[0]", "classification.rule_invalid"),
        ("tags.listy[1]", "classification.rule_invalid"),
        ("tags.big[2].budget", "classification.rule_invalid"),
    ]
    assert config.value.errors[2].message.startswith("tag rule 'big': budget: ")


def test_the_top_tier_explains_itself_without_a_next_step() -> None:
    top = classify(_customer(), HOT, RULES, NOW, timezone=TZ)
    assert top.explain() == (
        "tier A by rule 'hot': need confirmed; budget known; decision maker identified; "
        "expected close within 30 days; after-sales risk at most low; not marked invalid"
    )


def test_reclassification_says_whether_the_tier_improved() -> None:
    cold = _customer(tier=Tier.A, signals=DemandSignals())
    down = apply_classification(cold, RULES, TagRules(), NOW, timezone=TZ)
    assert (down.after.tier, down.tier_changed, down.improved) == (Tier.D, True, False)
    hot = _customer(tier=Tier.D, signals=HOT)
    up = apply_classification(hot, RULES, TagRules(), NOW, timezone=TZ)
    assert (up.after.tier, up.tier_changed, up.improved) == (Tier.A, True, True)
    same = apply_classification(up.after, RULES, TagRules(), NOW, timezone=TZ)
    assert (same.tier_changed, same.improved) == (False, False)


def test_required_fields_pass_silently_when_filled_and_tiers_must_be_tiers() -> None:
    required = FieldRequirements(Customer, always=("name",), by_tier={Tier.B: ("phones",)})
    filled = _customer(phones=("+8613800000000",))
    required.check(filled, tier=Tier.B)  # raises nothing: every required field is filled
    assert required.missing(filled, tier=Tier.B) == ()
    with pytest.raises(ValidationError) as caught:
        FieldRequirements(Customer, by_tier={"gold": ("phones",)})
    assert [(e.path, e.code) for e in caught.value.errors] == [
        ("customer.by_tier", "field.unknown")
    ]
    assert "'gold' is not a tier (A-E)" in caught.value.errors[0].message


@pytest.mark.parametrize("path", ["", "  ", None], ids=["empty", "blank", "none"])
def test_a_required_path_must_be_non_blank_text(path: str | None) -> None:
    with pytest.raises(ValidationError) as caught:
        FieldRequirements(Customer, always=(path,))  # type: ignore[arg-type]
    assert caught.value.errors[0].code == "field.unknown"
    assert caught.value.errors[0].message == "a field path must be non-blank text"


def test_paths_into_unions_of_several_classes_are_not_walked_into() -> None:
    @attrs.frozen
    class Either:
        either: Customer | Lead | None = None
        signals: DemandSignals | None = None

    assert path_error(Either, "signals.budget") is None  # X | None is walked into
    assert path_error(Either, "either.name") == "either has no field 'name'"


def test_a_path_through_a_missing_value_reads_as_empty() -> None:
    @attrs.frozen
    class Holder:
        signals: DemandSignals | None = None

    assert value_at(Holder(), "signals.budget") is None
    assert value_at(Holder(DemandSignals(need_confirmed=True)), "signals.need_confirmed") is True
    required = FieldRequirements(Holder, always=("signals.budget",))
    assert required.missing(Holder()) == ("signals.budget",)
