"""A pool rule change recomputes every schedule even when the process stops midway (customer
and lead pools).

The change commits with a pending ``ScheduleRecompute``; pages commit with its progress. For
any book size, page size and stopping point, the next sweep finishes the job: every owned
customer ends with the schedule of the new rules, each recomputed (and audited) once.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from leadtocash import PoolId
from leadtocash.durations import Duration
from leadtocash.pool.leads import LeadPoolRules, lead_reclaim_schedule
from leadtocash.pool.reclaim import LeadScheduleRecompute, ScheduleRecompute, reclaim_schedule
from leadtocash.pool.rules import PoolRules, TierDurations
from pool_fixtures import ADMIN, SYSTEM, add_lead, make_world, rep_principal

OLD = PoolRules(no_follow_up=TierDurations(Duration.days(30)))
NEW = PoolRules(no_follow_up=TierDurations(Duration.days(3)), warn_before=Duration.days(1))


@settings(max_examples=25, deadline=None)
@given(
    customers=st.integers(min_value=0, max_value=9),
    page=st.integers(min_value=1, max_value=4),
    stop_after=st.integers(min_value=0, max_value=10),
)
def test_a_stopped_recompute_is_finished_by_the_next_sweep(
    customers: int, page: int, stop_after: int
) -> None:
    world = make_world(OLD, customers=customers)
    for n, cid in enumerate(world.customers):
        world.crm.pools.claim(rep_principal(1 + n % 3), cid)
    world.clock.advance(timedelta(hours=1))
    audit_before = len(world.store.audit_log(limit=100_000))

    # The process "stops" after the rule change and ``stop_after`` pages.
    assert (
        world.crm.reclaim.update_rules(ADMIN, world.pool_id, NEW, "stricter", recompute=False) == 0
    )
    world.crm.reclaim.resume_recomputes(SYSTEM, page=page, max_pages=stop_after)
    with world.crm.unit_of_work() as uow:
        job = uow.repository(ScheduleRecompute).get(world.pool_id)
    pages_needed = customers // page + 1  # the last page is the one that finds no more
    assert job.done == (stop_after >= pages_needed)

    world.crm.reclaim.sweep(SYSTEM, batch=page)  # finishes the job before sweeping
    with world.crm.unit_of_work() as uow:
        job = uow.repository(ScheduleRecompute).get(world.pool_id)
        stored = uow.customers.get_many(list(world.customers))
    assert job.done and job.changed == customers
    for customer in stored:
        expected = reclaim_schedule(customer, NEW, timezone="Asia/Shanghai")
        assert (customer.reclaim_due_at, customer.warn_at) == (expected.due_at, expected.warn_at)
    entries = world.store.audit_log(limit=100_000)[audit_before:]
    recomputed = [e.target_id for e in entries if "reclaim schedule recomputed" in (e.reason or "")]
    assert sorted(recomputed) == sorted(world.customers)  # each once, none twice


def test_changing_rules_again_restarts_the_pending_recompute() -> None:
    world = make_world(OLD, customers=4)
    for cid in world.customers:
        world.crm.pools.claim(rep_principal(1), cid)
    world.crm.reclaim.update_rules(ADMIN, world.pool_id, NEW, "first", recompute=False)
    world.crm.reclaim.resume_recomputes(SYSTEM, page=1, max_pages=2)
    assert world.crm.reclaim.update_rules(ADMIN, world.pool_id, OLD, "back", page=3) == 2
    with world.crm.unit_of_work() as uow:
        job = uow.repository(ScheduleRecompute).get(world.pool_id)
        stored = uow.customers.get_many(list(world.customers))
    assert job.done and job.reason == "back"
    for customer in stored:
        assert (
            customer.reclaim_due_at
            == reclaim_schedule(customer, OLD, timezone="Asia/Shanghai").due_at
        )


LEAD_OLD = LeadPoolRules(no_follow_up=Duration.days(30))
LEAD_NEW = LeadPoolRules(no_follow_up=Duration.days(3), warn_before=Duration.days(1))


@settings(max_examples=20, deadline=None)
@given(
    leads=st.integers(min_value=0, max_value=7),
    page=st.integers(min_value=1, max_value=3),
    stop_after=st.integers(min_value=0, max_value=8),
)
def test_a_stopped_lead_pool_recompute_is_finished_by_the_next_lead_sweep(
    leads: int, page: int, stop_after: int
) -> None:
    """The same guarantee for lead pools: a stricter rule reaches every owned lead."""
    world = make_world()
    pool = world.crm.lead_pools.create_pool(ADMIN, "Leads", rules=LEAD_OLD, pool_id=PoolId("lp"))
    ids = [add_lead(world.crm, n, pool=pool.id) for n in range(leads)]
    for n, ident in enumerate(ids):
        world.crm.lead_pools.claim(rep_principal(1 + n % 3), ident)
    world.clock.advance(timedelta(hours=1))
    audit_before = len(world.store.audit_log(limit=100_000))

    pools = world.crm.lead_pools
    assert pools.update_rules(ADMIN, pool.id, LEAD_NEW, "stricter", recompute=False) == 0
    pools.resume_recomputes(SYSTEM, page=page, max_pages=stop_after)
    with world.crm.unit_of_work() as uow:
        job = uow.repository(LeadScheduleRecompute).get(pool.id)
    assert job.done == (stop_after >= leads // page + 1)

    pools.sweep(SYSTEM, batch=page)  # finishes the job before sweeping
    with world.crm.unit_of_work() as uow:
        job = uow.repository(LeadScheduleRecompute).get(pool.id)
        stored = [uow.leads.get(ident) for ident in ids]
    assert job.done and job.changed == leads
    for stored_lead in stored:
        expected = lead_reclaim_schedule(stored_lead, LEAD_NEW, timezone="Asia/Shanghai")
        assert (stored_lead.reclaim_due_at, stored_lead.warn_at) == (
            expected.due_at,
            expected.warn_at,
        )
    entries = world.store.audit_log(limit=100_000)[audit_before:]
    recomputed = [e.target_id for e in entries if "reclaim schedule recomputed" in (e.reason or "")]
    assert sorted(recomputed) == sorted(ids)  # each once, none twice
    with world.crm.unit_of_work() as uow:  # a customer pool's job is another kind
        assert uow.repository(ScheduleRecompute).find(pool.id) is None
