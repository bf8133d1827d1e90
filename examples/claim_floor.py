"""The floor of a claim: the least work a claim with the library's guarantees needs.

``benchmarks/claims.py`` measures the library's claim against two yardsticks. The issue's
baseline is a bare ``UPDATE … WHERE owner IS NULL``: single ownership and nothing else. This
floor keeps what a claim must keep, hand-written, in one transaction, with no library code:

* the customer updated only if its version is unchanged and it is still unowned;
* the rep's book updated under a version check, the rep's daily counter incremented;
* one history line, one outbox message, and one audit entry sealed onto its strand: the
  library's audit design, hand-written. K strands (hash chains); the entry's strand is
  chosen from the customer's stream id by the same stable hash, only that strand's head row
  is locked, and the link hash is SHA-256 of the same RFC 8785 link object
  ``{"content", "prev_hash", "seq", "strand"}`` over the SHA-256 of the entry's body;
* a digest every 256 commits of a worker (as the library's stores do by default): the tips
  of all strands sealed into an RFC 6962 Merkle root, chained onto the previous digest.

It leaves out what the library adds on top: authorization and data scopes, pool, zone and
daily-limit rules, the reclaim schedule, typed aggregates and their validation, and generic
records with index tables. Any implementation of the same guarantees does at least this
work in the database, so the floor is a practical ceiling for the library on that machine.
``setup --listings`` adds what the library also keeps and the plain floor does not: native
indexes for the customer lists the library's named queries serve (a pool's unowned
customers, an owner's customers by pool, creation, name and last change; all customers by
those, tier and zone), so a claim moves its customer in them as the library's does. Both
floors store the listed columns and set the last-change time on a claim (since session 15),
so that they differ by those indexes only.
Customer records are JSON of about the library's size; audit entries are smaller (the
owner change only, where the library's hold the customer before and after). Runnable by
hand, like ``claim_workload.py``::

    python examples/claim_floor.py setup  sqlite:/tmp/floor.sqlite3 --customers 1000 --strands 16
    python examples/claim_floor.py worker sqlite:/tmp/floor.sqlite3 --rep 1 --claims 500
    python examples/claim_floor.py verify sqlite:/tmp/floor.sqlite3

A store spec is ``sqlite:<path>`` or ``postgres:<schema>`` (DSN from ``LEADTOCASH_PG_DSN``).
``LEADTOCASH_CLAIM_COUNTS=<dir>`` writes ``<dir>/rep<N>.json``: every attempt classed by its
outcome after how many conflicts, with count and CPU (as ``claim_workload.py`` does).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import random
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from workload_cli import workload_parser

#: Hash every strand (and the digest chain) starts from.
GENESIS = "0" * 64
#: A worker seals a digest after this many of its claims (the library stores' default).
DIGEST_EVERY = 256
TABLES = (
    "customers (id TEXT PRIMARY KEY, owner TEXT, version BIGINT NOT NULL, data TEXT NOT NULL,"
    " pool TEXT, zone TEXT, tier TEXT, name TEXT, created TEXT, recent TEXT)",
    "books (rep TEXT PRIMARY KEY, owned INTEGER NOT NULL, version BIGINT NOT NULL)",
    "counters (id TEXT PRIMARY KEY, count INTEGER NOT NULL)",
    "history (id TEXT PRIMARY KEY, customer TEXT NOT NULL, rep TEXT NOT NULL, data TEXT NOT NULL)",
    "audit_strands (strand INTEGER PRIMARY KEY, seq BIGINT NOT NULL, prev TEXT,"
    " hash TEXT NOT NULL)",
    "audit_log (strand INTEGER NOT NULL, seq BIGINT NOT NULL, prev TEXT NOT NULL,"
    " hash TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (strand, seq))",
    "audit_digests (seq BIGINT PRIMARY KEY, tips TEXT NOT NULL, root TEXT NOT NULL,"
    " prev TEXT NOT NULL, hash TEXT NOT NULL)",
    "outbox (id TEXT PRIMARY KEY, body TEXT NOT NULL)",
)
INDEXES = ("history (customer)", "customers (owner)")
#: With ``--listings``: native indexes for the customer lists the library keeps on a claimed
#: customer (its named indexes: the pool's unowned customers, an owner's customers by pool,
#: creation, name and last change, and every customer by those, tier and zone).
LISTINGS = (
    "customers (created, id)", "customers (recent, id)", "customers (name, id)",
    "customers (substr(name, 1, 2), id)", "customers (tier, id)", "customers (zone, id)",
    "customers (pool, id) WHERE owner IS NULL", "customers (pool, zone, id) WHERE owner IS NULL",
    "customers (owner, pool, id) WHERE owner IS NOT NULL",
    "customers (owner, created, id) WHERE owner IS NOT NULL",
    "customers (owner, recent, id) WHERE owner IS NOT NULL",
    "customers (owner, name, id) WHERE owner IS NOT NULL",
)  # fmt: skip
#: A customer's document: about the size of the library's (1 KB).
FILLER = "x" * 900


def customer_ids(count: int) -> list[str]:
    """The ids ``setup`` gives the customers (the same as ``claim_workload.py``)."""
    return [f"cust-{n:06d}" for n in range(count)]


def _customer(cid: str, owner: str | None) -> str:
    return json.dumps({"id": cid, "name": f"customer {cid}", "owner_id": owner, "note": FILLER})


def _entry(cid: str, rep: str, at: float) -> str:
    """An audit entry's body: who changed what, before and after."""
    change = {"before": {"owner_id": None}, "after": {"owner_id": rep}}
    return json.dumps(
        {"kind": "customer", "id": cid, "actor": rep, "action": "pool.claim", "at": at, **change},
        sort_keys=True,
        separators=(",", ":"),
    )


def _now() -> str:
    """A customer's last-change time, as its ``recent`` column holds it."""
    return f"{time.time():017.6f}"


def strand_of(cid: str, strands: int) -> int:
    """The customer's strand: the library's stable hash of its stream id, modulo K."""
    digest = hashlib.sha256(f"customer:{cid}".encode()).digest()
    return 0 if strands == 1 else int.from_bytes(digest[:8], "big") % strands


def content(body: str) -> str:
    """The content hash of an entry: SHA-256 of its (canonical, sorted-key) body."""
    return hashlib.sha256(body.encode()).hexdigest()


def seal(content_hash: str, prev: str, strand: int, seq: int) -> str:
    """The link hash: SHA-256 of the RFC 8785 object {content, prev_hash, seq, strand}."""
    text = f'{{"content":"{content_hash}","prev_hash":"{prev}","seq":{seq},"strand":{strand}}}'
    return hashlib.sha256(text.encode()).hexdigest()


def merkle_root(tips: list[tuple[int, str]]) -> str:
    """RFC 6962 Merkle tree hash over the tips ``(seq, hash)`` of strands 0 … K-1."""
    leaves = [
        hashlib.sha256(b"\x00" + f'{{"hash":"{h}","seq":{seq},"strand":{n}}}'.encode()).digest()
        for n, (seq, h) in enumerate(tips)
    ]

    def root(nodes: list[bytes]) -> bytes:
        if len(nodes) == 1:
            return nodes[0]
        k = 1
        while k * 2 < len(nodes):
            k *= 2
        return hashlib.sha256(b"\x01" + root(nodes[:k]) + root(nodes[k:])).digest()

    return root(leaves).hex()


def digest_hash(seq: int, root: str, prev: str, strands: int) -> str:
    """A digest's hash: SHA-256 of the RFC 8785 object {prev_hash, root, seq, strands}."""
    text = f'{{"prev_hash":"{prev}","root":"{root}","seq":{seq},"strands":{strands}}}'
    return hashlib.sha256(text.encode()).hexdigest()


def _next_digest(last: Any, tips: list[tuple[int, str]]) -> tuple[Any, ...]:
    """The row of the digest after ``last`` (a row or None) over ``tips``."""
    seq, prev = (1, GENESIS) if last is None else (int(last[0]) + 1, last[1])
    root = merkle_root(tips)
    return (seq, json.dumps(tips), root, prev, digest_hash(seq, root, prev, len(tips)))


# -- SQLite ---------------------------------------------------------------------------------
def _sqlite(path: str) -> sqlite3.Connection:
    """A connection with the SQLite adapter's defaults: WAL, synchronous=FULL."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    return conn


class SQLiteFloor:
    """The floor on SQLite: read outside the write lock, write in one IMMEDIATE transaction."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.conn = _sqlite(path)
        self.strands = 0  # K, read from the tables when the first claim is written
        # The adapter's cross-process writer queue: an exclusive flock on this file.
        self._queue = open(f"{path}-writer", "a+b")  # noqa: SIM115 (closed by close())

    @contextmanager
    def _writer_queue(self) -> Iterator[None]:
        """Wait in the writer queue, so waiting is fair (as the adapter does)."""
        fcntl.flock(self._queue, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._queue, fcntl.LOCK_UN)

    def sql(self, template: str) -> str:
        """``template`` (tables as ``T.name``, ``?`` placeholders) in SQLite's dialect."""
        return template.replace("T.", "").replace("BYTEA", "BLOB")

    def reset(self) -> None:
        """Nothing to drop: every SQLite spec names a new file."""

    def rows(self, template: str, params: tuple[Any, ...] = ()) -> list[Any]:
        """All rows of the query ``template``."""
        return self.conn.execute(self.sql(template), params).fetchall()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction around the block."""
        self.conn.execute("BEGIN")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def read(self, rep: str, cid: str) -> tuple[int, str | None, int]:
        """The customer's version and owner, and the rep's book version."""
        row = self.conn.execute(
            "SELECT version, owner, (SELECT version FROM books WHERE rep = ?)"
            " FROM customers WHERE id = ?",
            (rep, cid),
        ).fetchone()
        return int(row[0]), row[1], int(row[2])

    def write(self, rep: str, cid: str, version: int, book: int, serial: str) -> bool:
        """Claim ``cid`` if both versions still hold; False (nothing written) if not."""
        body = _entry(cid, rep, time.time())
        if not self.strands:
            self.strands = self.conn.execute("SELECT count(*) FROM audit_strands").fetchone()[0]
        strand, content_hash = strand_of(cid, self.strands), content(body)
        conn = self.conn
        with self._writer_queue():
            conn.execute("BEGIN IMMEDIATE")
            try:
                moved = conn.execute(
                    "UPDATE customers SET owner = ?, version = version + 1, data = ?, recent = ?"
                    " WHERE id = ? AND version = ? AND owner IS NULL",
                    (rep, _customer(cid, rep), _now(), cid, version),
                ).rowcount
                moved += conn.execute(
                    "UPDATE books SET owned = owned + 1, version = version + 1"
                    " WHERE rep = ? AND version = ?",
                    (rep, book),
                ).rowcount
                if moved != 2:
                    conn.execute("ROLLBACK")
                    return False
                conn.execute(
                    "INSERT INTO counters VALUES (?, 1)"
                    " ON CONFLICT (id) DO UPDATE SET count = count + 1",
                    (f"{rep}|today",),
                )
                conn.execute(
                    "INSERT INTO history VALUES (?, ?, ?, ?)",
                    (f"h-{serial}", cid, rep, json.dumps({"customer": cid, "to": rep})),
                )
                seq, prev = conn.execute(
                    "SELECT seq, hash FROM audit_strands WHERE strand = ?", (strand,)
                ).fetchone()
                digest = seal(content_hash, prev, strand, seq + 1)
                conn.execute(
                    "UPDATE audit_strands SET seq = ?, prev = ?, hash = ? WHERE strand = ?",
                    (seq + 1, prev, digest, strand),
                )
                conn.execute(
                    "INSERT INTO audit_log VALUES (?, ?, ?, ?, ?)",
                    (strand, seq + 1, prev, digest, body),
                )
                conn.execute(
                    "INSERT INTO outbox VALUES (?, ?)",
                    (f"o-{serial}", json.dumps({"event": "claimed", "customer": cid})),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return True

    def seal_digest(self) -> None:
        """Seal the tips of all strands into the next digest, under the write lock."""
        conn = self.conn
        with self._writer_queue():
            conn.execute("BEGIN IMMEDIATE")
            try:
                tips = conn.execute("SELECT seq, hash FROM audit_strands ORDER BY strand")
                last = conn.execute(
                    "SELECT seq, hash FROM audit_digests ORDER BY seq DESC LIMIT 1"
                ).fetchone()
                row = _next_digest(last, [(s, h) for s, h in tips.fetchall()])
                conn.execute("INSERT INTO audit_digests VALUES (?, ?, ?, ?, ?)", row)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def close(self) -> None:
        """Close the connection and the writer queue's file."""
        self.conn.close()
        self._queue.close()


class PostgresFloor:
    """The floor on PostgreSQL: one read, then the whole claim in one statement."""

    def __init__(self, schema: str) -> None:
        import psycopg

        self.schema = schema
        self.strands = 0  # K, read from the tables when the first claim is written
        self.conn = psycopg.connect(os.environ["LEADTOCASH_PG_DSN"], autocommit=True)
        self.conn.execute("SET plan_cache_mode = force_generic_plan")  # as the adapter does
        s = schema
        self.read_sql = (
            f"SELECT version, owner, (SELECT version FROM {s}.books WHERE rep = %s)"
            f" FROM {s}.customers WHERE id = %s"
        )
        # Any failed check aborts the statement, so all or nothing.
        self.write_sql = f"""
        WITH c AS (UPDATE {s}.customers SET owner = %(rep)s, version = version + 1,
                          data = %(data)s, recent = %(recent)s
                   WHERE id = %(cid)s AND version = %(version)s AND owner IS NULL RETURNING 1),
        b AS (UPDATE {s}.books SET owned = owned + 1, version = version + 1
              WHERE rep = %(rep)s AND version = %(book)s AND EXISTS (SELECT FROM c)
              RETURNING 1),
        d AS (INSERT INTO {s}.counters SELECT %(counter)s, 1 FROM b
              ON CONFLICT (id) DO UPDATE SET count = {s}.counters.count + 1),
        h AS (INSERT INTO {s}.history SELECT %(hid)s, %(cid)s, %(rep)s, %(hdata)s FROM b),
        a AS (UPDATE {s}.audit_strands SET seq = seq + 1, prev = hash,
                     hash = encode(sha256(convert_to('{{"content":"' || %(content)s
                         || '","prev_hash":"' || hash || '","seq":' || (seq + 1)::text
                         || ',"strand":' || strand::text || '}}', 'UTF8')), 'hex')
              WHERE strand = %(strand)s AND EXISTS (SELECT FROM b)
              RETURNING strand, seq, prev, hash),
        l AS (INSERT INTO {s}.audit_log SELECT strand, seq, prev, hash, %(body)s FROM a),
        o AS (INSERT INTO {s}.outbox SELECT %(oid)s, %(obody)s FROM b)
        SELECT CASE (SELECT count(*) FROM c) WHEN 0 THEN 0
               -- the customer moved but the book did not: division by zero aborts it all
               ELSE 1 / (SELECT count(*)::int FROM b) END"""

    def sql(self, template: str) -> str:
        """``template`` (tables as ``T.name``, ``?`` placeholders) in PostgreSQL's dialect."""
        return template.replace("T.", f"{self.schema}.").replace("?", "%s")

    def rows(self, template: str, params: tuple[Any, ...] = ()) -> list[Any]:
        """All rows of the query ``template``."""
        return self.conn.execute(self.sql(template), params).fetchall()

    def reset(self) -> None:
        """Drop and recreate the schema."""
        self.conn.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")
        self.conn.execute(f"CREATE SCHEMA {self.schema}")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction around the block."""
        with self.conn.transaction():
            yield

    def read(self, rep: str, cid: str) -> tuple[int, str | None, int]:
        """The customer's version and owner, and the rep's book version."""
        row = self.conn.execute(self.read_sql, (rep, cid)).fetchone()
        assert row is not None, f"no customer {cid}"
        return int(row[0]), row[1], int(row[2])

    def write(self, rep: str, cid: str, version: int, book: int, serial: str) -> bool:
        """Claim ``cid`` if both versions still hold; False (nothing written) if not."""
        import psycopg

        if not self.strands:
            found = self.conn.execute(f"SELECT count(*) FROM {self.schema}.audit_strands")
            self.strands = int(found.fetchone()[0])  # type: ignore[index]
        body = _entry(cid, rep, time.time())
        params = {
            "strand": strand_of(cid, self.strands),
            "content": content(body),
            "rep": rep,
            "cid": cid,
            "version": version,
            "book": book,
            "data": _customer(cid, rep),
            "recent": _now(),
            "counter": f"{rep}|today",
            "hid": f"h-{serial}",
            "hdata": json.dumps({"customer": cid, "to": rep}),
            "body": body,
            "oid": f"o-{serial}",
            "obody": json.dumps({"event": "claimed", "customer": cid}),
        }
        try:
            row = self.conn.execute(self.write_sql, params).fetchone()
        except psycopg.errors.DivisionByZero:
            return False
        return bool(row and row[0])

    def seal_digest(self) -> None:
        """Seal the tips of all strands into the next digest (digesters take an advisory
        lock; the heads are read in one statement: one consistent snapshot)."""
        s = self.schema
        with self.conn.transaction():
            self.conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"floor:{s}",))
            tips = self.conn.execute(f"SELECT seq, hash FROM {s}.audit_strands ORDER BY strand")
            last = self.conn.execute(
                f"SELECT seq, hash FROM {s}.audit_digests ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            row = _next_digest(last, [(int(q), h) for q, h in tips.fetchall()])
            self.conn.execute(f"INSERT INTO {s}.audit_digests VALUES (%s, %s, %s, %s, %s)", row)

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()


Floor = SQLiteFloor | PostgresFloor


def open_floor(spec: str) -> Floor:
    """Connect to the floor's tables named by ``spec``."""
    engine, _, where = spec.partition(":")
    return SQLiteFloor(where) if engine == "sqlite" else PostgresFloor(where)


def attempt(floor: Floor, rep: str, cid: str, serial: str) -> str:
    """One claim attempt: ``won``, ``taken``, or ``conflict`` (a version moved, nothing written)."""
    version, owner, book = floor.read(rep, cid)
    if owner is not None:
        return "taken"
    return "won" if floor.write(rep, cid, version, book, serial) else "conflict"


# -- commands -------------------------------------------------------------------------------
def setup(spec: str, customers: int, reps: int, strands: int = 16, listings: bool = False) -> None:
    """Create the tables (from scratch), ``customers`` unowned customers, ``reps`` books,
    ``strands`` empty audit strands; with ``listings``, the indexes of LISTINGS too."""
    rows = [
        (cid, _customer(cid, None), "bench", f"z{n % 3}", "C", f"customer {cid}", _now(), _now())
        for n, cid in enumerate(customer_ids(customers))
    ]
    books = [(f"rep{n}",) for n in range(1, reps + 1)]
    floor = open_floor(spec)
    try:
        floor.reset()
        cursor = floor.conn.cursor()
        with floor.transaction():
            for table in TABLES:
                cursor.execute(floor.sql(f"CREATE TABLE T.{table}"))
            for n, index in enumerate(INDEXES + (LISTINGS if listings else ())):
                cursor.execute(floor.sql(f"CREATE INDEX floor_{n} ON T.{index}"))
            cursor.executemany(
                floor.sql("INSERT INTO T.customers VALUES (?, NULL, 1, ?, ?, ?, ?, ?, ?, ?)"), rows
            )
            cursor.executemany(floor.sql("INSERT INTO T.books VALUES (?, 0, 1)"), books)
            cursor.executemany(
                floor.sql("INSERT INTO T.audit_strands VALUES (?, 0, NULL, ?)"),
                [(n, GENESIS) for n in range(strands)],
            )
    finally:
        floor.close()


def worker(spec: str, rep: int, claims: int, customers: int, start_at: float) -> dict[str, Any]:
    """Attempt ``claims`` claims (the workload's random sequence); conflicts re-read and retry."""
    rng = random.Random(1000 + rep)  # claim_workload.py's seed 1
    ids = customer_ids(customers)
    name = f"rep{rep}"
    won, conflicts = [], 0
    counts_dir = os.environ.get("LEADTOCASH_CLAIM_COUNTS")
    count: Counter[str] = Counter()
    spent: dict[str, float] = {}
    floor = open_floor(spec)
    try:
        time.sleep(max(0.0, start_at - time.time()))
        started = time.time()
        cpu_started = time.process_time()
        for n in range(claims):
            cid = rng.choice(ids)
            attempt_started, retried = time.process_time(), conflicts
            for _ in range(10):
                outcome = attempt(floor, name, cid, f"{rep}-{n}-{conflicts}")
                if outcome != "conflict":
                    break
                conflicts += 1
            if counts_dir:
                kind = "first attempts" if n < 10 else f"{outcome}/{conflicts - retried}"
                count[kind] += 1
                spent[kind] = spent.get(kind, 0.0) + time.process_time() - attempt_started
            if outcome == "won":
                won.append(cid)
                if len(won) % DIGEST_EVERY == 0:
                    floor.seal_digest()
        ended = time.time()
        cpu = time.process_time() - cpu_started
    finally:
        floor.close()
    if counts_dir:
        classes = {k: [count[k], round(spent[k], 6)] for k in sorted(count)}
        (Path(counts_dir) / f"rep{rep}.json").write_text(json.dumps({"classes": classes}))
    return {
        "claimed": won, "conflicts": conflicts, "started": started, "ended": ended,
        "cpu_s": round(cpu, 4),
    }  # fmt: skip


def verify(spec: str) -> dict[str, Any]:
    """Single ownership, books equal to owned customers, an unbroken audit chain."""
    floor = open_floor(spec)
    rows = floor.rows
    try:
        history = rows("SELECT customer, count(*) FROM T.history GROUP BY customer")
        owned = dict(rows("SELECT owner, count(*) FROM T.customers GROUP BY owner"))
        books = rows("SELECT rep, owned FROM T.books")
        floor.seal_digest()
        chain = rows("SELECT strand, seq, prev, hash, body FROM T.audit_log ORDER BY strand, seq")
        strands = rows("SELECT count(*) FROM T.audit_strands")[0][0]
        digests = rows("SELECT seq, tips, root, prev, hash FROM T.audit_digests ORDER BY seq")
    finally:
        floor.close()
    chain_ok, heads = True, dict.fromkeys(range(strands), (0, GENESIS))
    for strand, seq, prev, digest, body in chain:  # each strand chains from genesis
        last_seq, last_hash = heads[strand]
        chain_ok &= (seq, prev) == (last_seq + 1, last_hash)
        chain_ok &= digest == seal(content(body), prev, strand, seq)
        heads[strand] = (seq, digest)
    hashes = {(strand, seq): digest for strand, seq, _, digest, _ in chain}
    previous = GENESIS
    for seq, tips, root, prev, digest in digests:  # chained; each tip is in its strand
        tips = json.loads(tips)
        chain_ok &= prev == previous and root == merkle_root([tuple(t) for t in tips])
        chain_ok &= digest == digest_hash(seq, root, prev, len(tips))
        chain_ok &= all(n == 0 or hashes.get((s, n)) == h for s, (n, h) in enumerate(tips))
        previous = digest
    return {
        "double_owned": sum(1 for _, lines in history if lines > 1),
        "claims_total": sum(lines for _, lines in history),
        "books_match": all(owned.get(rep, 0) == count for rep, count in books),
        "audit_entries": len(chain),
        "audit_digests": len(digests),
        "audit_chain_ok": chain_ok,
    }


def main(argv: list[str] | None = None) -> int:
    parser = workload_parser(__doc__)
    parser.add_argument("--listings", action="store_true", help="the library's lists (setup)")
    args = parser.parse_args(argv)
    if args.command == "setup":
        setup(args.store, args.customers, args.reps, args.strands, args.listings)
    elif args.command == "worker":
        print(json.dumps(worker(args.store, args.rep, args.claims, args.customers, args.start_at)))
    else:
        print(json.dumps(verify(args.store)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
