"""The customer write path's shortcuts give what the plain computation gives.

Each shortcut skips work whose result is known from its inputs; these properties compare the
shortcut with the plain computation on random inputs, so a shortcut that changed behaviour
fails here.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from leadtocash.app.allocation import AllocationService
from leadtocash.classification import TierRules, classify
from leadtocash.classification.facts import facts_of
from leadtocash.durations import Duration
from leadtocash.errors import RuleViolation
from leadtocash.model import Customer, RepId
from leadtocash.pool.book import RepBook, book_place
from leadtocash.pool.rules import PoolRules, TierDurations
from leadtocash.settings import OrganisationSettings
from leadtocash.testing.strategies import customers, deletions, rep_books, utc_datetimes
from pool_fixtures import MANAGER, SYSTEM, World, make_world, rep_principal

REQUIRED = OrganisationSettings().required_fields.entities.get("customer")

REPS = st.sampled_from([RepId("rep1"), RepId("rep2")])


@st.composite
def book_moves(draw: st.DrawFn) -> tuple[Customer, Customer]:
    """A customer before and after a change of owner, won, locked or deletion (or none)."""
    before = draw(customers())
    before = attrs.evolve(before, owner_id=draw(st.none() | REPS), won=draw(st.booleans()))
    after = attrs.evolve(
        before,
        owner_id=draw(st.sampled_from([before.owner_id, None, RepId("rep1"), RepId("rep2")])),
        won=draw(st.sampled_from([before.won, not before.won])),
        locked=draw(st.sampled_from([before.locked, not before.locked])),
        deleted=draw(st.sampled_from([before.deleted, None]) | deletions()),
    )
    return before, after


def plain_rebook(
    books: dict[RepId, RepBook], before: Customer | None, after: Customer
) -> dict[RepId, RepBook]:
    """The books after the change, every affected book adjusted (no shortcut)."""
    out = dict(books)
    if before is not None and before.owner_id is not None and before.deleted is None:
        out[before.owner_id] = out[before.owner_id].adjust(before, -1)
    if after.owner_id is not None and after.deleted is None:
        out[after.owner_id] = out[after.owner_id].adjust(after, +1)
    return out


@given(book_moves(), rep_books(), rep_books())
def test_a_change_keeping_the_book_place_keeps_every_book(
    move: tuple[Customer, Customer], one: RepBook, two: RepBook
) -> None:
    before, after = move
    rep1, rep2 = RepId("rep1"), RepId("rep2")
    books = {rep1: attrs.evolve(one, id=rep1), rep2: attrs.evolve(two, id=rep2)}
    rebooked = plain_rebook(books, before, after)
    if book_place(before) == book_place(after):
        assert rebooked == books
    else:
        assert rebooked != books


@given(customers())
def test_a_new_customer_moves_books_only_when_it_has_an_owner(customer: Customer) -> None:
    counted = customer.owner_id is not None and customer.deleted is None
    assert (book_place(None) != book_place(customer)) is counted


@given(customers(), utc_datetimes())
def test_the_next_tier_is_explained_as_checking_every_rule_would(
    customer: Customer, now: datetime
) -> None:
    rules = TierRules()
    found = classify(customer, customer.signals, rules, now, requirements=REQUIRED)
    facts = facts_of(customer, customer.signals, now, timezone="Asia/Shanghai")
    assert found.tier is rules.first_match(facts).tier
    every = [(r, tuple(c for c in r.check(facts) if not c.met)) for r in rules.rules]
    candidates = [(r, unmet) for r, unmet in every if r.tier is found.next_tier]
    if candidates:
        assert (found.next_rule, found.missing) == min(candidates, key=lambda p: len(p[1]))
    else:
        assert (found.next_rule, found.missing) == (None, ())


def _swept_store(owners: list[int], warn_days: int, days: int, *, preload: bool) -> object:
    """A pool world whose customers ``owners[i]`` (rep number, 0: none) own, swept after
    ``days`` days; what its store holds afterwards (records, indexes, audit, outbox)."""
    import leadtocash.app.reclaim as reclaim_module

    rules = PoolRules(
        no_follow_up=TierDurations(Duration.days(7)), warn_before=Duration.days(warn_days)
    )
    world = make_world(rules, customers=len(owners))
    for cid, owner in zip(world.customers, owners, strict=True):
        if owner:
            world.crm.pools.claim(rep_principal(owner), cid)
    world.clock.advance(timedelta(days=days))
    skip = {"_preload_customers": None, "_preload_reclaims": None}
    saved = {name: getattr(reclaim_module, name) for name in skip}
    try:
        if not preload:
            for name in skip:
                setattr(reclaim_module, name, lambda uow, ids: None)
        report = world.crm.reclaim.sweep(SYSTEM, chunk=3)
    finally:
        for name, value in saved.items():
            setattr(reclaim_module, name, value)
    return report, _store_state(world)


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=1, max_size=7), st.integers(1, 3), st.integers(4, 9))
def test_a_sweep_reading_its_chunks_ahead_stores_what_one_reading_each_stores(
    owners: list[int], warn_days: int, days: int
) -> None:
    plain = _swept_store(owners, warn_days, days, preload=False)
    assert _swept_store(owners, warn_days, days, preload=True) == plain


def _store_state(world: World) -> object:
    """What a world's store holds (records, indexes, audit entries without salts, outbox)."""
    store = world.store
    return (
        {key: (row.version, row.text, row.indexes) for key, row in store._rows.items()},
        {key: list(entries) for key, entries in store._indexes.items()},
        [  # salts are random: entries compared without them and the hashes they change
            (e.id, e.at, e.action, e.target_id, e.before, e.after, e.reason)
            for e in store.audit_log(limit=10_000)
        ],
        store.outbox_due(world.clock.now() + timedelta(days=1), limit=10_000),
    )


def _allocated_store(owners: list[int], capacity: int, seed: int, *, preload: bool) -> object:
    """A pool world whose customers ``owners[i]`` own (0: in the pool), after the manager
    allocates every pool customer (fair policy, ``seed``) under ``capacity``."""
    world = make_world(PoolRules(capacity=capacity), customers=len(owners))
    waiting = []
    for cid, owner in zip(world.customers, owners, strict=True):
        try:
            if owner:
                world.crm.pools.claim(rep_principal(owner), cid)
                continue
        except RuleViolation:  # the rep's book is full: the customer stays in the pool
            pass
        waiting.append(cid)
    real = AllocationService._preload
    try:
        if not preload:
            AllocationService._preload = lambda *args: None  # type: ignore[method-assign]
        report = world.crm.allocation.allocate(MANAGER, world.pool_id, waiting, seed=seed)
    finally:
        AllocationService._preload = real  # type: ignore[method-assign]
    return report, _store_state(world)


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=1, max_size=7), st.integers(1, 3), st.integers(0, 9))
def test_an_allocation_reading_ahead_stores_what_one_reading_each_stores(
    owners: list[int], capacity: int, seed: int
) -> None:
    plain = _allocated_store(owners, capacity, seed, preload=False)
    assert _allocated_store(owners, capacity, seed, preload=True) == plain
