"""SQLite reference adapter for the leadtocash storage port (stdlib :mod:`sqlite3`).

Usage::

    from leadtocash_adapters.sqlite_store import SQLiteStore

    store = SQLiteStore.open("crm.db", create_schema=True)  # idempotent schema call
    crm = LeadToCash(store=store, clock=SystemClock(), ids=RandomIds())
    ...
    store.close()

Design (see ``docs/adapters/sqlite.md``):

* WAL journal, ``synchronous=FULL`` by default: a commit returns only after its WAL frames are
  fsynced, so no committed change is lost on power failure.
* Records are JSON text under ``(kind, id)`` with a version; named index values live in
  ``index_entries`` (BINARY collation = code point order), dedup keys in ``unique_keys`` whose
  primary key makes uniqueness a real constraint; audit entries and outbox messages have
  their own tables.
* :meth:`SQLiteSession.commit` runs one ``BEGIN IMMEDIATE`` transaction (the write lock is
  taken up front, so version checks, key checks and the audit chain head are serialized
  against every other writer) and either commits everything or rolls everything back.
* Each session borrows its own connection from a small pool; reads run in autocommit mode and
  therefore always see the latest committed data.
* Every :class:`sqlite3.Error` is translated into the ``StorageError`` family; busy/locked
  and I/O failures become the retryable :class:`~leadtocash.StorageUnavailable`.

Only leadtocash's public API is imported, so this module doubles as a worked example.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import random
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Final

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

from leadtocash import (
    DEFAULT_STRANDS,
    GENESIS_HASH,
    AuditDigest,
    AuditEntry,
    ConcurrencyConflict,
    DuplicateKey,
    NotFound,
    StorageError,
    StorageUnavailable,
)
from leadtocash.ports import (
    STRAND_FORMAT,
    Commit,
    Erasure,
    ErasureReport,
    IndexFilter,
    IndexQuery,
    OutboxMessage,
    RecordWrite,
    StoredRecord,
    StrandTip,
    check_failed,
    commit_checks,
    link_hash,
    make_digest,
    restore_personal,
    scrub_payload,
    strand_of,
)
from leadtocash_adapters._documents import DocumentMemo

__all__ = ["SCHEMA_VERSION", "SQLiteSession", "SQLiteStore", "connect"]

#: The schema version this adapter writes; :meth:`SQLiteStore.create_schema` migrates to it.
SCHEMA_VERSION: Final = 4

_SYNCHRONOUS: Final = frozenset({"OFF", "NORMAL", "FULL", "EXTRA"})
_JOURNAL_MODES: Final = frozenset({"WAL", "DELETE", "TRUNCATE", "PERSIST"})
# Primary result codes that mean "try again later" rather than "this request is wrong".
_TRANSIENT: Final = frozenset(
    {
        5,  # SQLITE_BUSY
        6,  # SQLITE_LOCKED
        7,  # SQLITE_NOMEM
        10,  # SQLITE_IOERR
        13,  # SQLITE_FULL
        14,  # SQLITE_CANTOPEN
        15,  # SQLITE_PROTOCOL
    }
)
_IN_CHUNK: Final = 500
# Parsed documents a store keeps to skip parsing a record read again unchanged.
_DOCUMENTS: Final = 2048
_PAIR_CHUNK: Final = 200

# Schema migrations: version -> DDL statements bringing the previous version to it.
_MIGRATIONS: Final[dict[int, tuple[str, ...]]] = {
    1: (
        """CREATE TABLE IF NOT EXISTS records (
            kind    TEXT COLLATE BINARY NOT NULL,
            id      TEXT COLLATE BINARY NOT NULL,
            version INTEGER NOT NULL CHECK (version >= 1),
            data    TEXT NOT NULL,
            PRIMARY KEY (kind, id)
        )""",
        # Primary-key columns first: SQLite 3.40's integrity_check misreads NOT NULL columns
        # that sit between primary-key columns of a WITHOUT ROWID table.
        """CREATE TABLE IF NOT EXISTS index_entries (
            kind  TEXT COLLATE BINARY NOT NULL,
            id    TEXT COLLATE BINARY NOT NULL,
            name  TEXT COLLATE BINARY NOT NULL,
            value TEXT COLLATE BINARY NOT NULL,
            PRIMARY KEY (kind, id, name)
        ) WITHOUT ROWID""",
        """CREATE INDEX IF NOT EXISTS index_entries_lookup
            ON index_entries (kind, name, value, id)""",
        """CREATE TABLE IF NOT EXISTS unique_keys (
            kind TEXT COLLATE BINARY NOT NULL,
            key  TEXT COLLATE BINARY NOT NULL,
            id   TEXT COLLATE BINARY NOT NULL,
            PRIMARY KEY (kind, key)
        ) WITHOUT ROWID""",
        "CREATE INDEX IF NOT EXISTS unique_keys_holder ON unique_keys (kind, id)",
        """CREATE TABLE IF NOT EXISTS audit (
            seq         INTEGER PRIMARY KEY,
            id          TEXT NOT NULL,
            at          TEXT NOT NULL,
            actor_id    TEXT NOT NULL,
            action      TEXT NOT NULL,
            target_kind TEXT NOT NULL,
            target_id   TEXT NOT NULL,
            before      TEXT,
            after       TEXT,
            reason      TEXT,
            override    INTEGER NOT NULL,
            prev_hash   TEXT NOT NULL,
            hash        TEXT NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS outbox (
            id              TEXT PRIMARY KEY,
            topic           TEXT NOT NULL,
            payload         TEXT NOT NULL,
            created_at      TEXT NOT NULL,
            idempotency_key TEXT NOT NULL,
            attempts        INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT,
            delivered_at    TEXT,
            last_error      TEXT
        )""",
        """CREATE INDEX IF NOT EXISTS outbox_due
            ON outbox (created_at, id) WHERE delivered_at IS NULL""",
    ),
    # Version 2: non-unique lookup keys (every phone / e-mail of a customer, ...).
    2: (
        """CREATE TABLE IF NOT EXISTS lookup_keys (
            kind TEXT COLLATE BINARY NOT NULL,
            key  TEXT COLLATE BINARY NOT NULL,
            id   TEXT COLLATE BINARY NOT NULL,
            PRIMARY KEY (kind, key, id)
        ) WITHOUT ROWID""",
        "CREATE INDEX IF NOT EXISTS lookup_keys_holder ON lookup_keys (kind, id)",
    ),
    # Version 3: audit strands and digests. The single chain written so far becomes strand
    # 0 (its entries keep their legacy hash format, 1); new entries say their format (2).
    3: (
        "ALTER TABLE audit ADD COLUMN strand INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE audit ADD COLUMN strand_seq INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE audit ADD COLUMN format INTEGER NOT NULL DEFAULT 1",
        "UPDATE audit SET strand_seq = seq WHERE strand_seq = 0",
        "CREATE UNIQUE INDEX IF NOT EXISTS audit_strand ON audit (strand, strand_seq)",
        """CREATE TABLE IF NOT EXISTS audit_digests (
            seq       INTEGER PRIMARY KEY,
            tips      TEXT NOT NULL,
            root      TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash      TEXT NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS audit_settings (
            singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
            strands   INTEGER NOT NULL CHECK (strands >= 1)
        )""",
    ),
    # Version 4: the erasable part of an audit entry (personal values and their salts; the
    # snapshots hold the stand-ins its hash covers). Erasure sets it to NULL.
    4: ("ALTER TABLE audit ADD COLUMN personal TEXT",),
}

_SCHEMA_TABLE: Final = """CREATE TABLE IF NOT EXISTS schema_version (
    singleton  INTEGER PRIMARY KEY CHECK (singleton = 1),
    version    INTEGER NOT NULL,
    updated_at TEXT NOT NULL
)"""

# Statements (constant text, so sqlite3's statement cache prepares each once per connection).
_LOAD: Final = "SELECT version, data FROM records WHERE kind = ? AND id = ?"
_INSERT: Final = (
    "INSERT INTO records (kind, id, version, data) VALUES (?, ?, 1, ?) "
    "ON CONFLICT (kind, id) DO NOTHING"
)
_UPDATE: Final = (
    "UPDATE records SET version = ?, data = ? WHERE kind = ? AND id = ? AND version = ?"
)
_CURRENT_VERSION: Final = "SELECT version FROM records WHERE kind = ? AND id = ?"
# A changed value replaces the entry in place (one row operation instead of a delete and an
# insert); entries of new records never conflict.
_PUT_ENTRY: Final = (
    "INSERT INTO index_entries (kind, name, value, id) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (kind, id, name) DO UPDATE SET value = excluded.value"
)
_INSERT_KEY: Final = "INSERT INTO unique_keys (kind, key, id) VALUES (?, ?, ?)"
_FIND_KEY: Final = "SELECT id FROM unique_keys WHERE kind = ? AND key = ?"
#: Records of a kind by id after a cursor (``?3`` true: from the first).
_SCAN: Final = (
    "SELECT id, version, data FROM records WHERE kind = ?1 AND (?3 OR id > ?2) ORDER BY id LIMIT ?4"
)
_INSERT_LOOKUP: Final = "INSERT INTO lookup_keys (kind, key, id) VALUES (?, ?, ?)"
_FIND_LOOKUP: Final = "SELECT id FROM lookup_keys WHERE kind = ? AND key = ? ORDER BY id LIMIT ?"
#: One key's bounded share of a batched lookup (``?1`` kind, ``?2`` limit, ``?{n}`` the key).
_FIND_LOOKUP_TERM: Final = (
    "SELECT * FROM (SELECT key, id FROM lookup_keys WHERE kind = ?1 AND key = ?{n}"
    " ORDER BY id LIMIT ?2)"
)
#: Keys per batched lookup statement (SQLite allows 500 terms in a compound SELECT).
_KEY_CHUNK: Final = 100
_DELETE_ENTRY: Final = "DELETE FROM index_entries WHERE kind = ? AND id = ? AND name = ?"
_DELETE_KEY: Final = "DELETE FROM unique_keys WHERE kind = ? AND key = ? AND id = ?"
_DELETE_LOOKUP: Final = "DELETE FROM lookup_keys WHERE kind = ? AND key = ? AND id = ?"
_STRAND_HEAD: Final = (
    "SELECT strand_seq, hash FROM audit WHERE strand = ? ORDER BY strand_seq DESC LIMIT 1"
)
# What a commit compares with, read in one compound statement: for each updated record
# (kind, id) its index entries (0), unique keys (1) and lookup keys (2), each term a seek on
# a (kind, id) index, and for each strand the commit seals onto its head (3). Every row is
# (tag, four values), the values of each tag in the order of the tuples the commit compares.
_HELD_TERMS: Final = (
    "SELECT 0, kind, name, value, id FROM index_entries WHERE kind = ? AND id = ? UNION ALL "
    "SELECT 1, kind, key, id, NULL FROM unique_keys WHERE kind = ? AND id = ? UNION ALL "
    "SELECT 2, kind, key, id, NULL FROM lookup_keys WHERE kind = ? AND id = ?"
)
_HEAD_TERM: Final = (
    "SELECT * FROM (SELECT 3, strand, strand_seq, hash, NULL FROM audit WHERE strand = ? "
    "ORDER BY strand_seq DESC LIMIT 1)"
)
# Records and strands per statement: at most 400 compound terms (SQLite allows 500).
_HELD_CHUNK: Final = 100
_AUDIT_COLUMNS: Final = (
    "seq, id, at, actor_id, action, target_kind, target_id, before, after, reason, override, "
    "prev_hash, hash, strand, strand_seq, format, personal"
)
_INSERT_AUDIT: Final = (
    f"INSERT INTO audit ({_AUDIT_COLUMNS.removeprefix('seq, ')}) VALUES ({', '.join('?' * 16)})"
)
_ERASE_AUDIT: Final = (
    "UPDATE audit SET personal = NULL WHERE strand = ? AND target_kind = ? AND target_id = ? "
    "AND personal IS NOT NULL"
)
_OUTBOX_PAYLOADS: Final = "SELECT id, payload FROM outbox WHERE id > ? ORDER BY id LIMIT 500"
_OUTBOX_SCRUB: Final = "UPDATE outbox SET payload = ? WHERE id = ?"
_READ_AUDIT: Final = f"SELECT {_AUDIT_COLUMNS} FROM audit WHERE seq > ? ORDER BY seq LIMIT ?"
_READ_STRAND: Final = (
    f"SELECT {_AUDIT_COLUMNS} FROM audit WHERE strand = ? AND strand_seq > ? "
    "ORDER BY strand_seq LIMIT ?"
)
_READ_DIGESTS: Final = (
    "SELECT seq, tips, root, prev_hash, hash FROM audit_digests WHERE seq > ? ORDER BY seq LIMIT ?"
)
_LAST_DIGEST: Final = (
    "SELECT seq, tips, root, prev_hash, hash FROM audit_digests ORDER BY seq DESC LIMIT 1"
)
_INSERT_DIGEST: Final = (
    "INSERT INTO audit_digests (seq, tips, root, prev_hash, hash) VALUES (?, ?, ?, ?, ?)"
)
_OUTBOX_COLUMNS: Final = (
    "id, topic, payload, created_at, idempotency_key, attempts, next_attempt_at, delivered_at, "
    "last_error"
)
_INSERT_OUTBOX: Final = f"INSERT INTO outbox ({_OUTBOX_COLUMNS}) VALUES ({', '.join('?' * 9)})"
_OUTBOX_DUE: Final = (
    f"SELECT {_OUTBOX_COLUMNS} FROM outbox "
    "WHERE delivered_at IS NULL AND (next_attempt_at IS NULL OR next_attempt_at <= ?) "
    "ORDER BY created_at, id LIMIT ?"
)
_OUTBOX_DELIVERED: Final = (
    "UPDATE outbox SET delivered_at = ? WHERE id = ? AND delivered_at IS NULL"
)
_OUTBOX_FAILED: Final = (
    "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ?"
)
_OUTBOX_EXISTS: Final = "SELECT 1 FROM outbox WHERE id = ?"


# -- helpers ---------------------------------------------------------------------------------
def _translate(exc: BaseException, doing: str) -> StorageError:
    """Map a driver error onto the StorageError family (busy/locked/I/O => retryable)."""
    code = getattr(exc, "sqlite_errorcode", None)
    name = getattr(exc, "sqlite_errorname", None) or type(exc).__name__
    details: dict[str, Any] = {"operation": doing, "driver_error": name}
    message = f"sqlite {doing} failed: {exc}"
    transient = isinstance(code, int) and (code & 0xFF) in _TRANSIENT
    if code is None and isinstance(exc, sqlite3.OperationalError):
        text = str(exc).lower()
        transient = "locked" in text or "busy" in text or "disk i/o" in text
    if transient:
        return StorageUnavailable(message, details=details)
    return StorageError(message, details=details)


def _json_default(value: object) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


# One encoder for every document: ``json.dumps`` with options builds a new encoder per call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_json_default)


def _dumps(value: object) -> str:
    return _ENCODER.encode(value)


def _time_text(moment: datetime) -> str:
    """Fixed-width UTC text, so text order is time order (used for outbox scheduling)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: leadtocash times are timezone-aware UTC")
    m = moment.astimezone(UTC)
    return (
        f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}."
        f"{m.microsecond:06d}Z"
    )


def _parse_time(text: str | None) -> datetime | None:
    if text is None:
        return None
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _audit_row(
    entry: AuditEntry,
    parts: tuple[bytes, bytes | None, bytes | None, object],
    link: tuple[int, int, str, str],
) -> tuple[object, ...]:
    """An entry's audit columns, ``seq`` left to SQLite (the next rowid). ``parts`` are its
    :meth:`~leadtocash.AuditEntry.stored_parts`: the snapshots' canonical JSON, already
    rendered for the content hash (with stand-ins for personal values), and the erasable
    part (values and salts); ``link`` is where it is sealed: strand, strand_seq, prev_hash,
    hash."""
    _, before, after, personal = parts
    strand, strand_seq, prev_hash, digest = link
    return (
        entry.id,
        entry.at.isoformat(),  # exactly the text the hash covers
        entry.actor_id,
        entry.action,
        entry.target_kind,
        entry.target_id,
        None if before is None else before.decode("utf-8"),
        None if after is None else after.decode("utf-8"),
        entry.reason,
        int(entry.override),
        prev_hash,
        digest,
        strand,
        strand_seq,
        STRAND_FORMAT,
        None if personal is None else _dumps(personal),
    )


def _audit_entry(row: Sequence[Any]) -> AuditEntry:
    before, after, salts = restore_personal(
        None if row[7] is None else json.loads(row[7]),
        None if row[8] is None else json.loads(row[8]),
        None if row[16] is None else json.loads(row[16]),
    )
    return AuditEntry(
        id=row[1],
        at=datetime.fromisoformat(row[2]),
        actor_id=row[3],
        action=row[4],
        target_kind=row[5],
        target_id=row[6],
        before=before,
        after=after,
        reason=row[9],
        override=bool(row[10]),
        seq=row[0],
        prev_hash=row[11],
        hash=row[12],
        strand=row[13],
        strand_seq=row[14],
        format=row[15],
        personal=salts,
    )


def _digest(row: Sequence[Any]) -> AuditDigest:
    tips = tuple(StrandTip(n, seq, digest) for n, (seq, digest) in enumerate(json.loads(row[1])))
    return AuditDigest(seq=row[0], tips=tips, root=row[2], prev_hash=row[3], hash=row[4])


def _outbox_row(message: OutboxMessage) -> tuple[object, ...]:
    return (
        message.id,
        message.topic,
        _dumps(message.payload),
        _time_text(message.created_at),
        message.idempotency_key,
        message.attempts,
        None if message.next_attempt_at is None else _time_text(message.next_attempt_at),
        None if message.delivered_at is None else _time_text(message.delivered_at),
        message.last_error,
    )


def _outbox_message(row: Sequence[Any]) -> OutboxMessage:
    created = _parse_time(row[3])
    assert created is not None
    return OutboxMessage(
        id=row[0],
        topic=row[1],
        payload=json.loads(row[2]),
        created_at=created,
        idempotency_key=row[4],
        attempts=row[5],
        next_attempt_at=_parse_time(row[6]),
        delivered_at=_parse_time(row[7]),
        last_error=row[8],
    )


def connect(
    path: str | os.PathLike[str],
    *,
    synchronous: str = "FULL",
    timeout: float = 5.0,
    journal_mode: str = "WAL",
) -> sqlite3.Connection:
    """A connection configured exactly like the store's (journal, durability, busy timeout).

    Autocommit mode (``isolation_level=None``): transactions are begun explicitly. Usable from
    any thread, by one thread at a time. Benchmarks use it for a like-for-like baseline.
    """
    sync = synchronous.upper()
    journal = journal_mode.upper()
    if sync not in _SYNCHRONOUS:
        raise ValueError(f"synchronous must be one of {sorted(_SYNCHRONOUS)}, not {synchronous!r}")
    if journal not in _JOURNAL_MODES:
        raise ValueError(f"journal_mode must be one of {sorted(_JOURNAL_MODES)}")
    conn: sqlite3.Connection | None = None
    try:
        conn = sqlite3.connect(
            os.fspath(path),
            timeout=timeout,
            isolation_level=None,
            check_same_thread=False,
            cached_statements=256,
        )
        conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        (mode,) = conn.execute(f"PRAGMA journal_mode = {journal}").fetchall()[0]
        if str(mode).upper() != journal:
            raise StorageError(
                f"sqlite refused journal_mode={journal} (got {mode}); is the path a regular file?",
                details={"path": os.fspath(path)},
            )
        conn.execute(f"PRAGMA synchronous = {sync}")
        # Freed space is overwritten with zeros: an erased value leaves no copy in the file.
        conn.execute("PRAGMA secure_delete = ON")
        return conn
    except sqlite3.Error as exc:
        if conn is not None:
            conn.close()
        raise _translate(exc, "connect") from exc
    except BaseException:
        if conn is not None:
            conn.close()
        raise


class _WriterQueue:
    """Cross-process queue of writers: an exclusive ``flock`` on ``<database>-writer``.

    SQLite's busy handler (and any polling) lets a waiting writer sleep past the moment the
    lock frees; with commits of a few hundred microseconds most of the lock's time is then
    spent idle. Writers that block on this file lock instead are woken by the kernel as soon
    as it is released. It only orders writers that use it: ``BEGIN IMMEDIATE`` still decides,
    so other programs writing the file stay safe, and where ``fcntl`` is missing (Windows)
    the queue does nothing. The lock is held only while a commit runs SQL and syncs; the
    kernel drops it if the holding process dies.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._pid = 0

    def acquire(self) -> None:
        """Wait for this process's turn to write (no-op without ``fcntl``)."""
        if fcntl is None:
            return
        try:
            if self._fd is None or self._pid != os.getpid():  # a forked child needs its own
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
                self._pid = os.getpid()
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except OSError as exc:
            raise StorageUnavailable(
                f"sqlite: cannot lock the writer lock file {self.path}: {exc}",
                details={"path": str(self.path)},
            ) from exc

    def release(self) -> None:
        """Let the next writer in (no-op when not held)."""
        fd = self._fd
        if fcntl is not None and fd is not None and self._pid == os.getpid():
            with suppress(OSError):  # closed under us by close(): the lock went with it
                fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Close the lock file (idempotent)."""
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = None


# -- the store -------------------------------------------------------------------------------
class SQLiteStore:
    """The storage port on one SQLite database file, shared safely by many threads."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        create_schema: bool = False,
        synchronous: str = "FULL",
        journal_mode: str = "WAL",
        timeout: float = 5.0,
        pool_size: int = 8,
        strands: int | None = None,
        digest_every: int = 256,
    ) -> None:
        if pool_size < 1:
            raise ValueError("pool_size must be >= 1")
        if strands is not None and strands < 1:
            raise ValueError("strands must be >= 1")
        # K is fixed when the schema is created (None: DEFAULT_STRANDS, or what is stored).
        self._strands = strands or DEFAULT_STRANDS
        self._wanted_strands = strands
        self.digest_every = digest_every
        self._audited = 0
        if os.fspath(path) in ("", ":memory:") or os.fspath(path).startswith("file:"):
            raise ValueError("SQLiteStore needs a database file path (no :memory:, no URIs)")
        self.path = Path(path)
        self.synchronous = synchronous.upper()
        self.journal_mode = journal_mode.upper()
        self.timeout = timeout
        self._pool_size = pool_size
        self._idle: list[sqlite3.Connection] = []
        self._pool_lock = threading.Lock()
        # Writers of this process queue here instead of polling SQLite's write lock, and
        # writers of all processes on the database's writer lock file (see _WriterQueue).
        self._write_lock = threading.Lock()
        self._writer_queue = _WriterQueue(Path(f"{os.fspath(path)}-writer"))
        self._closed = False
        # The documents last read, by (kind, id): JSON text and what it parsed to.
        self._documents = DocumentMemo(_DOCUMENTS)
        try:
            if create_schema:
                self.create_schema()
            else:
                self._check_schema()
            self._strands = self._stored_strands()
        except BaseException:
            self.close()
            raise

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        create_schema: bool = False,
        synchronous: str = "FULL",
        journal_mode: str = "WAL",
        timeout: float = 5.0,
        pool_size: int = 8,
        strands: int | None = None,
        digest_every: int = 256,
    ) -> SQLiteStore:
        """Open the store at ``path``; ``create_schema=True`` creates/migrates it first.

        ``strands`` is K, the number of audit strands, set when the schema is created (a
        different K on an existing store is refused); ``digest_every``: seal a digest after
        every N audited commits of this store object (0: only on :meth:`seal_digest`).
        """
        return cls(
            path,
            create_schema=create_schema,
            synchronous=synchronous,
            journal_mode=journal_mode,
            timeout=timeout,
            pool_size=pool_size,
            strands=strands,
            digest_every=digest_every,
        )

    # -- connections ----------------------------------------------------------------------------
    def _acquire(self) -> sqlite3.Connection:
        with self._pool_lock:
            if self._closed:
                raise StorageError("store is closed")
            if self._idle:
                return self._idle.pop()
        return connect(
            self.path,
            synchronous=self.synchronous,
            timeout=self.timeout,
            journal_mode=self.journal_mode,
        )

    def _release(self, conn: sqlite3.Connection) -> None:
        try:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        except sqlite3.Error:
            conn.close()
            return
        with self._pool_lock:
            if not self._closed and len(self._idle) < self._pool_size:
                self._idle.append(conn)
                return
        conn.close()

    @contextmanager
    def raw_connection(self) -> Iterator[sqlite3.Connection]:
        """Borrow one of the store's configured connections (for inspection and tooling)."""
        conn = self._acquire()
        try:
            yield conn
        finally:
            self._release(conn)

    def _begin_immediate(self, conn: sqlite3.Connection, doing: str) -> None:
        """Take SQLite's write lock, polling with short jittered sleeps while it is busy.

        SQLite's own busy handler sleeps up to 100 ms between attempts, which lets a busy
        process starve behind writers that re-acquire the lock within microseconds. Polling
        every 0.1-2 ms keeps waiting writers in the race until ``timeout`` expires.
        """
        deadline = time.monotonic() + self.timeout
        delay = 0.0001
        try:
            conn.execute("PRAGMA busy_timeout = 0")
            while True:
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as exc:
                    busy = getattr(exc, "sqlite_errorcode", 5) & 0xFF in (5, 6)
                    if not busy or time.monotonic() >= deadline:
                        raise
                time.sleep(random.uniform(delay / 2, delay))
                delay = min(delay * 2, 0.002)
        except sqlite3.Error as exc:
            raise _translate(exc, doing) from exc
        finally:
            with suppress(sqlite3.Error):
                conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")

    @contextmanager
    def _writing(self, conn: sqlite3.Connection, doing: str) -> Iterator[None]:
        """One ``BEGIN IMMEDIATE`` transaction: commit on success, roll back on any error."""
        if self.timeout > 0:
            acquired = self._write_lock.acquire(timeout=self.timeout)
        else:
            acquired = self._write_lock.acquire(blocking=False)
        if not acquired:
            raise StorageUnavailable(f"sqlite {doing}: timed out waiting for the write lock")
        try:
            self._writer_queue.acquire()
            self._begin_immediate(conn, doing)
            try:
                yield
                conn.execute("COMMIT")
            except BaseException as exc:
                _rollback(conn)
                if isinstance(exc, sqlite3.Error):
                    raise _translate(exc, doing) from exc
                if isinstance(exc, UnicodeEncodeError):
                    raise StorageError(
                        f"sqlite {doing}: text is not valid Unicode ({exc.reason})"
                    ) from exc
                raise
        finally:
            self._writer_queue.release()
            self._write_lock.release()

    # -- schema ---------------------------------------------------------------------------------
    def _version_in(self, conn: sqlite3.Connection) -> int | None:
        rows = conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
        ).fetchall()
        if not rows:
            return None
        found = conn.execute("SELECT version FROM schema_version WHERE singleton = 1").fetchall()
        return int(found[0][0]) if found else None

    def schema_version(self) -> int | None:
        """The schema version stored in the database file, or None when it has no schema."""
        with self.raw_connection() as conn:
            try:
                return self._version_in(conn)
            except sqlite3.Error as exc:
                raise _translate(exc, "schema check") from exc

    def _check_schema(self) -> None:
        version = self.schema_version()
        if version != SCHEMA_VERSION:
            found = "no schema" if version is None else f"schema version {version}"
            raise StorageError(
                f"{self.path} has {found}, this adapter needs {SCHEMA_VERSION}: "
                "call create_schema() (or open with create_schema=True) to create/migrate it",
                details={"path": str(self.path), "found": version, "needed": SCHEMA_VERSION},
            )

    def create_schema(self) -> None:
        """Create the schema or migrate it to :data:`SCHEMA_VERSION` (idempotent, atomic)."""
        with self.raw_connection() as conn, self._writing(conn, "create schema"):
            conn.execute(_SCHEMA_TABLE)
            current = self._version_in(conn) or 0
            if current > SCHEMA_VERSION:
                raise StorageError(
                    f"{self.path} has schema version {current}, newer than this adapter "
                    f"({SCHEMA_VERSION}); upgrade the adapter",
                    details={"found": current, "supported": SCHEMA_VERSION},
                )
            for version in range(current + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[version]:
                    conn.execute(statement)
            if current != SCHEMA_VERSION:
                conn.execute(
                    "INSERT INTO schema_version (singleton, version, updated_at) VALUES (1, ?, ?) "
                    "ON CONFLICT (singleton) DO UPDATE SET version = excluded.version, "
                    "updated_at = excluded.updated_at",
                    (SCHEMA_VERSION, _time_text(datetime.now(UTC))),
                )
            conn.execute(
                "INSERT INTO audit_settings (singleton, strands) VALUES (1, ?) "
                "ON CONFLICT (singleton) DO NOTHING",
                (self._strands,),
            )

    def _stored_strands(self) -> int:
        """K as stored; a different ``strands`` asked for is refused (it would move streams)."""
        with self.raw_connection() as conn:
            try:
                rows = conn.execute("SELECT strands FROM audit_settings").fetchall()
            except sqlite3.Error as exc:
                raise _translate(exc, "schema check") from exc
        stored = int(rows[0][0]) if rows else DEFAULT_STRANDS
        if self._wanted_strands is not None and self._wanted_strands != stored:
            raise StorageError(
                f"{self.path} has {stored} audit strands, not {self._wanted_strands}: "
                "K is fixed when the store is created",
                details={"stored": stored, "asked": self._wanted_strands},
            )
        return stored

    def _document(self, kind: str, ident: str, text: str) -> Any:
        """``text`` parsed, or the object parsed at the last read of the same text."""
        return self._documents.parse(kind, ident, text)

    # -- the Store protocol ---------------------------------------------------------------------
    def session(self) -> SQLiteSession:
        """A new session; it borrows a pooled connection on first use."""
        if self._closed:
            raise StorageError("store is closed")
        return SQLiteSession(self)

    @property
    def audit_strands(self) -> int:
        """K, the number of audit strands."""
        return self._strands

    def _audit_read(self, sql: str, params: tuple[object, ...]) -> list[Any]:
        with self.raw_connection() as conn:
            try:
                return conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise _translate(exc, "audit read") from exc

    def audit_log(self, *, after_seq: int = 0, limit: int = 1000) -> list[AuditEntry]:
        """Sealed audit entries with ``seq > after_seq`` in seq order."""
        if limit <= 0:
            return []
        return [_audit_entry(row) for row in self._audit_read(_READ_AUDIT, (after_seq, limit))]

    def audit_strand(self, strand: int, *, after: int = 0, limit: int = 1000) -> list[AuditEntry]:
        """Sealed entries of ``strand`` with ``strand_seq > after``, in strand order."""
        if limit <= 0:
            return []
        rows = self._audit_read(_READ_STRAND, (strand, after, limit))
        return [_audit_entry(row) for row in rows]

    def audit_digests(self, *, after: int = 0, limit: int = 1000) -> list[AuditDigest]:
        """Digests with ``seq > after``, in order."""
        if limit <= 0:
            return []
        return [_digest(row) for row in self._audit_read(_READ_DIGESTS, (after, limit))]

    def seal_digest(self) -> AuditDigest:
        """Seal the tips of all strands into the next digest, under the write lock (so the
        tips are one consistent cut) and return it."""
        with self.raw_connection() as conn, self._writing(conn, "digest"):
            last = conn.execute(_LAST_DIGEST).fetchall()
            heads = {}
            for strand in range(self._strands):
                head = conn.execute(_STRAND_HEAD, (strand,)).fetchall()
                heads[strand] = (head[0][0], head[0][1]) if head else (0, GENESIS_HASH)
            tips = [StrandTip(n, *heads[n]) for n in range(self._strands)]
            digest = make_digest(tips, previous=_digest(last[0]) if last else None)
            conn.execute(
                _INSERT_DIGEST,
                (
                    digest.seq,
                    _dumps([[t.seq, t.hash] for t in digest.tips]),
                    digest.root,
                    digest.prev_hash,
                    digest.hash,
                ),
            )
        return digest

    def erase_personal(self, erasure: Erasure) -> ErasureReport:
        """Drop the erasable part of the subjects' audit entries (each found on its strand,
        through the strand index) and scrub outbox payloads, in one write transaction; then
        checkpoint the WAL, so no copy of the erased pages is left in it (the connections
        run with ``secure_delete``, so freed space is zeroed in the database file)."""
        entries = messages = 0
        with self.raw_connection() as conn:
            with self._writing(conn, "erasure"):
                for kind, ident in sorted(set(erasure.subjects)):
                    strand = strand_of(f"{kind}:{ident}", self._strands)
                    entries += conn.execute(_ERASE_AUDIT, (strand, kind, ident)).rowcount
                after = ""
                while erasure.values:
                    rows = conn.execute(_OUTBOX_PAYLOADS, (after,)).fetchall()
                    for ident, text in rows:
                        payload = json.loads(text)
                        scrubbed = scrub_payload(payload, erasure.values)
                        if scrubbed is not payload:
                            conn.execute(_OUTBOX_SCRUB, (_dumps(scrubbed), ident))
                            messages += 1
                    if len(rows) < 500:
                        break
                    after = rows[-1][0]
            try:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            except sqlite3.Error as exc:
                raise _translate(exc, "erasure checkpoint") from exc
        return ErasureReport(entries, messages)

    def outbox_due(self, now: datetime, *, limit: int = 100) -> list[OutboxMessage]:
        """Undelivered messages due at ``now``, oldest first."""
        if limit <= 0:
            return []
        with self.raw_connection() as conn:
            try:
                rows = conn.execute(_OUTBOX_DUE, (_time_text(now), limit)).fetchall()
            except sqlite3.Error as exc:
                raise _translate(exc, "outbox read") from exc
        return [_outbox_message(row) for row in rows]

    def outbox_mark_delivered(self, message_id: str, at: datetime) -> None:
        """Record a successful delivery (idempotent); unknown ids raise NotFound."""
        with self.raw_connection() as conn, self._writing(conn, "outbox update"):
            cursor = conn.execute(_OUTBOX_DELIVERED, (_time_text(at), message_id))
            if cursor.rowcount == 0 and not conn.execute(_OUTBOX_EXISTS, (message_id,)).fetchall():
                raise NotFound("outbox", message_id)

    def outbox_mark_failed(self, message_id: str, error: str, retry_at: datetime) -> None:
        """Count a failed attempt and schedule the next one; unknown ids raise NotFound."""
        with self.raw_connection() as conn, self._writing(conn, "outbox update"):
            cursor = conn.execute(_OUTBOX_FAILED, (error, _time_text(retry_at), message_id))
            if cursor.rowcount == 0:
                raise NotFound("outbox", message_id)

    def close(self) -> None:
        """Close every idle connection; borrowed ones close when returned. Idempotent."""
        with self._pool_lock:
            self._closed = True
            idle, self._idle = self._idle, []
        self._writer_queue.close()
        for conn in idle:
            with suppress(sqlite3.Error):
                conn.close()

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._closed

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- commit ---------------------------------------------------------------------------------
    def _commit(self, conn: sqlite3.Connection, commit: Commit) -> None:
        writes = list(commit.writes)
        checks = commit_checks(commit)
        if not writes and not commit.audit and not commit.outbox and not checks:
            return
        seen: set[tuple[str, str]] = set()
        for write in writes:
            if (write.kind, write.id) in seen:
                raise StorageError(f"{write.kind} {write.id!r} written twice in one commit")
            seen.add((write.kind, write.id))
        # Serialize JSON before taking the write lock: the lock is held for SQL work only.
        texts = [_dumps(write.data) for write in writes]
        entries = [
            (w.kind, name, value, w.id)
            for w in writes
            for name, value in w.indexes.items()
            if value is not None
        ]
        keys = [(w.kind, key, w.id) for w in writes for key in w.unique_keys]
        lookups = [(w.kind, key, w.id) for w in writes for key in w.lookup_keys]
        updated = [(w.kind, w.id) for w in writes if w.expected_version != 0]
        outbox = [_outbox_row(message) for message in commit.outbox]
        strands = self._strands
        audit = list(commit.audit)
        try:  # the canonical bytes serve twice: the content hash and the stored snapshots
            canonical = [entry.stored_parts() for entry in audit]
        except (TypeError, ValueError) as exc:
            raise StorageError(f"an audit entry cannot be hashed: {exc}") from exc
        contents = [hashlib.sha256(parts[0]).hexdigest() for parts in canonical]
        placed = [strand_of(entry.stream_id, strands) for entry in audit]
        touched = sorted(set(placed))
        with self._writing(conn, "commit"):
            # The write lock is held from here on, so what this reads stays exact to the end.
            for check in checks:
                rows = conn.execute(_CURRENT_VERSION, (check.kind, check.id)).fetchall()
                current = rows[0][0] if rows else 0
                if current != check.version:
                    raise check_failed(check, current)
            held = _Held.read(conn, updated, touched) if updated or touched else None
            for write, text in zip(writes, texts, strict=True):
                if write.expected_version == 0:
                    cursor = conn.execute(_INSERT, (write.kind, write.id, text))
                else:
                    cursor = conn.execute(
                        _UPDATE,
                        (write.new_version, text, write.kind, write.id, write.expected_version),
                    )
                if cursor.rowcount != 1:
                    raise _conflict(conn, write)
            if updated and held is not None:
                # Only rows that change are touched: an update usually changes a few index
                # entries and no key, and each row deleted and inserted again costs B-tree
                # work under the write lock.
                entries, keys, lookups = held.apply(conn, entries, keys, lookups)
            if lookups:
                conn.executemany(_INSERT_LOOKUP, lookups)
            if entries:
                conn.executemany(_PUT_ENTRY, entries)
            if keys:
                try:
                    conn.executemany(_INSERT_KEY, keys)
                except sqlite3.IntegrityError as exc:
                    raise _duplicate(conn, keys) from exc
            if audit and held is not None:
                # Sealed onto the heads read above (the write lock serializes SQLite's
                # writers, so the port's lock order holds trivially): the same links as
                # seal_entries, without building a sealed copy of each entry.
                heads = held.heads
                rows = []
                for entry, parts, content, strand in zip(
                    audit, canonical, contents, placed, strict=True
                ):
                    seq, prev = heads.get(strand) or (0, GENESIS_HASH)
                    digest = link_hash(content, prev, strand, seq + 1)
                    heads[strand] = (seq + 1, digest)
                    rows.append(_audit_row(entry, parts, (strand, seq + 1, prev, digest)))
                conn.executemany(_INSERT_AUDIT, rows)
            if outbox:
                try:
                    conn.executemany(_INSERT_OUTBOX, outbox)
                except sqlite3.IntegrityError as exc:
                    raise StorageError(
                        "outbox message id already stored", details={"operation": "commit"}
                    ) from exc

        if audit:
            self._audited += 1
            if self.digest_every and self._audited % self.digest_every == 0:
                # The commit is done: a periodic digest that fails must not make it look
                # failed (a retry would run the command twice); the next one covers it.
                with suppress(StorageError):
                    self.seal_digest()


def _pairs_clause(count: int) -> str:
    """``(kind = ? AND id = ?) OR …`` for ``count`` pairs: SQLite searches an index for each
    (3.40 scans the table for ``(kind, id) IN (VALUES …)``)."""
    return " OR ".join(["(kind = ? AND id = ?)"] * count)


def _json_path(name: str) -> str:
    """The ``json_extract`` path of top-level key ``name`` (a plain name: letters, digits
    and underscores)."""
    if not name.replace("_", "").isalnum() or not name.isascii():
        raise ValueError(f"{name!r} is not a plain field name")
    return f'$."{name}"'


@functools.lru_cache(maxsize=128)
def _fields_sql(paths: int, records: int) -> str:
    """Ids and the JSON array of ``paths`` values of up to ``records`` records of a kind."""
    extract = f"json_extract(data{', ?' * paths})" if paths else "NULL"
    marks = ", ".join("?" * records)
    return f"SELECT id, {extract} FROM records WHERE kind = ? AND id IN ({marks})"


@functools.lru_cache(maxsize=_KEY_CHUNK)
def _lookups_sql(keys: int) -> str:
    """The compound SELECT of a batched lookup of ``keys`` keys: one bounded, indexed term
    per key, so each key's answer is what ``find_by_key`` gives (one text per count)."""
    return " UNION ALL ".join(_FIND_LOOKUP_TERM.format(n=n) for n in range(3, keys + 3))


@functools.lru_cache(maxsize=128)
def _held_sql(records: int, strands: int) -> str:
    """The compound SELECT of :class:`_Held` for ``records`` records and ``strands`` strands
    (one text per shape, so sqlite3's statement cache prepares each shape once)."""
    return " UNION ALL ".join([_HELD_TERMS] * records + [_HEAD_TERM] * strands)


class _Held:
    """What the updated records hold (index entries, unique and lookup keys) and the heads of
    the strands a commit seals onto, as read inside its write transaction."""

    __slots__ = ("entries", "heads", "keys", "lookups")

    def __init__(self) -> None:
        self.entries: set[tuple[str, str, str, str]] = set()
        self.keys: set[tuple[str, str, str]] = set()
        self.lookups: set[tuple[str, str, str]] = set()
        self.heads: dict[int, tuple[int, str]] = {}

    @classmethod
    def read(
        cls, conn: sqlite3.Connection, records: list[tuple[str, str]], strands: list[int]
    ) -> _Held:
        """One statement per 100 records and strands (usually one per commit)."""
        held = cls()
        entries, keys, lookups, heads = held.entries, held.keys, held.lookups, held.heads
        for start in range(0, max(len(records), len(strands)), _HELD_CHUNK):
            pairs = records[start : start + _HELD_CHUNK]
            chunk = strands[start : start + _HELD_CHUNK]
            params: list[object] = [v for kind, ident in pairs for v in (kind, ident) * 3]
            params.extend(chunk)
            rows = conn.execute(_held_sql(len(pairs), len(chunk)), params).fetchall()
            entries.update([row[1:] for row in rows if row[0] == 0])
            keys.update([row[1:4] for row in rows if row[0] == 1])
            lookups.update([row[1:4] for row in rows if row[0] == 2])
            heads.update({row[1]: row[2:4] for row in rows if row[0] == 3})
        return held

    def apply(
        self,
        conn: sqlite3.Connection,
        entries: list[tuple[str, str, str, str]],
        keys: list[tuple[str, str, str]],
        lookups: list[tuple[str, str, str]],
    ) -> tuple[
        list[tuple[str, str, str, str]], list[tuple[str, str, str]], list[tuple[str, str, str]]
    ]:
        """Delete the updated records' index entries and keys that the commit does not keep;
        return the entries to put (new or changed values) and the keys to insert."""
        old_entries, old_keys, old_lookups = self.entries, self.keys, self.lookups
        if old_entries:
            names = {(k, i, n) for k, n, _, i in entries}
            gone = [(k, i, n) for k, n, _, i in old_entries if (k, i, n) not in names]
            if gone:
                conn.executemany(_DELETE_ENTRY, gone)
        if old_keys:
            wanted = set(keys)
            released = [row for row in old_keys if row not in wanted]
            if released:
                conn.executemany(_DELETE_KEY, released)
        if old_lookups:
            kept = set(lookups)
            dropped = [row for row in old_lookups if row not in kept]
            if dropped:
                conn.executemany(_DELETE_LOOKUP, dropped)
        return (
            [row for row in entries if row not in old_entries],
            [row for row in keys if row not in old_keys],
            [row for row in lookups if row not in old_lookups],
        )


def _rollback(conn: sqlite3.Connection) -> None:
    # SQLite may already have rolled back (e.g. after an I/O error); _release checks again.
    with suppress(sqlite3.Error):
        if conn.in_transaction:
            conn.execute("ROLLBACK")


def _conflict(conn: sqlite3.Connection, write: RecordWrite) -> ConcurrencyConflict:
    rows = conn.execute(_CURRENT_VERSION, (write.kind, write.id)).fetchall()
    current = rows[0][0] if rows else 0
    return ConcurrencyConflict(
        f"{write.kind} {write.id!r} is at version {current}, expected {write.expected_version}",
        details={"kind": write.kind, "id": write.id},
    )


def _duplicate(conn: sqlite3.Connection, keys: list[tuple[str, str, str]]) -> DuplicateKey:
    """The first key (in write order) held by another record: the one the insert tripped on."""
    for kind, key, ident in keys:
        rows = conn.execute(_FIND_KEY, (kind, key)).fetchall()
        if rows and rows[0][0] != ident:
            return DuplicateKey(kind, key, rows[0][0])
    kind, key, _ = keys[0]
    return DuplicateKey(kind, key, None)


def _without_cursor(query: IndexQuery) -> IndexQuery:
    """``query`` without its keyset cursor (a count ignores it)."""
    return IndexQuery(
        query.kind, query.index, query.equals, query.at_least, query.below, None, query.limit,
        query.where,
    )  # fmt: skip


def _filter_sql(index_filter: IndexFilter) -> tuple[str, list[object]]:
    """One ``where`` filter as an EXISTS probe on the record's other index entries."""
    conditions = ["f.kind = e.kind", "f.id = e.id", "f.name = ?"]
    params: list[object] = [index_filter.index]
    if index_filter.equals is not None:
        conditions.append("f.value = ?")
        params.append(index_filter.equals)
    if index_filter.one_of is not None:
        if not index_filter.one_of:
            return "0", []
        conditions.append(f"f.value IN ({', '.join('?' * len(index_filter.one_of))})")
        params.extend(index_filter.one_of)
    if index_filter.at_least is not None:
        conditions.append("f.value >= ?")
        params.append(index_filter.at_least)
    if index_filter.below is not None:
        conditions.append("f.value < ?")
        params.append(index_filter.below)
    return f"EXISTS (SELECT 1 FROM index_entries f WHERE {' AND '.join(conditions)})", params


def _selection(query: IndexQuery) -> tuple[str, list[object]] | None:
    """The WHERE text and parameters selecting ``query``'s entries (None: nothing can match).

    With ``equals`` the seek is an equality on the value and the cursor compares ids only,
    which keeps paging inside the (kind, name, value, id) index.
    """
    sql = ["e.kind = ? AND e.name = ?"]
    params: list[object] = [query.kind, query.index]
    after = query.after
    if query.equals is not None:
        if query.at_least is not None and query.equals < query.at_least:
            return None
        if query.below is not None and query.equals >= query.below:
            return None
        sql.append("e.value = ?")
        params.append(query.equals)
        if after is not None:
            if after[0] > query.equals:
                return None
            if after[0] == query.equals:
                sql.append("e.id > ?")
                params.append(after[1])
    else:
        # Lower bound: the keyset cursor when it is past ``at_least``, else ``at_least``.
        if after is not None and (query.at_least is None or after >= (query.at_least, "")):
            sql.append("(e.value, e.id) > (?, ?)")
            params.extend(after)
        elif query.at_least is not None:
            sql.append("e.value >= ?")
            params.append(query.at_least)
        if query.below is not None:
            sql.append("e.value < ?")
            params.append(query.below)
    for clause in query.where:
        alternatives = [_filter_sql(index_filter) for index_filter in clause]
        sql.append("(" + (" OR ".join(text for text, _ in alternatives) or "0") + ")")
        params.extend(param for _, filter_params in alternatives for param in filter_params)
    return " AND ".join(sql), params


class SQLiteSession:
    """One unit of work's session: reads see committed data; commit is one transaction."""

    def __init__(self, store: SQLiteStore) -> None:
        self._store = store
        self._conn: sqlite3.Connection | None = None
        self._open = True

    def _connection(self) -> sqlite3.Connection:
        if not self._open:
            raise StorageError("session is closed")
        if self._conn is None:
            self._conn = self._store._acquire()
        return self._conn

    def _read(self, sql: str, params: Sequence[object], doing: str) -> list[Any]:
        conn = self._connection()
        try:
            return conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise _translate(exc, doing) from exc

    def load(self, kind: str, ident: str) -> StoredRecord | None:
        """The committed record or None."""
        rows = self._read(_LOAD, (kind, ident), "load")
        if not rows:
            return None
        return StoredRecord(kind, ident, rows[0][0], self._store._document(kind, ident, rows[0][1]))

    def load_many(self, kind: str, idents: Sequence[str]) -> dict[str, StoredRecord]:
        """The committed records that exist among ``idents``, by id."""
        wanted = list(dict.fromkeys(idents))
        found: dict[str, StoredRecord] = {}
        for start in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[start : start + _IN_CHUNK]
            sql = (
                "SELECT id, version, data FROM records WHERE kind = ? AND id IN "
                f"({', '.join('?' * len(chunk))})"
            )
            for ident, version, text in self._read(sql, [kind, *chunk], "load"):
                data = self._store._document(kind, ident, text)
                found[ident] = StoredRecord(kind, ident, version, data)
        return found

    def load_fields(
        self, kind: str, idents: Sequence[str], fields: Sequence[str]
    ) -> dict[str, tuple[Any, ...]]:
        """Top-level ``fields`` of the committed records among ``idents``, by id: SQLite's
        ``json_extract`` picks them out of each document, so only they are parsed here."""
        wanted, names = list(dict.fromkeys(idents)), tuple(fields)
        paths = [_json_path(name) for name in names]
        # With two paths or more json_extract gives a JSON array of the values as written.
        paths = paths * 2 if len(paths) == 1 else paths
        found: dict[str, tuple[Any, ...]] = {}
        for start in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[start : start + _IN_CHUNK]
            sql = _fields_sql(len(paths), len(chunk))
            for ident, values in self._read(sql, [*paths, kind, *chunk], "load fields"):
                found[ident] = tuple(json.loads(values)[: len(names)]) if names else ()
        return found

    def load_each(self, refs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], StoredRecord]:
        """The committed records that exist among ``(kind, id)`` pairs, by pair (one
        statement per 200 pairs, whatever their kinds)."""
        wanted = list(dict.fromkeys(refs))
        found: dict[tuple[str, str], StoredRecord] = {}
        for start in range(0, len(wanted), _PAIR_CHUNK):
            chunk = wanted[start : start + _PAIR_CHUNK]
            sql = f"SELECT kind, id, version, data FROM records WHERE {_pairs_clause(len(chunk))}"
            params = [value for pair in chunk for value in pair]
            for kind, ident, version, text in self._read(sql, params, "load"):
                data = self._store._document(kind, ident, text)
                found[(kind, ident)] = StoredRecord(kind, ident, version, data)
        return found

    def scan(self, kind: str, *, after: str | None = None, limit: int = 100) -> list[StoredRecord]:
        """Up to ``limit`` committed records of ``kind`` after id ``after``, by id."""
        if limit <= 0:
            return []
        rows = self._read(_SCAN, (kind, after or "", after is None, limit), "scan")
        return [
            StoredRecord(kind, ident, version, json.loads(text)) for ident, version, text in rows
        ]

    def find_unique(self, kind: str, key: str) -> str | None:
        """The id of the record of ``kind`` holding unique ``key``, or None."""
        rows = self._read(_FIND_KEY, (kind, key), "unique key lookup")
        return str(rows[0][0]) if rows else None

    def find_by_key(self, kind: str, key: str, *, limit: int = 100) -> list[str]:
        """Up to ``limit`` ids of records of ``kind`` holding lookup ``key``, ascending."""
        if limit <= 0:
            return []
        rows = self._read(_FIND_LOOKUP, (kind, key, limit), "lookup key search")
        return [str(row[0]) for row in rows]

    def find_by_keys(
        self, kind: str, keys: Sequence[str], *, limit: int = 100
    ) -> dict[str, list[str]]:
        """Up to ``limit`` ids per lookup key (keys nobody holds left out), one statement per
        100 keys."""
        wanted = list(dict.fromkeys(keys))
        if limit <= 0 or not wanted:
            return {}
        held: dict[str, list[str]] = {}
        for start in range(0, len(wanted), _KEY_CHUNK):
            chunk = wanted[start : start + _KEY_CHUNK]
            sql = _lookups_sql(len(chunk))
            for key, ident in self._read(sql, [kind, limit, *chunk], "lookup key search"):
                held.setdefault(str(key), []).append(str(ident))
        return {key: sorted(held[key]) for key in wanted if key in held}

    def query(self, query: IndexQuery) -> list[tuple[str, str]]:
        """Up to ``query.limit`` ``(value, id)`` pairs in ascending code point order."""
        if query.limit <= 0:
            return []
        found = _selection(query)
        if found is None:
            return []
        sql, params = found
        text = (
            f"SELECT e.value, e.id FROM index_entries e WHERE {sql} ORDER BY e.value, e.id LIMIT ?"
        )
        rows = self._read(text, [*params, query.limit], "query")
        return [(str(v), str(i)) for v, i in rows]

    def count(self, query: IndexQuery) -> int:
        """How many entries ``query`` selects, ignoring ``after`` and ``limit``."""
        found = _selection(_without_cursor(query))
        if found is None:
            return 0
        sql, params = found
        rows = self._read(f"SELECT count(*) FROM index_entries e WHERE {sql}", params, "count")
        return int(rows[0][0])

    def commit(self, commit: Commit) -> None:
        """Apply ``commit`` atomically or raise and save nothing; the session then closes."""
        self._store._commit(self._connection(), commit)
        self.close()

    def close(self) -> None:
        """Return the connection to the pool; nothing uncommitted survives. Idempotent."""
        self._open = False
        conn, self._conn = self._conn, None
        if conn is not None:
            self._store._release(conn)
