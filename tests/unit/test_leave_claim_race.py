"""A rep leaving (离职) while a customer is given to them, in either commit order.

``org.leave`` reads the rep's customers by query (none: no handover needed) and deactivates
the rep; a claim reads the rep as active and adds a customer to their book. Each test lets
the other command commit, through a second facade on the same store, between the first
command's reads and its commit. Both save the rep's book (leaving sets ``left_at``), so the
second to commit re-runs and sees the other: a rep who left never owns a customer.
"""

from __future__ import annotations

from typing import Any

import pytest

import leadtocash.app.org as org_service
from leadtocash import LeadToCash, RuleViolation
from leadtocash.app.customers import CustomerWrites
from leadtocash.pool.book import RepBook
from pool_fixtures import ADMIN, World, make_world, rep_principal

REP1 = rep_principal(1)


def _other_process(world: World) -> LeadToCash:
    """A second facade on the same store (its own aggregate cache, as another process)."""
    return LeadToCash(world.store, world.clock, world.crm.ctx.ids)


def _owner(world: World, customer_id: str) -> str | None:
    with world.crm.unit_of_work() as uow:
        return uow.customers.get(customer_id).owner_id


def test_a_claim_read_before_the_rep_left_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    world = make_world(customers=1)
    customer_id = world.customers[0]
    other = _other_process(world)
    left: list[str] = []
    book = CustomerWrites.book

    def book_after_leaving(self: CustomerWrites, uow: Any, rep_id: Any) -> RepBook:
        found = book(self, uow, rep_id)  # what the claim saw: rep1 active, an empty book
        if not left:
            left.append(rep_id)
            other.org.leave(ADMIN, "rep1", "resigned")
        return found

    monkeypatch.setattr(CustomerWrites, "book", book_after_leaving)
    with pytest.raises(RuleViolation) as refused:
        world.crm.pools.claim(REP1, customer_id)
    assert refused.value.code == "pool.rep_inactive"
    assert left == ["rep1"]
    assert _owner(world, customer_id) is None


def test_a_claim_committed_while_the_rep_leaves_needs_a_handover(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = make_world(customers=1)
    customer_id = world.customers[0]
    other = _other_process(world)
    claimed: list[str] = []
    all_of = org_service._all

    def read_then_claim(uow: Any, kind: Any, index: str, value: str) -> Any:
        found = all_of(uow, kind, index, value)  # what the departure saw: no customers
        if not claimed and index == "owner":
            claimed.append(other.pools.claim(REP1, customer_id).id)
        return found

    monkeypatch.setattr(org_service, "_all", read_then_claim)
    with pytest.raises(RuleViolation) as refused:
        world.crm.org.leave(ADMIN, "rep1", "resigned")
    assert refused.value.code == "org.rep_has_book"
    assert claimed == [customer_id]
    assert _owner(world, customer_id) == "rep1"
    assert world.crm.org.leave(ADMIN, "rep1", "resigned", handover_to="rep2").active is False
    assert _owner(world, customer_id) == "rep2"
