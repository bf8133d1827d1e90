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


def test_probabilities_are_exact_decimals_and_unreadable_ones_are_refused() -> None:
    assert Stage("a", Decimal("12.5")).probability == Decimal("12.5")
    assert Stage("a", "33.3").probability == Decimal("33.3")
    for bad in ("most likely", True, None):
        with pytest.raises(ValidationError) as caught:
            StageFlow("x", [Stage("a", bad), *_stages()[1:]])
        assert caught.value.paths == ("stages[a].probability",)
        assert caught.value.errors[0].code == "pipeline.probability"


def test_blank_names_and_lost_reasons_are_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        StageFlow(" ", [Stage(" ", 10), *_stages()[1:]])
    assert [(e.path, e.code) for e in caught.value.errors] == [
        ("name", "field.required"),
        ("stages[ ]", "field.required"),
    ]
    with pytest.raises(ValidationError) as reasons:
        StageFlow("x", _stages(), lost_reasons=("price", " "))
    assert [(e.path, e.code) for e in reasons.value.errors] == [("lost_reasons", "field.required")]


def test_a_flow_needs_an_open_first_stage_and_exactly_one_won_and_one_lost() -> None:
    won = Stage("won", 100, ForecastCategory.CLOSED, StageKind.WON)
    lost = Stage("lost", 0, ForecastCategory.OMITTED, StageKind.LOST)
    cases = {
        "no open stage": ([won, lost], [("stages[won]", "pipeline.initial")]),
        "no stages": ([], [("stages[?]", "pipeline.initial"), ("stages", "pipeline.terminal"),
                           ("stages", "pipeline.terminal")]),
        "no won": ([Stage("a", 10), lost], [("stages", "pipeline.terminal")]),
        "no lost": ([Stage("a", 10), won], [("stages", "pipeline.terminal")]),
        "two won": (
            [Stage("a", 10), won, attrs.evolve(won, name="won2"), lost],
            [("stages", "pipeline.terminal")],
        ),
    }  # fmt: skip
    for case, (stages, expected) in cases.items():
        with pytest.raises(ValidationError) as caught:
            StageFlow("x", stages)
        assert [(e.path, e.code) for e in caught.value.errors] == expected, case
    with pytest.raises(ValidationError) as message:
        StageFlow("x", [Stage("a", 10), won])
    assert message.value.errors[0].message == "need exactly one lost stage"


def test_bad_and_duplicate_steps_are_refused_by_position() -> None:
    steps = [Step("go", "a", "b"), Step("win", "b", "won"), Step("lose", "a", "lost"),
             Step("lose", "b", "lost")]  # fmt: skip
    with pytest.raises(ValidationError) as caught:
        StageFlow(
            "x",
            _stages(),
            [*steps, Step("jump", "a", "moon"), Step(" ", "a", "b"), Step("go", "a", "won")],
        )
    assert [(e.path, e.code) for e in caught.value.errors] == [
        ("steps[4]", "pipeline.step"),
        ("steps[5]", "pipeline.step"),
        ("steps[6]", "pipeline.step"),
    ]
    assert "unknown ['moon']" in caught.value.errors[0].message
    assert caught.value.errors[2].message == "stage 'a' has two 'go' steps"


def test_a_lost_stage_without_a_way_back_cannot_be_reopened() -> None:
    steps = [Step("go", "a", "b"), Step("win", "b", "won"), Step("lose", "a", "lost"),
             Step("lose", "b", "lost")]  # fmt: skip
    flow = StageFlow("final-loss", _stages(), steps)
    lost, _ = lose(_opp(flow), "price", at=T0, actor="u1", flow=flow)
    with pytest.raises(InvalidTransition) as caught:
        reopen(lost, at=T0, actor="u1", flow=flow)
    assert (caught.value.state, caught.value.trigger, caught.value.allowed) == (
        "lost", "reopen", (),
    )  # fmt: skip


def test_an_opportunity_cannot_open_without_the_initial_stages_required_fields() -> None:
    flow = StageFlow("strict", [Stage("a", 10, required_fields=("next_step",)), *_stages()[1:]])
    with pytest.raises(ValidationError) as caught:
        _opp(flow)
    assert [(e.path, e.code) for e in caught.value.errors] == [("next_step", "field.required")]
    assert _opp(flow, next_step="call the CFO").stage == "a"


def test_required_fields_count_as_filled_by_their_kind_of_value() -> None:
    flow = StageFlow(
        "kinds",
        [Stage("a", 10), Stage("b", 50, required_fields=("custom.sponsor", "custom.scope",
                                                            "close_date", "history")),
         *_stages()[2:]],
    )  # fmt: skip
    opp = _opp(flow)
    with pytest.raises(ValidationError) as caught:
        advance(attrs.evolve(opp, custom={"sponsor": "  "}), at=T0, actor="u1", flow=flow)
    assert caught.value.paths == ("custom.sponsor", "custom.scope")  # a date, a non-empty tuple
    with pytest.raises(ValidationError) as empty:
        advance(attrs.evolve(opp, custom={"sponsor": "CFO", "scope": "ERP"}, history=()),
                at=T0, actor="u1", flow=flow)  # fmt: skip
    assert empty.value.paths == ("history",)  # an empty collection is not filled
    full = attrs.evolve(opp, custom={"sponsor": "CFO", "scope": "ERP"})
    assert advance(full, at=T0, actor="u1", flow=flow)[0].stage == "b"


def _walked() -> Opportunity:
    opp = _opp()
    for hours in (1, 2):
        opp, _ = advance(opp, at=T0 + timedelta(hours=hours), actor="u1")
    return opp  # initial_contact -> needs_analysis -> quotation


@pytest.mark.parametrize(
    ("index", "changes", "problem"),
    [
        (2, {"at": T0}, "entries are out of time order"),
        (1, {"stage_from": None}, "only the first entry may create the entity"),
        (0, {"stage_to": "nowhere"}, "only the first entry may create the entity"),
        (2, {"stage_from": "signing"}, "starts in 'signing', expected 'needs_analysis'"),
        (1, {"trigger": "win"}, "'win' is not legal from 'initial_contact'"),
        (1, {"stage_to": "signing"}, "'advance' does not lead to 'signing'"),
    ],
    ids=["time-order", "second-creation", "created-in-unknown", "chain", "illegal", "wrong-dest"],
)
def test_replay_names_the_first_inconsistent_history_entry(
    index: int, changes: dict[str, object], problem: str
) -> None:
    opp = _walked()
    assert replay(opp) == "quotation"
    history = list(opp.history)
    history[index] = attrs.evolve(history[index], **changes)  # type: ignore[arg-type]
    with pytest.raises(ValidationError) as caught:
        replay(attrs.evolve(opp, history=tuple(history)))
    assert [(e.path, e.code, e.message) for e in caught.value.errors] == [
        (f"history[{index}]", "pipeline.history_inconsistent", problem)
    ]


def test_opportunity_amounts_are_money_and_never_negative() -> None:
    for bad in (Money(-1, "CNY"), 120000):
        with pytest.raises(ValidationError) as caught:
            attrs.evolve(_opp(), amount=bad)  # type: ignore[arg-type]
        assert [(e.path, e.code) for e in caught.value.errors] == [("amount", "opportunity.amount")]
    assert attrs.evolve(_opp(), amount=Money(0, "CNY")).amount == Money(0, "CNY")


def test_time_in_stage_starts_at_creation_without_history() -> None:
    opp = _walked()
    assert opp.entered_stage_at == T0 + timedelta(hours=2)
    assert attrs.evolve(opp, history=()).entered_stage_at == opp.created_at == T0


def test_an_unknown_stage_is_refused_naming_the_flow() -> None:
    assert DEFAULT_FLOW.has_stage("quotation") and not DEFAULT_FLOW.has_stage("demo")
    with pytest.raises(ValidationError) as caught:
        DEFAULT_FLOW.stage("demo")
    assert [(e.path, e.code) for e in caught.value.errors] == [("stage", "pipeline.unknown_stage")]
    assert "flow 'default' has no stage 'demo'" in caught.value.message
