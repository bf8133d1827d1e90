"""Old SQLite databases are refused until create_schema() migrates them, keeping their data
and their audit log (a single-chain log verifies as strand 0)."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from leadtocash import (
    AuditEntry,
    StorageError,
    prove_inclusion,
    verify_inclusion,
    verify_store_audit,
)
from leadtocash.ports import LEGACY_FORMAT, STRAND_FORMAT, Commit, RecordWrite, strand_of
from leadtocash_adapters import sqlite_store
from leadtocash_adapters.sqlite_store import SQLiteStore


def _version_one_database(path: Path) -> None:
    conn = sqlite3.connect(path)
    for statement in sqlite_store._MIGRATIONS[1]:
        conn.execute(statement)
    conn.execute(sqlite_store._SCHEMA_TABLE)
    conn.execute("INSERT INTO schema_version VALUES (1, 1, '2026-01-01T00:00:00Z')")
    conn.execute(
        "INSERT INTO records (kind, id, version, data) VALUES ('thing', 'old', 3, '{\"n\": 1}')"
    )
    conn.commit()
    conn.close()


def test_version_one_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "v1.sqlite3"
    _version_one_database(path)
    with pytest.raises(StorageError, match="create_schema"):
        SQLiteStore.open(path)
    store = SQLiteStore.open(path, create_schema=True)
    try:
        assert store.schema_version() == sqlite_store.SCHEMA_VERSION == 4
        session = store.session()
        old = session.load("thing", "old")
        assert old is not None
        assert (old.version, dict(old.data)) == (3, {"n": 1})
        session.commit(
            Commit([RecordWrite("thing", "old", 3, {"n": 2}, lookup_keys=frozenset({"k"}))])
        )
        session = store.session()
        assert session.find_by_key("thing", "k") == ["old"]
        session.close()
    finally:
        store.close()
    again = SQLiteStore.open(path, create_schema=True)  # idempotent
    assert again.schema_version() == 4
    again.close()


# A log recorded by the adapter at schema version 2, before audit strands: one global
# SHA-256 chain of 12 entries over 4 customers (tests/data/README.md says how it was made).
LEGACY_LOG = Path(__file__).parents[1] / "data" / "legacy_single_chain.sqlite3"
LEGACY_HEAD = "9588301b1456991c908143c48756897681c3417f4dd534bfe04d4b49085f77b2"


def test_a_recorded_single_chain_log_migrates_to_strand_zero_and_keeps_verifying(
    tmp_path: Path,
) -> None:
    path = tmp_path / "legacy.sqlite3"
    shutil.copyfile(LEGACY_LOG, path)
    with pytest.raises(StorageError, match="create_schema"):
        SQLiteStore.open(path)
    store = SQLiteStore.open(path, create_schema=True, strands=4)
    try:
        old = store.audit_log()
        assert len(old) == 12
        assert {(e.strand, e.format) for e in old} == {(0, LEGACY_FORMAT)}
        assert [e.strand_seq for e in old] == list(range(1, 13))
        assert old[-1].hash == LEGACY_HEAD
        assert verify_store_audit(store).ok
        # New entries go to their strands; those landing on strand 0 continue the old chain.
        targets = [f"cust-{n}" for n in range(8)]
        for n, target in enumerate(targets):
            entry = AuditEntry(
                id=f"new-{n}", at=datetime(2026, 2, 1, tzinfo=UTC), actor_id="rep1",
                action="pool.claim", target_kind="customer", target_id=target,
                after={"owner_id": "rep1"},
            )  # fmt: skip
            store.session().commit(Commit((), (entry,), ()))
        new = store.audit_log(after_seq=12)
        assert {e.format for e in new} == {STRAND_FORMAT}
        assert {e.strand for e in new} == {strand_of(f"customer:{t}", 4) for t in targets}
        on_zero = [e for e in new if e.strand == 0]
        assert on_zero, "the test needs a new entry on strand 0"
        assert on_zero[0].strand_seq == 13 and on_zero[0].prev_hash == LEGACY_HEAD
        digest = store.seal_digest()
        report = verify_store_audit(store)
        assert report.ok, report.faults
        # A legacy entry is proven through the legacy and new entries after it.
        first = old[0]
        proof = prove_inclusion(first, store.audit_strand(0, after=1), digest)
        assert verify_inclusion(first, proof)
        # An edit of a legacy entry is found at that entry.
        with store.raw_connection() as conn:
            conn.execute("UPDATE audit SET reason = 'edited' WHERE id = 'legacy-4'")
        fault = verify_store_audit(store).first_bad(0)
        assert fault is not None and (fault.strand_seq, fault.entry_id) == (5, "legacy-4")
    finally:
        store.close()
