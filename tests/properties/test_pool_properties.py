"""Random interleavings of pool operations never break the ownership rules.

A hypothesis state machine drives claim / assign / release / transfer / lock / follow-up /
sweep / clock advances against the in-memory store under random rules, and checks after every
step: no customer has two owners, history replays to the current owner, rep books match the
customers, daily limits (per local day, Asia/Shanghai) and capacity hold on every acquisition,
cooldowns hold, locked customers are never reclaimed, and refusals change nothing.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import attrs
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from command_machine import expected_book
from leadtocash import PermissionDenied, RepId, RuleViolation, ValidationError
from leadtocash.durations import Duration, deadline, local_day
from leadtocash.pool.book import RepBook
from leadtocash.pool.rules import PoolRules, TierDurations
from pool_fixtures import ADMIN, MANAGER, SYSTEM, World, make_world, rep_principal

TZ = "Asia/Shanghai"
REPS = [rep_principal(n) for n in (1, 2, 3)]
maybe_days = st.sampled_from([None, 0, 1, 2])

rules_strategy = st.builds(
    PoolRules,
    daily_claim_limit=st.sampled_from([None, 0, 1, 2, 3]),
    capacity=st.sampled_from([None, 0, 2, 3]),
    capacity_excludes_won=st.booleans(),
    capacity_excludes_locked=st.booleans(),
    reclaim_cooldown=st.sampled_from([None, Duration.days(0), Duration.hours(5), Duration.days(1)]),
    new_in_pool_cooldown=st.sampled_from([None, Duration.hours(0), Duration.hours(3)]),
    protection_base=st.sampled_from([None, Duration.days(2)]),
    protection_per_follow_up=st.sampled_from([None, Duration.days(1)]),
    no_follow_up=st.builds(
        TierDurations, default=maybe_days.map(lambda d: None if d is None else Duration.days(d))
    ),
    exempt_locked=st.just(True),
    warn_before=st.sampled_from([None, Duration.hours(12)]),
)

REFUSALS = (RuleViolation, PermissionDenied, ValidationError)


class PoolMachine(RuleBasedStateMachine):
    world: World
    rules_in_force: PoolRules

    @initialize(rules=rules_strategy)
    def setup(self, rules: PoolRules) -> None:
        self.world = make_world(rules, customers=6)
        self.rules_in_force = rules
        self.claims_per_day: Counter[tuple[str, Any]] = Counter()
        self.refused = 0

    # -- helpers ----------------------------------------------------------------------------------
    def snapshot(self) -> Any:
        store = self.world.store
        return (dict(store._rows), len(store._audit), dict(store._outbox))

    def customer(self, cid: str) -> Any:
        return self.world.crm.pools.get_customer(ADMIN, cid)

    def book(self, rep: str) -> RepBook:
        with self.world.crm.unit_of_work() as uow:
            return uow.repository(RepBook).find(rep) or RepBook(RepId(rep))

    def versions(self) -> dict[str, int]:
        return {cid: self.customer(cid).version for cid in self.world.customers}

    def attempt(self, call: Any, *args: Any, **kwargs: Any) -> Any:
        before = self.snapshot()
        versions = self.versions()
        seq = len(self.world.store.audit_log(limit=1_000_000))
        try:
            result = call(*args, **kwargs)
        except REFUSALS:
            assert self.snapshot() == before, "a refused command changed state"
            self.refused += 1
            return None
        # Every customer the command changed has exactly one new audit entry, and no other
        # customer has any.
        new_entries = self.world.store.audit_log(after_seq=seq, limit=1_000_000)
        audited = [e.target_id for e in new_entries if e.target_kind == "customer"]
        changed = [cid for cid, v in self.versions().items() if v != versions[cid]]
        assert sorted(audited) == sorted(changed)
        return result

    def check_capacity_after_acquire(self, rep: str) -> None:
        rules = self.rules_in_force
        if rules.capacity:
            counted = self.book(rep).counted(
                exclude_won=rules.capacity_excludes_won,
                exclude_locked=rules.capacity_excludes_locked,
            )
            assert counted <= rules.capacity

    # -- operations -------------------------------------------------------------------------------
    @rule(rep=st.integers(0, 2), index=st.integers(0, 5))
    def claim(self, rep: int, index: int) -> None:
        principal, cid = REPS[rep], self.world.customers[index]
        before = self.customer(cid)
        now = self.world.clock.now()
        result = self.attempt(self.world.crm.pools.claim, principal, cid)
        event("claim succeeded" if result is not None else "claim refused")
        if result is None:
            return
        rules = self.rules_in_force
        assert before.owner_id is None
        day = local_day(now, TZ)
        self.claims_per_day[(str(principal.rep_id), day)] += 1
        if rules.daily_claim_limit:
            assert self.claims_per_day[(str(principal.rep_id), day)] <= rules.daily_claim_limit
        entered = before.pool_entered_at
        if rules.new_in_pool_cooldown and not rules.new_in_pool_cooldown.off:
            assert now >= deadline(entered, rules.new_in_pool_cooldown, timezone=TZ)
        cooldown = rules.reclaim_cooldown
        if before.previous_owner_id == principal.rep_id and cooldown and not cooldown.off:
            assert now >= deadline(entered, cooldown, timezone=TZ)
        self.check_capacity_after_acquire(str(principal.rep_id))

    @rule(rep=st.integers(0, 2), index=st.integers(0, 5))
    def assign(self, rep: int, index: int) -> None:
        target = REPS[rep].rep_id
        assert target is not None
        if self.attempt(self.world.crm.pools.assign, MANAGER, self.world.customers[index], target):
            self.check_capacity_after_acquire(target)

    @rule(rep=st.integers(0, 2), index=st.integers(0, 5), as_manager=st.booleans())
    def release(self, rep: int, index: int, as_manager: bool) -> None:
        who = MANAGER if as_manager else REPS[rep]
        self.attempt(self.world.crm.pools.release, who, self.world.customers[index], "test release")

    @rule(rep=st.integers(0, 2), index=st.integers(0, 5))
    def transfer(self, rep: int, index: int) -> None:
        target = REPS[rep].rep_id
        assert target is not None
        cid = self.world.customers[index]
        if self.attempt(self.world.crm.pools.transfer, MANAGER, cid, target, "rebalance"):
            self.check_capacity_after_acquire(target)

    @rule(index=st.integers(0, 5), locked=st.booleans())
    def lock(self, index: int, locked: bool) -> None:
        self.attempt(
            self.world.crm.pools.set_lock, MANAGER, self.world.customers[index], locked, "x"
        )

    @rule(rep=st.integers(0, 2), index=st.integers(0, 5))
    def follow_up(self, rep: int, index: int) -> None:
        self.attempt(self.world.crm.pools.log_follow_up, REPS[rep], self.world.customers[index])

    @rule(hours=st.integers(1, 60))
    def advance(self, hours: int) -> None:
        self.world.clock.advance(timedelta(hours=hours))

    @rule()
    def sweep(self) -> None:
        locked_before = {c for c in self.world.customers if self.customer(c).locked}
        report = self.world.crm.reclaim.sweep(SYSTEM)
        event(f"sweep reclaimed {min(len(report.reclaimed), 2)}+")
        assert not locked_before & set(report.reclaimed), "a locked customer was reclaimed"
        for cid in report.reclaimed:
            assert self.customer(cid).owner_id is None

    # -- invariants -------------------------------------------------------------------------------
    @invariant()
    def one_owner_and_consistent_books(self) -> None:
        customers = [self.customer(c) for c in self.world.customers]
        with self.world.crm.unit_of_work() as uow:
            owner_index = uow.customers.index_entries("owner", limit=1000)
        assert len({ident for _, ident in owner_index}) == len(owner_index)
        assert sorted(owner_index) == sorted(
            (c.owner_id, c.id) for c in customers if c.owner_id is not None
        )
        for principal in REPS:
            rep = str(principal.rep_id)
            assert attrs.evolve(self.book(rep), version=0) == expected_book(rep, customers)

    @invariant()
    def history_replays_to_the_current_owner(self) -> None:
        for cid in self.world.customers:
            owner = None
            for line in self.world.crm.pools.history(ADMIN, cid):
                assert line.from_rep == owner
                owner = line.to_rep
            assert owner == self.customer(cid).owner_id

    @invariant()
    def locked_customers_have_no_reclaim_date(self) -> None:
        for cid in self.world.customers:
            customer = self.customer(cid)
            if customer.locked:
                assert customer.reclaim_due_at is None


TestPoolRules = PoolMachine.TestCase
TestPoolRules.settings = settings(max_examples=40, stateful_step_count=30, deadline=None)
