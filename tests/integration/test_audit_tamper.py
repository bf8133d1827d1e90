"""Tampering with a stored audit log, row by row in the database, on SQLite and PostgreSQL:
an edit, a deletion, a reordering, a truncated strand, a dropped strand and a forged digest
are each found and named (strand, entry); an untouched log verifies."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

from leadtocash import AuditEntry, AuditReport, verify_store_audit
from leadtocash.ports import Commit, Store, make_digest, seal_entries
from leadtocash_adapters.sqlite_store import SQLiteStore
from pg_schemas import private_store

STRANDS = 4
T0 = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)


@attrs.frozen
class Engine:
    store: Store
    execute: Callable[..., Any]  # (sql with {audit}/{digests} and %s/? placeholders, params)


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        store = SQLiteStore.open(tmp_path / "tamper.sqlite3", create_schema=True, strands=STRANDS)

        def run_sqlite(text: str, params: tuple[Any, ...] = ()) -> list[Any]:
            text = text.format(audit="audit", digests="audit_digests").replace("%s", "?")
            with store.raw_connection() as conn:
                return conn.execute(text, params).fetchall()

        try:
            yield Engine(store, run_sqlite)
        finally:
            store.close()
        return
    dsn: str = request.getfixturevalue("pg_dsn")
    with private_store(dsn, "ltc_tamper", strands=STRANDS) as (pg, schema):

        def run_pg(text: str, params: tuple[Any, ...] = ()) -> list[Any]:
            text = text.format(audit=f'"{schema}".audit_log', digests=f'"{schema}".audit_digests')
            with pg.raw_connection() as conn:
                cursor = conn.execute(text, params)
                return cursor.fetchall() if cursor.description else []

        yield Engine(pg, run_pg)


def _fill(store: Store) -> int:
    """8 customers x 3 changes, some commits spanning strands, then a digest; the strand that
    holds the most entries (at least 3)."""
    for n in range(24):
        targets = [f"cust-{n % 8}"] + ([f"cust-{(n + 3) % 8}"] if n % 5 == 0 else [])
        audit = tuple(
            AuditEntry(
                id=f"e{n}-{t}",
                at=T0 + timedelta(seconds=n),
                actor_id="rep1",
                action="pool.claim",
                target_kind="customer",
                target_id=t,
                before={"owner_id": None},
                after={"owner_id": "rep1", "名": "华为"},
            )
            for t in targets
        )
        store.session().commit(Commit((), audit, ()))
    store.seal_digest()
    sizes = {s: len(store.audit_strand(s)) for s in range(STRANDS)}
    strand = max(sizes, key=lambda s: sizes[s])
    assert sizes[strand] >= 3
    return strand


def _ids(store: Store, strand: int) -> list[str]:
    return [e.id for e in store.audit_strand(strand, limit=10_000)]


def _fault(report: AuditReport, strand: int) -> tuple[int | None, str | None, str]:
    fault = report.first_bad(strand)
    assert fault is not None, f"strand {strand} verified after tampering: {report}"
    return fault.strand_seq, fault.entry_id, fault.problem


def test_an_untouched_log_verifies(engine: Engine) -> None:
    _fill(engine.store)
    report = verify_store_audit(engine.store)
    assert report.ok, report.faults
    assert report.entries == 29
    assert report.digests == 1


def test_an_edited_entry_is_named(engine: Engine) -> None:
    strand = _fill(engine.store)
    victim = _ids(engine.store, strand)[1]
    engine.execute("UPDATE {audit} SET reason = 'edited' WHERE id = %s", (victim,))
    report = verify_store_audit(engine.store)
    assert _fault(report, strand)[:2] == (2, victim)
    assert [f.strand for f in report.faults] == [strand]


def test_an_edit_rehashed_down_the_strand_is_caught_by_the_digest(engine: Engine) -> None:
    strand = _fill(engine.store)
    entries = engine.store.audit_strand(strand)
    forged = [attrs.evolve(entries[0], reason="rewritten"), *entries[1:]]
    resealed, _ = seal_entries(forged, strands=STRANDS, heads={})
    for entry in resealed:
        engine.execute(
            "UPDATE {audit} SET reason = %s, prev_hash = %s, hash = %s WHERE id = %s",
            (entry.reason, entry.prev_hash, entry.hash, entry.id),
        )
    seq, ident, problem = _fault(verify_store_audit(engine.store), strand)
    assert (seq, ident) == (len(entries), entries[-1].id)
    assert "digest 1" in problem


def test_a_deleted_entry_is_named(engine: Engine) -> None:
    strand = _fill(engine.store)
    ids = _ids(engine.store, strand)
    engine.execute("DELETE FROM {audit} WHERE id = %s", (ids[1],))
    seq, ident, problem = _fault(verify_store_audit(engine.store), strand)
    assert (seq, ident) == (2, ids[2])  # entry #2 is missing: #3 stands where it belongs
    assert "expected entry #2" in problem


def test_reordered_entries_are_named(engine: Engine) -> None:
    strand = _fill(engine.store)
    ids = _ids(engine.store, strand)
    swap = "UPDATE {audit} SET strand_seq = %s WHERE id = %s"
    engine.execute(swap, (-1, ids[0]))
    engine.execute(swap, (1, ids[1]))
    engine.execute(swap, (2, ids[0]))
    seq, ident, _ = _fault(verify_store_audit(engine.store), strand)
    assert (seq, ident) == (1, ids[1])


def test_a_truncated_strand_is_named(engine: Engine) -> None:
    strand = _fill(engine.store)
    ids = _ids(engine.store, strand)
    engine.execute("DELETE FROM {audit} WHERE id = %s", (ids[-1],))
    seq, ident, problem = _fault(verify_store_audit(engine.store), strand)
    assert (seq, ident) == (len(ids), None)
    assert "truncated" in problem


def test_a_dropped_strand_is_named(engine: Engine) -> None:
    strand = _fill(engine.store)
    engine.execute("DELETE FROM {audit} WHERE strand = %s", (strand,))
    report = verify_store_audit(engine.store)
    seq, _, problem = _fault(report, strand)
    assert seq == 1
    assert "dropped" in problem
    assert [f.strand for f in report.faults] == [strand]


def test_a_forged_digest_is_named(engine: Engine) -> None:
    _fill(engine.store)
    engine.execute("UPDATE {digests} SET root = %s WHERE seq = 1", ("f" * 64,))
    report = verify_store_audit(engine.store)
    assert [(f.digest, f.strand) for f in report.faults] == [(1, None)]
    assert "forged" in report.faults[0].problem


def test_a_consistently_forged_digest_still_disagrees_with_the_strand(engine: Engine) -> None:
    strand = _fill(engine.store)
    (digest,) = engine.store.audit_digests()
    tips = list(digest.tips)
    tips[strand] = attrs.evolve(tips[strand], hash="a" * 64)
    forged = make_digest(tips)
    engine.execute(
        "UPDATE {digests} SET tips = %s, root = %s, hash = %s WHERE seq = 1",
        (
            "[" + ",".join(f'[{t.seq},"{t.hash}"]' for t in forged.tips) + "]",
            forged.root,
            forged.hash,
        ),
    )
    report = verify_store_audit(engine.store)
    assert [f.strand for f in report.faults] == [strand]
    assert "digest 1" in _fault(report, strand)[2]


@pytest.mark.parametrize("engine_name", ["memory", "sqlite"])
def test_a_digest_is_sealed_every_n_audited_commits(engine_name: str, tmp_path: Path) -> None:
    from leadtocash.testing import InMemoryStore

    store: Store = (
        InMemoryStore(strands=STRANDS, digest_every=3)
        if engine_name == "memory"
        else SQLiteStore.open(
            tmp_path / "every.sqlite3", create_schema=True, strands=STRANDS, digest_every=3
        )
    )
    try:
        for n in range(7):
            entry = AuditEntry(
                id=f"e{n}", at=T0, actor_id="rep1", action="pool.claim",
                target_kind="customer", target_id=f"cust-{n}",
            )  # fmt: skip
            store.session().commit(Commit((), (entry,), ()))
        store.session().commit(Commit((), (), ()))  # unaudited: not counted
        digests = store.audit_digests()
        assert [d.seq for d in digests] == [1, 2]
        assert sum(t.seq for t in digests[-1].tips) == 6
        assert verify_store_audit(store).ok
    finally:
        store.close()
