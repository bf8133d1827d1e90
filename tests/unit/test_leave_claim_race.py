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
from leadtocash import RuleViolation
from leadtocash.app.customers import CustomerWrites
from pool_fixtures import ADMIN, World, make_world, meanwhile, other_process, rep_principal

REP1 = rep_principal(1)


def _owner(world: World, customer_id: str) -> str | None:
    with world.crm.unit_of_work() as uow:
        return uow.customers.get(customer_id).owner_id


def test_a_claim_read_before_the_rep_left_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    world = make_world(customers=1)
    customer_id = world.customers[0]
    other = other_process(world.store, world.clock, world.crm)
    # the claim has read rep1 (active) and their empty book when rep1 leaves
    left = meanwhile(
        monkeypatch.setattr, CustomerWrites, "book",
        lambda: other.org.leave(ADMIN, "rep1", "resigned").id,
    )  # fmt: skip
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
    other = other_process(world.store, world.clock, world.crm)

    def owners_query(uow: Any, kind: Any, index: str, value: str) -> bool:
        return index == "owner"

    # the departure has read rep1's customers (none) when rep1's claim commits
    claimed = meanwhile(
        monkeypatch.setattr, org_service, "_all",
        lambda: other.pools.claim(REP1, customer_id).id, when=owners_query,
    )  # fmt: skip
    with pytest.raises(RuleViolation) as refused:
        world.crm.org.leave(ADMIN, "rep1", "resigned")
    assert refused.value.code == "org.rep_has_book"
    assert claimed == [customer_id]
    assert _owner(world, customer_id) == "rep1"
    assert world.crm.org.leave(ADMIN, "rep1", "resigned", handover_to="rep2").active is False
    assert _owner(world, customer_id) == "rep2"
