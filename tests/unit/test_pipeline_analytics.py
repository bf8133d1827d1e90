"""Pipeline analytics over hand-built histories: time, funnel, conversion, money, reps."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import attrs
import pytest

from leadtocash import Money, ValidationError
from leadtocash.model import ContactId, CustomerId, RepId
from leadtocash.pipeline import (
    DEFAULT_FLOW,
    ForecastCategory,
    Opportunity,
    OpportunityId,
    Stage,
    StageFlow,
    StageKind,
    cycle_length,
    fire,
    forecast,
    funnel,
    open_opportunity,
    rate,
    rep_performance,
    stage_conversion,
    stage_times,
    time_in_stage,
    velocity,
    weighted_pipeline,
    win_rate,
)

T0 = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def _walk(
    n: int, triggers: list[str], *, rep: str = "r1", amount: int = 1000, currency: str = "CNY",
    close: date = date(2026, 3, 15),
) -> Opportunity:  # fmt: skip
    opp = open_opportunity(
        opportunity_id=OpportunityId(f"o{n}"), customer_id=CustomerId("c"), owner_id=RepId(rep),
        name=f"deal {n}", amount=Money(amount, currency), close_date=close, at=T0, actor="u",
        contact_id=ContactId("k"),
    )  # fmt: skip
    for day, trigger in enumerate(triggers, start=1):
        reason = "price" if trigger == "lose" else None
        opp, _ = fire(opp, trigger, at=T0 + day * DAY, actor="u", reason=reason)
    return opp


A = ["advance"]
WON = _walk(1, A * 3 + ["win"], amount=1000)  # 4 days
LOST = _walk(2, [*A, "lose"], rep="r2", amount=500)
OPEN_Q = _walk(3, A * 2, amount=2000, close=date(2026, 4, 2))  # quotation
OPEN_USD = _walk(4, [], currency="USD", amount=300, rep="r2")
REOPENED = _walk(5, ["lose", "reopen", "advance"], amount=100)  # needs_analysis
ALL = [WON, LOST, OPEN_Q, OPEN_USD, REOPENED]


def test_time_in_stage_and_cycle_length() -> None:
    now = T0 + 10 * DAY
    assert time_in_stage(WON, now=now) == {
        "initial_contact": DAY, "needs_analysis": DAY, "quotation": DAY, "signing": DAY,
    }  # fmt: skip
    assert time_in_stage(OPEN_Q, now=now)["quotation"] == 8 * DAY
    assert time_in_stage(REOPENED, now=now)["initial_contact"] == 2 * DAY  # two visits
    assert cycle_length(WON) == 4 * DAY and cycle_length(OPEN_Q) is None
    times = {t.stage: t for t in stage_times(ALL, now=now)}
    assert times["signing"].opportunities == 1 and times["signing"].average == DAY
    assert [t.stage for t in stage_times(ALL, now=now)] == list(DEFAULT_FLOW.open_stages)


def test_funnel_counts_are_nested() -> None:
    rows = {r.stage: r for r in funnel(ALL)}
    assert [r.stage for r in funnel(ALL)] == [*DEFAULT_FLOW.open_stages, "won"]
    first = rows["initial_contact"]
    assert (first.entered, first.advanced, first.won) == (5, 4, 1)
    assert first.label == "初步接触"
    assert (rows["quotation"].entered, rows["quotation"].advanced) == (2, 1)
    assert (rows["won"].entered, rows["won"].advanced, rows["won"].won) == (1, 1, 1)
    assert rows["signing"].win_rate == Decimal("1.0000")
    for row in rows.values():
        assert row.entered >= row.advanced >= row.won


def test_stage_conversion_rates() -> None:
    conv = {(c.stage_from, c.stage_to): c for c in stage_conversion(ALL)}
    first = conv[("initial_contact", "needs_analysis")]
    assert (first.entered, first.converted, first.rate) == (5, 4, Decimal("0.8000"))
    assert conv[("signing", "won")].rate == Decimal("1.0000")
    assert rate(1, 3) == Decimal("0.3333") and rate(1, 0) is None


def test_win_rate_weighted_pipeline_and_forecast() -> None:
    assert win_rate(ALL) == Decimal("0.5000")
    assert win_rate([OPEN_Q]) is None
    # open: OPEN_Q 2000 × 50 %, REOPENED 100 × 25 %, OPEN_USD 300 × 10 %
    assert weighted_pipeline(ALL) == {"CNY": Money("1025", "CNY"), "USD": Money(30, "USD")}
    rows = forecast(ALL)
    keyed = {(r.month, r.category, r.currency): r for r in rows}
    march_closed = keyed[("2026-03", ForecastCategory.CLOSED, "CNY")]
    assert (march_closed.count, march_closed.amount, march_closed.weighted) == (
        1, Money(1000, "CNY"), Money(1000, "CNY"),
    )  # fmt: skip
    april = keyed[("2026-04", ForecastCategory.BEST_CASE, "CNY")]
    assert april.weighted == Money(1000, "CNY")
    assert keyed[("2026-03", ForecastCategory.OMITTED, "CNY")].weighted == Money(0, "CNY")
    assert [r.month for r in rows] == sorted(r.month for r in rows)


def test_velocity_and_rep_performance() -> None:
    cny, usd = velocity(ALL)
    assert (cny.currency, cny.open_count, cny.win_rate) == ("CNY", 2, Decimal("0.5000"))
    assert cny.average_won == Money(1000, "CNY") and cny.average_cycle_days == Decimal("4.0000")
    assert cny.per_day == Money(250, "CNY")  # 2 × 0.5 × 1000 / 4
    assert usd.per_day is None and usd.open_count == 1
    r1, r2 = rep_performance(ALL)
    assert (r1.rep_id, r1.open, r1.won, r1.lost, r1.win_rate) == ("r1", 2, 1, 0, Decimal(1))
    assert r1.won_amount == (Money(1000, "CNY"),) and r1.average_cycle == 4 * DAY
    assert (r2.open, r2.lost, r2.win_rate) == (1, 1, Decimal(0))
    assert r2.weighted_pipeline == (Money(30, "USD"),)


SHORT = StageFlow(
    "short",
    [Stage("talk", 20), Stage("done", 100, ForecastCategory.CLOSED, StageKind.WON),
     Stage("gone", 0, ForecastCategory.OMITTED, StageKind.LOST)],
)  # fmt: skip


def _short(n: int, triggers: list[str], *, rep: str = "r1") -> Opportunity:
    opp = open_opportunity(
        opportunity_id=OpportunityId(f"s{n}"), customer_id=CustomerId("c"), owner_id=RepId(rep),
        name=f"short {n}", amount=Money(700, "CNY"), close_date=date(2026, 3, 15), at=T0,
        actor="u", flow=SHORT,
    )  # fmt: skip
    for day, trigger in enumerate(triggers, start=1):
        opp, _ = fire(opp, trigger, at=T0 + day * DAY, actor="u", flow=SHORT)
    return opp


def test_per_flow_statistics_ignore_opportunities_of_other_flows() -> None:
    now = T0 + 10 * DAY
    others = [_short(1, ["win"]), _short(2, [])]
    assert stage_times([*ALL, *others], now=now) == stage_times(ALL, now=now)
    assert stage_conversion([*ALL, *others]) == stage_conversion(ALL)
    (talk,) = stage_times([*ALL, *others], now=now, flow=SHORT)
    assert (talk.stage, talk.opportunities, talk.total) == ("talk", 2, DAY + 10 * DAY)
    (step,) = stage_conversion([*ALL, *others], SHORT)
    assert (step.stage_from, step.stage_to, step.entered, step.converted) == (
        "talk", "done", 2, 1,
    )  # fmt: skip


def test_rep_performance_resolves_each_opportunitys_flow_by_name() -> None:
    mixed = [WON, _short(1, ["win"])]
    (r1,) = rep_performance(mixed, {"default": DEFAULT_FLOW, "short": SHORT})
    assert (r1.won, r1.won_amount) == (2, (Money(1700, "CNY"),))
    with pytest.raises(ValidationError) as caught:
        rep_performance(mixed)  # only the default flow given
    assert [(e.path, e.code) for e in caught.value.errors] == [("flow", "pipeline.unknown_flow")]
    assert "no flow 'short' given" in caught.value.message


def test_a_won_deal_without_a_close_time_counts_as_won_but_not_in_cycle_length() -> None:
    imported = attrs.evolve(WON, id=OpportunityId("imported"), closed_at=None)
    (r1,) = rep_performance([imported])
    assert (r1.won, r1.won_amount, r1.average_cycle) == (1, (Money(1000, "CNY"),), None)
    (both,) = rep_performance([imported, WON])
    assert (both.won, both.average_cycle) == (2, 4 * DAY)
