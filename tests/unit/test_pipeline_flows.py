"""Opportunity stage flows: the default flow, custom flows, validation, guards, triggers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import attrs
import pytest

from leadtocash import InvalidTransition, Money, RuleViolation, ValidationError
from leadtocash.model import ContactId, CustomerId, RepId
from leadtocash.pipeline import (
    DEFAULT_FLOW,
    ForecastCategory,
    Guard,
    Opportunity,
    OpportunityId,
    Stage,
    StageFlow,
    StageKind,
    Step,
    advance,
    fire,
    flow_table,
    lose,
    open_opportunity,
    reopen,
    replay,
    win,
)
from leadtocash.pipeline.opportunity import moved

T0 = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)


def _opp(flow: StageFlow = DEFAULT_FLOW, **kw: object) -> Opportunity:
    return open_opportunity(
        opportunity_id=OpportunityId("o1"), customer_id=CustomerId("c1"), owner_id=RepId("r1"),
        name="ERP", amount=Money(120000, "CNY"), close_date=date(2026, 3, 31), at=T0,
        actor="u1", flow=flow, contact_id=ContactId("k1"), **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def test_default_flow_matches_the_seeds() -> None:
    names = [s.name for s in DEFAULT_FLOW.stages]
    assert names == ["initial_contact", "needs_analysis", "quotation", "signing", "won", "lost"]
    assert [s.label for s in DEFAULT_FLOW.stages][:4] == ["初步接触", "需求分析", "报价", "签约"]
    assert [s.probability for s in DEFAULT_FLOW.stages] == [10, 25, 50, 80, 100, 0]
    assert DEFAULT_FLOW.stage("signing").category is ForecastCategory.COMMIT
    assert DEFAULT_FLOW.rank("quotation") == 3 and DEFAULT_FLOW.rank("won") is None


def test_walk_to_won_records_ordered_history_and_replays() -> None:
    opp = _opp()
    for hours in range(1, 4):
        opp, _ = advance(opp, at=T0 + timedelta(hours=hours), actor="u1")
    opp, change = win(opp, at=T0 + timedelta(hours=4), actor="u2")
    assert opp.stage == "won" and opp.closed_at == change.at and change.trigger == "win"
    assert [c.stage_to for c in opp.history] == [
        "initial_contact", "needs_analysis", "quotation", "signing", "won",
    ]  # fmt: skip
    assert replay(opp) == "won"
    with pytest.raises(InvalidTransition) as caught:
        fire(opp, "reopen", at=T0, actor="u1")
    assert caught.value.allowed == ()


def test_lose_needs_a_listed_reason_and_reopen_is_explicit() -> None:
    opp = _opp()
    with pytest.raises(ValidationError) as caught:
        lose(opp, "", at=T0, actor="u1")
    assert caught.value.paths == ("reason",)
    with pytest.raises(ValidationError):
        lose(opp, "bad vibes", at=T0, actor="u1")
    lost, change = lose(opp, "price", at=T0, actor="u1")
    assert (lost.stage, lost.lost_reason, change.reason) == ("lost", "price", "price")
    assert flow_table(DEFAULT_FLOW).allowed("lost") == ("reopen",)
    back, _ = reopen(lost, at=T0, actor="mgr", reason="budget found")
    assert (back.stage, back.lost_reason, back.closed_at) == ("initial_contact", None, None)
    assert replay(back) == "initial_contact"


def test_illegal_stage_trigger_names_allowed_ones() -> None:
    with pytest.raises(InvalidTransition) as caught:
        win(_opp(), at=T0, actor="u1")
    assert (caught.value.state, caught.value.trigger) == ("initial_contact", "win")
    assert set(caught.value.allowed) == {"advance", "lose"}
    with pytest.raises(InvalidTransition):
        reopen(_opp(), at=T0, actor="u1")


def test_required_fields_guard_entering_quotation() -> None:
    opp = attrs.evolve(_opp(), stage="needs_analysis", contact_id=None)
    with pytest.raises(ValidationError) as caught:
        advance(opp, at=T0, actor="u1")
    assert caught.value.paths == ("contact_id",)
    assert "quotation" in caught.value.errors[0].message


def test_custom_guards_and_custom_required_fields() -> None:
    big = Guard(
        "amount_at_least_10k", lambda o: None if o.amount >= Money(10000, "CNY") else "small"
    )
    flow = StageFlow(
        "enterprise",
        [
            Stage("lead_in", 5),
            Stage("poc", "40", ForecastCategory.BEST_CASE, required_fields=("custom.poc_plan",),
                  guards=(big,)),
            Stage("closed_won", 100, ForecastCategory.CLOSED, StageKind.WON),
            Stage("closed_lost", 0, ForecastCategory.OMITTED, StageKind.LOST),
        ],
        lost_reasons=(),
    )  # fmt: skip
    opp = _opp(flow)
    with pytest.raises(ValidationError) as missing:
        advance(opp, at=T0, actor="u1", flow=flow)
    assert missing.value.paths == ("custom.poc_plan",)
    small = attrs.evolve(opp, amount=Money(5, "CNY"), custom={"poc_plan": "2 weeks"})
    with pytest.raises(RuleViolation) as refused:
        advance(small, at=T0, actor="u1", flow=flow)
    assert refused.value.code == "pipeline.guard_failed"
    assert refused.value.details["guard"] == "amount_at_least_10k"
    ok, _ = advance(attrs.evolve(small, amount=Money(20000, "CNY")), at=T0, actor="u1", flow=flow)
    assert ok.stage == "poc"
    lost, _ = lose(ok, "anything goes", at=T0, actor="u1", flow=flow)
    assert lost.stage == "closed_lost"
    with pytest.raises(ValidationError) as wrong_flow:
        advance(ok, at=T0, actor="u1")
    assert wrong_flow.value.paths == ("flow",)


def _stages(*extra: Stage) -> list[Stage]:
    return [
        Stage("a", 10), Stage("b", 50), *extra,
        Stage("won", 100, ForecastCategory.CLOSED, StageKind.WON),
        Stage("lost", 0, ForecastCategory.OMITTED, StageKind.LOST),
    ]  # fmt: skip


def test_invalid_flows_are_refused_naming_the_stage() -> None:
    with pytest.raises(ValidationError) as prob:
        StageFlow("x", [Stage("a", 101), *_stages()[1:]])
    assert prob.value.paths == ("stages[a].probability",)
    with pytest.raises(ValidationError) as flt:
        StageFlow("x", [Stage("a", 0.5), *_stages()[1:]])
    assert flt.value.paths == ("stages[a].probability",)
    with pytest.raises(ValidationError) as dup:
        StageFlow("x", _stages(Stage("b", 60)))
    assert "stages[b]" in dup.value.paths
    with pytest.raises(ValidationError) as field:
        StageFlow("x", _stages(Stage("c", 60, required_fields=("budget",))))
    assert field.value.paths == ("stages[c].required_fields",)


def test_orphan_and_dead_end_stages_are_refused() -> None:
    steps = [Step("go", "a", "b"), Step("win", "b", "won"), Step("lose", "a", "lost"),
             Step("lose", "b", "lost")]  # fmt: skip
    orphan = _stages(Stage("island", 30))
    with pytest.raises(ValidationError) as caught:
        StageFlow(
            "x", orphan, [*steps, Step("lose", "island", "lost"), Step("win", "island", "won")]
        )
    assert [e.code for e in caught.value.errors] == ["pipeline.orphan_stage"]
    assert caught.value.paths == ("stages[island]",)
    with pytest.raises(ValidationError) as dead:
        StageFlow("x", _stages(), [Step("go", "a", "b"), Step("win", "b", "won"),
                                    Step("lose", "a", "lost")])  # fmt: skip
    assert dead.value.paths == ("stages[b]",)
    assert "'lost'" in dead.value.errors[0].message
    assert dead.value.errors[0].code == "pipeline.dead_end"
    with pytest.raises(ValidationError) as final:
        StageFlow("x", _stages(), [*steps, Step("undo", "won", "a")])
    assert final.value.errors[0].code == "pipeline.won_final"


def test_equal_flows_share_one_machine_and_reopen_target_is_configurable() -> None:
    copy = StageFlow(DEFAULT_FLOW.name, DEFAULT_FLOW.stages)
    assert copy == DEFAULT_FLOW and flow_table(copy) is flow_table(DEFAULT_FLOW)
    custom = StageFlow("x", _stages(), reopen_to="b")
    assert flow_table(custom).target("lost", "reopen") == "b"
    assert isinstance(DEFAULT_FLOW.stage("won").probability, Decimal)


def test_moved_equals_attrs_evolve() -> None:
    opp = _opp()
    after, change = advance(opp, at=T0 + timedelta(days=1), actor="u1")
    expected = attrs.evolve(
        opp, stage="needs_analysis", history=(*opp.history, change), updated_at=change.at
    )
    assert after == expected
    assert moved(opp, "x", change, "r", None).stage == "x"
    assert opp.stage == "initial_contact"  # the input is untouched
