"""The lead score rule table (线索评分): each component, clamping, the explanation, the
rule validator's refusals (each naming its key) and the text conditions it added.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest

from leadtocash.classification import (
    Condition,
    Engagement,
    Operator,
    ScoreRule,
    ScoreRules,
    implies,
    lead_facts,
    score_facts,
    score_lead,
)
from leadtocash.classification.conditions import condition_problems
from leadtocash.classification.lead_facts import LEAD_FACTS
from leadtocash.errors import ValidationError
from leadtocash.model import (
    Channel,
    FollowUp,
    FollowUpId,
    FollowUpKind,
    Lead,
    LeadId,
    LeadStatus,
    RepId,
    ZoneId,
)
from leadtocash.scoring import LeadScore, ScoreComponent
from leadtocash.serialization import structure, unstructure

NOW = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)
SOURCE, FULL = ScoreComponent.SOURCE, ScoreComponent.COMPLETENESS
ENGAGEMENT, FIT = ScoreComponent.ENGAGEMENT, ScoreComponent.FIT


def _lead(**changes: Any) -> Lead:
    bare = Lead(LeadId("l1"), Channel.IMPORT, "星辰科技", NOW - timedelta(days=3))
    return attrs.evolve(bare, **changes)


def _score(
    lead: Lead, engagement: Engagement | None = None, rules: ScoreRules | None = None
) -> LeadScore:
    return score_lead(lead, engagement or Engagement(), rules or ScoreRules(), NOW)


def _follow_up(n: int, days_ago: int, kind: FollowUpKind = FollowUpKind.CALL) -> FollowUp:
    return FollowUp(
        FollowUpId(f"f{n}"), RepId("r1"), NOW - timedelta(days=days_ago), kind, lead_id=LeadId("l1")
    )


def _refused(config: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as caught:
        ScoreRules.from_config(config)
    return [(e.path, e.code) for e in caught.value.errors]


# -- the components of the default table ---------------------------------------------------------
def test_a_bare_imported_lead_scores_nothing() -> None:
    score = _score(_lead())
    assert (score.total, score.raw, score.fired) == (0, 0, ())
    assert [c.component for c in score.components] == list(ScoreComponent)
    assert all(c.points == 0 for c in score.components)


@pytest.mark.parametrize(
    ("channel", "points"),
    [(Channel.REFERRAL, 20), (Channel.EVENT, 10), (Channel.WEB_FORM, 10), (Channel.CALL, 10),
     (Channel.SOCIAL, 0), (Channel.IMPORT, 0)],
)  # fmt: skip
def test_source_quality_comes_from_the_channel(channel: Channel, points: int) -> None:
    assert _score(_lead(channel=channel)).points(SOURCE) == points


def test_a_campaign_adds_and_a_duplicate_takes_away_source_points() -> None:
    assert _score(_lead(campaign="春季展会")).points(SOURCE) == 5
    duplicate = _score(_lead(channel=Channel.REFERRAL, duplicate_of="customer:c1"))
    assert duplicate.points(SOURCE) == 0  # referral +20, duplicate -20
    assert [r.rule for r in duplicate.fired] == ["referral", "duplicate"]


def test_completeness_counts_the_fields_that_are_filled() -> None:
    partial = _lead(contact_name="李四", phone="+8613900139000")
    assert _score(partial).points(FULL) == 10
    full = attrs.evolve(
        partial, email="li@example.com", uscc="91350100M000100Y43", zone_id=ZoneId("east"),
        campaign="c", industry="制造", employees=80,
    )  # fmt: skip
    assert _score(full).points(FULL) == 25  # four fields +5 each, and 100 % ≥ 75 % +5


def test_engagement_counts_follow_ups_meetings_and_recency() -> None:
    lead = _lead()
    one = Engagement.of([_follow_up(1, 30)])
    assert _score(lead, one).points(ENGAGEMENT) == 5
    three = Engagement.of([_follow_up(1, 30), _follow_up(2, 20), _follow_up(3, 3)])
    assert _score(lead, three).points(ENGAGEMENT) == 15  # ≥1, ≥3, within 14 days
    met = Engagement.of([_follow_up(1, 2, FollowUpKind.MEETING)])
    assert (met.follow_ups, met.meetings) == (1, 1)
    assert _score(lead, met).points(ENGAGEMENT) == 20  # ≥1, met, recent


def test_fit_reads_size_industry_and_the_region_through_text_conditions() -> None:
    assert _score(_lead(employees=49)).points(FIT) == 0
    assert _score(_lead(employees=50)).points(FIT) == 10
    assert _score(_lead(employees=500, industry="制造")).points(FIT) == 20
    east = ScoreRule("east", FIT, 15, (Condition("region", Operator.ONE_OF, ("east", "north")),))
    rules = ScoreRules(rules=(east,))
    assert _score(_lead(zone_id=ZoneId("East")), rules=rules).total == 15  # case ignored
    assert _score(_lead(zone_id=ZoneId("west")), rules=rules).total == 0
    assert _score(_lead(), rules=rules).total == 0  # unknown region never matches


def test_the_total_is_the_sum_clamped_to_0_100() -> None:
    big = ScoreRules(
        rules=tuple(ScoreRule(f"r{i}", FIT, 40) for i in range(3)), monotone=frozenset()
    )
    score = _score(_lead(), rules=big)
    assert (score.total, score.raw, score.points(FIT)) == (100, 120, 120)
    assert "clamped" in score.explain()
    low = ScoreRules(rules=(ScoreRule("cold", SOURCE, -30),))
    assert (_score(_lead(), rules=low).total, _score(_lead(), rules=low).raw) == (0, -30)


def test_the_explanation_names_every_fired_rule_and_its_points() -> None:
    score = _score(_lead(channel=Channel.REFERRAL, phone="+8613900139000", employees=600))
    assert [(r.rule, r.component, r.points) for r in score.fired] == [
        ("referral", SOURCE, 20),
        ("phone", FULL, 5),
        ("mid-size", FIT, 10),
        ("large", FIT, 5),
    ]
    assert score.fired[0].reason == "channel one of referral"
    assert score.rules_version == ScoreRules().version
    assert score.scored_at == NOW
    text = score.explain()
    assert text.splitlines()[0] == ("score 40: source +20, completeness +5, engagement +0, fit +15")
    assert "+20 source by rule 'referral': channel one of referral" in text


def test_the_qualified_fact_follows_the_status() -> None:
    rules = ScoreRules(
        rules=(ScoreRule("q", ENGAGEMENT, 10, (Condition("qualified", Operator.IS_TRUE),)),)
    )
    assert _score(_lead(status=LeadStatus.WORKING), rules=rules).total == 0
    assert _score(_lead(status=LeadStatus.QUALIFIED), rules=rules).total == 10


def test_the_version_fingerprints_the_table() -> None:
    assert ScoreRules().version == ScoreRules().version
    assert len(ScoreRules().version) == 12
    fewer = ScoreRules(rules=ScoreRules().rules[:-1])
    assert fewer.version != ScoreRules().version


# -- configuration -------------------------------------------------------------------------------
def test_the_config_round_trips_and_travels_through_storage() -> None:
    rules = ScoreRules()
    assert ScoreRules.from_config(rules.to_config()) == rules
    assert structure(unstructure(rules), ScoreRules) == rules
    score = _score(_lead(channel=Channel.REFERRAL, employees=500))
    assert structure(unstructure(score), LeadScore) == score


def test_every_problem_is_reported_at_once_naming_its_key() -> None:
    config = {
        "rules": [
            {"name": "a", "component": "fit", "points": 200, "when": {"industry": "present"}},
            {"name": "b", "component": "engagement", "points": 5,
             "when": {"follow_ups": {"at_most": 3}}},
            {"name": "c", "component": "luck", "points": 5},
            {"name": "d", "component": "fit", "points": "5"},
            {"name": "e", "component": "fit", "points": 5, "when": {"budget": "present"}},
            {"name": "f", "component": "fit", "points": 5, "when": {"industry": {"at_least": 3}}},
            {"name": "g", "component": "source", "points": 5, "colour": "red"},
        ],
        "completeness_fields": ["phone", "fax", "score"],
        "monotone": ["engagement", "karma"],
        "extra": 1,
    }  # fmt: skip
    assert sorted(_refused(config)) == sorted(
        [
            ("rules.a.points", "field.out_of_range"),
            ("rules.b.when.follow_ups", "classification.not_monotone"),
            ("rules.c.component", "classification.rule_invalid"),
            ("rules.d.points", "classification.rule_invalid"),
            ("rules.e.when.budget", "field.unknown"),
            ("rules.f.when.industry", "classification.rule_invalid"),
            ("rules.g.colour", "field.unknown"),
            ("completeness_fields[1]", "field.unknown"),
            ("completeness_fields[2]", "classification.rule_invalid"),
            ("monotone", "classification.rule_invalid"),
            ("extra", "field.unknown"),
        ]
    )


def test_rule_names_must_be_unique_and_facts_not_repeated() -> None:
    twice = ScoreRule("x", FIT, 5)
    with pytest.raises(ValidationError) as caught:
        ScoreRules(rules=(twice, twice))
    assert caught.value.errors[0].path == "rules.x"
    overlap = ScoreRule(
        "y", FIT, 5,
        (Condition("employees", Operator.AT_LEAST, 5), Condition("employees", Operator.AT_MOST, 9)),
    )  # fmt: skip
    with pytest.raises(ValidationError) as caught:
        ScoreRules(rules=(overlap,))
    assert [e.code for e in caught.value.errors] == ["classification.overlap"]


def test_monotone_components_refuse_points_that_could_fall_as_facts_improve() -> None:
    # taking points from engagement while follow-ups are few is fine: more can only end it
    few = ScoreRule("few", ENGAGEMENT, -5, (Condition("follow_ups", Operator.AT_MOST, 0),))
    ScoreRules(rules=(few,))
    # taking points when a field is filled is not: filling it would lower completeness
    filled = ScoreRule("filled", FULL, -5, (Condition("has_phone", Operator.IS_TRUE),))
    with pytest.raises(ValidationError) as caught:
        ScoreRules(rules=(filled,))
    assert [(e.path, e.code) for e in caught.value.errors] == [
        ("rules.filled.when.has_phone", "classification.not_monotone")
    ]
    # the same rule is accepted once completeness is declared not monotone
    ScoreRules(rules=(filled,), monotone=frozenset({ENGAGEMENT}))
    # fit is not monotone by default: a one_of condition is allowed there
    ScoreRules(
        rules=(ScoreRule("erp", FIT, 5, (Condition("product_line", Operator.ONE_OF, ("ERP",)),)),)
    )
    oneof = ScoreRule("src", FULL, 5, (Condition("channel", Operator.ONE_OF, ("referral",)),))
    with pytest.raises(ValidationError):
        ScoreRules(rules=(oneof,))


def test_one_of_conditions_validate_imply_and_read_from_config() -> None:
    good = Condition("industry", Operator.ONE_OF, ("制造", "零售"))
    assert condition_problems(good, monotone=False, specs=LEAD_FACTS) == []
    bads: list[Any] = [(), ("",), "制造", None]
    for bad in bads:
        found = condition_problems(
            Condition("industry", Operator.ONE_OF, bad), monotone=False, specs=LEAD_FACTS
        )
        assert [code for code, _ in found] == ["classification.rule_invalid"]
    narrow = Condition("industry", Operator.ONE_OF, ("制造",))
    assert implies(narrow, good) and not implies(good, narrow)
    assert implies(narrow, Condition("industry", Operator.PRESENT))
    rules = ScoreRules.from_config(
        {"rules": [{"name": "m", "component": "fit", "points": 5,
                    "when": {"industry": {"one_of": "制造"}}}]}
    )  # fmt: skip
    assert rules.rule("m").when == (narrow,)
    assert rules.to_config()["rules"][0]["when"] == {"industry": {"one_of": ["制造"]}}


def test_customer_facts_stay_what_tier_rules_may_name() -> None:
    found = condition_problems(Condition("follow_ups", Operator.AT_LEAST, 1), monotone=True)
    assert [code for code, _ in found] == ["field.unknown"]


def test_lead_facts_read_the_lead_and_its_engagement() -> None:
    lead = _lead(
        channel=Channel.REFERRAL, campaign="  ", contact_name="李四", zone_id=ZoneId("east"),
        industry="制造", employees=0,
    )  # fmt: skip
    facts = lead_facts(lead, Engagement(2, 1, NOW), NOW, timezone="Asia/Shanghai")
    assert (facts.channel, facts.campaign, facts.region, facts.industry) == (
        "referral", None, "east", "制造",
    )  # fmt: skip
    assert (facts.follow_ups, facts.meetings, facts.last_follow_up_at) == (2, 1, NOW)
    assert facts.has_contact_name and not facts.has_phone
    assert facts.completeness == 4 * 100 // 8  # contact, zone, industry, employees (0 counts)
    assert score_facts(facts, ScoreRules()).points(FIT) == 5  # industry; 0 employees
