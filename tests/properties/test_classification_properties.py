"""Monotonicity (五级分类单调性): adding information or confirming a demand signal never lowers
the tier — for the default rules and for every rule table the validator accepts.

Rule tables are generated as tier ladders (each tier's rule a strict strengthening of a rule
of the tier below) and then randomly mutated: swapped rules, non-monotone operators, loosened
or dropped bounds, extra rules, a missing catch-all. Whatever the validator accepts must be
monotone; the mutations that break monotonicity for sure must be refused.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import attrs
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from leadtocash.classification import (
    DEFAULT_COMPLETENESS_FIELDS,
    FACTS,
    INFORMATION_FIELDS,
    MONOTONE_OPERATORS,
    TIERS,
    Condition,
    DemandSignals,
    Operator,
    RiskLevel,
    TagRules,
    TierRule,
    TierRules,
    apply_classification,
    classify,
    facts_of,
    implies,
    tier_rank,
)
from leadtocash.errors import ValidationError
from leadtocash.model import Customer, CustomerId, Tier, ZoneId
from leadtocash.money import Money

NOW = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)
TODAY = date(2026, 3, 2)
TZ = "Asia/Shanghai"
DEFAULT = TierRules()
ZONES = ["east", "west", "north"]
CURRENCIES = ["CNY", "USD"]

# -- customers and improvements ------------------------------------------------------------------

amounts = st.builds(Money.from_minor_units, st.integers(0, 10**9), st.sampled_from(CURRENCIES))
recent = st.integers(-200 * 24, 48).map(lambda h: NOW + timedelta(hours=h))
likely = st.sampled_from([True, True, False])
edges = st.sampled_from([-3, 0, 10, 25, 30, 31, 60, 90, 91, 150, 180, 181])
close_in = edges | st.integers(-30, 250)


@st.composite
def customers(draw: st.DrawFn) -> Customer:
    """Customers whose dates sit around ``NOW``, so every tier is reachable."""
    signals = DemandSignals(
        need_confirmed=draw(likely),
        budget=draw(st.none() | amounts),
        decision_maker_identified=draw(likely),
        expected_close=draw(st.none() | close_in.map(lambda d: TODAY + timedelta(days=d))),
        last_engagement_at=draw(st.none() | recent),
        after_sales_risk=draw(st.sampled_from(RiskLevel)),
        invalid_reason=draw(st.sampled_from([None, None, None, "dead"])),
        collaborating_zones=draw(st.frozensets(st.sampled_from(ZONES), max_size=2)),
    )
    return Customer(
        id=CustomerId("c"),
        name="客户",
        created_at=NOW - timedelta(days=500),
        uscc=draw(st.none() | st.just("91310000MA1FL0000X")),
        phones=tuple(draw(st.lists(st.just("+8613800000000"), max_size=1))),
        emails=tuple(draw(st.lists(st.just("a@b.com"), max_size=1))),
        address=draw(st.none() | st.just("上海")),
        zone_id=draw(st.none() | st.sampled_from(ZONES).map(ZoneId)),
        tags=draw(st.frozensets(st.sampled_from(["golf", "dormant", "high-value"]))),
        last_follow_up_at=draw(st.none() | recent),
        open_opportunity_stage=draw(st.none() | st.integers(0, 5)),
        won=draw(st.booleans()),
        signals=signals,
    )


def _later(value: datetime | None, draw: st.DrawFn) -> datetime:
    return value + timedelta(hours=draw(st.integers(0, 2000))) if value else draw(recent)


def _more(budget: Money | None, draw: st.DrawFn) -> Money:
    if budget is None:
        return draw(amounts)
    return budget + Money.from_minor_units(draw(st.integers(0, 10**9)), budget.currency)


def _step(draw: st.DrawFn, customer: Customer, move: int) -> Customer:
    """One step up in the information order of docs/classification.md."""
    s = customer.signals
    c = customer
    if move == 0:
        s = attrs.evolve(s, need_confirmed=True)
    elif move == 1:
        s = attrs.evolve(s, decision_maker_identified=True)
    elif move == 2:
        s = attrs.evolve(s, budget=_more(s.budget, draw))
    elif move == 3 and s.expected_close is None:
        s = attrs.evolve(s, expected_close=TODAY + timedelta(days=draw(st.integers(-30, 250))))
    elif move == 4:
        s = attrs.evolve(s, last_engagement_at=_later(s.last_engagement_at, draw))
    elif move == 5:
        c = attrs.evolve(c, last_follow_up_at=_later(c.last_follow_up_at, draw))
    elif move == 6:
        c = attrs.evolve(c, phones=(*c.phones, "+8613900000000"))
    elif move == 7:
        c = attrs.evolve(c, emails=(*c.emails, "c@d.com"))
    elif move == 8 and c.uscc is None:
        c = attrs.evolve(c, uscc="91310000MA1FL0000X")
    elif move == 9 and c.address is None:
        c = attrs.evolve(c, address="北京")
    elif move == 10 and c.zone_id is None:
        c = attrs.evolve(c, zone_id=ZoneId(draw(st.sampled_from(ZONES))))
    elif move == 11:
        zone = draw(st.sampled_from(ZONES))
        s = attrs.evolve(s, collaborating_zones=s.collaborating_zones | {zone})
    elif move == 12:
        step = draw(st.integers(0, 3))
        stage = c.open_opportunity_stage
        c = attrs.evolve(c, open_opportunity_stage=step if stage is None else stage + step)
    elif move == 13:
        c = attrs.evolve(c, won=True)
    elif move == 14:
        lower = [r for r in RiskLevel if r.rank <= s.after_sales_risk.rank]
        s = attrs.evolve(s, after_sales_risk=draw(st.sampled_from(lower)))
    elif move == 15:
        s = attrs.evolve(s, invalid_reason=None)
    return attrs.evolve(c, signals=s)


@st.composite
def improved(draw: st.DrawFn, customer: Customer) -> Customer:
    """``customer`` after random improvements: information added, signals confirmed, risk
    lowered, invalid mark cleared."""
    for move in draw(st.lists(st.integers(0, 15), min_size=1, max_size=5)):
        customer = _step(draw, customer, move)
    return customer


def _tier(customer: Customer, rules: TierRules) -> Tier:
    return classify(customer, customer.signals, rules, NOW, timezone=TZ).tier


def _never_lowered(data: st.DataObject, rules: TierRules, pairs: int) -> None:
    for _ in range(pairs):
        before = data.draw(customers())
        after = data.draw(improved(before))
        assert tier_rank(_tier(after, rules)) <= tier_rank(_tier(before, rules)), (
            before,
            after,
        )


@given(st.data())
def test_the_default_rules_never_lower_a_tier_when_information_is_added(
    data: st.DataObject,
) -> None:
    _never_lowered(data, DEFAULT, 5)


@given(customers())
def test_classification_is_deterministic_and_explained(customer: Customer) -> None:
    result = classify(customer, customer.signals, DEFAULT, NOW, timezone=TZ)
    event(f"tier {result.tier}")
    assert result == classify(customer, customer.signals, DEFAULT, NOW, timezone=TZ)
    assert all(c.met for c in result.matched)
    assert result.rule.tier is result.tier
    if result.next_tier is not None:
        assert result.missing and not any(c.met for c in result.missing)
    assert 0 <= result.facts.completeness <= 100


@given(customers())
def test_system_rules_never_touch_free_tags(customer: Customer) -> None:
    tags = TagRules()
    after = apply_classification(customer, DEFAULT, tags, NOW, timezone=TZ).after
    assert tags.free_tags(after.tags) == tags.free_tags(customer.tags)
    assert after.tags - tags.free_tags(after.tags) <= tags.system_tags


@given(st.data())
def test_completeness_never_falls_when_information_is_added(data: st.DataObject) -> None:
    fields = tuple(data.draw(st.lists(st.sampled_from(sorted(INFORMATION_FIELDS)), unique=True)))
    before = data.draw(customers())
    after = data.draw(improved(before))

    def score(c: Customer) -> int:
        return facts_of(c, c.signals, NOW, timezone=TZ, completeness_fields=fields).completeness

    assert score(before) <= score(after)


#: A draw function: ``st.DrawFn`` or ``st.DataObject.draw``.
Draw = Callable[[st.SearchStrategy[Any]], Any]

# -- random rule tables -------------------------------------------------------------------------

#: Every operator that applies to each fact type.
OPERATORS_OF = {
    "flag": (Operator.IS_TRUE, Operator.IS_FALSE),
    "count": (Operator.PRESENT, Operator.ABSENT, Operator.AT_LEAST, Operator.AT_MOST),
    "money": (Operator.PRESENT, Operator.ABSENT, Operator.AT_LEAST, Operator.AT_MOST),
    "level": (Operator.AT_LEAST, Operator.AT_MOST),
    "date": (Operator.PRESENT, Operator.ABSENT, Operator.WITHIN_DAYS, Operator.OLDER_THAN_DAYS),
    "instant": (Operator.PRESENT, Operator.ABSENT, Operator.WITHIN_DAYS, Operator.OLDER_THAN_DAYS),
}
#: (fact, operator) pairs a tier rule may use.
MONOTONE_PAIRS = [
    (fact, op)
    for fact, spec in FACTS.items()
    for op in OPERATORS_OF[spec.type]
    if op in MONOTONE_OPERATORS[spec.positive]
]
#: The operator that turns a monotone condition into one that an improvement can falsify.
BREAKING = {
    Operator.IS_TRUE: Operator.IS_FALSE,
    Operator.IS_FALSE: Operator.IS_TRUE,
    Operator.PRESENT: Operator.ABSENT,
    Operator.AT_LEAST: Operator.AT_MOST,
    Operator.AT_MOST: Operator.AT_LEAST,
    Operator.WITHIN_DAYS: Operator.OLDER_THAN_DAYS,
}
NO_VALUE = (Operator.IS_TRUE, Operator.IS_FALSE, Operator.PRESENT, Operator.ABSENT)
TIER_BELOW = {Tier.A: Tier.B, Tier.B: Tier.C, Tier.C: Tier.D}


def _value(draw: Draw, fact: str, op: Operator) -> Any:
    if op in NO_VALUE:
        return None
    if fact == "budget":
        return Money(draw(st.integers(0, 20)) * 50_000, "CNY")
    if fact == "after_sales_risk":
        return draw(st.sampled_from(RiskLevel))
    if fact == "completeness":
        return draw(st.integers(0, 100))
    if op in (Operator.WITHIN_DAYS, Operator.OLDER_THAN_DAYS):
        return draw(st.integers(0, 200))
    return draw(st.integers(0, 4))


def _condition(draw: Draw, exclude: set[str]) -> Condition | None:
    choices = [(f, op) for f, op in MONOTONE_PAIRS if f not in exclude]
    if not choices:
        return None
    fact, op = draw(st.sampled_from(choices))
    return Condition(fact, op, _value(draw, fact, op))


def _tighter(draw: Draw, c: Condition) -> Condition | None:
    """A strictly stronger condition on the same fact, when there is one."""
    v = c.value
    if c.op is Operator.PRESENT:
        timed = FACTS[c.fact].type in ("date", "instant")
        op = Operator.WITHIN_DAYS if timed else Operator.AT_LEAST
        return Condition(c.fact, op, _value(draw, c.fact, op))
    if c.op is Operator.AT_LEAST and isinstance(v, Money):
        return Condition(c.fact, c.op, v + Money(draw(st.integers(1, 5)) * 50_000, "CNY"))
    if c.op is Operator.AT_LEAST and isinstance(v, int):
        room = 100 - v if c.fact == "completeness" else 3
        return Condition(c.fact, c.op, v + draw(st.integers(1, room))) if room > 0 else None
    if c.op is Operator.WITHIN_DAYS and isinstance(v, int) and v > 0:
        return Condition(c.fact, c.op, v - draw(st.integers(1, v)))
    if c.op is Operator.AT_MOST and isinstance(v, RiskLevel) and v.rank > 0:
        lower = [r for r in RiskLevel if r.rank < v.rank]
        return Condition(c.fact, c.op, draw(st.sampled_from(lower)))
    return None


def _strengthen(draw: Draw, when: tuple[Condition, ...]) -> tuple[Condition, ...]:
    """``when`` strengthened: bounds tightened and/or conditions on new facts added."""
    conditions = list(when)
    for _ in range(draw(st.integers(1, 2))):
        if draw(st.booleans()) and conditions:
            index = draw(st.integers(0, len(conditions) - 1))
            tighter = _tighter(draw, conditions[index])
            if tighter is not None:
                conditions[index] = tighter
                continue
        extra = _condition(draw, {c.fact for c in conditions})
        if extra is not None:
            conditions.append(extra)
    return tuple(conditions)


@st.composite
def ladders(draw: st.DrawFn) -> list[TierRule]:
    """Tier ladders: an E catch-all, then each better tier strengthens a rule of the one below."""
    first = _condition(draw, set())
    assert first is not None
    by_tier: dict[Tier, list[TierRule]] = {
        Tier.E: [TierRule("e0", Tier.E)],
        Tier.D: [TierRule("d0", Tier.D, (first,))],
    }
    for tier in (Tier.C, Tier.B, Tier.A):
        below = by_tier[TIER_BELOW[tier]]
        by_tier[tier] = [
            TierRule(
                f"{tier.value.lower()}{n}",
                tier,
                _strengthen(draw, draw(st.sampled_from(below)).when),
            )
            for n in range(draw(st.integers(1, 2)))
        ]
    return [rule for tier in TIERS for rule in by_tier[tier]]


def _attempt(
    rules: list[TierRule], fields: tuple[str, ...] = DEFAULT_COMPLETENESS_FIELDS
) -> TierRules | ValidationError:
    """The table, or the error the validator refuses it with."""
    try:
        return TierRules(rules, completeness_fields=fields)
    except ValidationError as exc:
        return exc


#: Mutation kinds; "none" is listed thrice so that accepted tables stay frequent.
MUTATIONS = [
    "none", "none", "none", "swap", "break", "loosen", "drop", "extra", "no-catch-all",
    "completeness",
]  # fmt: skip


def _mutate(draw: Draw, rules: list[TierRule], kind: str) -> list[TierRule]:
    """``rules`` with one random change of ``kind`` (which may or may not break them)."""
    rules = list(rules)
    index = draw(st.integers(0, len(rules) - 1))
    rule = rules[index]
    if kind == "swap" and index + 1 < len(rules):
        rules[index], rules[index + 1] = rules[index + 1], rule
    elif kind in ("break", "loosen", "drop") and rule.when:
        at = draw(st.integers(0, len(rule.when) - 1))
        c = rule.when[at]
        new: Condition | None = None
        if kind == "break":
            op = BREAKING[c.op]
            new = Condition(c.fact, op, _value(draw, c.fact, op))
        elif kind == "loosen" and c.op in (Operator.AT_LEAST, Operator.WITHIN_DAYS):
            new = Condition(c.fact, Operator.PRESENT)
        when = list(rule.when)
        if new is None:
            del when[at]
        else:
            when[at] = new
        rules[index] = attrs.evolve(rule, when=tuple(when))
    elif kind == "extra":
        base = draw(st.sampled_from(rules))
        tier = draw(st.sampled_from(TIERS))
        rules.insert(
            draw(st.integers(0, len(rules))), TierRule("x", tier, _strengthen(draw, base.when))
        )
    elif kind == "no-catch-all":
        rules = rules[:-1]
    return rules


@given(st.data())
def test_every_table_the_validator_accepts_is_monotone(data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(MUTATIONS))
    rules = _mutate(data.draw, data.draw(ladders()), kind)
    information = sorted(INFORMATION_FIELDS)
    fields = tuple(data.draw(st.lists(st.sampled_from(information), unique=True, max_size=5)))
    if kind == "completeness":
        fields = (*fields, data.draw(st.sampled_from(["signals.invalid_reason", "tier", "tags"])))
    table = _attempt(rules, fields)
    if isinstance(table, ValidationError):
        event(f"refused after {kind}")
        assert all(
            e.path.startswith(("rules", "tiers", "completeness_fields")) for e in table.errors
        )
        return
    event(f"accepted after {kind}")
    _never_lowered(data, table, 4)


@given(ladders())
def test_ladders_of_strict_strengthenings_are_accepted(rules: list[TierRule]) -> None:
    table = _attempt(rules)
    if isinstance(table, ValidationError):
        # Two rules of one tier may come out equivalent; the later one never fires (refused).
        assert {e.code for e in table.errors} == {"classification.overlap"}
        assert all("never fires" in e.message for e in table.errors)


@given(ladders(), st.data())
def test_a_non_monotone_operator_is_always_refused(
    rules: list[TierRule], data: st.DataObject
) -> None:
    spots = [(i, j) for i, rule in enumerate(rules) for j in range(len(rule.when))]
    i, j = data.draw(st.sampled_from(spots))
    c = rules[i].when[j]
    spec = FACTS[c.fact]
    bad = [op for op in OPERATORS_OF[spec.type] if op not in MONOTONE_OPERATORS[spec.positive]]
    op = data.draw(st.sampled_from(bad))
    when = list(rules[i].when)
    when[j] = Condition(c.fact, op, _value(data.draw, c.fact, op))
    rules[i] = attrs.evolve(rules[i], when=tuple(when))
    with pytest.raises(ValidationError) as caught:
        TierRules(rules)
    assert ("classification.not_monotone", f"rules.{rules[i].name}.when.{c.fact}") in [
        (e.code, e.path) for e in caught.value.errors
    ]


@given(ladders(), st.data())
def test_rules_out_of_tier_order_are_always_refused(
    rules: list[TierRule], data: st.DataObject
) -> None:
    pairs = [
        (i, j)
        for i in range(len(rules))
        for j in range(i + 1, len(rules))
        if rules[i].tier is not rules[j].tier
    ]
    i, j = data.draw(st.sampled_from(pairs))
    rules[i], rules[j] = rules[j], rules[i]
    with pytest.raises(ValidationError):
        TierRules(rules)


@given(ladders())
def test_accepted_tables_round_trip_through_plain_data(rules: list[TierRule]) -> None:
    table = _attempt(rules)
    if isinstance(table, TierRules):
        assert TierRules.from_config(table.to_config()) == table


@given(ladders(), st.lists(customers(), min_size=1, max_size=8))
def test_implication_is_sound(rules: list[TierRule], sample: list[Customer]) -> None:
    conditions = [c for rule in rules for c in rule.when]
    facts = [facts_of(c, c.signals, NOW, timezone=TZ) for c in sample]
    for a in conditions:
        for b in conditions:
            if implies(a, b):
                assert all(b.holds(f) for f in facts if a.holds(f)), (a, b)
