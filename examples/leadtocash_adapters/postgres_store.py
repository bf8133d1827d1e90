"""PostgreSQL reference adapter for leadtocash's storage port (psycopg 3 + psycopg-pool).

Usage::

    from leadtocash_adapters.postgres_store import PostgresStore

    store = PostgresStore.connect("host=... dbname=crm user=crm", create_schema=True)
    crm = LeadToCash(store=store, clock=SystemClock(), ids=RandomIds())
    ...
    store.close()

Design (details in docs/adapters/postgres.md):

* Records are JSONB rows keyed by ``(kind, id)`` with an integer ``version`` and their
  named index values (a JSONB object); each index the library queries by has a partial
  expression index on those rows (schema version 9). Unique keys and lookup keys live in
  their own tables. All text is compared ``COLLATE "C"``, so ordering is code point order,
  exactly like the in-memory store.
* A commit is one statement, ``SELECT <schema>.ltc_commit($1::jsonb)``, in one round trip:
  a PL/pgSQL function (installed by ``create_schema``; schema version 9) applies the
  versioned writes and version checks (``FOR SHARE``) in ``(kind, id)`` order, the writes
  with what changed of their lookup keys (each record row keeps a copy of them to compare
  against), the unique-key releases and claims in ``(kind, key)`` order and
  the outbox rows, then locks the heads of the audit strands it touches, ascending (one
  strand: by updating it), and seals the audit entries onto them with SHA-256, exactly as
  :func:`leadtocash.link_hash` does. Every commit takes its row locks in the same global
  order, so commits never deadlock each other.
* Driver errors become the library's ``StorageError`` family: deadlocks and serialization
  failures are ``ConcurrencyConflict``, connection trouble is ``StorageUnavailable``.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from typing import Any

import attrs
import psycopg
import psycopg_pool
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import TupleRow

from leadtocash import (
    DEFAULT_STRANDS,
    GENESIS_HASH,
    QUERIED_INDEXES,
    AuditDigest,
    AuditEntry,
    ConcurrencyConflict,
    DuplicateKey,
    NotFound,
    StorageError,
    StorageUnavailable,
)
from leadtocash.ports import (
    Commit,
    Erasure,
    ErasureReport,
    IndexFilter,
    IndexQuery,
    OutboxMessage,
    RecordWrite,
    StoredRecord,
    StrandTip,
    VersionCheck,
    check_failed,
    commit_checks,
    make_digest,
    restore_personal,
    scrub_payload,
    strand_of,
)
from leadtocash_adapters._documents import DocumentMemo

__all__ = ["SCHEMA_VERSION", "PostgresSession", "PostgresStore"]

_Connection = psycopg.Connection[TupleRow]

#: The schema version this adapter creates and expects.
SCHEMA_VERSION = 9

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
    (),  # version 3 installed the first ltc_commit; later versions replace it
    (  # version 4: each record row keeps a copy of its index entries and keys (see below)
        """ALTER TABLE {s}.records ADD COLUMN IF NOT EXISTS indexes jsonb,
            ADD COLUMN IF NOT EXISTS lookups jsonb, ADD COLUMN IF NOT EXISTS keys jsonb""",
        """UPDATE {s}.records r SET
            indexes = coalesce((SELECT jsonb_object_agg(e.name, e.value)
                FROM {s}.index_entries e WHERE e.kind = r.kind AND e.id = r.id), '{}'),
            lookups = coalesce((SELECT jsonb_agg(l.key ORDER BY l.key)
                FROM {s}.lookup_keys l WHERE l.kind = r.kind AND l.id = r.id), '[]'),
            keys = coalesce((SELECT jsonb_agg(u.key ORDER BY u.key)
                FROM {s}.unique_keys u WHERE u.kind = r.kind AND u.id = r.id), '[]')
            WHERE r.indexes IS NULL OR r.lookups IS NULL OR r.keys IS NULL""",
        """ALTER TABLE {s}.records ALTER COLUMN indexes SET NOT NULL,
            ALTER COLUMN lookups SET NOT NULL, ALTER COLUMN keys SET NOT NULL""",
        """ALTER TABLE {s}.audit_head ADD COLUMN IF NOT EXISTS prev_hash text""",
        "{commit_function}",
    ),
    (  # version 5: audit strands and digests; the single chain so far becomes strand 0
        """ALTER TABLE {s}.audit_log ADD COLUMN IF NOT EXISTS strand integer NOT NULL DEFAULT 0,
            ADD COLUMN IF NOT EXISTS strand_seq bigint,
            ADD COLUMN IF NOT EXISTS format smallint NOT NULL DEFAULT 1""",
        """UPDATE {s}.audit_log SET strand_seq = seq WHERE strand_seq IS NULL""",
        """ALTER TABLE {s}.audit_log ALTER COLUMN strand_seq SET NOT NULL""",
        """CREATE UNIQUE INDEX IF NOT EXISTS audit_log_by_strand
            ON {s}.audit_log (strand, strand_seq)""",
        """CREATE SEQUENCE IF NOT EXISTS {s}.audit_log_seq""",
        """SELECT setval('{s}.audit_log_seq',
            coalesce((SELECT max(seq) FROM {s}.audit_log), 0) + 1, false)""",
        """CREATE TABLE IF NOT EXISTS {s}.audit_strands (
            strand integer PRIMARY KEY CHECK (strand >= 0),
            seq bigint NOT NULL,
            hash text NOT NULL,
            prev_hash text)""",
        """INSERT INTO {s}.audit_strands (strand, seq, hash, prev_hash)
            SELECT 0, seq, hash, prev_hash FROM {s}.audit_head ON CONFLICT DO NOTHING""",
        """CREATE TABLE IF NOT EXISTS {s}.audit_digests (
            seq bigint PRIMARY KEY CHECK (seq > 0),
            tips jsonb NOT NULL,
            root text NOT NULL,
            prev_hash text NOT NULL,
            hash text NOT NULL)""",
        "{commit_function}",
    ),
    (  # version 6: the erasable part of an audit entry (personal values and their salts)
        """ALTER TABLE {s}.audit_log ADD COLUMN IF NOT EXISTS personal json""",
        "{commit_function}",
    ),
    ("{commit_function}",),  # version 7: version checks (records a commit rests on)
    ("{commit_function}",),  # version 8: no upsert of index entries, one strand not pre-locked
    (  # version 9: index values are read from the row's copy, through expression indexes
        "{commit_function}",
        """DROP TABLE IF EXISTS {s}.index_entries""",
    ),
)

# The whole commit, run by the server as one statement (one round trip, one transaction).
# ``doc`` is the JSON the adapter builds in ``_Plan.of``. Row locks are taken in one global
# order, so commits never deadlock each other: record rows by (kind, id) as the client sorted
# them, then unique keys by (kind, key), then the audit head, last, so that the lock that
# serializes every audited commit is held only for the sealing and the commit itself.
# Each record row keeps a copy of its index values, lookup keys and unique keys (schema
# version 4), so a write compares old and new keys in memory and touches the key tables only
# where something changed. Since schema version 9 the copy of the index values is the index:
# named queries read it through expression indexes (see ``_Statements.create_index``), so a
# write of a record's index values is the row's own write and nothing else.
# Failures raise with adapter-private SQLSTATEs (class LT) and a JSON DETAIL, and roll back.
_COMMIT_FUNCTION = """CREATE OR REPLACE FUNCTION {s}.ltc_commit(doc jsonb) RETURNS void
LANGUAGE plpgsql AS $ltc$
DECLARE
    w record;
    k record;
    a record;
    n bigint;
    old_lookups jsonb;
    old_keys jsonb;
    op_kinds text[] := '{}';
    op_keys text[] := '{}';
    op_claims boolean[] := '{}';
    op_ids text[] := '{}';
    holder text;
BEGIN
    FOR w IN SELECT * FROM ROWS FROM (jsonb_to_recordset(doc->'writes') AS (kind text, id text,
        expected bigint, data jsonb, exact text, indexes jsonb, lookups jsonb, keys jsonb,
        checked boolean)) WITH ORDINALITY AS x ORDER BY x.ordinality
    LOOP
        IF w.checked THEN
            -- A version check (schema version 7): a record the commit rests on without
            -- writing it, share-locked in the same (kind, id) order as the written rows. A
            -- concurrent writer of the row is waited for, and the version is then tested on
            -- the row it left; until this commit ends, no write of the row can commit.
            PERFORM 1 FROM {s}.records r
                WHERE r.kind = w.kind AND r.id = w.id AND r.version = w.expected FOR SHARE;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'stale read' USING ERRCODE = 'LT409',
                    DETAIL = json_build_array(w.kind, w.id)::text;
            END IF;
            CONTINUE;
        END IF;
        IF w.expected > 0 THEN
            -- The versioned write; ``o`` is the row as it was, for its key copies. A
            -- concurrent writer makes the version test fail (PostgreSQL re-checks it on the
            -- newest row version after waiting for the row lock).
            UPDATE {s}.records r SET version = r.version + 1, data = w.data,
                exact = w.exact::json, indexes = w.indexes, lookups = w.lookups, keys = w.keys
            FROM {s}.records o
            WHERE r.kind = w.kind AND r.id = w.id AND r.version = w.expected
                AND o.kind = w.kind AND o.id = w.id
            RETURNING o.lookups, o.keys INTO old_lookups, old_keys;
            GET DIAGNOSTICS n = ROW_COUNT;
        ELSE
            INSERT INTO {s}.records (kind, id, version, data, exact, indexes, lookups, keys)
            VALUES (w.kind, w.id, 1, w.data, w.exact::json, w.indexes, w.lookups, w.keys)
            ON CONFLICT (kind, id) DO NOTHING;
            GET DIAGNOSTICS n = ROW_COUNT;
            old_lookups := '[]'; old_keys := '[]';
        END IF;
        IF n <> 1 THEN
            RAISE EXCEPTION 'stale write' USING ERRCODE = 'LT409',
                DETAIL = json_build_array(w.kind, w.id)::text;
        END IF;
        IF old_lookups <> w.lookups THEN
            WITH dropped AS (
                DELETE FROM {s}.lookup_keys l WHERE l.kind = w.kind AND l.id = w.id
                    AND l.key IN (SELECT o FROM jsonb_array_elements_text(old_lookups) o
                        WHERE NOT w.lookups ? o)
            )
            INSERT INTO {s}.lookup_keys (kind, key, id)
                SELECT w.kind, j, w.id FROM jsonb_array_elements_text(w.lookups) j
                WHERE NOT old_lookups ? j;
        END IF;
        IF old_keys <> w.keys THEN  -- releases (held, not wanted) and claims (wanted, not held)
            SELECT op_kinds || array_agg(w.kind), op_keys || array_agg(o.key),
                op_claims || array_agg(o.claim), op_ids || array_agg(w.id)
            FROM (SELECT h AS key, false AS claim FROM jsonb_array_elements_text(old_keys) h
                    WHERE NOT w.keys ? h
                UNION ALL
                SELECT x, true FROM jsonb_array_elements_text(w.keys) x
                    WHERE NOT old_keys ? x) o
            INTO op_kinds, op_keys, op_claims, op_ids;
        END IF;
    END LOOP;
    IF (doc->>'intra_duplicate')::boolean THEN
        RAISE EXCEPTION 'key claimed twice in one commit' USING ERRCODE = 'LT23D';
    END IF;
    -- Unique keys: the primary key (kind, key) decides, never a read-then-write.
    IF cardinality(op_keys) > 0 THEN
        FOR k IN SELECT * FROM unnest(op_kinds, op_keys, op_claims, op_ids)
            AS o(kind, key, claim, id) ORDER BY o.kind COLLATE "C", o.key COLLATE "C", o.claim
        LOOP
            IF k.claim THEN
                INSERT INTO {s}.unique_keys (kind, key, id) VALUES (k.kind, k.key, k.id)
                    ON CONFLICT (kind, key) DO NOTHING;
                GET DIAGNOSTICS n = ROW_COUNT;
                IF n <> 1 THEN
                    SELECT u.id INTO holder FROM {s}.unique_keys u
                        WHERE u.kind = k.kind AND u.key = k.key;
                    RAISE EXCEPTION 'duplicate key' USING ERRCODE = 'LT23U',
                        DETAIL = json_build_array(k.kind, k.key, holder)::text;
                END IF;
            ELSE
                DELETE FROM {s}.unique_keys WHERE kind = k.kind AND key = k.key AND id = k.id;
            END IF;
        END LOOP;
    END IF;
    IF jsonb_array_length(doc->'outbox') > 0 THEN
        INSERT INTO {s}.outbox (id, topic, payload, created_at, idempotency_key, attempts,
            next_attempt_at, delivered_at, last_error)
            SELECT m.id, m.topic, m.payload::json, m.created_at, m.idempotency_key, m.attempts,
                m.next_attempt_at, m.delivered_at, m.last_error
            FROM jsonb_to_recordset(doc->'outbox') AS m(id text, topic text, payload text,
                created_at timestamptz, idempotency_key text, attempts integer,
                next_attempt_at timestamptz, delivered_at timestamptz, last_error text)
            ON CONFLICT (id) DO NOTHING;
        GET DIAGNOSTICS n = ROW_COUNT;
        IF n <> jsonb_array_length(doc->'outbox') THEN
            RAISE EXCEPTION 'outbox message already stored' USING ERRCODE = 'LT410';
        END IF;
    END IF;
    -- The audit entries, each sealed onto its strand's head row. The heads this commit
    -- touches are locked first, in ascending strand order (after the records and keys: one
    -- global lock order, so no deadlock), and held to the commit; commits on other strands
    -- do not wait. hash = SHA-256 of the RFC 8785 link object {"content", "prev_hash",
    -- "seq", "strand"} (leadtocash.link_hash); the client sent each entry's content hash.
    IF jsonb_array_length(doc->'strands') > 1 THEN  -- one strand: its UPDATE locks it
        PERFORM 1 FROM {s}.audit_strands h
            WHERE h.strand IN (SELECT t::int FROM jsonb_array_elements_text(doc->'strands') t)
            ORDER BY h.strand FOR UPDATE;
    END IF;
    IF jsonb_array_length(doc->'audit') > 0 THEN
        FOR a IN SELECT * FROM ROWS FROM (jsonb_to_recordset(doc->'audit') AS (id text,
            at timestamptz, actor_id text, action text, target_kind text, target_id text,
            before text, after text, reason text, override boolean, strand integer,
            content text, personal text)) WITH ORDINALITY AS x ORDER BY x.ordinality
        LOOP
            WITH head AS (
                UPDATE {s}.audit_strands h SET seq = h.seq + 1, prev_hash = h.hash,
                    hash = encode(sha256(convert_to('{"content":"' || a.content
                        || '","prev_hash":"' || h.hash || '","seq":' || (h.seq + 1)::text
                        || ',"strand":' || a.strand::text || '}', 'UTF8')), 'hex')
                WHERE h.strand = a.strand
                RETURNING h.seq, h.prev_hash, h.hash
            )
            INSERT INTO {s}.audit_log (seq, id, at, actor_id, action, target_kind, target_id,
                before, after, reason, override, prev_hash, hash, strand, strand_seq, format,
                personal)
            SELECT nextval('{s}.audit_log_seq'), a.id, a.at, a.actor_id, a.action,
                a.target_kind, a.target_id, a.before::json, a.after::json, a.reason,
                a.override, head.prev_hash, head.hash, a.strand, head.seq, 2,
                a.personal::json
            FROM head;
            GET DIAGNOSTICS n = ROW_COUNT;
            IF n <> 1 THEN
                RAISE EXCEPTION 'an audit strand head row is missing' USING ERRCODE = 'LT500';
            END IF;
        END LOOP;
    END IF;
END
$ltc$"""

_TABLES = (
    "records",
    "unique_keys",
    "lookup_keys",
    "audit_log",
    "audit_head",
    "audit_strands",
    "audit_digests",
    "outbox",
)


# Parsed documents a store keeps to skip parsing a record read again unchanged.
_DOCUMENTS = 2048

# One encoder for every document: ``json.dumps`` with options builds a new encoder per call.
_dumps = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode


#: JSON text that JSONB would not give back as written: a NUL character (JSONB rejects
#: ``\u0000``), a float in exponent form with a positive exponent (JSONB's ``numeric`` reads
#: back as an int) or ``-0.0`` (reads back as ``0.0``). False positives only cost JSONB.
_NOT_JSONB_SAFE = re.compile(r"\\u0000|[0-9]e\+|-0\.0(?![0-9])")


def _jsonb_alters(text: str) -> bool:
    """Whether JSONB could give ``text`` back altered (:data:`_NOT_JSONB_SAFE`).

    Substring tests first: they are fast, and the regular expression is slow on long text.
    """
    if "\\u0000" in text:
        return True
    return ("e+" in text or "-0.0" in text) and _NOT_JSONB_SAFE.search(text) is not None


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def _configure(conn: _Connection) -> None:
    """Settings for each pooled connection.

    Generic plans: every statement of the adapter is a key lookup or a short index range
    whose best plan does not depend on the parameters, and PostgreSQL would otherwise plan
    some of them afresh on every call (a read of several records spent 60 µs planning).
    """
    conn.execute("SET plan_cache_mode = force_generic_plan")


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

        # Documents come back as text: the store parses them (see PostgresStore._document).
        self.load = q(
            "SELECT version, data::text, exact FROM {s}.records WHERE kind = %s AND id = %s"
        )
        self.load_many = q(
            """SELECT id, version, data::text, exact FROM {s}.records
            WHERE kind = %s AND id = ANY(%s::text[])"""
        )
        self.load_each = q(
            """SELECT r.kind, r.id, r.version, r.data::text, r.exact FROM {s}.records r
            JOIN unnest(%s::text[], %s::text[]) AS w(kind, id)
                ON r.kind = w.kind AND r.id = w.id"""
        )
        # The fields as one JSON array (a document stored as exact text comes whole).
        self.load_fields = q(
            """SELECT r.id, CASE WHEN r.exact IS NULL THEN (
                    SELECT jsonb_agg(r.data -> u.f ORDER BY u.n)
                    FROM unnest(%s::text[]) WITH ORDINALITY AS u(f, n))::text END, r.exact
            FROM {s}.records r WHERE r.kind = %s AND r.id = ANY(%s::text[])"""
        )
        self.scan = q(
            """SELECT id, version, data::text, exact FROM {s}.records
            WHERE kind = %(kind)s AND (%(after)s::text IS NULL OR id > %(after)s::text)
            ORDER BY id LIMIT %(limit)s"""
        )
        self.find_unique = q("SELECT id FROM {s}.unique_keys WHERE kind = %s AND key = %s")
        self.find_by_key = q(
            "SELECT id FROM {s}.lookup_keys WHERE kind = %s AND key = %s ORDER BY id LIMIT %s"
        )
        # Each key's ids by the same bounded index range as find_by_key, in one statement.
        self.find_by_keys = q(
            """SELECT k.key, l.id FROM unnest(%s::text[]) AS k(key)
            CROSS JOIN LATERAL (SELECT id FROM {s}.lookup_keys
                WHERE kind = %s AND key = k.key ORDER BY id LIMIT %s) AS l"""
        )
        self.records = q("{s}.records")
        self.index_names = (
            "SELECT indexname FROM pg_indexes WHERE schemaname = %s AND tablename = 'records' "
            f"AND starts_with(indexname, '{_INDEX_PREFIX}')"
        )
        self.commit = q("SELECT {s}.ltc_commit(%s::jsonb)")
        audit_columns = """seq, id, at, actor_id, action, target_kind, target_id, before,
            after, reason, override, prev_hash, hash, strand, strand_seq, format, personal"""
        self.erase_audit = q(
            """UPDATE {s}.audit_log SET personal = NULL WHERE strand = %s
            AND target_kind = %s AND target_id = %s AND personal IS NOT NULL"""
        )
        self.outbox_payloads = q(
            "SELECT id, payload FROM {s}.outbox WHERE id > %s ORDER BY id LIMIT 500 FOR UPDATE"
        )
        self.outbox_scrub = q("UPDATE {s}.outbox SET payload = %s::json WHERE id = %s")
        self.audit_log = q(
            f"""SELECT {audit_columns}
            FROM {{s}}.audit_log WHERE seq > %s ORDER BY seq LIMIT %s"""
        )
        self.audit_strand = q(
            f"""SELECT {audit_columns} FROM {{s}}.audit_log
            WHERE strand = %s AND strand_seq > %s ORDER BY strand_seq LIMIT %s"""
        )
        self.audit_digests = q(
            """SELECT seq, tips, root, prev_hash, hash FROM {s}.audit_digests
            WHERE seq > %s ORDER BY seq LIMIT %s"""
        )
        self.digest_lock = q(
            "SELECT pg_advisory_xact_lock(hashtextextended('leadtocash-digest:' || %s, 0))"
        )
        self.last_digest = q(
            """SELECT seq, tips, root, prev_hash, hash FROM {s}.audit_digests
            ORDER BY seq DESC LIMIT 1"""
        )
        self.strand_heads = q("SELECT strand, seq, hash FROM {s}.audit_strands ORDER BY strand")
        self.insert_digest = q(
            """INSERT INTO {s}.audit_digests (seq, tips, root, prev_hash, hash)
            VALUES (%s, %s::jsonb, %s, %s, %s)"""
        )
        self.strand_count = q("SELECT count(*) FROM {s}.audit_strands")
        self.add_strands = q(
            """INSERT INTO {s}.audit_strands (strand, seq, hash)
            SELECT g, 0, %s FROM generate_series(0, %s - 1) g ON CONFLICT DO NOTHING"""
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
        self.empty = tuple(
            q("DELETE FROM {s}." + t) for t in _TABLES if t not in ("audit_head", "audit_strands")
        )
        self.head_reset = q("UPDATE {s}.audit_head SET seq = 0, hash = %s")
        self.strands_reset = q("UPDATE {s}.audit_strands SET seq = 0, hash = %s, prev_hash = NULL")
        self.seq_reset = q("SELECT setval('{s}.audit_log_seq', 1, false)")
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
            tuple(
                q(stmt.replace("{commit_function}", _COMMIT_FUNCTION)).replace(
                    "{genesis}", GENESIS_HASH
                )
                for stmt in step
            )
            for step in _MIGRATIONS
        )

    @staticmethod
    def index_value(name: str, row: str = "r.") -> str:
        """SQL of index ``name``'s value in a record row (alias ``row``), by code point."""
        return f'({row}indexes ->>{_literal(name)}) COLLATE "C"'

    @staticmethod
    def index_rows(kind: str, name: str) -> str:
        """SQL conditions selecting the rows ``r`` of ``kind`` with a value in index ``name``.
        Kind and name are literals, so that the planner proves the predicate of the name's
        expression index (see :meth:`create_index`) even in a generic plan."""
        return f"r.kind ={_literal(kind)} AND (r.indexes ->>{_literal(name)}) IS NOT NULL"

    def create_index(self, name: str, kinds: Iterable[str]) -> tuple[str, str]:
        """The name and DDL of the expression index serving queries of index ``name`` of
        each of ``kinds``: ``(kind, value, id)`` over the rows of those kinds holding it."""
        chosen = sorted(kinds)
        label = re.sub(r"[^a-z0-9_]", "_", name.lower())[:40]
        digest = hashlib.sha256("\x00".join([name, *chosen]).encode()).hexdigest()[:12]
        ident = f"{_INDEX_PREFIX}{label}_{digest}"
        listed = ", ".join(_literal(kind) for kind in chosen)
        return ident, (
            f"CREATE INDEX IF NOT EXISTS {sql.Identifier(ident).as_string(None)} ON "
            f"{self.quoted}.records (kind, ({self.index_value(name, '')}), id) "
            f"WHERE kind IN ({listed}) AND (indexes ->>{_literal(name)}) IS NOT NULL"
        )


class PostgresStore:
    """A leadtocash ``Store`` on PostgreSQL; open it with :meth:`PostgresStore.connect`."""

    def __init__(
        self,
        dsn: str,
        *,
        schema: str,
        min_size: int,
        max_size: int,
        timeout: float,
        strands: int | None = None,
        digest_every: int = 256,
        indexed: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        """Prepare (not open) a store; use :meth:`connect`, which also checks the schema."""
        if not schema or "\x00" in schema:
            raise ValueError("schema must be a non-empty name")
        if strands is not None and strands < 1:
            raise ValueError("strands must be >= 1")
        self._wanted_strands = strands
        chosen = QUERIED_INDEXES if indexed is None else indexed
        self._indexed = {kind: tuple(sorted(set(names))) for kind, names in chosen.items()}
        self._strands = strands or DEFAULT_STRANDS
        self.digest_every = digest_every
        self._audited = 0
        # The documents last read, by (kind, id): JSON text and what it parsed to.
        self._documents = DocumentMemo(_DOCUMENTS)
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
            configure=_configure,
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
        strands: int | None = None,
        digest_every: int = 256,
        indexed: Mapping[str, Iterable[str]] | None = None,
    ) -> PostgresStore:
        """Open a store on ``dsn`` using tables in ``schema``; optionally create/migrate them.

        Without ``create_schema`` the schema must already be at :data:`SCHEMA_VERSION`
        (``StorageError`` otherwise). ``max_size`` bounds the connection pool; ``timeout`` (s)
        bounds connecting and waiting for a free connection (``StorageUnavailable`` after it).
        ``strands`` is K, the number of audit strands, set when the schema is created (None:
        :data:`~leadtocash.DEFAULT_STRANDS`, or what is stored; a different K on an existing
        store is refused); ``digest_every``: seal a digest after every N audited commits of
        this store object (0: only on :meth:`seal_digest`). ``indexed`` names, per kind, the
        indexes that get an expression index when the schema is created or migrated (None:
        :data:`~leadtocash.QUERIED_INDEXES`, every index the library queries by); a query of
        any other index gives the same answer from a scan of its kind's rows.
        """
        store = cls(
            dsn, schema=schema, min_size=min_size, max_size=max_size, timeout=timeout,
            strands=strands, digest_every=digest_every, indexed=indexed,
        )  # fmt: skip
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
            store._strands = store._stored_strands()
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
            self._match_expression_indexes(conn)
            row = conn.execute(self._sql.strand_count).fetchone()
            if row is not None and int(row[0]) <= 1:  # new, or migrated from one chain
                conn.execute(self._sql.add_strands, (GENESIS_HASH, self._strands))

    def _match_expression_indexes(self, conn: _Connection) -> None:
        """Make the expression indexes on the record rows exactly those ``indexed`` asks for:
        one per index name, over the kinds queried by it. Run on every ``create_schema``, not
        only on a migration, since a library version may query new indexes; only what is
        missing is created and only what is no longer asked for is dropped (each statement
        locks out writers while it runs)."""
        kinds_of: dict[str, set[str]] = {}
        for kind, names in self._indexed.items():
            for name in names:
                kinds_of.setdefault(name, set()).add(kind)
        wanted = dict(self._sql.create_index(n, k) for n, k in sorted(kinds_of.items()))
        present = {str(r[0]) for r in conn.execute(self._sql.index_names, (self.schema,))}
        for ident in sorted(present - set(wanted)):
            conn.execute(
                sql.SQL("DROP INDEX {}.{}").format(
                    sql.Identifier(self.schema), sql.Identifier(ident)
                )
            )
        for ident, statement in wanted.items():
            if ident not in present:
                conn.execute(statement)

    def _stored_strands(self) -> int:
        """K as stored; a different ``strands`` asked for is refused (it would move streams)."""
        with self._direct("reading the audit strands") as conn:
            row = conn.execute(self._sql.strand_count).fetchone()
        stored = int(row[0]) if row else 0
        if self._wanted_strands is not None and self._wanted_strands != stored:
            raise StorageError(
                f"schema {self.schema!r} has {stored} audit strands, not "
                f"{self._wanted_strands}: K is fixed when the store is created",
                details={"stored": stored, "asked": self._wanted_strands},
            )
        return stored

    def truncate_all(self) -> None:
        """Empty every table in one transaction and reset the audit chain (meant for tests)."""
        with self._connection("emptying the store") as conn, conn.transaction():
            for statement in self._sql.empty:
                conn.execute(statement)
            conn.execute(self._sql.head_reset, (GENESIS_HASH,))
            conn.execute(self._sql.strands_reset, (GENESIS_HASH,))
            conn.execute(self._sql.seq_reset)

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

    def _read(
        self, doing: str, query: str, params: Sequence[Any] | Mapping[str, Any]
    ) -> list[tuple[Any, ...]]:
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
        return self._record(kind, ident, *rows[0]) if rows else None

    def _load_many(self, kind: str, idents: Sequence[str]) -> dict[str, StoredRecord]:
        if not idents:
            return {}
        rows = self._read("loading records", self._sql.load_many, (kind, _text_array(idents)))
        return {row[0]: self._record(kind, *row) for row in rows}

    def _load_each(self, refs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], StoredRecord]:
        wanted = list(dict.fromkeys(refs))
        if not wanted:
            return {}
        kinds = _text_array([kind for kind, _ in wanted])
        idents = _text_array([ident for _, ident in wanted])
        rows = self._read("loading records", self._sql.load_each, (kinds, idents))
        return {(row[0], row[1]): self._record(*row) for row in rows}

    def _load_fields(
        self, kind: str, idents: Sequence[str], fields: Sequence[str]
    ) -> dict[str, tuple[Any, ...]]:
        wanted, names = list(dict.fromkeys(idents)), list(fields)
        if not wanted:
            return {}
        rows = self._read("loading fields", self._sql.load_fields, (names, kind, wanted))
        found: dict[str, tuple[Any, ...]] = {}
        for ident, values, exact in rows:
            if exact is not None:
                found[ident] = tuple(map(exact.get, names))
            else:
                found[ident] = tuple(json.loads(values)) if names else ()
        return found

    def _record(self, kind: str, ident: str, version: int, text: Any, exact: Any) -> StoredRecord:
        """A record row as read; its document parsed once per distinct text (see
        :meth:`_document`), or the verbatim ``exact`` copy when there is one."""
        data = exact if exact is not None else self._document(kind, ident, text)
        return StoredRecord(kind, ident, int(version), data)

    def _document(self, kind: str, ident: str, text: str) -> Any:
        """``text`` parsed, or the object parsed at the last read of the same text."""
        return self._documents.parse(kind, ident, text)

    def _scan(self, kind: str, after: str | None, limit: int) -> list[StoredRecord]:
        if limit <= 0:
            return []
        params = {"kind": kind, "after": after, "limit": limit}
        rows = self._read("scanning records", self._sql.scan, params)
        return [self._record(kind, *row) for row in rows]

    def _find_unique(self, kind: str, key: str) -> str | None:
        rows = self._read("looking up a unique key", self._sql.find_unique, (kind, key))
        return str(rows[0][0]) if rows else None

    def _find_by_key(self, kind: str, key: str, limit: int) -> list[str]:
        if limit <= 0:
            return []
        rows = self._read("looking up a key", self._sql.find_by_key, (kind, key, limit))
        return [str(row[0]) for row in rows]

    def _find_by_keys(self, kind: str, keys: Sequence[str], limit: int) -> dict[str, list[str]]:
        wanted = list(dict.fromkeys(keys))
        if limit <= 0 or not wanted:
            return {}
        rows = self._read("looking up keys", self._sql.find_by_keys, (wanted, kind, limit))
        held: dict[str, list[str]] = {}
        for key, ident in rows:
            held.setdefault(str(key), []).append(str(ident))
        return {key: sorted(held[key]) for key in wanted if key in held}

    def _query(self, query: IndexQuery) -> list[tuple[str, str]]:
        if query.limit <= 0 or _unstorable(query):
            return []
        value, where, params = self._selection(query)
        text = (
            f"SELECT {value}, r.id FROM {self._sql.records} r WHERE {where} "
            f"ORDER BY {value}, r.id LIMIT %s"
        )
        rows = self._read("querying an index", text, [*params, query.limit])
        return [(str(found), str(ident)) for found, ident in rows]

    def _count(self, query: IndexQuery) -> int:
        if _unstorable(query):
            return 0
        _, where, params = self._selection(attrs.evolve(query, after=None))
        text = f"SELECT count(*) FROM {self._sql.records} r WHERE {where}"
        rows = self._read("counting an index", text, params)
        return int(rows[0][0])

    def _selection(self, query: IndexQuery) -> tuple[str, str, list[Any]]:
        """The queried index's value expression, the query's conditions and parameters."""
        value = self._sql.index_value(query.index)
        text = self._sql.index_rows(query.kind, query.index)
        params: list[Any] = []
        if query.equals is not None:
            text += f" AND {value} = %s"
            params.append(query.equals)
        if query.at_least is not None:
            text += f" AND {value} >= %s"
            params.append(query.at_least)
        if query.below is not None:
            text += f" AND {value} < %s"
            params.append(query.below)
        if query.after is not None:
            text += f" AND ({value}, r.id) > (%s, %s)"
            params.extend(query.after)
        for clause in query.where:
            alternatives = []
            for index_filter in clause:
                probe, probe_params = _filter(index_filter)
                alternatives.append(probe)
                params.extend(probe_params)
            text += " AND (" + (" OR ".join(alternatives) or "false") + ")"
        return value, text, params

    # -- commit ----------------------------------------------------------------------------
    def _commit(self, commit: Commit) -> None:
        if not (commit.writes or commit.audit or commit.outbox or commit.checks):
            return
        # Everything that can fail without the database fails here, before any round trip.
        plan = _Plan.of(commit, self._strands)
        with self._connection("committing") as conn:
            try:
                # Autocommit connection: the one statement is the whole transaction.
                conn.execute(self._sql.commit, (plan.document,))
            except psycopg.Error as exc:
                raise plan.failure(exc) from exc
        if commit.audit:
            self._audited += 1
            if self.digest_every and self._audited % self.digest_every == 0:
                # The commit is done: a periodic digest that fails must not make it look
                # failed (a retry would run the command twice); the next one covers it.
                with suppress(StorageError):
                    self.seal_digest()

    # -- audit and outbox ------------------------------------------------------------------
    @property
    def audit_strands(self) -> int:
        """K, the number of audit strands."""
        return self._strands

    def audit_log(self, *, after_seq: int = 0, limit: int = 1000) -> list[AuditEntry]:
        """Sealed audit entries with ``seq > after_seq`` in seq order.

        ``seq`` comes from a sequence, taken when an entry is sealed: concurrent commits may
        become visible out of ``seq`` order, so a reader tailing the log by ``seq`` should
        stay behind the newest entries (the strands, not ``seq``, are tamper-evident).
        """
        if limit <= 0:
            return []
        rows = self._read("reading the audit log", self._sql.audit_log, (after_seq, limit))
        return [_audit_entry(row) for row in rows]

    def audit_strand(self, strand: int, *, after: int = 0, limit: int = 1000) -> list[AuditEntry]:
        """Sealed entries of ``strand`` with ``strand_seq > after``, in strand order."""
        if limit <= 0:
            return []
        rows = self._read("reading an audit strand", self._sql.audit_strand, (strand, after, limit))
        return [_audit_entry(row) for row in rows]

    def audit_digests(self, *, after: int = 0, limit: int = 1000) -> list[AuditDigest]:
        """Digests with ``seq > after``, in order."""
        if limit <= 0:
            return []
        rows = self._read("reading audit digests", self._sql.audit_digests, (after, limit))
        return [_digest(row) for row in rows]

    def seal_digest(self) -> AuditDigest:
        """Seal the tips of all strands into the next digest and return it.

        Digesters serialize on an advisory lock (commits do not take it); the strand heads
        are then read in one statement, one snapshot of committed heads: a consistent cut.
        """
        with self._connection("sealing an audit digest") as conn, conn.transaction():
            conn.execute(self._sql.digest_lock, (self.schema,))
            last = conn.execute(self._sql.last_digest).fetchall()
            heads = conn.execute(self._sql.strand_heads).fetchall()
            tips = [StrandTip(int(strand), int(seq), digest) for strand, seq, digest in heads]
            digest = make_digest(tips, previous=_digest(last[0]) if last else None)
            conn.execute(
                self._sql.insert_digest,
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
        through the strand index) and scrub outbox payloads, in one transaction. The old row
        versions stay in the table files until VACUUM reclaims them (docs/audit.md)."""
        entries = messages = 0
        with self._connection("erasing personal data") as conn, conn.transaction():
            for kind, ident in sorted(set(erasure.subjects)):
                strand = strand_of(f"{kind}:{ident}", self._strands)
                entries += conn.execute(self._sql.erase_audit, (strand, kind, ident)).rowcount
            after = ""
            while erasure.values:
                rows = conn.execute(self._sql.outbox_payloads, (after,)).fetchall()
                for ident, payload in rows:
                    scrubbed = scrub_payload(payload, erasure.values)
                    if scrubbed is not payload:
                        conn.execute(self._sql.outbox_scrub, (_dumps(scrubbed), ident))
                        messages += 1
                if len(rows) < 500:
                    break
                after = rows[-1][0]
        return ErasureReport(entries, messages)

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

    def load_fields(
        self, kind: str, idents: Sequence[str], fields: Sequence[str]
    ) -> dict[str, tuple[Any, ...]]:
        """Top-level ``fields`` of the committed records among ``idents``, by id (one round
        trip; the server picks the fields out, so only they travel and are parsed)."""
        self._check()
        return self._store._load_fields(kind, idents, fields)

    def load_each(self, refs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], StoredRecord]:
        """The committed records among ``(kind, id)`` pairs, by pair (one round trip)."""
        self._check()
        return self._store._load_each(refs)

    def scan(self, kind: str, *, after: str | None = None, limit: int = 100) -> list[StoredRecord]:
        """Up to ``limit`` committed records of ``kind`` after id ``after``, by id."""
        self._check()
        return self._store._scan(kind, after, limit)

    def find_unique(self, kind: str, key: str) -> str | None:
        """The id of the record of ``kind`` holding unique ``key``, or None."""
        self._check()
        return self._store._find_unique(kind, key)

    def find_by_key(self, kind: str, key: str, *, limit: int = 100) -> list[str]:
        """Up to ``limit`` ids of records of ``kind`` holding lookup ``key``, ascending."""
        self._check()
        return self._store._find_by_key(kind, key, limit)

    def find_by_keys(
        self, kind: str, keys: Sequence[str], *, limit: int = 100
    ) -> dict[str, list[str]]:
        """Up to ``limit`` ids per lookup key (keys nobody holds left out), one round trip."""
        self._check()
        return self._store._find_by_keys(kind, keys, limit)

    def query(self, query: IndexQuery) -> list[tuple[str, str]]:
        """Up to ``query.limit`` ``(value, id)`` pairs of a named index, ascending."""
        self._check()
        return self._store._query(query)

    def count(self, query: IndexQuery) -> int:
        """How many entries ``query`` selects, ignoring ``after`` and ``limit``."""
        self._check()
        return self._store._count(query)

    def commit(self, commit: Commit) -> None:
        """Apply ``commit`` atomically; the session may not be used after it succeeds."""
        self._check()
        self._store._commit(commit)
        self._open = False

    def close(self) -> None:
        """Close the session (idempotent); nothing uncommitted is kept."""
        self._open = False


# -- helpers ----------------------------------------------------------------------------------
#: What the names of the adapter's expression indexes start with (and no other index's).
_INDEX_PREFIX = "rx_"


def _literal(text: str) -> str:
    """``text`` as an SQL string literal (escaped whatever ``standard_conforming_strings``)."""
    return sql.Literal(text).as_string(None)


def _unstorable(query: IndexQuery) -> bool:
    """True when no stored row can match: PostgreSQL text and JSONB keys hold no NUL."""
    return "\x00" in query.kind or "\x00" in query.index


def _filter(index_filter: IndexFilter) -> tuple[str, list[Any]]:
    """One ``where`` filter: a condition on the same row's copy of its index values."""
    if "\x00" in index_filter.index:
        return "false", []  # no stored row holds such a name (see _unstorable)
    value = 'CAST(r.indexes ->> %s AS text) COLLATE "C"'
    conditions: list[str] = []
    params: list[Any] = []
    if index_filter.equals is not None:
        conditions.append(f"{value} = %s")
        params += [index_filter.index, index_filter.equals]
    if index_filter.one_of is not None:
        conditions.append(f"{value} = ANY(%s::text[])")
        params += [index_filter.index, list(index_filter.one_of)]
    if index_filter.at_least is not None:
        conditions.append(f"{value} >= %s")
        params += [index_filter.index, index_filter.at_least]
    if index_filter.below is not None:
        conditions.append(f"{value} < %s")
        params += [index_filter.index, index_filter.below]
    if not conditions:
        conditions.append("r.indexes ? %s")
        params.append(index_filter.index)
    return "(" + " AND ".join(conditions) + ")", params


def _text_array(values: Iterable[str]) -> str:
    """``values`` as a PostgreSQL array literal for a ``%s::text[]`` parameter.

    One string parameter instead of a Python list: psycopg dumps a list element by element
    (a third of a claim's read in the client), a string in one step. Every element is
    double-quoted with ``\\`` and ``"`` escaped, so any text (commas, braces, quotes, spaces,
    ``NULL``) stays one element as it is.
    """
    quoted = [value.replace("\\", "\\\\").replace('"', '\\"') for value in values]
    return '{"' + '","'.join(quoted) + '"}' if quoted else "{}"


#: SQLSTATEs ``ltc_commit`` raises (class LT is not used by PostgreSQL itself).
_STALE, _INTRA_DUPLICATE, _DUPLICATE, _OUTBOX_EXISTS, _NO_HEAD = (
    "LT409", "LT23D", "LT23U", "LT410", "LT500"
)  # fmt: skip


@attrs.frozen
class _Plan:
    """A commit made ready for the database: the JSON document ``ltc_commit`` applies."""

    document: str
    writes: dict[tuple[str, str], RecordWrite]
    intra_duplicate: DuplicateKey | None
    checks: dict[tuple[str, str], VersionCheck] = attrs.field(factory=dict)

    @classmethod
    def of(cls, commit: Commit, strands: int) -> _Plan:
        """Validate and serialize ``commit``; raises StorageError for what cannot be stored.

        Audit entries carry their strand (of ``strands``) and content hash, computed here,
        before the commit takes any lock; ``strands`` lists the strands touched, ascending.
        """
        intra_duplicate = _check_commit_shape(commit.writes)
        writes = sorted(commit.writes, key=lambda w: (w.kind, w.id))
        checks = commit_checks(commit)
        # Like the reference store: a message id repeated in one commit keeps the last one.
        outbox = [_outbox_doc(m) for m in {m.id: m for m in commit.outbox}.values()]
        audit = [_audit_doc(entry, strands) for entry in commit.audit]
        document = {
            "writes": _in_lock_order([_write_doc(write) for write in writes], checks),
            "intra_duplicate": intra_duplicate is not None,
            "outbox": outbox,
            "audit": audit,
            "strands": sorted({a["strand"] for a in audit}),
        }
        # One rendering of the whole document, records' JSON embedded as values. Should any
        # of it not be storable as it is (see _NOT_JSONB_SAFE; a false alarm, for example in
        # an audit text, only costs this), each record is rendered and checked on its own.
        try:
            text: str | None = _dumps(document)
        except (TypeError, ValueError):
            text = None
        if text is None or _jsonb_alters(text):
            document["writes"] = _in_lock_order([_checked_write_doc(w) for w in writes], checks)
            try:
                text = _dumps(document)
            except (TypeError, ValueError) as exc:
                raise StorageError(f"the commit is not JSON-serializable: {exc}") from exc
        return cls(
            document=text,
            writes={(w.kind, w.id): w for w in writes},
            intra_duplicate=intra_duplicate,
            checks={(c.kind, c.id): c for c in checks},
        )

    def failure(self, exc: psycopg.Error) -> StorageError:
        """The library error for a failed ``ltc_commit`` call (nothing was committed)."""
        sqlstate = exc.sqlstate
        detail = exc.diag.message_detail if sqlstate in (_STALE, _DUPLICATE) else None
        if sqlstate == _STALE and detail:
            kind, ident = json.loads(detail)
            check = self.checks.get((kind, ident))
            return _conflict(self.writes[(kind, ident)]) if check is None else check_failed(check)
        if sqlstate == _INTRA_DUPLICATE and self.intra_duplicate is not None:
            return self.intra_duplicate
        if sqlstate == _DUPLICATE and detail:
            kind, key, holder = json.loads(detail)
            return DuplicateKey(kind, key, holder)
        if sqlstate == _OUTBOX_EXISTS:
            return StorageError("an outbox message with this id is already stored")
        if sqlstate == _NO_HEAD:
            return StorageError("the audit head row is missing (call create_schema())")
        return _translate(exc, "committing")


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


def _in_lock_order(
    writes: list[dict[str, Any]], checks: list[VersionCheck]
) -> list[dict[str, Any]]:
    """The written rows' documents (in ``(kind, id)`` order) and the checked ones, merged in
    that order: ``ltc_commit`` locks them as it meets them."""
    if not checks:
        return writes
    checked = [{"kind": c.kind, "id": c.id, "expected": c.version, "checked": True} for c in checks]
    return sorted([*writes, *checked], key=lambda doc: (doc["kind"], doc["id"]))


def _write_doc(write: RecordWrite) -> dict[str, Any]:
    """One write for ``ltc_commit``, its record's JSON as a value (``data``)."""
    return {
        "kind": write.kind,
        "id": write.id,
        "expected": write.expected_version,
        "data": dict(write.data),
        "exact": None,
        "indexes": {n: v for n, v in write.indexes.items() if v is not None},
        "lookups": sorted(write.lookup_keys),
        "keys": sorted(write.unique_keys),
    }


def _checked_write_doc(write: RecordWrite) -> dict[str, Any]:
    """:func:`_write_doc`, except that JSON that JSONB would not give back as written
    travels as a string (``exact``), stored verbatim in the ``json`` column."""
    try:
        data = _dumps(dict(write.data))
    except (TypeError, ValueError) as exc:
        raise StorageError(
            f"{write.kind} {write.id!r} is not JSON-serializable: {exc}",
            details={"kind": write.kind, "id": write.id},
        ) from exc
    doc = _write_doc(write)
    if _jsonb_alters(data):
        doc.update(data=None, exact=data)
    return doc


def _audit_entry(r: Sequence[Any]) -> AuditEntry:
    before, after, salts = restore_personal(r[7], r[8], r[16])
    return AuditEntry(
        id=r[1],
        at=r[2].astimezone(UTC),
        actor_id=r[3],
        action=r[4],
        target_kind=r[5],
        target_id=r[6],
        before=before,
        after=after,
        reason=r[9],
        override=r[10],
        seq=int(r[0]),
        prev_hash=r[11],
        hash=r[12],
        strand=int(r[13]),
        strand_seq=int(r[14]),
        format=int(r[15]),
        personal=salts,
    )


def _digest(row: Sequence[Any]) -> AuditDigest:
    tips = tuple(StrandTip(n, int(seq), digest) for n, (seq, digest) in enumerate(row[1]))
    return AuditDigest(seq=int(row[0]), tips=tips, root=row[2], prev_hash=row[3], hash=row[4])


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _outbox_doc(message: OutboxMessage) -> dict[str, Any]:
    try:
        payload = _dumps(dict(message.payload))
    except (TypeError, ValueError) as exc:
        raise StorageError(
            f"outbox message {message.id!r} is not JSON-serializable: {exc}"
        ) from exc
    return {
        "id": message.id,
        "topic": message.topic,
        "payload": payload,
        "created_at": message.created_at.isoformat(),
        "idempotency_key": message.idempotency_key,
        "attempts": message.attempts,
        "next_attempt_at": _iso(message.next_attempt_at),
        "delivered_at": _iso(message.delivered_at),
        "last_error": message.last_error,
    }


def _audit_doc(entry: AuditEntry, strands: int) -> dict[str, Any]:
    try:  # the canonical bytes serve twice: the content hash and the stored snapshots
        text, before_json, after_json, personal = entry.stored_parts()
        content = hashlib.sha256(text).hexdigest()
        before = None if before_json is None else before_json.decode("utf-8")
        after = None if after_json is None else after_json.decode("utf-8")
        erasable = None if personal is None else _dumps(personal)
    except (TypeError, ValueError) as exc:
        raise StorageError(f"audit entry {entry.id!r} is not JSON-serializable: {exc}") from exc
    return {
        "id": entry.id,
        "at": entry.at.isoformat(),
        "actor_id": entry.actor_id,
        "action": entry.action,
        "target_kind": entry.target_kind,
        "target_id": entry.target_id,
        "before": before,
        "after": after,
        "reason": entry.reason,
        "override": entry.override,
        "strand": strand_of(entry.stream_id, strands),
        "content": content,
        "personal": erasable,
    }


def _conflict(write: RecordWrite) -> ConcurrencyConflict:
    """The ConcurrencyConflict for a write whose version check failed."""
    expected = "to be new" if write.expected_version == 0 else f"at {write.expected_version}"
    return ConcurrencyConflict(
        f"{write.kind} {write.id!r} was changed by someone else (expected it {expected})",
        details={"kind": write.kind, "id": write.id, "expected_version": write.expected_version},
    )
