"""Unit-of-work guarantees: atomic commit, rollback on error, optimistic versions, retries."""

from __future__ import annotations

import threading
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadtocash import ConcurrencyConflict, Customer, CustomerId, Tier
from leadtocash.app import UnitOfWork, run_with_retries
from leadtocash.testing import InMemoryStore, SequentialIds
from leadtocash.testing import strategies as strat


def _snapshot(store: InMemoryStore) -> tuple[Any, ...]:
    return (dict(store._rows), dict(store._unique), list(store._audit), dict(store._outbox))


class Boom(Exception):
    pass


@given(st.lists(strat.aggregates(), min_size=1, max_size=6, unique_by=lambda a: (type(a), a.id)))
def test_a_unit_of_work_that_raises_saves_nothing(batch: list[Any]) -> None:
    store, ids = InMemoryStore(), SequentialIds()
    with UnitOfWork(store, ids) as uow:
        uow.customers.add(Customer(id=CustomerId("seed"), name="seed", created_at=strat.T_EPOCH))
        uow.commit()
    before = _snapshot(store)

    def failing_command() -> None:
        with UnitOfWork(store, ids) as uow:
            for aggregate in batch:
                uow.repository(type(aggregate)).add(attrs.evolve(aggregate, version=0))
            seed = uow.customers.get("seed")
            uow.customers.save(attrs.evolve(seed, name="changed"))
            raise Boom

    with pytest.raises(Boom):
        failing_command()
    assert _snapshot(store) == before
    with UnitOfWork(store, ids) as uow:
        for aggregate in batch:
            uow.repository(type(aggregate)).add(attrs.evolve(aggregate, version=0))
        # leaving without commit() discards as well
    assert _snapshot(store) == before


@given(st.lists(st.booleans(), min_size=1, max_size=10))
def test_stale_commits_raise_and_save_nothing(stale_flags: list[bool]) -> None:
    store, ids = InMemoryStore(), SequentialIds()
    with UnitOfWork(store, ids) as uow:
        uow.customers.add(Customer(id=CustomerId("c"), name="v0", created_at=strat.T_EPOCH))
        uow.commit()
    expected_version = 1
    for n, stale in enumerate(stale_flags):
        with UnitOfWork(store, ids) as uow:
            current = uow.customers.get("c")
            if stale:
                with UnitOfWork(store, ids) as other:
                    other.customers.save(attrs.evolve(other.customers.get("c"), name=f"other{n}"))
                    other.commit()
                expected_version += 1
                before = _snapshot(store)
                uow.customers.save(attrs.evolve(current, name=f"mine{n}"))
                with pytest.raises(ConcurrencyConflict):
                    uow.commit()
                assert _snapshot(store) == before
            else:
                uow.customers.save(attrs.evolve(current, name=f"mine{n}"))
                uow.commit()
                expected_version += 1
    with UnitOfWork(store, ids) as uow:
        assert uow.customers.get("c").version == expected_version


def test_eight_threads_hammering_one_aggregate_lose_no_update() -> None:
    store, ids = InMemoryStore(), SequentialIds()
    with UnitOfWork(store, ids) as uow:
        uow.customers.add(Customer(id=CustomerId("c"), name="0", created_at=strat.T_EPOCH))
        uow.commit()
    successes = 0
    conflicts = 0
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def increment(uow: UnitOfWork) -> None:
        customer = uow.customers.get("c")
        uow.customers.save(attrs.evolve(customer, name=str(int(customer.name) + 1)))
        uow.commit()

    def on_conflict(_attempt: int) -> None:
        nonlocal conflicts
        with lock:
            conflicts += 1

    def worker() -> None:
        nonlocal successes
        barrier.wait()
        for _ in range(50):
            try:
                run_with_retries(
                    lambda: UnitOfWork(store, ids), increment, attempts=3, on_conflict=on_conflict
                )
            except ConcurrencyConflict:
                continue
            with lock:
                successes += 1

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with UnitOfWork(store, ids) as uow:
        final = uow.customers.get("c")
    assert final.version == successes + 1
    assert int(final.name) == successes
    assert successes > 0


def test_retries_are_bounded_and_surface_the_conflict() -> None:
    store, ids = InMemoryStore(), SequentialIds()
    calls = 0

    def always_conflicts(_uow: UnitOfWork) -> None:
        nonlocal calls
        calls += 1
        raise ConcurrencyConflict("simulated")

    with pytest.raises(ConcurrencyConflict):
        run_with_retries(lambda: UnitOfWork(store, ids), always_conflicts, attempts=4)
    assert calls == 4


def test_read_your_writes_inside_one_unit_of_work() -> None:
    store, ids = InMemoryStore(), SequentialIds()
    with UnitOfWork(store, ids) as uow:
        customer = Customer(id=CustomerId("c"), name="x", created_at=strat.T_EPOCH)
        uow.customers.add(customer)
        assert uow.customers.get("c") == customer
        with pytest.raises(ValueError, match="version 0"):
            uow.customers.add(attrs.evolve(customer, version=3))


def test_pages_show_this_unit_of_works_own_changes() -> None:
    store, ids = InMemoryStore(), SequentialIds()
    with UnitOfWork(store, ids) as uow:
        uow.customers.add(Customer(id=CustomerId("c"), name="old", created_at=strat.T_EPOCH))
        uow.commit()
    with UnitOfWork(store, ids) as uow:
        customer = uow.customers.get("c")
        uow.customers.save(attrs.evolve(customer, name="new"))
        page = uow.customers.get_many(["c", "missing"])
        assert [c.name for c in page] == ["new"]


class CountingStore(InMemoryStore):
    """The reference store, counting the read calls its sessions make."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def session(self) -> Any:
        inner = super().session()
        calls = self.calls

        class Counting:
            def __getattr__(self, name: str) -> Any:
                if name.startswith("load") or name.startswith("find"):
                    calls.append(name)
                return getattr(inner, name)

        return Counting()


def test_preload_reads_several_kinds_in_one_call_and_later_reads_use_it() -> None:
    from leadtocash import RepId, SalesRep
    from leadtocash.pool.book import RepBook

    store, ids = CountingStore(), SequentialIds()
    with UnitOfWork(store, ids) as uow:
        uow.customers.add(Customer(id=CustomerId("c"), name="x", created_at=strat.T_EPOCH))
        uow.reps.add(SalesRep(id=RepId("r"), name="r"))
        uow.commit()
    store.calls.clear()
    with UnitOfWork(store, ids) as uow:
        staged = Customer(id=CustomerId("new"), name="y", created_at=strat.T_EPOCH)
        uow.customers.add(staged)
        uow.preload(
            (Customer, "c"), (SalesRep, "r"), (RepBook, "r"), (Customer, "new"), (Customer, None)
        )
        assert store.calls == ["load_each"]
        assert uow.customers.get("c").name == "x"
        assert uow.reps.get("r").version == 1
        assert uow.customers.get("new") is staged  # staged changes win over the store
        assert store.calls == ["load_each"]  # served from the identity map
        # Missing from the store: remembered as missing, so neither a read nor another
        # preload asks again.
        assert uow.repository(RepBook).find("r") is None
        uow.preload((Customer, "c"), (SalesRep, "r"), (RepBook, "r"))  # nothing left to read
        assert store.calls == ["load_each"]
        # Staging it afterwards wins over the remembered absence.
        book = RepBook(RepId("r"))
        uow.repository(RepBook).add(book)
        assert uow.repository(RepBook).find("r") is book


def test_a_claim_reads_once_when_it_guesses_the_pool_and_twice_when_not() -> None:
    from leadtocash import LeadToCash, PoolRules, Principal, RepId, Role, RuleViolation, SalesRep
    from leadtocash.pool.book import OwnershipAction, OwnershipChange
    from leadtocash.testing import FakeClock

    store = CountingStore()
    crm = LeadToCash(store, FakeClock(strat.T_EPOCH), SequentialIds())
    admin = Principal("admin", roles=frozenset({Role.ADMIN}))
    rep = Principal("u1", roles=frozenset({Role.REP}), rep_id=RepId("r1"))
    pools = [crm.pools.create_pool(admin, n, rules=PoolRules(daily_claim_limit=2)) for n in "ab"]
    crm.reps.register(admin, SalesRep(id=RepId("r1"), name="r1"))
    customers = {
        (pool.id, n): crm.pools.add_customer(admin, f"co {pool.name}{n}", pool_id=pool.id).id
        for pool in pools
        for n in range(3)
    }

    def claim(pool_index: int, n: int) -> list[str]:
        store.calls.clear()
        crm.pools.claim(rep, customers[(pools[pool_index].id, n)])
        return list(store.calls)

    assert claim(0, 0) == ["load_each", "load_each"]  # nothing to guess from yet
    assert claim(0, 1) == ["load_each"]  # same pool: customer, pool and counters at once
    assert claim(1, 0) == ["load_each", "load_each"]  # another pool: the guess missed
    assert claim(1, 1) == ["load_each"]
    # The rules still hold whatever was guessed: pool a's daily limit of 2 is reached.
    store.calls.clear()
    with pytest.raises(RuleViolation):
        crm.pools.claim(rep, customers[(pools[0].id, 2)])
    with crm.unit_of_work() as uow:
        history = uow.repository(OwnershipChange).query("customer", limit=100).items
    assert sum(1 for c in history if c.action is OwnershipAction.CLAIM) == 4


def test_fields_of_reads_stored_fields_without_building_aggregates() -> None:
    store, ids = InMemoryStore(), SequentialIds()
    with UnitOfWork(store, ids) as uow:
        for ident, name in (("a", "甲公司"), ("b", "乙公司")):
            uow.customers.add(Customer(id=CustomerId(ident), name=name, created_at=strat.T_EPOCH))
        uow.commit()
    with UnitOfWork(store, ids) as uow:
        changed = attrs.evolve(uow.customers.get("b"), name="丙公司", tier=Tier.A)
        uow.customers.save(changed)  # staged: its own fields win over the stored ones
        assert uow.customers.fields_of(["b", "missing", "a"], ("id", "name", "tier", "nope")) == [
            ("b", "丙公司", "A", None),
            ("a", "甲公司", "D", None),
        ]
        assert ("customer", "a") not in uow._loaded  # read, not built
        assert uow.customers.fields_of([], ("id",)) == []
