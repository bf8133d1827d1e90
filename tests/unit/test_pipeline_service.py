"""PipelineService on the in-memory store: audited lead and stage commands, pool facts."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import attrs
import pytest

from leadtocash import (
    Channel,
    InvalidTransition,
    Lead,
    LeadId,
    LeadStatus,
    Money,
    PermissionDenied,
    RepId,
    RuleViolation,
    ValidationError,
)
from leadtocash.app.pipeline import PipelineService
from leadtocash.durations import Duration
from leadtocash.pipeline import Opportunity
from leadtocash.pool.book import RepBook
from leadtocash.pool.rules import PoolRules, TierDurations
from pool_fixtures import ADMIN, MANAGER, START, World, contact_of, make_world, rep_principal

REP1, REP2 = rep_principal(1), rep_principal(2)
USCC = "91350100M000100Y43"
CNY = Money(50000, "CNY")
CLOSE = date(2026, 3, 31)


def _setup(rules: PoolRules | None = None, customers: int = 1) -> tuple[World, PipelineService]:
    world = make_world(rules, customers=customers)
    return world, PipelineService(world.crm.ctx)


def _add_lead(world: World, n: int = 1, *, owner: str | None = "rep1", **kw: Any) -> LeadId:
    lead = Lead(
        id=LeadId(f"lead{n}"), channel=Channel.WEB_FORM, company_name=f"星辰科技{n}有限公司",
        created_at=START, contact_name="李四", phone="+8613900139000",
        owner_id=RepId(owner) if owner else None, **kw,
    )  # fmt: skip
    with world.crm.unit_of_work() as uow:
        uow.leads.add(lead)
        uow.commit()
    return lead.id


def _state(world: World) -> Any:
    return (dict(world.store._rows), list(world.store._audit), dict(world.store._outbox))


def _topics(world: World) -> list[str]:
    return [m.topic for m in world.store.outbox_due(world.clock.now(), limit=10_000)]


def test_lead_commands_are_audited_and_emit_events() -> None:
    world, pipeline = _setup()
    lead_id = _add_lead(world)
    assert pipeline.start_working(REP1, lead_id).status is LeadStatus.WORKING
    lead = pipeline.qualify(REP1, lead_id)
    assert lead.status is LeadStatus.QUALIFIED
    entry = world.store.audit_log()[-1]
    assert (entry.action, entry.target_id, entry.actor_id) == ("lead.transition", lead_id, "user1")
    assert entry.before is not None and entry.before["status"] == "working"
    assert entry.after is not None and entry.after["status"] == "qualified"
    assert _topics(world).count("lead.status_changed") == 2
    lead = pipeline.disqualify(REP1, lead_id, "duplicate")
    assert (lead.status, lead.disqualify_reason) == (LeadStatus.DISQUALIFIED, "duplicate")
    assert world.store.audit_log()[-1].reason == "duplicate"


def test_refused_lead_commands_change_nothing() -> None:
    world, pipeline = _setup()
    lead_id = _add_lead(world)
    before = _state(world)
    with pytest.raises(InvalidTransition) as caught:
        pipeline.qualify(REP1, lead_id)
    assert caught.value.details == {
        "entity": "lead", "state": "new", "trigger": "qualify",
        "allowed": ["start_working", "disqualify"],
    }  # fmt: skip
    with pytest.raises(ValidationError):
        pipeline.disqualify(REP1, lead_id, " ")
    with pytest.raises(PermissionDenied) as denied:
        pipeline.start_working(REP2, lead_id)
    assert denied.value.code == "pipeline.not_owner"
    assert _state(world) == before


def _owned_customer(world: World, rep: Any = REP1) -> str:
    cid = world.customers[0]
    world.crm.pools.claim(rep, cid)
    return cid


def test_opportunity_lifecycle_updates_customer_facts_and_reclaim() -> None:
    rules = PoolRules(no_new_opportunity=TierDurations(Duration.days(10)), exempt_from_stage=3)
    world, pipeline = _setup(rules)
    cid = _owned_customer(world)
    assert world.crm.pools.get_customer(ADMIN, cid).reclaim_due_at == START + timedelta(days=10)
    world.clock.advance(timedelta(days=2))
    opp = pipeline.create_opportunity(REP1, cid, name="ERP", amount=CNY, close_date=CLOSE)
    assert (opp.stage, opp.owner_id, opp.version) == ("initial_contact", "rep1", 1)
    customer = world.crm.pools.get_customer(ADMIN, cid)
    assert customer.last_opportunity_at == world.clock.now()
    assert customer.open_opportunity_stage == 1
    assert customer.reclaim_due_at == START + timedelta(days=12)
    pipeline.advance(REP1, opp.id)
    with pytest.raises(ValidationError) as guard:
        pipeline.advance(REP1, opp.id)  # quotation needs a contact
    assert guard.value.paths == ("contact_id",)
    pipeline.edit(REP1, opp.id, contact_id=contact_of(world.crm, cid), next_step="send quote")
    opp = pipeline.advance(REP1, opp.id)
    customer = world.crm.pools.get_customer(ADMIN, cid)
    assert (customer.open_opportunity_stage, customer.reclaim_due_at) == (3, None)  # exempt
    topics = _topics(world)
    assert topics.count("opportunity.stage_changed") == 2 and "opportunity.created" in topics


def test_win_marks_the_customer_won_and_counts_it_in_the_rep_book() -> None:
    world, pipeline = _setup()
    cid = _owned_customer(world)
    opp = pipeline.create_opportunity(
        REP1,
        cid,
        name="ERP",
        amount=CNY,
        close_date=CLOSE,
        contact_id=contact_of(world.crm, cid),
    )
    for _ in range(3):
        pipeline.advance(REP1, opp.id)
    won = pipeline.win(REP1, opp.id)
    assert won.stage == "won" and won.closed_at == world.clock.now()
    customer = world.crm.pools.get_customer(ADMIN, cid)
    assert customer.won and customer.open_opportunity_stage is None
    with world.crm.unit_of_work() as uow:
        book = uow.repository(RepBook).get("rep1")
    assert (book.owned, book.won) == (1, 1)
    assert "opportunity.won" in _topics(world)
    actions = [e.action for e in world.store.audit_log()]
    assert actions.count("opportunity.update") == 8  # opportunity + customer per command


def test_lose_and_reopen_with_permissions() -> None:
    world, pipeline = _setup()
    cid = _owned_customer(world)
    opp = pipeline.create_opportunity(REP1, cid, name="ERP", amount=CNY, close_date=CLOSE)
    with pytest.raises(ValidationError):
        pipeline.lose(REP1, opp.id, "")
    with pytest.raises(PermissionDenied):
        pipeline.lose(REP2, opp.id, "price")
    lost = pipeline.lose(REP1, opp.id, "competitor")
    assert (lost.stage, lost.lost_reason) == ("lost", "competitor")
    with pytest.raises(PermissionDenied):
        pipeline.reopen(REP1, opp.id, "they called back")  # managers only
    with pytest.raises(ValidationError):
        pipeline.reopen(MANAGER, opp.id, "")
    back = pipeline.reopen(MANAGER, opp.id, "they called back")
    assert back.stage == "initial_contact"
    entry = world.store.audit_log()[-2]
    assert (entry.action, entry.reason) == ("opportunity.reopen", "they called back")
    assert {"opportunity.lost", "opportunity.reopened"} <= set(_topics(world))
    assert [o.id for o in pipeline.opportunities(ADMIN, "customer", cid)] == [opp.id]
    assert pipeline.get_opportunity(REP1, opp.id).history[-1].trigger == "reopen"


def test_illegal_stage_trigger_changes_nothing() -> None:
    world, pipeline = _setup()
    cid = _owned_customer(world)
    opp = pipeline.create_opportunity(REP1, cid, name="ERP", amount=CNY, close_date=CLOSE)
    before = _state(world)
    with pytest.raises(InvalidTransition) as caught:
        pipeline.win(REP1, opp.id)
    assert set(caught.value.allowed) == {"advance", "lose"}
    with pytest.raises(InvalidTransition):
        pipeline.advance(REP1, opp.id, trigger="jump")
    assert _state(world) == before


def test_reps_may_not_open_opportunities_on_customers_they_do_not_own() -> None:
    world, pipeline = _setup()
    cid = world.customers[0]  # still in the pool
    with pytest.raises(PermissionDenied):
        pipeline.create_opportunity(REP1, cid, name="x", amount=CNY, close_date=CLOSE)
    with pytest.raises(ValidationError):
        pipeline.create_opportunity(ADMIN, cid, name="x", amount=CNY, close_date=CLOSE)
    opp = pipeline.create_opportunity(
        ADMIN, cid, name="x", amount=CNY, close_date=CLOSE, owner_id=RepId("rep2")
    )
    assert opp.owner_id == "rep2"


def test_convert_creates_customer_contact_and_opportunity_atomically() -> None:
    world, pipeline = _setup(customers=0)
    lead_id = _add_lead(world, uscc=USCC)
    with pytest.raises(InvalidTransition):
        pipeline.convert(REP1, lead_id, amount=CNY, close_date=CLOSE)
    pipeline.start_working(REP1, lead_id)
    pipeline.qualify(REP1, lead_id)
    result = pipeline.convert(REP1, lead_id, amount=CNY, close_date=CLOSE, pool_id=world.pool_id)
    assert result.lead.status is LeadStatus.CONVERTED and not result.reused_customer
    customer = result.customer
    assert (customer.owner_id, customer.uscc, customer.pool_id) == ("rep1", USCC, world.pool_id)
    assert customer.last_opportunity_at == world.clock.now()
    assert customer.open_opportunity_stage == 1
    assert result.contact is not None and result.contact.customer_id == customer.id
    opp = result.opportunity
    assert (opp.customer_id, opp.contact_id, opp.lead_id) == (
        customer.id,
        result.contact.id,
        lead_id,
    )
    with world.crm.unit_of_work() as uow:
        assert uow.repository(Opportunity).get(opp.id) == attrs.evolve(opp, version=1)
        assert uow.repository(RepBook).get("rep1").owned == 1
    kinds = [(e.action, e.target_kind) for e in world.store.audit_log()[-4:]]
    assert kinds == [
        ("lead.convert", "lead"), ("lead.convert", "customer"), ("lead.convert", "contact"),
        ("lead.convert", "opportunity"),
    ]  # fmt: skip
    assert world.store.audit_log()[-3].before is None
    assert "lead.converted" in _topics(world)


def _qualified(world: World, pipeline: PipelineService, n: int, **kw: Any) -> LeadId:
    lead_id = _add_lead(world, n, **kw)
    pipeline.start_working(REP1, lead_id)
    pipeline.qualify(REP1, lead_id)
    return lead_id


def test_convert_reuses_the_customer_dedup_finds() -> None:
    world, pipeline = _setup(customers=0)
    first = pipeline.convert(
        REP1, _qualified(world, pipeline, 1, uscc=USCC), amount=CNY, close_date=CLOSE
    )
    again = pipeline.convert(
        REP1, _qualified(world, pipeline, 2, uscc=USCC), amount=CNY, close_date=CLOSE
    )
    assert again.reused_customer and again.customer.id == first.customer.id
    assert again.contact is not None and first.contact is not None
    assert again.contact.id == first.contact.id  # same name and phone: reused
    assert again.customer.open_opportunity_stage == 1
    assert len(pipeline.opportunities(ADMIN, "customer", first.customer.id)) == 2


def test_convert_refuses_another_reps_customer_and_masks_it() -> None:
    world, pipeline = _setup(customers=0)
    pipeline.convert(REP1, _qualified(world, pipeline, 1, uscc=USCC), amount=CNY, close_date=CLOSE)
    lead_id = _add_lead(world, 2, owner="rep2", uscc=USCC)
    pipeline.start_working(REP2, lead_id)
    pipeline.qualify(REP2, lead_id)
    before = _state(world)
    with pytest.raises(RuleViolation) as caught:
        pipeline.convert(REP2, lead_id, amount=CNY, close_date=CLOSE)
    assert caught.value.code == "collision.duplicate"
    (hit,) = caught.value.details["blocking"]
    assert hit["masked"] and hit["owner_id"] == "***"
    assert _state(world) == before
