"""Eight threads claiming from one pool: no double ownership, no cap overrun, bounded retries."""

from __future__ import annotations

import threading
from collections import Counter

import attrs

from leadtocash import ConcurrencyConflict, RuleViolation
from leadtocash.app import PoolService
from leadtocash.pool.book import OwnershipAction
from leadtocash.pool.rules import PoolRules
from leadtocash.ports import Commit
from leadtocash.testing import InMemoryStore
from pool_fixtures import ADMIN, make_world, rep_principal


def test_eight_threads_claiming_never_double_own_or_overrun_caps() -> None:
    rules = PoolRules(daily_claim_limit=15, capacity=12)
    world = make_world(rules, reps=8, customers=150)
    outcomes: Counter[str] = Counter()
    won: dict[str, list[str]] = {}
    lock = threading.Lock()
    barrier = threading.Barrier(8)
    unexpected: list[BaseException] = []

    def worker(n: int) -> None:
        principal = rep_principal(n)
        mine: list[str] = []
        barrier.wait()
        # Every thread walks the same customers in a rotated order: maximal contention.
        order = world.customers[n * 7 :] + world.customers[: n * 7]
        for cid in order:
            try:
                world.crm.pools.claim(principal, cid)
                mine.append(cid)
                result = "claimed"
            except RuleViolation as exc:
                result = exc.code
            except ConcurrencyConflict:
                result = "conflict_exhausted"
            except BaseException as exc:
                unexpected.append(exc)
                return
            with lock:
                outcomes[result] += 1
        with lock:
            won[str(principal.rep_id)] = mine

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(1, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert unexpected == []
    all_claimed = [cid for claims in won.values() for cid in claims]
    assert len(all_claimed) == len(set(all_claimed)), "a customer was claimed twice"
    assert all(len(claims) <= 12 for claims in won.values()), "capacity overrun"
    for cid in all_claimed:
        history = world.crm.pools.history(ADMIN, cid)
        assert [h.action for h in history] == [OwnershipAction.CLAIM]
        owner = world.crm.pools.get_customer(ADMIN, cid).owner_id
        assert owner is not None and cid in won[owner]
    assert outcomes["claimed"] == len(all_claimed) == 8 * 12
    assert outcomes["pool.already_owned"] > 0
    assert outcomes["claimed"] + sum(v for k, v in outcomes.items() if k != "claimed") == 8 * 150


class GatedStore(InMemoryStore):
    """A real in-memory store whose commits wait at a barrier once armed: forces a race."""

    gate: threading.Barrier | None = None

    def _commit(self, commit: Commit) -> None:
        if self.gate is not None:
            self.gate.wait(timeout=5)
        super()._commit(commit)


def test_exhausted_retries_surface_as_concurrency_conflict() -> None:
    store = GatedStore()
    world = make_world(customers=1, store=store)
    # One attempt only: the loser of the race must see ConcurrencyConflict, not a silent
    # overwrite and not a second owner.
    service = PoolService(attrs.evolve(world.crm.ctx, max_attempts=1))
    store.gate = threading.Barrier(2)
    results: list[str] = []

    def worker(n: int) -> None:
        try:
            service.claim(rep_principal(n), world.customers[0])
            results.append("claimed")
        except ConcurrencyConflict:
            results.append("conflict")

    threads = [threading.Thread(target=worker, args=(n,)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["claimed", "conflict"]
    store.gate = None
    assert len(world.crm.pools.history(ADMIN, world.customers[0])) == 1
