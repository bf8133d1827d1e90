"""The PostgreSQL adapter on a real server: killed writers, schema calls, driver errors, races."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from leadtocash import (
    AuditEntry,
    ConcurrencyConflict,
    DuplicateKey,
    StorageError,
    StorageUnavailable,
    verify_audit_chain,
)
from leadtocash.audit import strand_of
from leadtocash.ports import Commit, IndexQuery, RecordWrite, StoredRecord
from leadtocash.testing import StoreConformance
from leadtocash_adapters.postgres_store import SCHEMA_VERSION, PostgresStore
from pg_schemas import expression_indexes

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)

# Several threads commit in a loop; each id is printed only after its commit returned. Every
# commit inserts one item (index entry + unique key), bumps the shared counter (so conflicts
# and retries happen all the time), seals one audit entry and queues one outbox message.
WRITER = textwrap.dedent(
    """
    import sys
    import threading
    from datetime import UTC, datetime, timedelta

    from leadtocash import AuditEntry, ConcurrencyConflict
    from leadtocash.ports import Commit, OutboxMessage, RecordWrite
    from leadtocash_adapters.postgres_store import PostgresStore

    dsn, schema, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
    store = PostgresStore.connect(dsn, schema=schema, min_size=workers, max_size=workers)
    T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    printing = threading.Lock()

    def work(worker):
        n = 0
        while True:
            ident = f"item-{worker}-{n:05d}"
            bucket, key = f"b{n % 7}", f"key:{ident}"
            lookups = sorted({f"phone:{n % 5}", f"worker:{worker}"})
            data = {"n": n, "big": 2**60 + n, "名": "华为", "indexes": {"bucket": bucket},
                    "keys": [key], "lookups": lookups}
            while True:
                session = store.session()
                try:
                    counter = session.load("counter", "total")
                    at = T0 + timedelta(microseconds=n)
                    session.commit(Commit(
                        [RecordWrite("item", ident, 0, data, {"bucket": bucket},
                                     frozenset({key}), frozenset(lookups)),
                         RecordWrite("counter", "total", counter.version,
                                     {"n": counter.data["n"] + 1, "indexes": {}, "keys": []})],
                        [AuditEntry(id=f"audit-{ident}", at=at, actor_id=f"w{worker}",
                                    action="item.add", target_kind="item", target_id=ident,
                                    after={"n": n, "名": "华为"})],
                        [OutboxMessage(id=f"msg-{ident}", topic="item.added",
                                       payload={"id": ident}, created_at=at,
                                       idempotency_key=ident)],
                    ))
                    break
                except ConcurrencyConflict:
                    continue
                finally:
                    session.close()
            with printing:
                print(ident, flush=True)
            n += 1

    threads = [threading.Thread(target=work, args=(w,), daemon=True) for w in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    """
)


# -- fixtures and helpers ---------------------------------------------------------------------
def _drop(dsn: str, schema: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def schema(pg_dsn: str) -> Iterator[str]:
    """A fresh, private schema name (tables not created), dropped after the test."""
    name = f"ltc_durability_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        yield name
    finally:
        _drop(pg_dsn, name)


@pytest.fixture
def store(pg_dsn: str, schema: str) -> Iterator[PostgresStore]:
    """A store with its tables created in the private schema."""
    made = PostgresStore.connect(pg_dsn, schema=schema, create_schema=True, max_size=12)
    try:
        yield made
    finally:
        made.close()


_commit = StoreConformance.commit


def _version(store: PostgresStore, kind: str, ident: str) -> int:
    return StoreConformance.version(store, ident, kind)


def _tagged(kind: str, ident: str, version: int, n: int, bucket: str | None,
            keys: Sequence[str], lookups: Sequence[str] = ()) -> RecordWrite:  # fmt: skip
    """A write whose data names its own index values and keys, so storage can be checked."""
    indexes = {} if bucket is None else {"bucket": bucket}
    data = {"n": n, "indexes": indexes, "keys": sorted(keys), "lookups": sorted(lookups)}
    return RecordWrite(
        kind, ident, version, data, {"bucket": bucket}, frozenset(keys), frozenset(lookups)
    )


def _assert_consistent(dsn: str, schema: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Every record's index values and keys are exactly what its data says; no orphans.

    Returns all records' data by (kind, id).
    """
    s = sql.Identifier(schema)
    with psycopg.connect(dsn, autocommit=True) as conn, conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        rows = conn.execute(
            sql.SQL("SELECT kind, id, data, indexes, lookups, keys FROM {}.records").format(s)
        ).fetchall()
        records = {(kind, ident): data for kind, ident, data, *_ in rows}
        copies = {(kind, ident): copy for kind, ident, _, *copy in rows}
        keys: dict[str, dict[tuple[str, str], list[str]]] = {"keys": {}, "lookups": {}}
        for table, found in (("unique_keys", keys["keys"]), ("lookup_keys", keys["lookups"])):
            for kind, key, ident in conn.execute(
                sql.SQL("SELECT kind, key, id FROM {}.{} ORDER BY key").format(
                    s, sql.Identifier(table)
                )
            ).fetchall():
                found.setdefault((kind, ident), []).append(key)
    for field, held in keys.items():
        assert set(held) <= set(records), f"{field} held by records that do not exist"
        for slot, data in records.items():
            assert held.get(slot, []) == data.get(field, []), (field, slot)
    for slot, data in records.items():
        # The row's own copies (its index values are what queries read) agree with its data
        # and, for the keys, with the key tables.
        wanted = [data["indexes"], data.get("lookups", []), data.get("keys", [])]
        assert copies[slot] == wanted, slot
    return records


# -- (1) a writer killed mid-transaction --------------------------------------------------------
_BACKENDS = "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
WRITING = " AND backend_xid IS NOT NULL"  # in a transaction that has written rows
LOCK_WAITING = " AND wait_event_type = 'Lock'"


def _backends(dsn: str, application: str, condition: str = "") -> int:
    """How many server backends of ``application`` match ``condition``."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(_BACKENDS + condition, (application,)).fetchone()
    return 0 if row is None else int(row[0])


def _single_connection_store(
    dsn: str, store: PostgresStore, prefix: str
) -> tuple[PostgresStore, str]:
    """A second store on ``store``'s schema with one pooled connection, and the unique
    ``application_name`` that finds its backend in ``pg_stat_activity``."""
    application = f"{prefix}-{uuid.uuid4().hex[:8]}"
    conninfo = make_conninfo(dsn, application_name=application)
    return PostgresStore.connect(conninfo, schema=store.schema, min_size=1, max_size=1), application


def _wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.005)
    return condition()


@pytest.mark.slow
def test_writer_killed_mid_transaction_loses_nothing_committed(
    pg_dsn: str, store: PostgresStore, tmp_path: Path
) -> None:
    _commit(store, RecordWrite("counter", "total", 0, {"n": 0, "indexes": {}, "keys": []}))
    application = f"ltc-kill-{uuid.uuid4().hex[:8]}"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "examples"), str(ROOT / "src"), env.get("PYTHONPATH", "")]
    )
    errors = (tmp_path / "writer.err").open("w")
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, make_conninfo(pg_dsn, application_name=application),
         store.schema, "3"],
        stdout=subprocess.PIPE, stderr=errors, text=True, env=env,
    )  # fmt: skip
    assert child.stdout is not None
    reported: list[str] = []

    def read() -> None:
        assert child.stdout is not None
        reported.extend(line.strip() for line in child.stdout)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        progressed = _wait_for(lambda: len(reported) >= 40, 60)
        assert progressed, (tmp_path / "writer.err").read_text()
        # Kill while some writer transaction is open (has written rows, not yet committed).
        caught = _wait_for(lambda: _backends(pg_dsn, application, WRITING) > 0, 10)
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=30)
    reader.join(timeout=30)
    errors.close()
    assert child.returncode == -signal.SIGKILL
    assert caught, "never saw an open writer transaction to kill"
    # The server rolls back the orphaned transactions once it notices the dead client.
    assert _wait_for(lambda: _backends(pg_dsn, application) == 0, 30)

    records = _assert_consistent(pg_dsn, store.schema)
    items = {ident for kind, ident in records if kind == "item"}
    assert set(reported) <= items, "a commit reported as done is missing"
    assert len(items) >= len(reported) >= 40
    for ident in items:
        assert records[("item", ident)]["big"] == 2**60 + records[("item", ident)]["n"]
    assert records[("counter", "total")]["n"] == len(items)  # both writes or neither
    log = store.audit_log(limit=100_000)
    assert verify_audit_chain(log) is None
    assert sorted(e.target_id for e in log) == sorted(items)
    assert all(e.after is not None and e.after["名"] == "华为" for e in log)
    outbox = store.outbox_due(T0 + timedelta(days=1), limit=100_000)
    assert sorted(m.idempotency_key for m in outbox) == sorted(items)
    bucketed: list[str] = []
    cursor: tuple[str, str] | None = None
    session = store.session()
    try:
        while page := session.query(IndexQuery("item", "bucket", after=cursor, limit=50)):
            bucketed.extend(ident for _, ident in page)
            cursor = page[-1]
        assert sorted(bucketed) == sorted(items)
        for ident in reported[:10]:
            assert session.find_unique("item", f"key:{ident}") == ident
    finally:
        session.close()
    # The store still works after the crash: the next commit extends the same chain.
    session = store.session()
    counter = session.load("counter", "total")
    assert counter is not None
    audit = AuditEntry(id="after-crash", at=T0, actor_id="t", action="a", target_kind="counter",
                       target_id="total")  # fmt: skip
    session.commit(
        Commit([RecordWrite("counter", "total", counter.version, counter.data)], (audit,))
    )
    log = store.audit_log(limit=100_000)
    assert log[-1].id == "after-crash"
    assert verify_audit_chain(log) is None


# -- (2) schema management ------------------------------------------------------------------------
def test_create_schema_is_idempotent_and_keeps_data(pg_dsn: str, schema: str) -> None:
    with pytest.raises(StorageError, match="create_schema"):
        PostgresStore.connect(pg_dsn, schema=schema)  # no tables yet
    first = PostgresStore.connect(pg_dsn, schema=schema, create_schema=True)
    try:
        _commit(first, _tagged("thing", "a", 0, 1, "p1", ["k1"]))
        first.create_schema()
        first.create_schema()
        assert first.schema_version() == SCHEMA_VERSION
    finally:
        first.close()
    with PostgresStore.connect(pg_dsn, schema=schema, create_schema=True) as second:
        assert _version(second, "thing", "a") == 1
        session = second.session()
        assert session.find_unique("thing", "k1") == "a"
        assert session.query(IndexQuery("thing", "bucket")) == [("p1", "a")]
    _assert_consistent(pg_dsn, schema)


def test_create_schema_migrates_an_older_schema(pg_dsn: str, store: PostgresStore) -> None:
    _commit(store, _tagged("thing", "a", 0, 1, "p1", ["k1"]))
    with store.raw_connection() as conn:  # make it look like a version 1 schema
        s = sql.Identifier(store.schema)
        _restore_index_entries(conn, s)
        conn.execute(sql.SQL("DROP TABLE {}.lookup_keys").format(s))
        conn.execute(sql.SQL("UPDATE {}.schema_version SET version = 1").format(s))
    assert store.schema_version() == 1
    with pytest.raises(StorageError, match="version 1"):
        PostgresStore.connect(pg_dsn, schema=store.schema)
    with PostgresStore.connect(pg_dsn, schema=store.schema, create_schema=True) as migrated:
        assert migrated.schema_version() == SCHEMA_VERSION
        _commit(migrated, _tagged("thing", "a", 1, 2, "p2", ["k1"], ["phone:1"]))
        assert migrated.session().find_by_key("thing", "phone:1") == ["a"]
    _assert_consistent(pg_dsn, store.schema)


def _restore_index_entries(conn: psycopg.Connection[Any], s: sql.Identifier) -> None:
    """Give a schema the ``index_entries`` table of versions 1-8, filled from the rows'
    copies of their index values, as those versions kept it."""
    conn.execute(
        sql.SQL(
            """CREATE TABLE {}.index_entries (kind text COLLATE "C" NOT NULL,
            id text COLLATE "C" NOT NULL, name text COLLATE "C" NOT NULL,
            value text COLLATE "C" NOT NULL, PRIMARY KEY (kind, id, name))"""
        ).format(s)
    )
    conn.execute(
        sql.SQL(
            """INSERT INTO {0}.index_entries (kind, id, name, value)
            SELECT r.kind, r.id, i.key, i.value FROM {0}.records r,
                jsonb_each_text(r.indexes) i"""
        ).format(s)
    )


def test_version_3_schema_gets_row_copies_of_its_keys(pg_dsn: str, store: PostgresStore) -> None:
    _commit(store, _tagged("thing", "a", 0, 1, "p1", ["k1", "k2"], ["phone:1"]))
    _commit(store, _tagged("thing", "b", 0, 1, None, []))
    with store.raw_connection() as conn:  # make it look like a version 3 schema
        s = sql.Identifier(store.schema)
        _restore_index_entries(conn, s)
        conn.execute(
            sql.SQL("ALTER TABLE {}.records DROP COLUMN indexes, DROP COLUMN lookups, "
                    "DROP COLUMN keys").format(s)
        )  # fmt: skip
        conn.execute(sql.SQL("ALTER TABLE {}.audit_head DROP COLUMN prev_hash").format(s))
        conn.execute(sql.SQL("UPDATE {}.schema_version SET version = 3").format(s))
    with PostgresStore.connect(pg_dsn, schema=store.schema, create_schema=True) as migrated:
        assert migrated.schema_version() == SCHEMA_VERSION
        _assert_consistent(pg_dsn, store.schema)
        # Writes after the migration change exactly what changed, against the copies.
        _commit(migrated, _tagged("thing", "a", 1, 2, "p2", ["k2", "k3"], []))
        _commit(migrated, _tagged("thing", "b", 1, 2, "p1", ["k1"], ["phone:1"]))
        session = migrated.session()
        assert session.find_unique("thing", "k1") == "b"
        assert session.find_unique("thing", "k3") == "a"
        assert session.find_by_key("thing", "phone:1") == ["b"]
        assert session.query(IndexQuery("thing", "bucket")) == [("p1", "b"), ("p2", "a")]
        entry = AuditEntry(id="after-migration", at=T0, actor_id="t", action="a",
                           target_kind="thing", target_id="c")  # fmt: skip
        migrated.session().commit(Commit((_tagged("thing", "c", 0, 1, None, []),), (entry,)))
        assert verify_audit_chain(migrated.audit_log()) is None
    _assert_consistent(pg_dsn, store.schema)


def test_a_version_8_schema_drops_its_index_entries_and_queries_the_rows(
    pg_dsn: str, schema: str
) -> None:
    """Migrating to version 9: the index entries' table goes, each queried index gets an
    expression index on the record rows, and every query answers as before, from the rows."""
    indexed = {"thing": ["bucket"]}
    writes = [_tagged("thing", f"t{n}", 0, n, f"p{n % 3}", [f"k{n}"]) for n in range(12)]
    with PostgresStore.connect(pg_dsn, schema=schema, create_schema=True, indexed=indexed) as old:
        for write in writes:
            _commit(old, write)
        before = old.session().query(IndexQuery("thing", "bucket", limit=50))
        assert len(before) == 12
        expression_index = expression_indexes(pg_dsn, schema)
        assert len(expression_index) == 1
        with old.raw_connection() as conn:  # make it look like a version 8 schema
            s = sql.Identifier(schema)
            _restore_index_entries(conn, s)
            conn.execute(sql.SQL("DROP INDEX {}.{}").format(s, sql.Identifier(*expression_index)))
            conn.execute(sql.SQL("UPDATE {}.schema_version SET version = 8").format(s))
        assert old.schema_version() == 8
    with PostgresStore.connect(
        pg_dsn, schema=schema, create_schema=True, indexed=indexed
    ) as migrated:
        assert migrated.schema_version() == SCHEMA_VERSION
        assert expression_indexes(pg_dsn, schema) == expression_index
        with migrated.raw_connection() as conn:
            gone = conn.execute("SELECT to_regclass(%s)", (f"{schema}.index_entries",))
            assert gone.fetchone() == (None,)
        session = migrated.session()
        assert session.query(IndexQuery("thing", "bucket", limit=50)) == before
        assert session.count(IndexQuery("thing", "bucket", equals="p1")) == 4
        _commit(migrated, _tagged("thing", "t1", 1, 99, None, ["k1"]))
        assert session.count(IndexQuery("thing", "bucket", equals="p1")) == 3
    _assert_consistent(pg_dsn, schema)


def test_a_version_4_single_chain_log_migrates_to_strand_zero(
    pg_dsn: str, store: PostgresStore, tmp_path: Path
) -> None:
    """A log sealed on the one global chain of schema version 4 (the entries recorded by the
    old SQLite adapter in tests/data, hashes and all) verifies as strand 0 after migrating,
    and new entries that land on strand 0 continue it."""
    import shutil

    from leadtocash import verify_store_audit
    from leadtocash_adapters.sqlite_store import SQLiteStore

    legacy_file = tmp_path / "legacy.sqlite3"
    shutil.copyfile(Path(__file__).parents[1] / "data" / "legacy_single_chain.sqlite3", legacy_file)
    with SQLiteStore.open(legacy_file, create_schema=True) as old:
        legacy = old.audit_log()
    s = sql.Identifier(store.schema)
    with store.raw_connection() as conn:  # make it a version 4 schema holding that chain
        for statement in (
            "DROP TABLE {}.audit_strands", "DROP TABLE {}.audit_digests",
            "DROP SEQUENCE {}.audit_log_seq",
            "ALTER TABLE {}.audit_log DROP COLUMN strand, DROP COLUMN strand_seq, "
            "DROP COLUMN format",
            "UPDATE {}.schema_version SET version = 4",
        ):  # fmt: skip
            conn.execute(sql.SQL(statement).format(s))
        for e in legacy:
            conn.execute(
                sql.SQL(
                    "INSERT INTO {}.audit_log (seq, id, at, actor_id, action, target_kind, "
                    "target_id, before, after, reason, override, prev_hash, hash) VALUES "
                    "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                ).format(s),
                (e.seq, e.id, e.at, e.actor_id, e.action, e.target_kind, e.target_id,
                 json.dumps(e.before), json.dumps(e.after), e.reason, e.override,
                 e.prev_hash, e.hash),
            )  # fmt: skip
        conn.execute(
            sql.SQL("UPDATE {}.audit_head SET seq = %s, hash = %s").format(s),
            (legacy[-1].seq, legacy[-1].hash),
        )
    with PostgresStore.connect(
        pg_dsn, schema=store.schema, create_schema=True, strands=4
    ) as migrated:
        assert migrated.schema_version() == SCHEMA_VERSION
        assert migrated.audit_strands == 4
        on_zero = migrated.audit_strand(0)
        assert [(e.id, e.hash, e.format) for e in on_zero] == [(e.id, e.hash, 1) for e in legacy]
        for n in range(8):
            entry = AuditEntry(id=f"new-{n}", at=T0, actor_id="t", action="a",
                               target_kind="customer", target_id=f"cust-{n}")  # fmt: skip
            migrated.session().commit(Commit((), (entry,)))
        continued = migrated.audit_strand(0, after=len(legacy))
        assert continued
        assert continued[0].prev_hash == legacy[-1].hash
        assert migrated.audit_log(after_seq=len(legacy))[0].id == "new-0"
        migrated.seal_digest()
        report = verify_store_audit(migrated)
        assert report.ok, report.faults
        assert report.entries == len(legacy) + 8


def test_concurrent_create_schema_calls_all_succeed(pg_dsn: str, schema: str) -> None:
    errors: list[BaseException] = []

    def create() -> None:
        try:
            PostgresStore.connect(pg_dsn, schema=schema, create_schema=True, min_size=1).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with PostgresStore.connect(pg_dsn, schema=schema) as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert store.audit_log() == []


def test_a_newer_schema_is_refused(pg_dsn: str, store: PostgresStore) -> None:
    with store.raw_connection() as conn:
        conn.execute(
            sql.SQL("UPDATE {}.schema_version SET version = %s").format(
                sql.Identifier(store.schema)
            ),
            (SCHEMA_VERSION + 1,),
        )
    with pytest.raises(StorageError, match="newer"):
        store.create_schema()
    with pytest.raises(StorageError, match="version"):
        PostgresStore.connect(pg_dsn, schema=store.schema)


# -- (3) driver errors become StorageError subclasses ---------------------------------------------
def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_unreachable_server_raises_storage_unavailable(pg_dsn: str) -> None:
    dsn = f"host=127.0.0.1 port={_free_port()} dbname=leadtocash user=ltc"
    started = time.monotonic()
    with pytest.raises(StorageUnavailable) as caught:
        PostgresStore.connect(dsn, timeout=3)
    assert isinstance(caught.value.__cause__, psycopg.Error)
    assert caught.value.retryable
    assert time.monotonic() - started < 10


def test_documents_jsonb_would_alter_round_trip_exactly(store: PostgresStore) -> None:
    odd = {
        "nul": "a\x00b",  # JSONB rejects \u0000
        "big_float": 1.2345678901234567e19,  # JSONB's numeric would give back an int
        "huge_float": 1.5e300,
        "minus_zero": -0.0,
        "fine": [1.5, 2**70, "华为"],
    }
    _commit(store, RecordWrite("thing", "odd", 0, odd), RecordWrite("thing", "plain", 0, {"x": 1}))
    session = store.session()
    loaded = session.load("thing", "odd")
    assert loaded is not None
    assert json.dumps(loaded.data, sort_keys=True) == json.dumps(odd, sort_keys=True)
    assert session.load_many("thing", ["odd", "plain"])["odd"].data == loaded.data
    with store.raw_connection() as conn:  # ordinary documents stay queryable JSONB
        rows = conn.execute(
            sql.SQL("SELECT id, data IS NOT NULL FROM {}.records ORDER BY id").format(
                sql.Identifier(store.schema)
            )
        ).fetchall()
    assert rows == [("odd", False), ("plain", True)]
    _commit(store, RecordWrite("thing", "odd", 1, {"x": 2}))  # and back to JSONB
    assert store.session().load("thing", "odd") == StoredRecord("thing", "odd", 2, {"x": 2})


def test_unstorable_values_raise_storage_error(store: PostgresStore) -> None:
    bad_writes = [
        RecordWrite("thing", "nul-index", 0, {}, {"i": "a\x00b"}),  # text cannot hold NUL
        RecordWrite("thing", "nul-key", 0, {}, unique_keys=frozenset({"k\x00"})),
        RecordWrite("thing", "nan", 0, {"x": float("nan")}),  # not JSON
        RecordWrite("thing", "object", 0, {"x": object()}),
    ]
    for write in bad_writes:
        with pytest.raises(StorageError) as caught:
            _commit(store, write)
        assert not isinstance(caught.value, ConcurrencyConflict | StorageUnavailable)
        assert _version(store, "thing", write.id) == 0
    _commit(store, RecordWrite("thing", "fine", 0, {"ok": True}))  # the pool is still healthy
    assert _version(store, "thing", "fine") == 1


def _audited(ident: str) -> Commit:
    """A new item ``ident`` with its audit entry."""
    entry = AuditEntry(id=f"audit-{ident}", at=T0, actor_id="admin", action="item.add",
                       target_kind="item", target_id=ident, after={"n": 1})  # fmt: skip
    return Commit([RecordWrite("item", ident, 0, {"n": 1})], [entry])


def test_a_missing_strand_head_row_fails_the_commit_and_stores_nothing(
    store: PostgresStore,
) -> None:
    """One strand (its UPDATE is its lock) or several (locked first, in order): a commit
    whose entry's strand has no head row stores nothing and says why."""
    strands = store.audit_strands
    ids = [f"i{n}" for n in range(64)]
    on = {strand_of(f"item:{ident}", strands): ident for ident in reversed(ids)}
    lost, other = sorted(on)[:2]
    with store.raw_connection() as conn:
        table = sql.SQL("{}.audit_strands").format(sql.Identifier(store.schema))
        conn.execute(sql.SQL("DELETE FROM {} WHERE strand = %s").format(table), (lost,))
    for commit in (_audited(on[lost]), _merged(_audited(on[other]), _audited(on[lost]))):
        session = store.session()
        try:
            with pytest.raises(StorageError, match="audit head row is missing"):
                session.commit(commit)
        finally:
            session.close()
    assert _version(store, "item", on[lost]) == _version(store, "item", on[other]) == 0
    assert store.audit_log() == []


def _merged(first: Commit, second: Commit) -> Commit:
    return Commit([*first.writes, *second.writes], [*first.audit, *second.audit])


def test_dropped_connections_retry_reads_and_fail_commits_as_unavailable(
    pg_dsn: str, store: PostgresStore
) -> None:
    victim, application = _single_connection_store(pg_dsn, store, "ltc-terminate")

    def terminate() -> None:
        with psycopg.connect(pg_dsn, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s",
                (application,),
            )

    try:
        _commit(victim, RecordWrite("thing", "a", 0, {"n": 1}))
        terminate()
        assert _version(victim, "thing", "a") == 1  # a read is retried on a new connection
        terminate()
        with pytest.raises(StorageUnavailable) as caught:  # a commit is not: outcome unknown
            _commit(victim, RecordWrite("thing", "a", 1, {"n": 2}))
        assert caught.value.retryable
        assert isinstance(caught.value.__cause__, psycopg.OperationalError)
        assert _version(victim, "thing", "a") == 1
        _commit(victim, RecordWrite("thing", "a", 1, {"n": 2}))  # the pool recovered
        assert _version(victim, "thing", "a") == 2
    finally:
        victim.close()
    with pytest.raises(StorageError, match="closed"):
        victim.session()


def test_deadlock_becomes_a_retryable_conflict(pg_dsn: str, store: PostgresStore) -> None:
    _commit(store, RecordWrite("thing", "a", 0, {"n": 0}), RecordWrite("thing", "b", 0, {"n": 0}))
    victim, application = _single_connection_store(pg_dsn, store, "ltc-deadlock")
    outcome: list[BaseException | None] = []

    def commit_both() -> None:
        try:
            # Locks a, then waits for b (held by the other transaction below).
            _commit(
                victim,
                RecordWrite("thing", "a", 1, {"n": 1}),
                RecordWrite("thing", "b", 1, {"n": 1}),
            )
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    records = sql.SQL("SELECT 1 FROM {}.records WHERE kind = 'thing' AND id = %s FOR UPDATE")
    lock = records.format(sql.Identifier(store.schema))
    try:
        with psycopg.connect(pg_dsn) as other:
            other.execute("SET deadlock_timeout = '30s'")  # so the adapter's backend detects it
            other.execute(lock, ("b",))
            worker = threading.Thread(target=commit_both)
            worker.start()
            assert _wait_for(lambda: _backends(pg_dsn, application, LOCK_WAITING) > 0, 10)
            other.execute(lock, ("a",))  # closes the cycle; blocks until the victim is aborted
            other.rollback()
            worker.join(timeout=30)
    finally:
        victim.close()
    assert len(outcome) == 1
    error = outcome[0]
    assert isinstance(error, ConcurrencyConflict), error
    assert error.retryable
    assert error.details["sqlstate"] == "40P01"
    assert isinstance(error.__cause__, psycopg.errors.DeadlockDetected)
    assert (_version(store, "thing", "a"), _version(store, "thing", "b")) == (1, 1)


# -- racing multi-record commits keep every record's indexes and keys consistent ------------------
@pytest.mark.slow
def test_racing_multi_record_commits_stay_consistent(pg_dsn: str, store: PostgresStore) -> None:
    idents = [f"r{i}" for i in range(8)]
    key_space = [f"k{i}" for i in range(6)]
    outcomes: dict[str, int] = {"ok": 0, "conflict": 0, "deadlock": 0, "duplicate": 0}
    written = [0]  # record writes of successful commits
    unexpected: list[BaseException] = []
    lock = threading.Lock()

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(40):
            chosen = rng.sample(idents, rng.randint(1, 3))
            session = store.session()
            try:
                found = session.load_many("thing", chosen)
                writes = [
                    _tagged(
                        "thing", ident, found[ident].version if ident in found else 0,
                        rng.randint(0, 10**6), rng.choice([None, "east", "west", "东"]),
                        rng.sample(key_space, rng.randint(0, 2)),
                        rng.sample(key_space, rng.randint(0, 3)),
                    )
                    for ident in chosen
                ]  # fmt: skip
                session.commit(Commit(writes))
                kind = "ok"
                with lock:
                    written[0] += len(writes)
            except ConcurrencyConflict as exc:
                kind = "deadlock" if exc.details.get("sqlstate") == "40P01" else "conflict"
            except DuplicateKey:
                kind = "duplicate"
            except BaseException as exc:
                kind = "unexpected"
                unexpected.append(exc)
            finally:
                session.close()
            with lock:
                outcomes[kind] = outcomes.get(kind, 0) + 1

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert unexpected == []
    assert outcomes["ok"] > 0
    assert sum(outcomes.values()) == 8 * 40, outcomes
    assert outcomes["deadlock"] == 0  # locks are taken in one global order
    _assert_consistent(pg_dsn, store.schema)
    # Every successful commit applied all its writes, every failed one none: no lost update.
    assert sum(_version(store, "thing", i) for i in idents) == written[0]
