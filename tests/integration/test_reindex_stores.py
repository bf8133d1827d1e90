"""Reindexing a store after an upgrade (``crm.maintenance.reindex``) on memory, SQLite and
PostgreSQL.

Records written by an older version of the library lack index rows the current one reads: a
pool stored without its ``name`` index is missing from ``list_pools``, a customer stored
without its list indexes is missing from lists and name search. The flow writes such records
straight through the storage port (as the old version did), shows what the screens miss, then
reindexes in small batches: every record is found again, versions moved by one, data
unchanged, one audit entry per batch, and the audit log still verifies.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from leadtocash import LeadToCash, PermissionDenied, PoolId, Principal, RepId, Role, ZoneId
from leadtocash.app.auditing import verify_store_audit
from leadtocash.errors import ValidationError
from leadtocash.pool.rules import Pool
from leadtocash.ports import Store
from leadtocash.ports.storage import Commit, RecordWrite
from leadtocash.serialization import unstructure
from leadtocash.testing import FakeClock, InMemoryStore, SequentialIds
from store_flows import same_on_every_store

ADMIN = Principal("admin", roles=frozenset({Role.ADMIN}))
REP = Principal("u1", roles=frozenset({Role.REP}), rep_id=RepId("rep1"), zone_id=ZoneId("east"))
START = datetime(2026, 3, 6, 1, 0, tzinfo=UTC)


def _stale(store: Store, kind: str, ident: str, version: int, data: dict[str, Any]) -> None:
    """Write a record as an older library did: its document, none of today's indexes."""
    session = store.session()
    session.commit(Commit(writes=[RecordWrite(kind, ident, version, data)]))


def _versions(store: Store, kind: str) -> dict[str, int]:
    session = store.session()
    try:
        return {r.id: r.version for r in session.scan(kind, limit=1000)}
    finally:
        session.close()


def _flow(store: Store) -> dict[str, Any]:
    crm = LeadToCash(store, FakeClock(START), SequentialIds())
    pool = crm.pools.create_pool(ADMIN, "华东公海", zone_id=ZoneId("east"), pool_id=PoolId("e"))
    ids = [crm.pools.add_customer(ADMIN, f"远航{n}有限公司", pool_id=pool.id).id for n in range(5)]
    old_pool = unstructure(Pool(PoolId("old"), "旧公海", zone_id=ZoneId("east")))
    old_pool.pop("version")
    _stale(store, "pool", "old", 0, old_pool)
    session = store.session()
    stored = session.load("customer", ids[2])
    session.close()
    assert stored is not None
    _stale(store, "customer", ids[2], stored.version, dict(stored.data))  # indexes dropped

    def seen() -> dict[str, Any]:
        return {
            "pools": [p.id for p in crm.pools.list_pools(ADMIN)],
            "listed": sorted(c.id for c in crm.customers.list(REP, limit=100).items),
            "count": crm.customers.count(REP),
            "searched": sorted(c.id for c in crm.customers.search(REP, "远航").items),
        }

    before, versions = seen(), _versions(store, "customer")
    audit_before = len(store.audit_log(limit=10_000))
    report = crm.maintenance.reindex(ADMIN, kinds=["pool", "customer"], batch=2)
    after, versions_after = seen(), _versions(store, "customer")
    entries = store.audit_log(limit=10_000)[audit_before:]
    again = crm.maintenance.reindex(ADMIN, kinds=["customer"], batch=1000)
    return {
        "before": before,
        "after": after,
        "report": dict(report.records),
        "versions_moved": {i: versions_after[i] - versions[i] for i in versions},
        "audit": [(e.action, e.target_kind, e.target_id, e.after) for e in entries],
        "again": again.total,
        "verified": verify_store_audit(store).ok,
        "ids": ids,
    }


def _check(figures: dict[str, Any]) -> None:
    ids = figures["ids"]
    before, after = figures["before"], figures["after"]
    assert before["pools"] == ["e"]  # the pool stored without its name index is missing
    assert ids[2] not in before["listed"] and ids[2] not in before["searched"]
    assert before["count"] == 4
    assert after == {"pools": ["e", "old"], "listed": ids, "count": 5, "searched": ids}
    assert figures["report"] == {"pool": 2, "customer": 5}
    assert set(figures["versions_moved"].values()) == {1}
    batches = [e for e in figures["audit"] if e[0] == "store.reindex"]
    assert [(b[1], b[2], b[3]["records"]) for b in batches] == [
        ("store", "pool", 2), ("store", "customer", 2), ("store", "customer", 2),
        ("store", "customer", 1),
    ]  # fmt: skip
    assert len(batches) == len(figures["audit"])
    assert figures["again"] == 5
    assert figures["verified"]


reference, test_reindex_on_sqlite, pg_store, test_reindex_on_postgres = same_on_every_store(
    _flow, _check, "reindex"
)


def test_reindex_is_for_admins_and_refuses_bad_input_before_writing() -> None:
    store = InMemoryStore()
    crm = LeadToCash(store, FakeClock(START), SequentialIds())
    crm.pools.create_pool(ADMIN, "华东公海", zone_id=ZoneId("east"), pool_id=PoolId("e"))
    state = (dict(store._rows), len(store._audit))
    with pytest.raises(PermissionDenied) as denied:
        crm.maintenance.reindex(REP)
    assert denied.value.code == "auth.permission_denied"
    with pytest.raises(ValidationError) as bad:
        crm.maintenance.reindex(ADMIN, kinds=["pool", "nope"], batch=0)
    assert bad.value.paths == ("kinds[1]", "batch")
    assert (dict(store._rows), len(store._audit)) == state
    assert crm.maintenance.reindex(ADMIN).records["pool"] == 1
