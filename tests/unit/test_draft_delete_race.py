"""A contract drafted while its customer (or its won deal) is deleted, in either commit order
(write skew).

The deletion reads the customer's contracts by query and takes the unsigned ones to the
recycle bin; the draft reads the customer (its scope, not deleted) and adds a contract. Each
test lets the other command commit, through a second facade on the same store, between the
first command's reads and its commit. Both commands write the customer (the draft sets its
``last_contract_at``), so whichever commits second meets a version conflict, re-runs and sees
the other: no live draft of a customer in the bin. A draft from a won opportunity records
itself on the deal (``contract_id``) for the same reason: the deal's deletion is refused while
a live contract names it.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

import leadtocash.app.contracts as contract_service
from contract_fixtures import cash_world
from leadtocash import LeadToCash, Money, NotFound, RuleViolation
from leadtocash.app.recycle_bin import RecycleBinService
from leadtocash.contracts import LineInput, ProductId
from pool_fixtures import ADMIN, MANAGER, World, contact_of, meanwhile, other_process, rep_principal

REP1 = rep_principal(1)
CLOSE = date(2026, 3, 31)


def _accepted_quote(world: World, customer_id: str) -> str:
    crm = world.crm
    lines = [LineInput(Decimal(1), ProductId("SRV-1"))]
    quote = crm.quotes.draft(REP1, customer_id, "CNY", lines, valid_until=CLOSE)
    crm.quotes.send(REP1, quote.id)
    crm.quotes.accept(REP1, quote.id)
    return quote.id


def _won_deal(world: World, customer_id: str) -> str:
    crm = world.crm
    deal = crm.pipeline.create_opportunity(
        REP1, customer_id, name="ERP", amount=Money(50000, "CNY"), close_date=CLOSE,
        contact_id=contact_of(crm, customer_id),
    )  # fmt: skip
    for _ in range(3):
        crm.pipeline.advance(REP1, deal.id)
    crm.pipeline.win(REP1, deal.id)
    return deal.id


def _other(world: World) -> LeadToCash:
    return other_process(world.store, world.clock, world.crm)


def test_a_draft_committed_during_the_deletion_goes_to_the_bin_with_its_customer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world, customer_id, _ = cash_world()
    quote_id = _accepted_quote(world, customer_id)
    other = _other(world)
    # the deletion has read the customer's contracts (none yet) when the draft commits
    drafted = meanwhile(
        monkeypatch.setattr, RecycleBinService, "_contracts_of",
        lambda: other.contracts.from_quote(REP1, quote_id).id,
    )  # fmt: skip
    entry = world.crm.recycle_bin.delete(MANAGER, "customer", customer_id, "test data")
    assert entry.id == customer_id and len(drafted) == 1
    with pytest.raises(NotFound):  # the draft went with its customer
        world.crm.contracts.get(ADMIN, str(drafted[0]))
    restored = world.crm.recycle_bin.restore(MANAGER, "customer", customer_id)
    assert ("contract", drafted[0]) in restored.with_records


def test_a_draft_read_before_the_deletion_committed_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world, customer_id, _ = cash_world()
    quote_id = _accepted_quote(world, customer_id)
    other = _other(world)
    # the draft has read its customer (not deleted) when the deletion commits
    deleted = meanwhile(
        monkeypatch.setattr, contract_service, "guard_document",
        lambda: other.recycle_bin.delete(MANAGER, "customer", customer_id, "x").id,
    )  # fmt: skip
    with pytest.raises(NotFound):
        world.crm.contracts.from_quote(REP1, quote_id)
    assert deleted == [customer_id]
    with pytest.raises(NotFound):
        world.crm.contracts.get(ADMIN, f"contract-of-{quote_id}")
    restored = world.crm.recycle_bin.restore(MANAGER, "customer", customer_id)
    assert restored.with_records == ()


def test_drafting_a_contract_records_it_on_the_customer_audited() -> None:
    world, customer_id, _ = cash_world()
    quote_id = _accepted_quote(world, customer_id)
    before = world.crm.customers.get(REP1, customer_id).customer
    contract = world.crm.contracts.from_quote(REP1, quote_id)
    after = world.crm.customers.get(REP1, customer_id).customer
    assert before.last_contract_at is None
    assert after.last_contract_at == world.clock.now()
    entries = [e for e in world.store.audit_log() if e.action == "contract.write"]
    assert {(e.target_kind, e.target_id) for e in entries[-2:]} == {
        ("contract", contract.id),
        ("customer", customer_id),
    }


def test_a_draft_committed_during_the_deals_deletion_keeps_the_deal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world, customer_id, _ = cash_world()
    deal_id = _won_deal(world, customer_id)
    other = _other(world)
    drafted = meanwhile(
        monkeypatch.setattr, RecycleBinService, "_contracts_of",
        lambda: other.contracts.from_opportunity(REP1, deal_id).id,
    )  # fmt: skip
    with pytest.raises(RuleViolation) as refused:
        world.crm.recycle_bin.delete(MANAGER, "opportunity", deal_id, "test data")
    assert refused.value.code == "recycle.has_dependents"
    assert refused.value.details["dependents"] == {"contracts": drafted}
    assert world.crm.pipeline.get_opportunity(ADMIN, deal_id).contract_id == drafted[0]
    assert world.crm.contracts.get(ADMIN, str(drafted[0])).opportunity_id == deal_id


def test_a_draft_from_a_deal_deleted_meanwhile_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world, customer_id, _ = cash_world()
    deal_id = _won_deal(world, customer_id)
    other = _other(world)
    deleted = meanwhile(
        monkeypatch.setattr, contract_service, "guard_document",
        lambda: other.recycle_bin.delete(MANAGER, "opportunity", deal_id, "x").id,
    )  # fmt: skip
    with pytest.raises(NotFound):
        world.crm.contracts.from_opportunity(REP1, deal_id)
    assert deleted == [deal_id]
    assert world.crm.contracts.for_customer(ADMIN, customer_id).items == ()
