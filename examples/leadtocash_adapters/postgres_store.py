"""PostgreSQL reference adapter for leadtocash's storage port (psycopg 3 + psycopg-pool).

Usage::

    from leadtocash_adapters.postgres_store import PostgresStore

    store = PostgresStore.connect("host=... dbname=crm user=crm", create_schema=True)
    crm = LeadToCash(store=store, clock=SystemClock(), ids=RandomIds())
    ...
    store.close()

Design (details in docs/adapters/postgres.md):

* Records are JSONB rows keyed by ``(kind, id)`` with an integer ``version``; named index
  entries, unique keys and lookup keys live in their own tables, all text keys
  ``COLLATE "C"`` so that ordering is code point order, exactly like the in-memory store.
* A commit is one READ COMMITTED transaction in two pipelined round trips. Round trip 1:
  ``BEGIN``, a versioned conditional ``UPDATE`` (or ``INSERT ... ON CONFLICT DO NOTHING``)
  per record in ``(kind, id)`` order that also maintains the record's index entries, the
  unique-key releases and claims in ``(kind, key)`` order, the outbox rows, and last a
  ``SELECT ... FOR UPDATE`` of the single audit head row, taken only if everything before it
  worked. Round trip 2: the audit entries sealed with :func:`leadtocash.chain_entries` onto
  that head, and ``COMMIT``. Every commit takes its row locks in the same global order, so
  commits never deadlock each other.
* Driver errors become the library's ``StorageError`` family: deadlocks and serialization
  failures are ``ConcurrencyConflict``, connection trouble is ``StorageUnavailable``.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import attrs
import psycopg
import psycopg_pool
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import TupleRow

from leadtocash import (
    GENESIS_HASH,
    AuditEntry,
    ConcurrencyConflict,
    DuplicateKey,
    NotFound,
    StorageError,
    StorageUnavailable,
    chain_entries,
)
from leadtocash.ports import Commit, IndexQuery, OutboxMessage, RecordWrite, StoredRecord

__all__ = ["SCHEMA_VERSION", "PostgresSession", "PostgresStore"]

_Connection = psycopg.Connection[TupleRow]

#: The schema version this adapter creates and expects.
SCHEMA_VERSION = 2

# One tuple of DDL statements per schema version; ``create_schema`` applies the missing ones.
# ``{s}`` is the quoted schema name. Every statement is idempotent on its own as well.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE IF NOT EXISTS {s}.records (
            kind text COLLATE "C" NOT NULL,
            id text COLLATE "C" NOT NULL,
            version bigint NOT NULL CHECK (version > 0),
            data jsonb NOT NULL,
            PRIMARY KEY (kind, id))""",
        """CREATE TABLE IF NOT EXISTS {s}.index_entries (
            kind text COLLATE "C" NOT NULL,
            id text COLLATE "C" NOT NULL,
            name text COLLATE "C" NOT NULL,
            value text COLLATE "C" NOT NULL,
            PRIMARY KEY (kind, id, name))""",
        """CREATE INDEX IF NOT EXISTS index_entries_by_value
            ON {s}.index_entries (kind, name, value, id)""",
        """CREATE TABLE IF NOT EXISTS {s}.unique_keys (
            kind text COLLATE "C" NOT NULL,
            key text COLLATE "C" NOT NULL,
            id text COLLATE "C" NOT NULL,
            PRIMARY KEY (kind, key))""",
        """CREATE INDEX IF NOT EXISTS unique_keys_by_holder ON {s}.unique_keys (kind, id)""",
        """CREATE TABLE IF NOT EXISTS {s}.audit_log (
            seq bigint PRIMARY KEY CHECK (seq > 0),
            id text NOT NULL,
            at timestamptz NOT NULL,
            actor_id text NOT NULL,
            action text NOT NULL,
            target_kind text NOT NULL,
            target_id text NOT NULL,
            before json,
            after json,
            reason text,
            override boolean NOT NULL,
            prev_hash text NOT NULL,
            hash text NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS {s}.audit_head (
            singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
            seq bigint NOT NULL,
            hash text NOT NULL)""",
        """INSERT INTO {s}.audit_head (singleton, seq, hash)
            VALUES (true, 0, '{genesis}') ON CONFLICT DO NOTHING""",
        """CREATE TABLE IF NOT EXISTS {s}.outbox (
            id text COLLATE "C" PRIMARY KEY,
            topic text NOT NULL,
            payload jsonb NOT NULL,
            created_at timestamptz NOT NULL,
            idempotency_key text NOT NULL,
            attempts integer NOT NULL DEFAULT 0,
            next_attempt_at timestamptz,
            delivered_at timestamptz,
            last_error text)""",
        """CREATE INDEX IF NOT EXISTS outbox_pending
            ON {s}.outbox (created_at, id) WHERE delivered_at IS NULL""",
    ),
    (  # version 2: lookup keys; exact JSON text for documents JSONB would alter
        """ALTER TABLE {s}.records ALTER COLUMN data DROP NOT NULL,
            ADD COLUMN IF NOT EXISTS exact json""",
        """ALTER TABLE {s}.outbox ALTER COLUMN payload TYPE json USING payload::json""",
        """CREATE TABLE IF NOT EXISTS {s}.lookup_keys (
            kind text COLLATE "C" NOT NULL,
            key text COLLATE "C" NOT NULL,
            id text COLLATE "C" NOT NULL,
            PRIMARY KEY (kind, key, id))""",
        """CREATE INDEX IF NOT EXISTS lookup_keys_by_holder ON {s}.lookup_keys (kind, id)""",
    ),
)

_TABLES = (
    "records",
    "index_entries",
    "unique_keys",
    "lookup_keys",
    "audit_log",
    "audit_head",
    "outbox",
)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


#: JSON text that JSONB would not give back as written: a NUL character (JSONB rejects
#: ``\u0000``), a float in exponent form with a positive exponent (JSONB's ``numeric`` reads
#: back as an int) or ``-0.0`` (reads back as ``0.0``). False positives only cost JSONB.
_NOT_JSONB_SAFE = re.compile(r"\\u0000|[0-9]e\+|-0\.0(?![0-9])")


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def _translate(exc: psycopg.Error, doing: str) -> StorageError:
    """Map a driver error onto the library's StorageError family."""
    sqlstate = exc.sqlstate
    details = {"sqlstate": sqlstate, "driver_error": type(exc).__name__}
    message = f"{doing}: {exc}".strip()
    if isinstance(exc, psycopg_pool.PoolClosed):
        return StorageError(f"{doing}: the store is closed", details=details)
    if sqlstate in ("40001", "40P01"):
        return ConcurrencyConflict(message, details=details)
    if isinstance(exc, psycopg.OperationalError) or (sqlstate or "").startswith("08"):
        return StorageUnavailable(message, details=details)
    return StorageError(message, details=details)


class _Statements:
    """Every SQL statement of the adapter, rendered once for one schema."""

    def __init__(self, schema: str) -> None:
        self.schema = schema
        quoted = sql.Identifier(schema).as_string()
        self.quoted = quoted

        def q(template: str) -> str:
            return template.replace("{s}", quoted)

        self.load = q("SELECT version, data, exact FROM {s}.records WHERE kind = %s AND id = %s")
        self.load_many = q(
            """SELECT id, version, data, exact FROM {s}.records
            WHERE kind = %s AND id = ANY(%s::text[])"""
        )
        self.find_unique = q("SELECT id FROM {s}.unique_keys WHERE kind = %s AND key = %s")
        self.find_by_key = q(
            "SELECT id FROM {s}.lookup_keys WHERE kind = %s AND key = %s ORDER BY id LIMIT %s"
        )
        self.query_head = q("SELECT value, id FROM {s}.index_entries WHERE kind = %s AND name = %s")
        # An update: versioned conditional UPDATE; the record's index entries are maintained
        # only when it matched (they hang off the `rec` CTE), so a stale write touches nothing
        # but the record row it failed to match. Also returns the unique keys the record held
        # (read in the same snapshot: if the UPDATE matched, nobody changed them since).
        self.update = q(
            """WITH rec AS (
                UPDATE {s}.records
                SET version = version + 1, data = %(data)s::jsonb, exact = %(exact)s::json
                WHERE kind = %(kind)s AND id = %(id)s AND version = %(expected)s
                RETURNING kind, id
            ), stale_entries AS (
                DELETE FROM {s}.index_entries e USING rec
                WHERE e.kind = rec.kind AND e.id = rec.id AND e.name <> ALL(%(names)s::text[])
            ), entries AS (
                INSERT INTO {s}.index_entries AS e (kind, id, name, value)
                SELECT rec.kind, rec.id, n.name, n.value
                FROM rec, unnest(%(names)s::text[], %(values)s::text[]) AS n(name, value)
                ON CONFLICT (kind, id, name) DO UPDATE SET value = EXCLUDED.value
                WHERE e.value <> EXCLUDED.value
            ), stale_lookups AS (
                DELETE FROM {s}.lookup_keys l USING rec
                WHERE l.kind = rec.kind AND l.id = rec.id AND l.key <> ALL(%(lookups)s::text[])
            ), lookups AS (
                INSERT INTO {s}.lookup_keys (kind, key, id)
                SELECT rec.kind, k.key, rec.id FROM rec, unnest(%(lookups)s::text[]) AS k(key)
                ON CONFLICT DO NOTHING
            )
            SELECT (SELECT count(*) FROM rec), ARRAY(
                SELECT u.key FROM {s}.unique_keys u WHERE u.kind = %(kind)s AND u.id = %(id)s)"""
        )
        self.insert = q(
            """WITH rec AS (
                INSERT INTO {s}.records (kind, id, version, data, exact)
                VALUES (%(kind)s, %(id)s, 1, %(data)s::jsonb, %(exact)s::json)
                ON CONFLICT (kind, id) DO NOTHING
                RETURNING kind, id
            ), entries AS (
                INSERT INTO {s}.index_entries AS e (kind, id, name, value)
                SELECT rec.kind, rec.id, n.name, n.value
                FROM rec, unnest(%(names)s::text[], %(values)s::text[]) AS n(name, value)
                ON CONFLICT (kind, id, name) DO UPDATE SET value = EXCLUDED.value
            ), lookups AS (
                INSERT INTO {s}.lookup_keys (kind, key, id)
                SELECT rec.kind, k.key, rec.id FROM rec, unnest(%(lookups)s::text[]) AS k(key)
                ON CONFLICT DO NOTHING
            )
            SELECT count(*) FROM rec"""
        )
        # Unique keys: the primary key (kind, key) decides, never a read-then-write. A claim
        # that inserts no row found the key held by another record.
        self.claim = q(
            """INSERT INTO {s}.unique_keys (kind, key, id) VALUES (%s, %s, %s)
            ON CONFLICT (kind, key) DO NOTHING"""
        )
        self.release = q("DELETE FROM {s}.unique_keys WHERE kind = %s AND key = %s AND id = %s")
        self.outbox_insert = q(
            """INSERT INTO {s}.outbox (id, topic, payload, created_at, idempotency_key, attempts,
                next_attempt_at, delivered_at, last_error)
            VALUES (%s, %s, %s::json, %s, %s, %s, %s, %s, %s)
            ON CONFLICT (id) DO NOTHING"""
        )
        # The audit head lock serializes audited commits, so it is taken last and only when
        # everything before it in the transaction worked (the rows it wrote carry this
        # transaction's xmin): a commit that is going to roll back never holds it.
        self.head_lock = q(
            """SELECT seq, hash FROM {s}.audit_head
            WHERE %(proceed)s AND (
                SELECT count(*) FROM {s}.records r
                JOIN unnest(%(kinds)s::text[], %(ids)s::text[], %(versions)s::bigint[])
                    AS w(kind, id, version)
                    ON r.kind = w.kind AND r.id = w.id AND r.version = w.version
                WHERE r.xmin = xid(pg_current_xact_id())
            ) = cardinality(%(ids)s::text[]) AND (
                SELECT count(*) FROM {s}.unique_keys u
                JOIN unnest(%(key_kinds)s::text[], %(keys)s::text[], %(key_ids)s::text[])
                    AS c(kind, key, id)
                    ON u.kind = c.kind AND u.key = c.key AND u.id = c.id
                WHERE u.xmin = xid(pg_current_xact_id())
            ) = cardinality(%(keys)s::text[]) AND (
                SELECT count(*) FROM {s}.outbox o
                WHERE o.id = ANY(%(messages)s::text[]) AND o.xmin = xid(pg_current_xact_id())
            ) = cardinality(%(messages)s::text[])
            FOR UPDATE"""
        )
        # Appends sealed entries and moves the head in one statement.
        self.audit_append = q(
            """WITH head AS (UPDATE {s}.audit_head SET seq = %(seq)s, hash = %(hash)s)
            INSERT INTO {s}.audit_log (seq, id, at, actor_id, action, target_kind, target_id,
                before, after, reason, override, prev_hash, hash)
            SELECT * FROM unnest(%(seqs)s::bigint[], %(ids)s::text[], %(ats)s::timestamptz[],
                %(actors)s::text[], %(actions)s::text[], %(kinds)s::text[], %(targets)s::text[],
                %(befores)s::json[], %(afters)s::json[], %(reasons)s::text[],
                %(overrides)s::boolean[], %(prevs)s::text[], %(hashes)s::text[])"""
        )
        self.audit_log = q(
            """SELECT seq, id, at, actor_id, action, target_kind, target_id, before, after,
                reason, override, prev_hash, hash
            FROM {s}.audit_log WHERE seq > %s ORDER BY seq LIMIT %s"""
        )
        self.outbox_due = q(
            """SELECT id, topic, payload, created_at, idempotency_key, attempts,
                next_attempt_at, delivered_at, last_error
            FROM {s}.outbox
            WHERE delivered_at IS NULL AND (next_attempt_at IS NULL OR next_attempt_at <= %s)
            ORDER BY created_at, id LIMIT %s"""
        )
        self.outbox_delivered = q(
            "UPDATE {s}.outbox SET delivered_at = coalesce(delivered_at, %s) WHERE id = %s"
        )
        self.outbox_failed = q(
            """UPDATE {s}.outbox SET attempts = attempts + 1, last_error = %s,
                next_attempt_at = %s
            WHERE id = %s"""
        )
        # DELETE, not TRUNCATE: emptying small test tables is ~100x faster this way.
        self.empty = tuple(q("DELETE FROM {s}." + t) for t in _TABLES if t != "audit_head")
        self.head_reset = q("UPDATE {s}.audit_head SET seq = 0, hash = %s")
        self.version_table = q(
            """CREATE TABLE IF NOT EXISTS {s}.schema_version (
                singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
                version integer NOT NULL,
                migrated_at timestamptz NOT NULL DEFAULT now())"""
        )
        self.version_get = q("SELECT version FROM {s}.schema_version")
        self.version_set = q(
            """INSERT INTO {s}.schema_version (singleton, version) VALUES (true, %s)
            ON CONFLICT (singleton) DO UPDATE SET version = EXCLUDED.version,
                migrated_at = now()"""
        )
        self.migrations = tuple(
            tuple(q(stmt).replace("{genesis}", GENESIS_HASH) for stmt in step)
            for step in _MIGRATIONS
        )


class PostgresStore:
    """A leadtocash ``Store`` on PostgreSQL; open it with :meth:`PostgresStore.connect`."""

    def __init__(
        self, dsn: str, *, schema: str, min_size: int, max_size: int, timeout: float
    ) -> None:
        """Prepare (not open) a store; use :meth:`connect`, which also checks the schema."""
        if not schema or "\x00" in schema:
            raise ValueError("schema must be a non-empty name")
        self._dsn = dsn
        self._timeout = timeout
        self._connect_kwargs: dict[str, Any] = {}
        if "connect_timeout" not in conninfo_to_dict(dsn):
            self._connect_kwargs["connect_timeout"] = max(1, round(timeout))
        self._sql = _Statements(schema)
        self._pool: psycopg_pool.ConnectionPool[_Connection] = psycopg_pool.ConnectionPool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            kwargs={"autocommit": True, **self._connect_kwargs},
            timeout=timeout,
            open=False,
            name=f"leadtocash:{schema}",
        )
        self._close_lock = threading.Lock()
        self.closed = False

    @classmethod
    def connect(
        cls,
        dsn: str,
        *,
        schema: str = "leadtocash",
        create_schema: bool = False,
        min_size: int = 2,
        max_size: int = 10,
        timeout: float = 10.0,
    ) -> PostgresStore:
        """Open a store on ``dsn`` using tables in ``schema``; optionally create/migrate them.

        Without ``create_schema`` the schema must already be at :data:`SCHEMA_VERSION`
        (``StorageError`` otherwise). ``max_size`` bounds the connection pool; ``timeout`` (s)
        bounds connecting and waiting for a free connection (``StorageUnavailable`` after it).
        """
        if not psycopg.Pipeline.is_supported():
            raise StorageError("the PostgreSQL adapter needs libpq >= 14 (pipeline mode)")
        store = cls(dsn, schema=schema, min_size=min_size, max_size=max_size, timeout=timeout)
        try:
            if create_schema:
                store.create_schema()
            else:
                found = store.schema_version()
                if found != SCHEMA_VERSION:
                    state = "has no tables" if found is None else f"is at version {found}"
                    raise StorageError(
                        f"schema {schema!r} {state}, this adapter needs version "
                        f"{SCHEMA_VERSION}: call create_schema()",
                        details={"schema": schema, "found": found, "expected": SCHEMA_VERSION},
                    )
            try:
                store._pool.open(wait=True, timeout=timeout)
            except psycopg.Error as exc:
                raise _translate(exc, "opening the connection pool") from exc
        except BaseException:
            store.close()
            raise
        return store

    @property
    def schema(self) -> str:
        """The PostgreSQL schema (namespace) holding this store's tables."""
        return self._sql.schema

    # -- schema management -----------------------------------------------------------------
    @contextmanager
    def _direct(self, doing: str) -> Iterator[_Connection]:
        """A dedicated autocommit connection outside the pool (schema management)."""
        try:
            with psycopg.connect(self._dsn, autocommit=True, **self._connect_kwargs) as conn:
                yield conn
        except psycopg.Error as exc:
            raise _translate(exc, doing) from exc

    def schema_version(self) -> int | None:
        """The schema version found in the database (None when there is no schema)."""
        with self._direct("reading the schema version") as conn:
            exists = conn.execute(
                "SELECT to_regclass(%s) IS NOT NULL", (f"{self._sql.quoted}.schema_version",)
            ).fetchone()
            if not exists or not exists[0]:
                return None
            row = conn.execute(self._sql.version_get).fetchone()
            return None if row is None else int(row[0])

    def create_schema(self) -> None:
        """Create or migrate the tables to :data:`SCHEMA_VERSION`; idempotent, concurrency-safe."""
        with self._direct("creating the schema") as conn, conn.transaction():
            conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                (f"leadtocash-schema:{self.schema}",),
            )
            encoding = conn.execute("SHOW server_encoding").fetchone()
            if encoding is None or str(encoding[0]).upper() not in ("UTF8", "UTF-8"):
                raise StorageError(
                    "leadtocash needs a UTF8 database", details={"encoding": encoding}
                )
            conn.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema))
            )
            conn.execute(self._sql.version_table)
            row = conn.execute(self._sql.version_get).fetchone()
            current = 0 if row is None else int(row[0])
            if current > SCHEMA_VERSION:
                raise StorageError(
                    f"schema {self.schema!r} is at version {current}, newer than this "
                    f"adapter ({SCHEMA_VERSION})",
                    details={"found": current, "expected": SCHEMA_VERSION},
                )
            for step in self._sql.migrations[current:]:
                for statement in step:
                    conn.execute(statement)
            if current != SCHEMA_VERSION:
                conn.execute(self._sql.version_set, (SCHEMA_VERSION,))

    def truncate_all(self) -> None:
        """Empty every table in one transaction and reset the audit chain (meant for tests)."""
        with self._connection("emptying the store") as conn, conn.pipeline(), conn.transaction():
            for statement in self._sql.empty:
                conn.execute(statement)
            conn.execute(self._sql.head_reset, (GENESIS_HASH,))

    # -- connections -----------------------------------------------------------------------
    @contextmanager
    def raw_connection(self) -> Iterator[psycopg.Connection[TupleRow]]:
        """Lend one pooled (autocommit) connection for inspection and tooling.

        Qualify table names with :attr:`schema`; do not leave a transaction open on it.
        """
        with self._connection("using a raw connection") as conn:
            yield conn

    @contextmanager
    def _connection(self, doing: str) -> Iterator[_Connection]:
        """A pooled autocommit connection; driver errors leave as StorageError subclasses."""
        if self.closed:
            raise StorageError(f"{doing}: the store is closed")
        try:
            with self._pool.connection() as conn:
                yield conn
        except psycopg.Error as exc:
            raise _translate(exc, doing) from exc

    def session(self) -> PostgresSession:
        """A new session; reads see the latest committed state."""
        if self.closed:
            raise StorageError("store is closed")
        return PostgresSession(self)

    def _read(self, doing: str, query: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Run one read-only statement; a stale pooled connection is replaced once, silently.

        Reads are idempotent, so a connection the server dropped while it sat in the pool
        (restart, idle timeout, failover) costs a retry instead of an error. Commits are
        never retried here: their outcome is unknown when the connection breaks.
        """
        if self.closed:
            raise StorageError(f"{doing}: the store is closed")
        for retry in (True, False):
            conn: _Connection | None = None
            try:
                with self._pool.connection() as conn:
                    return conn.execute(query, params).fetchall()
            except psycopg.Error as exc:
                if retry and conn is not None and conn.broken:
                    continue
                raise _translate(exc, doing) from exc
        raise AssertionError("unreachable")

    # -- reads -----------------------------------------------------------------------------
    def _load(self, kind: str, ident: str) -> StoredRecord | None:
        rows = self._read("loading a record", self._sql.load, (kind, ident))
        return _record(kind, ident, *rows[0]) if rows else None

    def _load_many(self, kind: str, idents: Sequence[str]) -> dict[str, StoredRecord]:
        if not idents:
            return {}
        rows = self._read("loading records", self._sql.load_many, (kind, list(idents)))
        return {row[0]: _record(kind, *row) for row in rows}

    def _find_unique(self, kind: str, key: str) -> str | None:
        rows = self._read("looking up a unique key", self._sql.find_unique, (kind, key))
        return str(rows[0][0]) if rows else None

    def _find_by_key(self, kind: str, key: str, limit: int) -> list[str]:
        if limit <= 0:
            return []
        rows = self._read("looking up a key", self._sql.find_by_key, (kind, key, limit))
        return [str(row[0]) for row in rows]

    def _query(self, query: IndexQuery) -> list[tuple[str, str]]:
        if query.limit <= 0:
            return []
        text = self._sql.query_head
        params: list[Any] = [query.kind, query.index]
        if query.equals is not None:
            text += " AND value = %s"
            params.append(query.equals)
        if query.at_least is not None:
            text += " AND value >= %s"
            params.append(query.at_least)
        if query.below is not None:
            text += " AND value < %s"
            params.append(query.below)
        if query.after is not None:
            text += " AND (value, id) > (%s, %s)"
            params.extend(query.after)
        text += " ORDER BY value, id LIMIT %s"
        params.append(query.limit)
        rows = self._read("querying an index", text, params)
        return [(str(value), str(ident)) for value, ident in rows]

    # -- commit ----------------------------------------------------------------------------
    def _commit(self, commit: Commit) -> None:
        if not (commit.writes or commit.audit or commit.outbox):
            return
        plan = _Plan.of(commit)  # everything that can fail without the database fails here
        known_keys: dict[tuple[str, str], frozenset[str]] | None = None
        with self._connection("committing") as conn:
            while True:
                try:
                    with conn.pipeline() as pipe:
                        self._attempt(conn, pipe, plan, known_keys)
                    return  # leaving the pipeline sent COMMIT (round trip 2) and checked it
                except _KeysChanged as changed:
                    _rollback(conn)
                    # An update changes its record's unique keys: now that we know the keys
                    # it held, run again with releases and claims in the global lock order.
                    known_keys = changed.held
                except BaseException:
                    _rollback(conn)
                    raise

    def _attempt(
        self,
        conn: _Connection,
        pipe: psycopg.Pipeline,
        plan: _Plan,
        known_keys: dict[tuple[str, str], frozenset[str]] | None,
    ) -> None:
        """Queue one commit transaction up to its COMMIT, or raise (the caller rolls back).

        Row locks are taken in the same order by every commit, so commits never deadlock each
        other: record rows by (kind, id), then unique keys by (kind, key), then the audit head.
        Unique keys held before an update are assumed unchanged unless ``known_keys`` says
        otherwise; the update statement returns the keys really held, and a wrong guess
        raises ``_KeysChanged`` before anything is committed.
        """
        assumed = {
            slot: (known_keys or {}).get(slot, write.unique_keys)
            for slot, write in plan.updates.items()
        }
        releases, claims = [], []
        for write in plan.writes:
            held = assumed.get((write.kind, write.id), frozenset())
            releases += [(write.kind, key, write.id) for key in held - write.unique_keys]
            claims += [(write.kind, key, write.id) for key in write.unique_keys - held]
        # Round trip 1. BEGIN/COMMIT are sent by hand (pooled connections are in autocommit
        # mode): psycopg's transaction() would add round trips in pipeline mode.
        conn.execute("BEGIN", prepare=False)
        record_cursors = [
            conn.execute(self._sql.update if w.expected_version else self._sql.insert, p)
            for w, p in zip(plan.writes, plan.params, strict=True)
        ]
        key_ops = []
        if plan.intra_duplicate is None:
            key_ops = self._queue_key_ops(conn, releases, claims)
        outbox_cursors = [conn.execute(self._sql.outbox_insert, m) for m in plan.outbox]
        head_cursor = None
        if plan.audit:
            head_params = {
                "proceed": plan.intra_duplicate is None,
                "kinds": [w.kind for w in plan.writes],
                "ids": [w.id for w in plan.writes],
                "versions": [w.new_version for w in plan.writes],
                "key_kinds": [kind for kind, _, _ in claims],
                "keys": [key for _, key, _ in claims],
                "key_ids": [ident for _, _, ident in claims],
                "messages": [m[0] for m in plan.outbox],
            }
            head_cursor = conn.execute(self._sql.head_lock, head_params)
        pipe.sync()
        self._check_and_seal(conn, pipe, plan, record_cursors, key_ops, outbox_cursors,
                             head_cursor, assumed, known_keys)  # fmt: skip
        # Round trip 2 (sent when the caller leaves the pipeline): audit append and COMMIT.
        conn.execute("COMMIT", prepare=False)

    def _check_and_seal(
        self,
        conn: _Connection,
        pipe: psycopg.Pipeline,
        plan: _Plan,
        record_cursors: list[psycopg.Cursor[TupleRow]],
        key_ops: list[tuple[str, str, psycopg.Cursor[TupleRow]]],
        outbox_cursors: list[psycopg.Cursor[TupleRow]],
        head_cursor: psycopg.Cursor[TupleRow] | None,
        assumed: dict[tuple[str, str], frozenset[str]],
        known_keys: dict[tuple[str, str], frozenset[str]] | None,
    ) -> None:
        """Check round trip 1's results (raise to roll back) and queue the audit append."""
        actual: dict[tuple[str, str], frozenset[str]] = {}
        for write, cursor in zip(plan.writes, record_cursors, strict=True):
            row = cursor.fetchone()
            if row is None or row[0] != 1:
                raise _conflict(write)
            if write.expected_version:
                actual[(write.kind, write.id)] = frozenset(row[1])
        if plan.intra_duplicate is not None:
            raise plan.intra_duplicate
        if actual != assumed:
            if known_keys is not None:  # they changed although the version did not
                raise ConcurrencyConflict("unique keys changed concurrently; retry")
            raise _KeysChanged(actual)
        for kind, key, cursor in key_ops:
            if cursor.rowcount != 1:
                holder = conn.execute(self._sql.find_unique, (kind, key))
                pipe.sync()
                raise DuplicateKey(kind, key, _scalar(holder))
        for message, cursor in zip(plan.outbox, outbox_cursors, strict=True):
            if cursor.rowcount != 1:
                raise StorageError(f"outbox message {message[0]!r} already exists")
        if head_cursor is not None:
            head = head_cursor.fetchone()
            if head is None:
                raise StorageError(
                    "the audit head row was not locked (missing? call create_schema())"
                )
            sealed = chain_entries(plan.audit, last_seq=int(head[0]), last_hash=head[1])
            conn.execute(self._sql.audit_append, _audit_params(sealed, plan.audit_json))

    def _queue_key_ops(
        self,
        conn: _Connection,
        releases: list[tuple[str, str, str]],
        claims: list[tuple[str, str, str]],
    ) -> list[tuple[str, str, psycopg.Cursor[TupleRow]]]:
        """Queue key releases and claims in (kind, key) order; return the claims' cursors."""
        ops = sorted(
            [(kind, key, 0, ident) for kind, key, ident in releases]
            + [(kind, key, 1, ident) for kind, key, ident in claims]
        )
        cursors = []
        for kind, key, is_claim, ident in ops:
            if is_claim:
                cursors.append((kind, key, conn.execute(self._sql.claim, (kind, key, ident))))
            else:
                conn.execute(self._sql.release, (kind, key, ident))
        return cursors

    # -- audit and outbox ------------------------------------------------------------------
    def audit_log(self, *, after_seq: int = 0, limit: int = 1000) -> list[AuditEntry]:
        """Sealed audit entries with ``seq > after_seq`` in seq order."""
        if limit <= 0:
            return []
        rows = self._read("reading the audit log", self._sql.audit_log, (after_seq, limit))
        return [
            AuditEntry(
                id=r[1],
                at=r[2].astimezone(UTC),
                actor_id=r[3],
                action=r[4],
                target_kind=r[5],
                target_id=r[6],
                before=r[7],
                after=r[8],
                reason=r[9],
                override=r[10],
                seq=int(r[0]),
                prev_hash=r[11],
                hash=r[12],
            )
            for r in rows
        ]

    def outbox_due(self, now: datetime, *, limit: int = 100) -> list[OutboxMessage]:
        """Undelivered messages whose next attempt is due at ``now``, oldest first."""
        if limit <= 0:
            return []
        rows = self._read("reading the outbox", self._sql.outbox_due, (now, limit))
        return [
            OutboxMessage(
                id=r[0],
                topic=r[1],
                payload=r[2],
                created_at=r[3].astimezone(UTC),
                idempotency_key=r[4],
                attempts=int(r[5]),
                next_attempt_at=_utc(r[6]),
                delivered_at=_utc(r[7]),
                last_error=r[8],
            )
            for r in rows
        ]

    def outbox_mark_delivered(self, message_id: str, at: datetime) -> None:
        """Record a successful delivery (idempotent); NotFound for an unknown message."""
        with self._connection("marking an outbox message delivered") as conn:
            cursor = conn.execute(self._sql.outbox_delivered, (at, message_id))
        if cursor.rowcount == 0:
            raise NotFound("outbox_message", message_id)

    def outbox_mark_failed(self, message_id: str, error: str, retry_at: datetime) -> None:
        """Count a failed attempt and schedule the next one; NotFound for an unknown message."""
        with self._connection("marking an outbox message failed") as conn:
            cursor = conn.execute(self._sql.outbox_failed, (error, retry_at, message_id))
        if cursor.rowcount == 0:
            raise NotFound("outbox_message", message_id)

    # -- lifecycle -------------------------------------------------------------------------
    def close(self) -> None:
        """Close the connection pool (idempotent)."""
        with self._close_lock:
            if self.closed:
                return
            self.closed = True
        self._pool.close()

    def __enter__(self) -> PostgresStore:
        """Use the store as a context manager that closes it on exit."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the store."""
        self.close()


class PostgresSession:
    """A session on a :class:`PostgresStore`; each call borrows a pooled connection briefly."""

    def __init__(self, store: PostgresStore) -> None:
        """Open a session on ``store`` (no connection is held between calls)."""
        self._store = store
        self._open = True

    def _check(self) -> None:
        if not self._open:
            raise StorageError("session is closed")

    def load(self, kind: str, ident: str) -> StoredRecord | None:
        """The committed record or None."""
        self._check()
        return self._store._load(kind, ident)

    def load_many(self, kind: str, idents: Sequence[str]) -> dict[str, StoredRecord]:
        """The committed records among ``idents``, by id."""
        self._check()
        return self._store._load_many(kind, idents)

    def find_unique(self, kind: str, key: str) -> str | None:
        """The id of the record of ``kind`` holding unique ``key``, or None."""
        self._check()
        return self._store._find_unique(kind, key)

    def find_by_key(self, kind: str, key: str, *, limit: int = 100) -> list[str]:
        """Up to ``limit`` ids of records of ``kind`` holding lookup ``key``, ascending."""
        self._check()
        return self._store._find_by_key(kind, key, limit)

    def query(self, query: IndexQuery) -> list[tuple[str, str]]:
        """Up to ``query.limit`` ``(value, id)`` pairs of a named index, ascending."""
        self._check()
        return self._store._query(query)

    def commit(self, commit: Commit) -> None:
        """Apply ``commit`` atomically; the session may not be used after it succeeds."""
        self._check()
        self._store._commit(commit)
        self._open = False

    def close(self) -> None:
        """Close the session (idempotent); nothing uncommitted is kept."""
        self._open = False


# -- helpers ----------------------------------------------------------------------------------
class _KeysChanged(Exception):
    """Internal: an update's record held other unique keys than assumed; carries the real ones."""

    def __init__(self, held: dict[tuple[str, str], frozenset[str]]) -> None:
        super().__init__("unique keys changed")
        self.held = held


@attrs.frozen
class _Plan:
    """A commit made ready for the database: sorted writes, statement parameters, JSON."""

    writes: list[RecordWrite]
    params: list[dict[str, Any]]
    updates: dict[tuple[str, str], RecordWrite]
    intra_duplicate: DuplicateKey | None
    outbox: list[tuple[Any, ...]]
    audit: Sequence[AuditEntry]
    audit_json: list[tuple[str | None, str | None]]

    @classmethod
    def of(cls, commit: Commit) -> _Plan:
        """Validate and serialize ``commit``; raises StorageError for what cannot be stored."""
        intra_duplicate = _check_commit_shape(commit.writes)
        writes = sorted(commit.writes, key=lambda w: (w.kind, w.id))
        return cls(
            writes=writes,
            params=[_write_params(write) for write in writes],
            updates={(w.kind, w.id): w for w in writes if w.expected_version},
            intra_duplicate=intra_duplicate,
            # Like the reference store: a message id repeated in one commit keeps the last one.
            outbox=[_outbox_params(m) for m in {m.id: m for m in commit.outbox}.values()],
            audit=commit.audit,
            audit_json=[_audit_json(entry) for entry in commit.audit],
        )


def _check_commit_shape(writes: Sequence[RecordWrite]) -> DuplicateKey | None:
    """Reject a record written twice; return (not raise) a key claimed twice in the commit.

    The duplicate key is reported only after the version checks, like the reference store.
    """
    seen: set[tuple[str, str]] = set()
    claimed: dict[tuple[str, str], str] = {}
    duplicate: DuplicateKey | None = None
    for write in writes:
        slot = (write.kind, write.id)
        if slot in seen:
            raise StorageError(f"{write.kind} {write.id!r} written twice in one commit")
        seen.add(slot)
        for key in sorted(write.unique_keys):
            holder = claimed.setdefault((write.kind, key), write.id)
            if holder != write.id and duplicate is None:
                duplicate = DuplicateKey(write.kind, key, holder)
    return duplicate


def _write_params(write: RecordWrite) -> dict[str, Any]:
    try:
        data = _dumps(dict(write.data))
    except (TypeError, ValueError) as exc:
        raise StorageError(
            f"{write.kind} {write.id!r} is not JSON-serializable: {exc}",
            details={"kind": write.kind, "id": write.id},
        ) from exc
    entries = sorted((n, v) for n, v in write.indexes.items() if v is not None)
    exact = _NOT_JSONB_SAFE.search(data) is not None
    return {
        "kind": write.kind,
        "id": write.id,
        "expected": write.expected_version,
        "data": None if exact else data,
        "exact": data if exact else None,
        "names": [n for n, _ in entries],
        "values": [v for _, v in entries],
        "lookups": sorted(write.lookup_keys),
    }


def _record(kind: str, ident: str, version: int, data: Any, exact: Any) -> StoredRecord:
    return StoredRecord(kind, ident, int(version), data if exact is None else exact)


def _outbox_params(message: OutboxMessage) -> tuple[Any, ...]:
    try:
        payload = _dumps(dict(message.payload))
    except (TypeError, ValueError) as exc:
        raise StorageError(
            f"outbox message {message.id!r} is not JSON-serializable: {exc}"
        ) from exc
    return (
        message.id,
        message.topic,
        payload,
        message.created_at,
        message.idempotency_key,
        message.attempts,
        message.next_attempt_at,
        message.delivered_at,
        message.last_error,
    )


def _audit_json(entry: AuditEntry) -> tuple[str | None, str | None]:
    try:
        before = None if entry.before is None else _dumps(dict(entry.before))
        after = None if entry.after is None else _dumps(dict(entry.after))
    except (TypeError, ValueError) as exc:
        raise StorageError(f"audit entry {entry.id!r} is not JSON-serializable: {exc}") from exc
    return before, after


def _audit_params(
    sealed: Sequence[AuditEntry], json_texts: Sequence[tuple[str | None, str | None]]
) -> dict[str, Any]:
    return {
        "seq": sealed[-1].seq,
        "hash": sealed[-1].hash,
        "seqs": [e.seq for e in sealed],
        "ids": [e.id for e in sealed],
        "ats": [e.at for e in sealed],
        "actors": [e.actor_id for e in sealed],
        "actions": [e.action for e in sealed],
        "kinds": [e.target_kind for e in sealed],
        "targets": [e.target_id for e in sealed],
        "befores": [before for before, _ in json_texts],
        "afters": [after for _, after in json_texts],
        "reasons": [e.reason for e in sealed],
        "overrides": [e.override for e in sealed],
        "prevs": [e.prev_hash for e in sealed],
        "hashes": [e.hash for e in sealed],
    }


def _rollback(conn: _Connection) -> None:
    """End a failed commit transaction, keeping the connection reusable when possible."""
    with contextlib.suppress(psycopg.Error):  # the pool discards a connection it cannot reset
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.execute("ROLLBACK", prepare=False)


def _scalar(cursor: psycopg.Cursor[TupleRow]) -> Any:
    row = cursor.fetchone()
    return None if row is None else row[0]


def _conflict(write: RecordWrite) -> ConcurrencyConflict:
    """The ConcurrencyConflict for a write whose version check failed."""
    expected = "to be new" if write.expected_version == 0 else f"at {write.expected_version}"
    return ConcurrencyConflict(
        f"{write.kind} {write.id!r} was changed by someone else (expected it {expected})",
        details={"kind": write.kind, "id": write.id, "expected_version": write.expected_version},
    )
