"""Lead lifecycle on the shared lead state table: legal moves, guards, refusals."""

from __future__ import annotations

from datetime import UTC, datetime

import attrs
import pytest

from leadtocash import Channel, InvalidTransition, Lead, LeadId, LeadStatus, ValidationError
from leadtocash.pipeline import (
    DEFAULT_LEAD_RULES,
    LEAD_TABLE,
    LeadRules,
    LeadTrigger,
    apply_lead_trigger,
    lead_table,
)

T0 = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)


def _lead(**kw: object) -> Lead:
    base = Lead(
        id=LeadId("l1"), channel=Channel.WEB_FORM, company_name="华为技术", created_at=T0,
        contact_name="张三", phone="+8613800138000",
    )  # fmt: skip
    return attrs.evolve(base, **kw)  # type: ignore[arg-type]


def test_happy_path_new_working_qualified_converted() -> None:
    lead, history = _lead(), []
    for trigger in ("start_working", "qualify", "convert"):
        lead, change = apply_lead_trigger(lead, trigger, at=T0, actor="u1")
        history.append(change)
    assert lead.status is LeadStatus.CONVERTED
    assert [(c.stage_from, c.stage_to) for c in history] == [
        ("new", "working"), ("working", "qualified"), ("qualified", "converted"),
    ]  # fmt: skip
    assert LEAD_TABLE.replay(history) == "converted"


def test_illegal_trigger_names_state_trigger_and_allowed_and_changes_nothing() -> None:
    lead = _lead()
    with pytest.raises(InvalidTransition) as caught:
        apply_lead_trigger(lead, "convert", at=T0, actor="u1")
    err = caught.value
    assert err.code == "state.invalid_transition"
    assert (err.state, err.trigger) == ("new", "convert")
    assert set(err.allowed) == {"start_working", "disqualify"}
    assert err.details["entity"] == "lead"
    assert lead == _lead()


def test_unknown_trigger_is_an_invalid_transition_too() -> None:
    with pytest.raises(InvalidTransition):
        apply_lead_trigger(_lead(), "explode", at=T0, actor="u1")


def test_disqualify_needs_a_reason_from_any_open_status() -> None:
    with pytest.raises(ValidationError) as caught:
        apply_lead_trigger(_lead(), LeadTrigger.DISQUALIFY, at=T0, actor="u1", reason="  ")
    assert caught.value.paths == ("reason",)
    lead, change = apply_lead_trigger(_lead(), "disqualify", at=T0, actor="u1", reason="spam")
    assert (lead.status, lead.disqualify_reason, change.reason) == (
        LeadStatus.DISQUALIFIED, "spam", "spam",
    )  # fmt: skip
    with pytest.raises(InvalidTransition) as again:
        apply_lead_trigger(lead, "start_working", at=T0, actor="u1")
    assert again.value.allowed == ()


def test_required_fields_guard_lists_every_missing_field() -> None:
    rules = LeadRules({LeadStatus.QUALIFIED: ("contact_name", "email", "uscc")})
    working = _lead(status=LeadStatus.WORKING, contact_name=None)
    with pytest.raises(ValidationError) as caught:
        apply_lead_trigger(working, "qualify", at=T0, actor="u1", rules=rules)
    assert caught.value.paths == ("contact_name", "email", "uscc")


def test_default_rules_need_a_contact_name_to_qualify() -> None:
    working = _lead(status=LeadStatus.WORKING, contact_name=" ")
    with pytest.raises(ValidationError) as caught:
        apply_lead_trigger(working, "qualify", at=T0, actor="u1")
    assert caught.value.paths == ("contact_name",)


def test_disqualify_reasons_can_be_restricted() -> None:
    rules = LeadRules(disqualify_reasons=("spam", "duplicate"))
    with pytest.raises(ValidationError) as caught:
        apply_lead_trigger(_lead(), "disqualify", at=T0, actor="u1", reason="meh", rules=rules)
    assert caught.value.errors[0].code == "pipeline.reason_not_allowed"


def test_rules_reject_unknown_fields() -> None:
    with pytest.raises(ValidationError) as caught:
        LeadRules({LeadStatus.QUALIFIED: ("budget",)})
    assert caught.value.paths == ("required.qualified",)


def test_one_shared_table_per_distinct_rule_set() -> None:
    assert lead_table(LeadRules()) is LEAD_TABLE is lead_table(DEFAULT_LEAD_RULES)
    other = LeadRules({LeadStatus.QUALIFIED: ("email",)})
    assert lead_table(other) is lead_table(LeadRules({LeadStatus.QUALIFIED: ["email"]}))
    assert lead_table(other) is not LEAD_TABLE
    assert not hasattr(_lead(), "trigger") and not hasattr(_lead(), "machine")


def test_rules_reject_unknown_statuses() -> None:
    with pytest.raises(ValidationError) as caught:
        LeadRules({"won": ("email",)})  # type: ignore[arg-type]
    assert caught.value.errors[0].code == "pipeline.unknown_stage"
