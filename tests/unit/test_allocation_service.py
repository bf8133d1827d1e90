"""Allocation through the application: persisted ledger, batches, caps, audit, permissions."""

from __future__ import annotations

import pytest

from leadtocash import PermissionDenied, PoolRules, RepId
from leadtocash.allocation.ledger import FairnessLedger
from leadtocash.pool.book import OwnershipAction, RepBook
from pool_fixtures import ADMIN, MANAGER, make_world, rep_principal


def test_fair_allocation_spreads_evenly_and_persists_the_ledger() -> None:
    world = make_world(reps=3, customers=31)
    first = world.crm.allocation.allocate(MANAGER, world.pool_id, world.customers[:16], seed=7)
    second = world.crm.allocation.allocate(MANAGER, world.pool_id, world.customers[16:], seed=7)
    totals = first.counts()
    for rep, count in second.counts().items():
        totals[rep] = totals.get(rep, 0) + count
    assert sorted(totals.values()) == [10, 10, 11]
    with world.crm.unit_of_work() as uow:
        ledger = uow.repository(FairnessLedger).get(world.pool_id)
        assert ledger.allocated == 31
        assert uow.repository(RepBook).get(RepId("rep1")).owned == totals["rep1"]
    customer = world.customers[0]
    line = world.crm.pools.history(ADMIN, customer)[-1]
    assert line.action is OwnershipAction.ASSIGN
    assert line.reason is not None
    assert "deficit" in line.reason
    assert any(e.target_kind == "fairness_ledger" for e in world.store.audit_log(limit=10_000))


def test_batch_distribution_carries_the_remainder_across_batches() -> None:
    world = make_world(reps=3, customers=12)
    reps = [RepId("rep1"), RepId("rep2"), RepId("rep3")]
    first = world.crm.allocation.distribute(
        MANAGER, world.pool_id, world.customers[:4], reps, seed=1
    )
    assert sorted(first.counts().values()) == [1, 1, 2]
    second = world.crm.allocation.distribute(
        MANAGER, world.pool_id, world.customers[4:8], reps, seed=1
    )
    lucky = next(rep for rep, n in first.counts().items() if n == 2)
    assert second.counts().get(lucky, 0) == 1, "the extra goes to someone else next time"


def test_caps_hold_and_refused_customers_stay_in_the_pool_with_reasons() -> None:
    world = make_world(PoolRules(capacity=2), reps=3, customers=8)
    report = world.crm.allocation.allocate(MANAGER, world.pool_id, world.customers, seed=3)
    assert sorted(report.counts().values()) == [2, 2, 2]
    assert len(report.refusals) == 2
    for refusal in report.refusals:
        assert refusal.code == "allocation.no_eligible_rep"
        assert world.crm.pools.get_customer(ADMIN, refusal.lead_id).owner_id is None


def test_reps_on_leave_get_nothing_and_reps_cannot_allocate() -> None:
    world = make_world(reps=3, customers=6)
    world.crm.reps.update(ADMIN, RepId("rep2"), on_leave=True, reason="vacation")
    report = world.crm.allocation.allocate(MANAGER, world.pool_id, world.customers, seed=5)
    assert "rep2" not in report.counts()
    assert sum(report.counts().values()) == 6
    with pytest.raises(PermissionDenied):
        world.crm.allocation.allocate(rep_principal(1), world.pool_id, world.customers, seed=5)
