"""The aggregate cache: reads skip cattrs only while the stored record is exactly the same.

What users rely on: a command never sees a stale aggregate, whoever changed the record (another
process or facade, a raw write to the database that kept the version), and an aggregate handed
out from the cache equals the one structured from the store, version included.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadtocash import LeadToCash, RandomIds, RuleViolation
from leadtocash.app.aggregates import spec_for
from leadtocash.app.cache import AggregateCache, with_version
from leadtocash.model import Customer
from leadtocash.ports.storage import StoredRecord
from leadtocash.serialization import structure, unstructure
from leadtocash.testing import FakeClock
from leadtocash.testing.strategies import AGGREGATE_STRATEGIES, aggregates
from leadtocash_adapters.sqlite_store import SQLiteStore
from pool_fixtures import START, make_world, rep_principal

REP1, REP2 = rep_principal(1), rep_principal(2)


def _record(aggregate: Any, version: int) -> StoredRecord:
    data = unstructure(aggregate)
    data.pop("version")
    return StoredRecord(spec_for(type(aggregate)).kind, str(aggregate.id), version, data)


@given(
    st.sampled_from(sorted(AGGREGATE_STRATEGIES, key=lambda t: t.__name__)).flatmap(
        lambda t: AGGREGATE_STRATEGIES[t]()
    ),
    st.integers(min_value=1, max_value=2**31),
)
def test_a_version_stamp_equals_evolve_for_every_aggregate(aggregate: Any, version: int) -> None:
    stamped = with_version(aggregate, version)
    assert type(stamped) is type(aggregate)
    assert stamped == attrs.evolve(aggregate, version=version)
    assert stamped.version == version


@given(aggregates(), st.integers(min_value=1, max_value=1000))
def test_a_cached_read_equals_the_structured_record(aggregate: Any, version: int) -> None:
    cache = AggregateCache()
    record = _record(aggregate, version)
    kind = record.kind
    assert cache.get(kind, record) is None  # nothing cached yet
    cache.put(kind, record.id, version, record.data, aggregate)  # as a commit primes it
    hit = cache.get(
        kind, StoredRecord(kind, record.id, version, json.loads(json.dumps(record.data)))
    )
    data = {**record.data, "version": version}
    assert hit == structure(data, type(aggregate)) and hit.version == version
    assert cache.get(kind, attrs.evolve(record, version=version + 1)) is None  # newer version


def test_a_record_changed_by_another_facade_is_read_afresh() -> None:
    world = make_world(customers=1)
    cid = world.customers[0]
    with world.crm.unit_of_work() as uow:  # this facade has read (and cached) the customer
        assert uow.customers.get(cid).owner_id is None
    other = LeadToCash(world.store, FakeClock(START), RandomIds())
    other.pools.claim(REP1, cid)  # another process claims it
    with pytest.raises(RuleViolation) as refused:
        world.crm.pools.claim(REP2, cid)
    assert refused.value.code == "pool.already_owned"


def test_a_raw_edit_that_keeps_the_version_is_not_masked(tmp_path: Path) -> None:
    store = SQLiteStore.open(tmp_path / "crm.db", create_schema=True)
    try:
        world = make_world(customers=1, store=store)  # type: ignore[arg-type]
        cid = world.customers[0]
        with world.crm.unit_of_work() as uow:
            before = uow.customers.get(cid)
        with store.raw_connection() as conn:  # same version, other document
            (text,) = conn.execute(
                "SELECT data FROM records WHERE kind = 'customer' AND id = ?", (cid,)
            ).fetchone()
            data = json.loads(text) | {"name": "改过的名字"}
            conn.execute(
                "UPDATE records SET data = ? WHERE kind = 'customer' AND id = ?",
                (json.dumps(data), cid),
            )
            conn.commit()
        with world.crm.unit_of_work() as uow:
            after = uow.customers.get(cid)
        assert (after.version, after.name) == (before.version, "改过的名字")
    finally:
        store.close()


def test_a_sqlite_store_parses_a_document_again_only_when_its_text_changed(
    tmp_path: Path,
) -> None:
    store = SQLiteStore.open(tmp_path / "crm.db", create_schema=True)
    try:
        world = make_world(customers=1, store=store)  # type: ignore[arg-type]
        cid = world.customers[0]
        session = store.session()
        first = session.load("customer", cid)
        again = session.load_each([("customer", cid)])[("customer", cid)]
        assert first is not None and again.data is first.data  # same text: same document
        with store.raw_connection() as conn:  # same version, other text
            conn.execute(
                "UPDATE records SET data = ? WHERE kind = 'customer' AND id = ?",
                (json.dumps({**first.data, "name": "改过的名字"}), cid),
            )
            conn.commit()
        edited = session.load_many("customer", [cid])[cid]
        session.close()
        assert edited.version == first.version and edited.data is not first.data
        assert edited.data == {**first.data, "name": "改过的名字"}
    finally:
        store.close()


def test_what_a_command_wrote_is_read_back_from_the_cache_with_its_stored_version() -> None:
    world = make_world(customers=1)
    cid = world.customers[0]
    claimed = world.crm.pools.claim(REP1, cid)
    cache = world.crm.ctx.cache
    hits = cache.hits
    with world.crm.unit_of_work() as uow:
        customer = uow.customers.get(cid)
    assert cache.hits == hits + 1
    stored = world.store._load("customer", cid)
    assert stored is not None
    assert customer == structure({**stored.data, "version": stored.version}, Customer)
    assert customer.version == stored.version == claimed.version


def test_the_cache_keeps_its_newest_entries_within_its_capacity() -> None:
    world = make_world(customers=3)
    records = [world.store._load("customer", cid) for cid in world.customers]
    cache = AggregateCache(capacity=2)
    for record in records:
        assert record is not None
        cache.put("customer", record.id, record.version, record.data, object())
    assert len(cache) == 2
    assert records[0] is not None
    assert cache.get("customer", records[0]) is None  # the oldest went first
    off = AggregateCache(capacity=0)
    off.put("customer", "x", 1, {}, object())
    assert len(off) == 0
    with pytest.raises(ValueError, match="capacity"):
        AggregateCache(capacity=-1)
