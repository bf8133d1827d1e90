"""A claim while a manager changes the pool's rules: the claim's deadline follows the rules.

A claim reads its pool's rules and computes the customer's (or lead's) reclaim deadline from
them; ``update_rules`` saves the new rules, then recomputes the deadlines of what the pool's
reps own, page by page. A claim that read the old rules and committed after the recompute
had passed would keep the old deadline until its next change (a write skew: each read what
the other wrote). Each test lets the rule change — save and recompute — commit through a
second facade between the claim's read of the rules and its commit: the claim's commit
expects the pool unchanged, conflicts, and runs again on the new rules.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from leadtocash.app.customers import CustomerWrites
from leadtocash.app.lead_writes import LeadPoolWrites
from leadtocash.durations import Duration
from leadtocash.pool.leads import LeadPoolRules
from leadtocash.pool.rules import PoolRules, TierDurations
from pool_fixtures import ADMIN, add_lead, make_world, meanwhile, other_process, rep_principal

REP1 = rep_principal(1)


def test_a_claim_racing_a_rule_change_gets_the_new_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = make_world(PoolRules(no_follow_up=TierDurations(Duration.days(30))), customers=1)
    customer_id = world.customers[0]
    other = other_process(world.store, world.clock, world.crm)
    shorter = PoolRules(no_follow_up=TierDurations(Duration.days(5)))
    changed = meanwhile(
        monkeypatch.setattr, CustomerWrites, "rules_of",
        lambda: other.reclaim.update_rules(ADMIN, world.pool_id, shorter, "shorter"),
    )  # fmt: skip
    claimed = world.crm.pools.claim(REP1, customer_id)
    assert changed == [0]  # the recompute found nothing owned: the claim had not committed
    assert claimed.reclaim_due_at == world.clock.now() + timedelta(days=5)
    assert world.crm.pools.get_customer(ADMIN, customer_id).reclaim_due_at == (
        world.clock.now() + timedelta(days=5)
    )


def test_a_lead_claim_racing_a_rule_change_gets_the_new_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = make_world()
    crm = world.crm
    pool = crm.lead_pools.create_pool(
        ADMIN, "Leads", rules=LeadPoolRules(no_follow_up=Duration.days(30))
    )
    lead_id = add_lead(crm, 1, pool=pool.id)
    other = other_process(world.store, world.clock, crm)
    shorter = LeadPoolRules(no_follow_up=Duration.days(5))
    changed = meanwhile(
        monkeypatch.setattr, LeadPoolWrites, "rules_of",
        lambda: other.lead_pools.update_rules(ADMIN, pool.id, shorter, "shorter"),
    )  # fmt: skip
    claimed = crm.lead_pools.claim(REP1, lead_id)
    assert changed == [0]
    assert claimed.reclaim_due_at == world.clock.now() + timedelta(days=5)
