"""Recycle bin (回收站, issue #27): soft delete, restore, collisions on restore, purge, rights.

Each kind (lead, customer, opportunity, contract): deleting it takes it out of every list,
search and dedup key (a new record may take its keys), ``get`` answers NotFound except
through the bin; a restore brings it back unless a record created since holds its keys (the
refusal names it, nothing changes); after the retention period the purge sweep scrubs it and
a restore is refused. Refusals are typed and change nothing.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import attrs
import pytest

from contract_fixtures import cash_world, signed_contract
from leadtocash import (
    BinKind,
    Money,
    NotFound,
    PermissionDenied,
    Principal,
    RecycleRules,
    RepId,
    Role,
    RuleViolation,
    ValidationError,
    ZoneId,
)
from leadtocash.aftersales import Ticket
from leadtocash.app.auditing import verify_store_audit
from leadtocash.contracts import LineInput, ProductId
from leadtocash.model import Contact, ContactId, Customer, CustomerId, Lead
from leadtocash.pool.book import RepBook
from leadtocash.pool.leads import LeadPoolRules
from leadtocash.pool.rules import PoolRules
from pool_fixtures import ADMIN, MANAGER, SYSTEM, World, contact_of, make_world, rep_principal

REP1, REP2 = rep_principal(1), rep_principal(2)
WEST_MANAGER = Principal("wm", roles=frozenset({Role.ZONE_MANAGER}), zone_id=ZoneId("west"))
CNY = Money(50000, "CNY")
CLOSE = date(2026, 3, 31)
USCC = "91350100M000100Y43"


def _rows(world: World) -> tuple[object, ...]:
    store = world.store
    return (dict(store._rows), len(store._audit), dict(store._outbox))


def _lead(world: World, owner: Principal = REP1, name: str = "星辰科技有限公司") -> str:
    """A lead captured by ``owner`` and handed to them (captured leads start unowned)."""
    payload = {"channel": "web_form", "company_name": name, "phone": "13900139001",
               "email": "buyer@example.com", "contact_name": "李四",
               "note": "李四留言: 请周五回电"}  # fmt: skip
    lead = world.crm.leads.capture(owner, payload)
    with world.crm.unit_of_work() as uow:
        uow.leads.save(attrs.evolve(uow.leads.get(lead.id), owner_id=owner.rep_id))
        uow.commit()
    return lead.id


def _owned(world: World, n: int = 0, rep: Principal = REP1) -> str:
    cid = world.customers[n]
    world.crm.pools.claim(rep, cid)
    return cid


def _opportunity(world: World, cid: str) -> str:
    deal = world.crm.pipeline.create_opportunity(
        REP1, cid, name="ERP", amount=CNY, close_date=CLOSE, contact_id=contact_of(world.crm, cid)
    )
    return deal.id


def _draft_contract(world: World, cid: str, rep: int = 1) -> str:
    """A contract drafted from an accepted quote (never signed)."""
    crm, who = world.crm, rep_principal(rep)
    lines = [LineInput(Decimal(1), ProductId("SRV-1"))]
    quote = crm.quotes.draft(who, cid, "CNY", lines, valid_until=CLOSE)
    crm.quotes.send(who, quote.id)
    crm.quotes.accept(who, quote.id)
    return crm.contracts.from_quote(who, quote.id).id


# -- leads -----------------------------------------------------------------------------------
def test_a_deleted_lead_leaves_lists_search_and_dedup_and_comes_back() -> None:
    world = make_world()
    crm = world.crm
    lead_id = _lead(world)
    entry = crm.recycle_bin.delete(REP1, "lead", lead_id, "entered twice")
    assert entry.kind is BinKind.LEAD and entry.deletion.by == REP1.user_id
    assert entry.deletion.purge_due_at == entry.deletion.at + timedelta(days=30)
    with pytest.raises(NotFound):
        crm.leads.get(REP1, lead_id)
    assert crm.leads.list(ADMIN).items == ()
    assert crm.leads.count(ADMIN) == 0
    assert crm.leads.search(ADMIN, "星辰").items == ()
    assert [e.id for e in crm.recycle_bin.list(REP1, "lead").items] == [lead_id]
    assert crm.recycle_bin.get(REP1, BinKind.LEAD, lead_id).id == lead_id
    # its keys are free: a new lead with the same phone is not marked its duplicate
    again = crm.leads.capture(
        REP1, {"channel": "call", "company_name": "星辰科技有限公司", "email": "x@example.com"}
    )
    assert again.duplicate_of is None


def test_restoring_a_lead_brings_it_back_into_lists() -> None:
    world = make_world()
    crm = world.crm
    lead_id = _lead(world)
    crm.recycle_bin.delete(REP1, "lead", lead_id, "mistake")
    restored = crm.recycle_bin.restore(REP1, "lead", lead_id)
    assert (restored.kind, restored.owner_id) == (BinKind.LEAD, "rep1")
    assert crm.leads.get(REP1, lead_id).deleted is None
    assert [lead.id for lead in crm.leads.list(ADMIN).items] == [lead_id]
    assert crm.recycle_bin.list(ADMIN, "lead").items == ()


def test_restoring_a_lead_whose_name_a_newer_lead_took_is_refused_naming_it() -> None:
    world = make_world()
    crm = world.crm
    lead_id = _lead(world)
    crm.recycle_bin.delete(REP1, "lead", lead_id, "mistake")
    world.clock.advance(timedelta(hours=1))
    newer = crm.leads.capture(
        REP1, {"channel": "call", "company_name": "星辰科技有限公司", "email": "x@example.com"}
    )
    before = _rows(world)
    with pytest.raises(RuleViolation) as caught:
        crm.recycle_bin.restore(REP1, "lead", lead_id)
    assert caught.value.code == "collision.duplicate"
    assert {"kind": "lead", "id": newer.id} in caught.value.details["records"]
    assert _rows(world) == before


def test_a_converted_lead_cannot_be_deleted() -> None:
    world = make_world()
    crm = world.crm
    lead_id = _lead(world)
    crm.pipeline.start_working(REP1, lead_id)
    crm.pipeline.qualify(REP1, lead_id)
    crm.pipeline.convert(REP1, lead_id, amount=CNY, close_date=CLOSE, pool_id=world.pool_id)
    before = _rows(world)
    with pytest.raises(RuleViolation) as caught:
        crm.recycle_bin.delete(REP1, "lead", lead_id, "cleanup")
    assert caught.value.code == "recycle.lead_converted"
    assert _rows(world) == before


# -- customers -------------------------------------------------------------------------------
def test_a_deleted_customer_leaves_lists_search_the_pool_the_book_and_its_keys() -> None:
    world = make_world(customers=2)
    crm = world.crm
    cid = _owned(world)
    crm.recycle_bin.delete(MANAGER, "customer", cid, "test data")
    with pytest.raises(NotFound):
        crm.customers.get(ADMIN, cid)
    with pytest.raises(NotFound):
        crm.pools.claim(REP2, cid)
    assert cid not in [c.id for c in crm.customers.list(ADMIN).items]
    assert crm.customers.search(ADMIN, "客户0").items == ()
    with crm.unit_of_work() as uow:
        assert uow.repository(RepBook).get("rep1").owned == 0
    # a new customer may take its name and phone
    twin = crm.pools.add_customer(ADMIN, "客户0", pool_id=world.pool_id, phones=["+8613800000000"])
    assert twin.id != cid


def test_restoring_a_customer_returns_it_to_its_owner_and_book() -> None:
    world = make_world(customers=1)
    crm = world.crm
    cid = _owned(world)
    crm.recycle_bin.delete(MANAGER, "customer", cid, "test data")
    restored = crm.recycle_bin.restore(MANAGER, "customer", cid)
    assert (restored.owner_id, restored.to_pool) == ("rep1", False)
    assert crm.customers.get(ADMIN, cid).customer.owner_id == "rep1"
    with crm.unit_of_work() as uow:
        assert uow.repository(RepBook).get("rep1").owned == 1


def test_a_restored_customer_goes_to_the_pool_when_its_owner_has_no_room() -> None:
    world = make_world(rules=PoolRules(capacity=1), customers=2)
    crm = world.crm
    cid = _owned(world, 0)
    crm.recycle_bin.delete(MANAGER, "customer", cid, "test data")
    crm.pools.claim(REP1, world.customers[1])  # the freed room is taken
    restored = crm.recycle_bin.restore(MANAGER, "customer", cid)
    assert (restored.owner_id, restored.to_pool) == (None, True)
    customer = crm.pools.get_customer(ADMIN, cid)
    assert (customer.owner_id, customer.pool_id, customer.previous_owner_id) == (
        None,
        world.pool_id,
        "rep1",
    )
    with crm.unit_of_work() as uow:
        assert uow.repository(RepBook).get("rep1").owned == 1
    assert [c.id for c in crm.pools.list_pool(REP2, world.pool_id).items] == [cid]


def test_restoring_a_customer_into_a_collision_is_refused_naming_the_holder() -> None:
    world = make_world(customers=1)
    crm = world.crm
    cid = world.customers[0]
    crm.recycle_bin.delete(MANAGER, "customer", cid, "test data")
    twin = crm.pools.add_customer(ADMIN, "客户0", pool_id=world.pool_id)
    before = _rows(world)
    with pytest.raises(RuleViolation) as caught:
        crm.recycle_bin.restore(MANAGER, "customer", cid)
    assert caught.value.code == "collision.duplicate"
    assert twin.id in str(caught.value.details)
    assert _rows(world) == before


def test_a_customer_with_open_deals_signed_contracts_or_unpaid_invoices_stays() -> None:
    world = make_world(customers=1)
    crm = world.crm
    cid = _owned(world)
    deal = _opportunity(world, cid)
    before = _rows(world)
    with pytest.raises(RuleViolation) as caught:
        crm.recycle_bin.delete(MANAGER, "customer", cid, "test data")
    assert caught.value.code == "recycle.has_dependents"
    assert caught.value.details["dependents"] == {"opportunities": [deal]}
    assert _rows(world) == before


def test_a_customer_with_a_signed_contract_stays() -> None:
    world, cid, _ = cash_world()
    crm = world.crm
    contract = signed_contract(world, cid)
    with pytest.raises(RuleViolation) as caught:
        crm.recycle_bin.delete(ADMIN, "customer", cid, "test data")
    assert caught.value.details["dependents"]["contracts"] == [contract.id]


def test_closed_deals_and_drafts_go_and_come_back_with_their_customer() -> None:
    world, cid, _ = cash_world()
    crm = world.crm
    deal = _opportunity(world, cid)
    crm.pipeline.lose(REP1, deal, "no_budget")
    draft = _draft_contract(world, cid)
    crm.recycle_bin.delete(MANAGER, "customer", cid, "test data")
    with pytest.raises(NotFound):
        crm.pipeline.get_opportunity(ADMIN, deal)
    assert crm.pipeline.opportunities(ADMIN, "customer", cid) == []
    with pytest.raises(RuleViolation) as caught:
        crm.recycle_bin.restore(ADMIN, "opportunity", deal)
    assert caught.value.code == "recycle.customer_deleted"
    restored = crm.recycle_bin.restore(MANAGER, "customer", cid)
    assert set(restored.with_records) == {("opportunity", deal), ("contract", draft)}
    assert crm.pipeline.get_opportunity(ADMIN, deal).id == deal


# -- opportunities and contracts ---------------------------------------------------------------
def test_an_opportunity_is_deleted_and_restored_with_the_customers_pipeline_facts() -> None:
    world = make_world(customers=1)
    crm = world.crm
    cid = _owned(world)
    deal = _opportunity(world, cid)
    with crm.unit_of_work() as uow:
        assert uow.customers.get(cid).open_opportunity_stage is not None
    crm.recycle_bin.delete(REP1, "opportunity", deal, "duplicate deal")
    with pytest.raises(NotFound):
        crm.pipeline.get_opportunity(REP1, deal)
    with crm.unit_of_work() as uow:
        assert uow.customers.get(cid).open_opportunity_stage is None
    crm.recycle_bin.restore(REP1, "opportunity", deal)
    with crm.unit_of_work() as uow:
        assert uow.customers.get(cid).open_opportunity_stage is not None
    assert crm.pipeline.get_opportunity(REP1, deal).id == deal


def test_a_deal_and_a_contract_deleted_before_a_merge_come_back_to_the_survivor() -> None:
    """A merge does not see what is in the recycle bin (out of every index but the bin's):
    restoring a deal or draft contract of the merged-away duplicate puts it on the survivor,
    whose facts follow, instead of on the archive nobody can work."""
    world, kept, dropped = cash_world()
    crm = world.crm
    deal = crm.pipeline.create_opportunity(
        REP2, dropped, name="ERP", amount=CNY, close_date=CLOSE
    ).id
    draft = _draft_contract(world, dropped, rep=2)
    crm.recycle_bin.delete(REP2, "opportunity", deal, "duplicate deal")
    crm.recycle_bin.delete(REP2, "contract", draft, "wrong terms")
    crm.collisions.merge(ADMIN, kept, dropped, "same company", prefer=CustomerId(kept))
    crm.recycle_bin.restore(MANAGER, "opportunity", deal)
    crm.recycle_bin.restore(MANAGER, "contract", draft)
    assert crm.pipeline.get_opportunity(MANAGER, deal).customer_id == kept
    assert crm.contracts.get(REP1, draft).customer_id == kept
    with crm.unit_of_work() as uow:
        assert uow.customers.get(kept).open_opportunity_stage is not None


def test_only_unsigned_contracts_can_be_deleted() -> None:
    world, cid, other = cash_world()
    crm = world.crm
    draft = _draft_contract(world, cid)
    crm.recycle_bin.delete(REP1, "contract", draft, "wrong terms")
    with pytest.raises(NotFound):
        crm.contracts.get(REP1, draft)
    signed = signed_contract(world, other, rep=2)
    before = _rows(world)
    with pytest.raises(RuleViolation) as caught:
        crm.recycle_bin.delete(ADMIN, "contract", signed.id, "oops")
    assert caught.value.code == "recycle.contract_signed"
    assert _rows(world) == before
    crm.recycle_bin.restore(REP1, "contract", draft)
    assert crm.contracts.get(REP1, draft).id == draft


# -- purge -----------------------------------------------------------------------------------
def test_the_purge_sweep_scrubs_what_is_due_and_a_purged_record_cannot_come_back() -> None:
    world = make_world(customers=1)
    crm = world.crm
    lead_id = _lead(world)
    cid = world.customers[0]
    crm.contacts.add_contact(ADMIN, cid, "王经理", phone="13700137000")
    crm.recycle_bin.delete(REP1, "lead", lead_id, "spam")
    crm.recycle_bin.delete(MANAGER, "customer", cid, "test data")
    assert crm.recycle_bin.purge_due(SYSTEM).purged == ()
    world.clock.advance(timedelta(days=30))
    report = crm.recycle_bin.purge_due(SYSTEM)
    assert set(report.purged) == {("lead", lead_id), ("customer", cid)}
    with crm.unit_of_work() as uow:
        lead = uow.leads.find_any(lead_id)
        customer = uow.customers.find_any(cid)
    assert isinstance(lead, Lead) and isinstance(customer, Customer)
    assert (lead.phone, lead.email) == (None, None) and lead.deleted is not None
    assert customer.phones == () and customer.deleted and customer.deleted.purged_at
    for raw in ("13900139001", "buyer@example.com", "13700137000", "王经理"):
        assert raw not in repr(world.store._rows)
        assert raw not in repr(world.store._outbox)
    before = _rows(world)
    with pytest.raises(RuleViolation) as caught:
        crm.recycle_bin.restore(ADMIN, "lead", lead_id)
    assert caught.value.code == "recycle.already_purged"
    assert _rows(world) == before
    assert crm.recycle_bin.list(ADMIN, "lead").items == ()
    assert crm.recycle_bin.purge_due(SYSTEM).purged == ()


def test_retention_is_an_organisation_setting_and_none_keeps_deleted_records() -> None:
    world = make_world()
    crm = world.crm
    crm.settings.update(ADMIN, "keep the bin", recycle=RecycleRules(retention_days=None))
    lead_id = _lead(world)
    entry = crm.recycle_bin.delete(REP1, "lead", lead_id, "spam")
    assert entry.deletion.purge_due_at is None
    world.clock.advance(timedelta(days=3650))
    assert crm.recycle_bin.purge_due(SYSTEM).purged == ()
    assert crm.recycle_bin.restore(REP1, "lead", lead_id).id == lead_id


# -- rights and bad input ------------------------------------------------------------------------
def test_reps_delete_what_they_own_managers_in_scope_customers_only_managers() -> None:
    world = make_world(customers=1)
    crm = world.crm
    lead_id = _lead(world)
    with crm.unit_of_work() as uow:
        assert isinstance(uow.leads.get(lead_id), Lead)
    east = crm.pools.add_customer(ADMIN, "东区客户", pool_id=world.pool_id, zone_id=ZoneId("east"))
    cid = _owned(world)
    before = _rows(world)
    with pytest.raises(PermissionDenied) as caught:
        crm.recycle_bin.delete(REP2, "lead", lead_id, "not mine")
    assert caught.value.code in {"recycle.not_owner"}
    with pytest.raises(PermissionDenied) as caught:
        crm.recycle_bin.delete(REP1, "customer", cid, "mine but a customer")
    assert caught.value.code == "recycle.managers_only"
    with pytest.raises(PermissionDenied) as caught:
        crm.recycle_bin.delete(WEST_MANAGER, "customer", east.id, "other zone")
    assert caught.value.code == "auth.out_of_scope"
    with pytest.raises(PermissionDenied) as caught:
        crm.recycle_bin.purge_due(REP1)
    assert caught.value.code == "auth.permission_denied"
    assert _rows(world) == before
    assert crm.recycle_bin.list(REP2, "customer").items == ()


def test_bad_input_names_the_field_and_changes_nothing() -> None:
    world = make_world(customers=1)
    crm = world.crm
    cid = world.customers[0]
    before = _rows(world)
    with pytest.raises(ValidationError) as caught:
        crm.recycle_bin.delete(MANAGER, "customer", cid, "  ")
    assert [e.path for e in caught.value.errors] == ["reason"]
    with pytest.raises(ValidationError) as caught:
        crm.recycle_bin.delete(MANAGER, "ticket", cid, "why")
    assert [e.path for e in caught.value.errors] == ["kind"]
    with pytest.raises(NotFound):
        crm.recycle_bin.delete(MANAGER, "customer", "nope", "why")
    with pytest.raises(RuleViolation) as rule:
        crm.recycle_bin.restore(MANAGER, "customer", cid)
    assert rule.value.code == "recycle.not_deleted"
    crm.recycle_bin.delete(MANAGER, "customer", cid, "once")
    after_delete = _rows(world)
    with pytest.raises(RuleViolation) as rule:
        crm.recycle_bin.delete(MANAGER, "customer", cid, "twice")
    assert rule.value.code == "recycle.already_deleted"
    assert _rows(world) == after_delete
    assert before != after_delete


def test_every_change_is_audited_and_announced() -> None:
    world = make_world()
    crm = world.crm
    lead_id = _lead(world)
    audit = len(world.store._audit)
    crm.recycle_bin.delete(REP1, "lead", lead_id, "spam")
    crm.recycle_bin.restore(REP1, "lead", lead_id)
    entries = world.store.audit_log(after_seq=audit)
    assert [(e.action, e.target_id) for e in entries] == [
        ("recycle.delete", lead_id),
        ("recycle.restore", lead_id),
    ]
    topics = [m.topic for m in world.store._outbox.values()]
    assert topics.count("recycle.deleted") == 1 and topics.count("recycle.restored") == 1


def test_an_admin_purges_one_record_now_for_an_erasure_request() -> None:
    world = make_world()
    crm = world.crm
    lead_id = _lead(world)
    crm.recycle_bin.delete(REP1, "lead", lead_id, "spam")
    with pytest.raises(PermissionDenied):
        crm.recycle_bin.purge(REP1, "lead", lead_id, "PIPL request")
    with pytest.raises(ValidationError):
        crm.recycle_bin.purge(ADMIN, "lead", lead_id, " ")
    report = crm.recycle_bin.purge(ADMIN, "lead", lead_id, "PIPL request 2026-31")
    assert report.purged == (("lead", lead_id),)
    assert "13900139001" not in repr(world.store._rows)
    assert "请周五回电" not in repr(world.store._rows)  # the lead's note is wiped whole
    assert "请周五回电" not in repr(world.store.audit_log(limit=10_000))
    tombstone = world.store.audit_log(after_seq=0, limit=10_000)[-1]
    assert (tombstone.action, tombstone.reason, tombstone.before) == (
        "recycle.purge",
        "PIPL request 2026-31",
        None,
    )
    with pytest.raises(RuleViolation) as caught:
        crm.recycle_bin.purge(ADMIN, "lead", lead_id, "again")
    assert caught.value.code == "recycle.already_purged"


def test_a_restored_customer_goes_to_the_pool_when_its_owner_left() -> None:
    world = make_world(customers=1)
    crm = world.crm
    cid = _owned(world)
    crm.recycle_bin.delete(MANAGER, "customer", cid, "test data")
    crm.reps.update(ADMIN, RepId("rep1"), active=False)
    restored = crm.recycle_bin.restore(MANAGER, "customer", cid)
    assert (restored.owner_id, restored.to_pool) == (None, True)
    history = crm.pools.history(ADMIN, cid)
    assert history[-1].action.value == "release" and history[-1].from_rep == "rep1"


def test_a_deal_a_contract_names_stays_and_a_deal_deleted_alone_stays_in_the_bin() -> None:
    world, cid, _ = cash_world()
    crm = world.crm
    named = _opportunity(world, cid)
    for _ in range(3):
        crm.pipeline.advance(REP1, named)
    crm.pipeline.win(REP1, named)
    contract = crm.contracts.from_opportunity(REP1, named)
    with pytest.raises(RuleViolation) as caught:
        crm.recycle_bin.delete(REP1, "opportunity", named, "duplicate")
    assert caught.value.code == "recycle.has_dependents"
    alone = _opportunity(world, cid)
    crm.recycle_bin.delete(REP1, "opportunity", alone, "duplicate")
    crm.recycle_bin.delete(MANAGER, "customer", cid, "test data")  # the draft goes along
    restored = crm.recycle_bin.restore(MANAGER, "customer", cid)
    assert set(restored.with_records) == {("opportunity", named), ("contract", contract.id)}
    assert {e.id for e in crm.recycle_bin.list(REP1, "opportunity").items} == {alone}


def test_records_deleted_with_a_customer_are_purged_with_it() -> None:
    world = make_world(customers=1)
    crm = world.crm
    cid = _owned(world)
    deal = _opportunity(world, cid)
    crm.pipeline.lose(REP1, deal, "no_budget")
    crm.recycle_bin.delete(MANAGER, "customer", cid, "test data")
    world.clock.advance(timedelta(days=31))
    report = crm.recycle_bin.purge_due(SYSTEM)
    assert set(report.purged) == {("customer", cid), ("opportunity", deal)}


def test_restoring_a_lead_whose_key_a_newer_customer_took_is_refused_naming_it() -> None:
    world = make_world()
    crm = world.crm
    lead_id = _lead(world)
    crm.recycle_bin.delete(REP1, "lead", lead_id, "mistake")
    world.clock.advance(timedelta(hours=1))
    customer = crm.pools.add_customer(ADMIN, "星辰科技有限公司", pool_id=world.pool_id)
    with pytest.raises(RuleViolation) as caught:
        crm.recycle_bin.restore(MANAGER, "lead", lead_id)
    assert {"kind": "customer", "id": customer.id} in caught.value.details["records"]


def test_the_bin_lists_what_the_caller_may_restore() -> None:
    world = make_world()
    crm = world.crm
    mine, theirs = _lead(world, REP1, "甲公司"), _lead(world, REP2, "乙公司")
    crm.recycle_bin.delete(REP1, "lead", mine, "spam")
    crm.recycle_bin.delete(REP2, "lead", theirs, "spam")
    assert [e.id for e in crm.recycle_bin.list(REP1, "lead").items] == [mine]
    assert {e.id for e in crm.recycle_bin.list(MANAGER, "lead").items} == {mine, theirs}
    with pytest.raises(PermissionDenied):
        crm.recycle_bin.get(REP1, "lead", theirs)
    with pytest.raises(PermissionDenied):
        crm.recycle_bin.restore(REP1, "lead", theirs)
    with pytest.raises(NotFound):  # not in the bin
        crm.recycle_bin.get(ADMIN, "lead", "lead-nope")
    page = crm.recycle_bin.list(MANAGER, "lead", limit=1)
    rest = crm.recycle_bin.list(MANAGER, "lead", after=page.next_cursor, limit=1)
    assert {page.items[0].id, rest.items[0].id} == {mine, theirs}


def test_a_customer_comes_back_beside_its_own_lead_but_not_into_a_newer_one() -> None:
    world = make_world()
    crm = world.crm
    lead_id = _lead(world)
    crm.pipeline.start_working(REP1, lead_id)
    crm.pipeline.qualify(REP1, lead_id)
    converted = crm.pipeline.convert(
        REP1, lead_id, amount=CNY, close_date=CLOSE, pool_id=world.pool_id
    )
    cid = converted.customer.id
    crm.pipeline.lose(REP1, converted.opportunity.id, "no_budget")
    crm.recycle_bin.delete(MANAGER, "customer", cid, "test data")
    assert crm.recycle_bin.restore(MANAGER, "customer", cid).id == cid  # its lead stays
    crm.recycle_bin.delete(MANAGER, "customer", cid, "test data")
    world.clock.advance(timedelta(hours=1))
    newer = crm.leads.capture(
        ADMIN, {"channel": "call", "company_name": "星辰科技有限公司", "email": "n@example.com"}
    )
    with pytest.raises(RuleViolation) as caught:
        crm.recycle_bin.restore(MANAGER, "customer", cid)
    assert caught.value.code == "collision.duplicate" and newer.id in str(caught.value.details)


def test_a_pooled_lead_comes_back_to_its_lead_pool_when_its_owner_is_full() -> None:
    world = make_world()
    crm = world.crm
    pool = crm.lead_pools.create_pool(
        ADMIN, "线索池", zone_id=ZoneId("east"), rules=LeadPoolRules(capacity=1)
    )
    first, second = (
        crm.leads.capture(ADMIN, {"channel": "call", "company_name": name, "email": mail}).id
        for name, mail in (("甲公司", "a@example.com"), ("乙公司", "b@example.com"))
    )
    for lead_id in (first, second):
        crm.lead_pools.add_lead(ADMIN, lead_id, pool.id)
    crm.lead_pools.claim(REP1, first)
    crm.recycle_bin.delete(REP1, "lead", first, "wrong company")
    crm.lead_pools.claim(REP1, second)  # the room the deletion freed
    restored = crm.recycle_bin.restore(REP1, "lead", first)
    assert (restored.owner_id, restored.to_pool) == (None, True)
    assert [lead.id for lead in crm.lead_pools.list_pool(REP2, pool.id).items] == [first]


def test_purging_a_customer_wipes_what_its_tickets_say_and_their_audit_values() -> None:
    world = make_world(customers=1)
    crm = world.crm
    cid = _owned(world)
    with crm.unit_of_work() as uow:
        uow.contacts.add(Contact(ContactId("k1"), CustomerId(cid), "王芳", phone="+8613700001111"))
        uow.commit()
    ticket = crm.tickets.open(
        REP1, cid, "k1", subject="王芳: 打印机无法连接", category="hardware", channel="phone",
        priority="P3", description="请回电 13700001111",
    )  # fmt: skip
    crm.tickets.resolve(REP1, ticket.id, reason="已远程修复, 王芳确认")
    crm.tickets.close(REP1, ticket.id, score=5, comment="王芳: 很满意")
    crm.recycle_bin.delete(MANAGER, "customer", cid, "test data")
    report = crm.recycle_bin.purge(ADMIN, "customer", cid, "PIPL request 2026-40")
    assert report.audit_entries >= 4  # the ticket's own entries among them
    with crm.unit_of_work() as uow:  # the facade shows no ticket of a purged customer
        wiped = uow.repository(Ticket).get(ticket.id)
    assert (wiped.subject, wiped.description) == ("[erased]", "[erased]")
    assert [c.reason for c in wiped.history if c.reason] == ["[erased]"]
    assert wiped.satisfaction is not None
    assert (wiped.satisfaction.score, wiped.satisfaction.comment) == (5, "[erased]")
    assert "王芳" not in repr(world.store._rows) and "远程修复" not in repr(world.store._rows)
    entries = [e for e in world.store.audit_log(limit=10_000) if e.target_kind == "ticket"]
    assert "远程修复" not in repr(entries) and "13700001111" not in repr(entries)
    assert verify_store_audit(world.store).ok
