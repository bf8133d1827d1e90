"""ClassificationService: signals → tier in one unit of work, audited, evented, rescheduled."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import attrs
import pytest

from leadtocash import PermissionDenied, Principal, Role, ValidationError
from leadtocash.access import Action
from leadtocash.app.classification import ClassificationService
from leadtocash.app.context import Change
from leadtocash.app.unit_of_work import UnitOfWork
from leadtocash.classification import Reclassification, RiskLevel, TierChanged
from leadtocash.durations import Duration
from leadtocash.events import event_types
from leadtocash.model import RepId, Tier
from leadtocash.money import Money
from leadtocash.pool.rules import PoolRules, TierDurations
from leadtocash.serialization import structure
from pool_fixtures import ADMIN, MANAGER, START, World, make_world, rep_principal

REP1, REP2 = rep_principal(1), rep_principal(2)
FINANCE = Principal("fiona", roles=frozenset({Role.FINANCE}))
TODAY = date(2026, 1, 5)  # START in Shanghai
RULES = PoolRules(
    no_follow_up=TierDurations(
        Duration.days(7), {Tier.A: Duration.days(30), Tier.B: Duration.days(14)}
    )
)


def _setup(customers: int = 2) -> tuple[World, ClassificationService, str]:
    world = make_world(RULES, customers=customers)
    service = ClassificationService(world.crm.ctx)
    cid = world.customers[0]
    world.crm.pools.claim(REP1, cid)
    return world, service, cid


def _state(world: World) -> Any:
    return (dict(world.store._rows), list(world.store._audit), dict(world.store._outbox))


def _events(world: World) -> list[TierChanged]:
    messages = world.store.outbox_due(START + timedelta(days=400), limit=1000)
    return [
        structure(m.payload, event_types()[m.topic])  # type: ignore[misc]
        for m in messages
        if m.topic == TierChanged.topic
    ]


def test_a_tier_change_is_saved_rescheduled_evented_and_audited_with_the_rule() -> None:
    world, service, cid = _setup()
    before = world.crm.pools.get_customer(REP1, cid)
    assert (before.tier, before.reclaim_due_at) == (Tier.D, START + timedelta(days=7))
    close = TODAY + timedelta(days=55)
    result = service.update_signals(REP1, cid, need_confirmed=True, expected_close=close)
    assert (result.before.tier, result.after.tier) == (Tier.D, Tier.B)
    assert result.classification.rule.name == "warm"
    stored = world.crm.pools.get_customer(REP1, cid)
    assert stored.tier is Tier.B and stored.signals.expected_close == close
    assert stored.reclaim_due_at == START + timedelta(days=14)  # tier B reclaim days
    entry = world.store.audit_log()[-1]
    assert (entry.action, entry.target_kind, entry.target_id) == (
        "customer.classify",
        "customer",
        cid,
    )
    assert entry.before is not None and entry.after is not None
    assert (entry.before["tier"], entry.after["tier"]) == ("D", "B")
    assert entry.reason == "tier D → B by rule 'warm'"
    (event,) = _events(world)
    assert (event.customer_id, event.before, event.after, event.rule) == (
        cid, Tier.D, Tier.B, "warm",
    )  # fmt: skip
    assert event.owner_id == RepId("rep1")


def test_every_tier_change_is_audited_before_to_after_with_the_rule_that_fired() -> None:
    world, service, cid = _setup()
    steps: list[dict[str, Any]] = [
        {"need_confirmed": True, "expected_close": TODAY + timedelta(days=150)},
        {"expected_close": TODAY + timedelta(days=60)},
        {"budget": Money(300_000, "CNY"), "decision_maker_identified": True},
        {"expected_close": TODAY + timedelta(days=10)},
        {"invalid_reason": "company dissolved"},
        {"invalid_reason": None},
    ]
    expected = [
        ("D", "C", "nurture-timeline"),
        ("C", "B", "warm"),
        (None, None, "warm"),
        ("B", "A", "hot"),
        ("A", "E", "invalid"),
        ("E", "A", "hot"),
    ]
    start = len(world.store.audit_log())
    for step in steps:
        service.update_signals(REP1, cid, **step)
    entries = world.store.audit_log()[start:]
    seen = []
    for entry in entries:
        assert entry.before is not None and entry.after is not None
        changed = entry.before["tier"] != entry.after["tier"]
        rule = (entry.reason or "").split("rule '")[1].rstrip("'")
        seen.append(
            (entry.before["tier"], entry.after["tier"], rule) if changed else (None, None, rule)
        )
        if changed:
            assert f"tier {entry.before['tier']} → {entry.after['tier']}" in (entry.reason or "")
        else:
            assert (entry.reason or "").startswith("signals updated; tier B kept")
    assert seen == expected
    events = _events(world)
    assert [(e.before.value, e.after.value, e.rule) for e in events] == [
        e for e in expected if e[0] is not None
    ]


def test_signals_without_a_tier_change_are_saved_without_an_event_or_reschedule() -> None:
    world, service, cid = _setup()
    due = world.crm.pools.get_customer(REP1, cid).reclaim_due_at
    result = service.update_signals(REP1, cid, decision_maker_identified=True, reason="met CFO")
    assert not result.changed
    stored = world.crm.pools.get_customer(REP1, cid)
    assert stored.signals.decision_maker_identified and stored.reclaim_due_at == due
    assert (
        world.store.audit_log()[-1].reason
        == "met CFO: signals updated; tier D kept by rule 'latent'"
    )
    assert _events(world) == []


def test_system_tag_changes_are_evented_and_free_tags_edited_by_people() -> None:
    world, service, cid = _setup()
    service.edit_tags(REP1, cid, add=["golf"])
    result = service.update_signals(
        REP1, cid, budget=Money(2_000_000, "CNY"), after_sales_risk=RiskLevel.HIGH
    )
    assert result.after.tags == {"golf", "high-value", "churn-risk"}
    assert result.after.tier is Tier.D
    (event,) = _events(world)
    assert (event.before, event.after) == (Tier.D, Tier.D)
    assert event.tags_added == ("churn-risk", "high-value")
    assert world.store.audit_log()[-1].reason == (
        "tier D kept by rule 'latent'; tags +churn-risk, +high-value"
    )
    with pytest.raises(ValidationError) as caught:
        service.edit_tags(REP1, cid, remove=["high-value"])
    assert caught.value.errors[0].code == "tag.reserved"
    service.edit_tags(REP1, cid, remove=["golf"])
    assert world.crm.pools.get_customer(REP1, cid).tags == {"high-value", "churn-risk"}


def test_reclassify_follows_time_and_writes_nothing_when_nothing_moved() -> None:
    world, service, cid = _setup()
    engaged = START
    assert (
        service.update_signals(
            REP1, cid, need_confirmed=True, last_engagement_at=engaged
        ).after.tier
        is Tier.C
    )
    world.clock.advance(timedelta(days=29))
    unchanged = _state(world)
    assert not service.reclassify(REP1, cid).changed
    assert _state(world) == unchanged
    world.clock.advance(timedelta(days=2))
    result = service.reclassify(MANAGER, cid, reason="nightly")
    assert (result.before.tier, result.after.tier) == (Tier.C, Tier.D)
    entry = world.store.audit_log()[-1]
    assert entry.reason == "nightly: tier C → D by rule 'latent'"
    assert entry.actor_id == "mia"


def test_refusals_change_nothing() -> None:
    world, service, cid = _setup()
    before = _state(world)
    with pytest.raises(PermissionDenied) as denied:
        service.update_signals(REP2, cid, need_confirmed=True)
    assert denied.value.code == "pool.not_owner"
    with pytest.raises(PermissionDenied) as denied:
        service.update_signals(FINANCE, cid, need_confirmed=True)
    assert denied.value.code == "auth.permission_denied"
    with pytest.raises(ValidationError) as invalid:
        service.update_signals(REP1, cid, need_confirmed=True, shoe_size=42)
    assert invalid.value.paths == ("signals.shoe_size",)
    with pytest.raises(ValidationError) as invalid:
        service.update_signals(REP1, cid, budget="lots", expected_close="soon")
    assert invalid.value.paths[0] == "signals.budget"
    with pytest.raises(ValidationError):
        service.update_signals(REP1, cid)
    assert _state(world) == before


def test_explain_tells_the_owner_what_to_do_next() -> None:
    _world, service, cid = _setup()
    result = service.explain(REP1, cid)
    assert (result.tier, result.next_tier) == (Tier.D, Tier.C)
    assert "need confirmed (now: no)" in result.to_do
    assert "fill in signals.need_confirmed" in result.to_do
    with pytest.raises(PermissionDenied):
        service.explain(REP2, cid)


def test_the_distribution_report_counts_owned_and_pooled_customers() -> None:
    world, service, cid = _setup(customers=3)
    service.update_signals(REP1, cid, invalid_reason="duplicate")
    world.crm.pools.claim(REP2, world.customers[1])
    report = service.distribution(MANAGER)
    assert report.total == 3
    assert report.by_tier[Tier.E] == 1 and report.by_tier[Tier.D] == 2
    assert report.by_owner[RepId("rep1")][Tier.E] == 1
    assert report.by_owner[None][Tier.D] == 1
    assert service.distribution(MANAGER, owner_id=RepId("rep2")).total == 1
    assert service.distribution(ADMIN, pool_id=world.pool_id).total == 3
    assert service.distribution(ADMIN, pool_id=world.pool_id, zone_id=None).total == 3
    with pytest.raises(PermissionDenied):
        service.distribution(REP1)


def test_other_use_cases_reclassify_inside_their_own_unit_of_work() -> None:
    world, service, cid = _setup()
    service.update_signals(REP1, cid, need_confirmed=True)

    def follow_up(uow: UnitOfWork) -> tuple[Reclassification, list[Change]]:
        before = uow.customers.get(cid)
        candidate = attrs.evolve(before, last_follow_up_at=world.clock.now())
        return service.restage(uow, before, candidate, reason="visit")

    result = world.crm.ctx.execute(REP1, Action.FOLLOW_UP_LOG, follow_up)
    assert (result.before.tier, result.after.tier) == (Tier.D, Tier.C)
    assert world.crm.pools.get_customer(REP1, cid).tier is Tier.C
    assert world.store.audit_log()[-1].reason == "visit: tier D → C by rule 'nurture-engaged'"
