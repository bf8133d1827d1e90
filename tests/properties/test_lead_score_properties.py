"""Lead score properties over any valid rule table: filling a field or one more follow-up
never lowers a component the table declares monotone (completeness and engagement by
default), the total is the clamped sum of the breakdown, and the same inputs always give the
same score.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from leadtocash.classification import (
    DEFAULT_LEAD_COMPLETENESS_FIELDS,
    LEAD_FACTS,
    Condition,
    Engagement,
    Operator,
    ScoreRule,
    ScoreRules,
    score_lead,
)
from leadtocash.errors import ValidationError
from leadtocash.model import FollowUp, FollowUpId, FollowUpKind, Lead, LeadId, RepId, ZoneId
from leadtocash.scoring import MAX_SCORE, ScoreComponent
from leadtocash.testing.strategies import leads

NOW = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)

#: A value for each completeness field, to fill it with.
FILLS: dict[str, Any] = {
    "contact_name": "李四",
    "phone": "+8613900139000",
    "email": "li@example.com",
    "uscc": "91350100M000100Y43",
    "zone_id": ZoneId("east"),
    "campaign": "春季展会",
    "industry": "制造",
    "employees": 120,
    "note": "展会上留的名片",
}

_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "count": st.integers(0, 120),
    "instant": st.integers(0, 60),  # within / older than N days
    "text": st.lists(
        st.sampled_from(["referral", "event", "制造", "east", "ERP"]), min_size=1, max_size=3
    ).map(tuple),
}


@st.composite
def conditions(draw: st.DrawFn) -> Condition:
    fact = draw(st.sampled_from(sorted(LEAD_FACTS)))
    kind = LEAD_FACTS[fact].type
    ops = {
        "flag": [Operator.IS_TRUE, Operator.IS_FALSE],
        "count": [Operator.PRESENT, Operator.ABSENT, Operator.AT_LEAST, Operator.AT_MOST],
        "instant": [
            Operator.PRESENT,
            Operator.ABSENT,
            Operator.WITHIN_DAYS,
            Operator.OLDER_THAN_DAYS,
        ],
        "text": [Operator.PRESENT, Operator.ABSENT, Operator.ONE_OF],
    }[kind]
    op = draw(st.sampled_from(ops))
    if op in (Operator.IS_TRUE, Operator.IS_FALSE, Operator.PRESENT, Operator.ABSENT):
        return Condition(fact, op)
    if fact == "completeness":
        return Condition(fact, op, draw(st.integers(0, 100)))
    return Condition(fact, op, draw(_VALUES[kind]))


def _valid(rule: ScoreRule, monotone: frozenset[ScoreComponent]) -> bool:
    try:
        ScoreRules(rules=(rule,), monotone=monotone)
    except ValidationError:
        return False
    return True


@st.composite
def rule_tables(draw: st.DrawFn) -> ScoreRules:
    """Valid tables: random rules, each kept only when the validator accepts it."""
    monotone = frozenset({ScoreComponent.COMPLETENESS, ScoreComponent.ENGAGEMENT})
    rules: list[ScoreRule] = []
    for index in range(draw(st.integers(1, 8))):
        facts = draw(st.lists(conditions(), max_size=3, unique_by=lambda c: c.fact))
        rule = ScoreRule(
            f"r{index}",
            draw(st.sampled_from(ScoreComponent)),
            draw(st.integers(-60, 60).filter(bool)),
            tuple(facts),
        )
        if _valid(rule, monotone):
            rules.append(rule)
    fields = draw(
        st.lists(st.sampled_from(sorted(FILLS)), min_size=1, max_size=6, unique=True)
        | st.just(list(DEFAULT_LEAD_COMPLETENESS_FIELDS))
    )
    return ScoreRules(rules=tuple(rules), monotone=monotone, completeness_fields=tuple(fields))


@st.composite
def one_follow_up(draw: st.DrawFn, lead: Lead, n: int) -> FollowUp:
    """A follow-up on ``lead`` within the last 90 days, of any kind."""
    ago = draw(st.integers(0, 90 * 24))
    kind = draw(st.sampled_from(FollowUpKind))
    return FollowUp(
        FollowUpId(f"f{n}"), RepId("r1"), NOW - timedelta(hours=ago), kind, lead_id=LeadId(lead.id)
    )


@st.composite
def engagements(draw: st.DrawFn, lead: Lead) -> list[FollowUp]:
    """Up to five follow-ups on ``lead``."""
    return [draw(one_follow_up(lead, n)) for n in range(draw(st.integers(0, 5)))]


def _settled(lead: Lead) -> Lead:
    return attrs.evolve(lead, created_at=min(lead.created_at, NOW))


@settings(max_examples=100, deadline=None)
@given(leads().map(_settled), rule_tables(), st.sampled_from(sorted(FILLS)), st.data())
def test_filling_a_field_never_lowers_the_completeness_component(
    lead: Lead, rules: ScoreRules, field: str, data: st.DataObject
) -> None:
    engagement = Engagement.of(data.draw(engagements(lead)))
    empty: dict[str, Any] = {field: None}
    emptied = attrs.evolve(lead, **empty)
    filled = attrs.evolve(lead, **{field: FILLS[field]})
    before = score_lead(emptied, engagement, rules, NOW)
    after = score_lead(filled, engagement, rules, NOW)
    for component in rules.monotone:  # completeness, and any other monotone component
        assert after.points(component) >= before.points(component)


@settings(max_examples=100, deadline=None)
@given(leads().map(_settled), rule_tables(), st.data())
def test_more_engagement_never_lowers_the_engagement_component(
    lead: Lead, rules: ScoreRules, data: st.DataObject
) -> None:
    earlier = data.draw(engagements(lead))
    more = [*earlier, data.draw(one_follow_up(lead, len(earlier)))]
    before = score_lead(lead, Engagement.of(earlier), rules, NOW)
    after = score_lead(lead, Engagement.of(more), rules, NOW)
    for component in rules.monotone:  # engagement, and any other monotone component
        assert after.points(component) >= before.points(component)


@settings(max_examples=60, deadline=None)
@given(leads().map(_settled), rule_tables(), st.data())
def test_the_total_is_the_clamped_sum_and_the_same_inputs_give_the_same_score(
    lead: Lead, rules: ScoreRules, data: st.DataObject
) -> None:
    follow_ups = data.draw(engagements(lead))
    score = score_lead(lead, Engagement.of(follow_ups), rules, NOW)
    assert (
        score.raw == sum(c.points for c in score.components) == sum(r.points for r in score.fired)
    )
    assert score.total == max(0, min(MAX_SCORE, score.raw))
    assert [c.component for c in score.components] == list(ScoreComponent)
    assert [r.rule for r in score.fired] == [
        r.name for r in rules.rules if r.name in {f.rule for f in score.fired}
    ]
    shuffled = data.draw(st.permutations(follow_ups))
    again = score_lead(
        lead, Engagement.of(shuffled), ScoreRules.from_config(rules.to_config()), NOW
    )
    assert again == score
