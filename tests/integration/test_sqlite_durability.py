"""The SQLite adapter on a real engine: crashes, reopening, schema calls, durability settings."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from leadtocash import (
    AuditEntry,
    ConcurrencyConflict,
    StorageError,
    StorageUnavailable,
    verify_audit_chain,
)
from leadtocash.ports import IndexQuery, OutboxMessage, RecordWrite
from leadtocash.testing import StoreConformance
from leadtocash_adapters.sqlite_store import SCHEMA_VERSION, SQLiteStore, connect

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)

# Commits in a loop and prints each id only after its commit returned. Every commit inserts
# item-n, re-tags item-(n-1) (moving its index entry and unique key) and bumps the counter,
# with one audit entry and one outbox message, so a torn commit would show up everywhere.
WRITER = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime, timedelta

    from leadtocash import AuditEntry
    from leadtocash.ports import Commit, OutboxMessage, RecordWrite
    from leadtocash_adapters.sqlite_store import SQLiteStore

    T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    store = SQLiteStore.open(sys.argv[1], create_schema=True)
    limit = int(sys.argv[2])

    def item(n, version, tag, key):
        data = {"n": n, "tag": tag, "keys": [key], "big": 2**60 + n, "名": "华为"}
        return RecordWrite("item", f"item-{n:06d}", version, data, {"tag": tag}, frozenset({key}))

    while True:
        session = store.session()
        counter = session.load("counter", "c")
        n = 0 if counter is None else counter.data["n"]
        if n >= limit:
            break
        writes = [item(n, 0, f"new-{n % 5}", f"k:{n}")]
        if n > 0:
            previous = session.load("item", f"item-{n - 1:06d}")
            writes.append(item(n - 1, previous.version, "done", f"done:{n - 1}"))
        counter_data = {"n": n + 1, "tag": f"{n + 1:08d}", "keys": [f"counter:{n + 1}"]}
        writes.append(
            RecordWrite("counter", "c", 0 if counter is None else counter.version, counter_data,
                        {"tag": counter_data["tag"]}, frozenset(counter_data["keys"]))
        )
        at = T0 + timedelta(seconds=n)
        audit = AuditEntry(id=f"audit-{n}", at=at, actor_id="writer", action="item.add",
                           target_kind="item", target_id=f"item-{n:06d}", after={"n": n})
        message = OutboxMessage(id=f"msg-{n}", topic="item.added", payload={"n": n},
                                created_at=at, idempotency_key=f"msg-{n}")
        session.commit(Commit(writes, (audit,), (message,)))
        print(f"item-{n:06d}", flush=True)
    store.close()
    """
)

# Increments one counter record a fixed number of times, retrying conflicts.
INCREMENTER = textwrap.dedent(
    """
    import sys
    from leadtocash import ConcurrencyConflict, StorageUnavailable
    from leadtocash.ports import Commit, RecordWrite
    from leadtocash_adapters.sqlite_store import SQLiteStore

    store = SQLiteStore.open(sys.argv[1])
    done = conflicts = 0
    while done < int(sys.argv[2]):
        session = store.session()
        try:
            record = session.load("counter", "c")
            data = {"n": record.data["n"] + 1}
            session.commit(Commit([RecordWrite("counter", "c", record.version, data)]))
            done += 1
        except (ConcurrencyConflict, StorageUnavailable):
            conflicts += 1
        finally:
            session.close()
    print(done, conflicts, flush=True)
    store.close()
    """
)


def _env() -> dict[str, str]:
    paths = [str(ROOT / "examples"), str(ROOT / "src")]
    if os.environ.get("PYTHONPATH"):
        paths.append(os.environ["PYTHONPATH"])
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def _spawn(script: str, *args: str, stderr: Any = subprocess.PIPE) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A path for a fresh database file."""
    return tmp_path / "crm.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[SQLiteStore]:
    """A store with its schema on a fresh file, closed afterwards."""
    made = SQLiteStore.open(db_path, create_schema=True)
    try:
        yield made
    finally:
        made.close()


_commit = StoreConformance.commit


def _rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def _kill_while_writing(db_path: Path, err: Path, lines_wanted: int) -> list[str]:
    """Run the writer until it reported ``lines_wanted`` commits, SIGKILL it, return its ids."""
    with err.open("a") as stderr:
        proc = _spawn(WRITER, str(db_path), "1000000", stderr=stderr)
    assert proc.stdout is not None
    reported: list[str] = []
    try:
        while len(reported) < lines_wanted:
            line = proc.stdout.readline()
            if not line:
                pytest.fail(f"writer stopped early: {err.read_text('utf-8')}")
            reported.append(line.strip())
        time.sleep(random.random() * 0.005)  # land anywhere inside the next commits
        os.kill(proc.pid, signal.SIGKILL)
        rest = proc.stdout.read()  # lines already in the pipe were committed too
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    reported.extend(line for line in rest.split("\n")[:-1] if line)
    return reported


def _assert_consistent(db_path: Path) -> int:
    """Index entries, unique keys, audit and outbox all agree with the records; returns n."""
    assert _rows(db_path, "PRAGMA integrity_check") == [("ok",)]
    store = SQLiteStore.open(db_path)
    try:
        session = store.session()
        counter = session.load("counter", "c")
        session.close()
        assert counter is not None
        n = int(counter.data["n"])
        records = _rows(db_path, "SELECT kind, id, version, data FROM records")
        assert len(records) == n + 1
        expected_entries: set[tuple[str, str, str, str]] = set()
        expected_keys: set[tuple[str, str, str]] = set()
        for kind, ident, _version, text in records:
            data = json.loads(text)
            expected_entries.add((kind, "tag", data["tag"], ident))
            expected_keys.update((kind, key, ident) for key in data["keys"])
        entries = _rows(db_path, "SELECT kind, name, value, id FROM index_entries")
        keys = _rows(db_path, "SELECT kind, key, id FROM unique_keys")
        assert set(entries) == expected_entries
        assert len(entries) == len(expected_entries)
        assert set(keys) == expected_keys
        for i in range(n):
            version = 1 if i == n - 1 else 2
            assert (f"item-{i:06d}", version) in {(r[1], r[2]) for r in records}
        assert counter.version == n
        log = store.audit_log(limit=10 * n + 10)
        assert [e.id for e in log] == [f"audit-{i}" for i in range(n)]
        assert verify_audit_chain(log) is None
        due = store.outbox_due(T0 + timedelta(days=365), limit=10 * n + 10)
        assert [m.id for m in due] == [f"msg-{i}" for i in range(n)]
        return n
    finally:
        store.close()


# -- (1) crash safety ----------------------------------------------------------------------------
def test_sigkill_mid_loop_loses_nothing_reported_and_leaves_nothing_half_written(
    db_path: Path, tmp_path: Path
) -> None:
    reported: list[str] = []
    for round_ in range(3):
        reported += _kill_while_writing(db_path, tmp_path / "writer.err", 60 * (round_ + 1))
        n = _assert_consistent(db_path)
        assert len(reported) <= n
        assert set(reported) <= {f"item-{i:06d}" for i in range(n)}
    assert len(set(reported)) == len(reported)


# -- (2) reopening ------------------------------------------------------------------------------
def test_reopening_the_file_keeps_everything(db_path: Path) -> None:
    data = {"name": "华为技术有限公司", "big": 2**64 + 1, "nested": {"l": [1, "二", None]}}
    entry = AuditEntry(
        id="a1", at=T0, actor_id="me", action="thing.add", target_kind="thing", target_id="t1"
    )
    message = OutboxMessage(
        id="m1", topic="thing.added", payload={"x": 1}, created_at=T0, idempotency_key="m1"
    )
    with SQLiteStore.open(db_path, create_schema=True) as first:
        _commit(
            first,
            RecordWrite("thing", "t1", 0, data, {"pool": "东"}, frozenset({"uscc:1"})),
            audit=(entry,),
            outbox=(message,),
        )
        before = first.audit_log()
    with SQLiteStore.open(db_path) as second:
        session = second.session()
        try:
            record = session.load("thing", "t1")
            assert record is not None
            assert (record.version, dict(record.data)) == (1, data)
            assert session.query(IndexQuery("thing", "pool")) == [("东", "t1")]
            assert session.find_unique("thing", "uscc:1") == "t1"
        finally:
            session.close()
        assert second.audit_log() == before
        assert verify_audit_chain(before) is None
        assert second.outbox_due(T0) == [message]
        _commit(second, RecordWrite("thing", "t1", 1, {"name": "v2"}))
    with SQLiteStore.open(db_path) as third:
        session = third.session()
        try:
            record = session.load("thing", "t1")
            assert record is not None
            assert record.version == 2
        finally:
            session.close()


def test_opening_a_file_without_schema_asks_for_create_schema(db_path: Path) -> None:
    with pytest.raises(StorageError, match="create_schema"):
        SQLiteStore.open(db_path)


# -- (3) schema creation is idempotent ------------------------------------------------------------
def test_create_schema_twice_is_harmless(db_path: Path, store: SQLiteStore) -> None:
    _commit(store, RecordWrite("thing", "t1", 0, {"n": 1}, {"pool": "p"}, frozenset({"k"})))
    schema = _rows(db_path, "SELECT type, name, sql FROM sqlite_master ORDER BY name")
    store.create_schema()
    store.create_schema()
    with SQLiteStore.open(db_path, create_schema=True) as again:
        assert again.schema_version() == SCHEMA_VERSION
        session = again.session()
        try:
            record = session.load("thing", "t1")
            assert record is not None
            assert record.version == 1
            assert session.find_unique("thing", "k") == "t1"
        finally:
            session.close()
    assert _rows(db_path, "SELECT type, name, sql FROM sqlite_master ORDER BY name") == schema
    assert _rows(db_path, "SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]


def test_a_newer_schema_is_refused(db_path: Path, store: SQLiteStore) -> None:
    conn = sqlite3.connect(db_path)
    with conn:
        conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    conn.close()
    with pytest.raises(StorageError, match="newer"):
        store.create_schema()
    with pytest.raises(StorageError, match="schema version"):
        SQLiteStore.open(db_path)


# -- (4) durability settings ----------------------------------------------------------------------
def test_defaults_are_wal_with_synchronous_full(store: SQLiteStore) -> None:
    with store.raw_connection() as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("PRAGMA synchronous").fetchone() == (2,)
        assert conn.execute("PRAGMA busy_timeout").fetchone() == (5000,)
    session = store.session()  # sessions use the same configured connections
    session.load("thing", "x")
    session.close()
    with store.raw_connection() as conn:
        assert conn.execute("PRAGMA synchronous").fetchone() == (2,)


def test_synchronous_is_configurable(db_path: Path, store: SQLiteStore) -> None:
    with SQLiteStore.open(db_path, synchronous="normal") as relaxed, relaxed.raw_connection() as c:
        assert c.execute("PRAGMA synchronous").fetchone() == (1,)
    raw = connect(db_path)
    try:
        assert raw.execute("PRAGMA synchronous").fetchone() == (2,)
        assert raw.isolation_level is None
    finally:
        raw.close()
    with pytest.raises(ValueError, match="synchronous"):
        SQLiteStore.open(db_path, synchronous="sometimes")


# -- error translation and other processes --------------------------------------------------------
def test_a_locked_database_is_reported_as_retryable_unavailable(db_path: Path) -> None:
    with SQLiteStore.open(db_path, create_schema=True, timeout=0.05) as store:
        blocker = sqlite3.connect(db_path, isolation_level=None)
        try:
            blocker.execute("BEGIN IMMEDIATE")
            with pytest.raises(StorageUnavailable) as caught:
                _commit(store, RecordWrite("thing", "t1", 0, {"n": 1}))
            assert caught.value.retryable
            assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
            blocker.execute("ROLLBACK")
        finally:
            blocker.close()
        _commit(store, RecordWrite("thing", "t1", 0, {"n": 1}))  # nothing was left behind
        with pytest.raises(ConcurrencyConflict):
            _commit(store, RecordWrite("thing", "t1", 0, {"n": 1}))


@pytest.mark.skipif(sys.platform == "win32", reason="the writer queue needs fcntl")
def test_writers_queue_on_the_writer_lock_file_and_go_the_moment_it_frees(db_path: Path) -> None:
    import fcntl
    import threading

    with SQLiteStore.open(db_path, create_schema=True) as store:
        _commit(store, RecordWrite("thing", "warm", 0, {"n": 0}))  # creates the lock file
        lock_file = Path(f"{db_path}-writer")
        assert lock_file.exists()
        holder = os.open(lock_file, os.O_RDWR)  # another open file: stands for another process
        try:
            fcntl.flock(holder, fcntl.LOCK_EX)
            committed = threading.Event()

            def write() -> None:
                _commit(store, RecordWrite("thing", "t1", 0, {"n": 1}))
                committed.set()

            writer = threading.Thread(target=write)
            writer.start()
            assert not committed.wait(0.3)  # queued behind the holder, not failing
            fcntl.flock(holder, fcntl.LOCK_UN)
            assert committed.wait(10)
            writer.join(10)
        finally:
            os.close(holder)
        session = store.session()
        try:
            assert session.load("thing", "t1") is not None
        finally:
            session.close()


def test_processes_incrementing_one_record_lose_no_update(db_path: Path) -> None:
    with SQLiteStore.open(db_path, create_schema=True) as store:
        _commit(store, RecordWrite("counter", "c", 0, {"n": 0}))
    procs = [_spawn(INCREMENTER, str(db_path), "60") for _ in range(3)]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert out.split()[0] == "60"
    with SQLiteStore.open(db_path) as store:
        session = store.session()
        try:
            record = session.load("counter", "c")
            assert record is not None
            assert (record.version, record.data["n"]) == (181, 180)
        finally:
            session.close()


def test_a_file_that_is_not_a_database_is_a_storage_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not an sqlite database" * 200)
    with pytest.raises(StorageError) as caught:
        SQLiteStore.open(junk, create_schema=True)
    assert not caught.value.retryable
    assert isinstance(caught.value.__cause__, sqlite3.DatabaseError)


def test_text_that_is_not_unicode_is_refused_and_nothing_is_saved(store: SQLiteStore) -> None:
    with pytest.raises(StorageError):
        _commit(store, RecordWrite("thing", "ok", 0, {}), RecordWrite("thing", "bad\udc80", 0, {}))
    session = store.session()
    try:
        assert session.load("thing", "ok") is None
    finally:
        session.close()


def test_sessions_fail_cleanly_after_close(store: SQLiteStore) -> None:
    session = store.session()
    assert session.load("thing", "x") is None  # borrows a connection
    store.close()
    store.close()
    session.close()  # returns (and closes) the borrowed connection
    with pytest.raises(StorageError, match="closed"):
        store.session()
    with pytest.raises(StorageError, match="closed"):
        session.load("thing", "x")
