"""PostgreSQL: every index the library queries by is served by an expression index.

Since schema version 9 a record row's copy of its index values is the index: each index
name queried (``PostgresStore.connect(indexed=...)``, by default
:data:`leadtocash.QUERIED_INDEXES`) gets an expression index on the rows of the kinds
queried by it. A query must match that index's expression
and predicate exactly, or PostgreSQL scans every row of the kind: the answers stay right
and only the speed goes, which no answer-checking test would notice. These tests run the
queries with sequential scans, bitmap scans and sorts disabled and then read the server's
statistics: every expression index must have been scanned.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from leadtocash import QUERIED_INDEXES
from leadtocash.ports import Commit, IndexFilter, IndexQuery, RecordWrite
from leadtocash_adapters.postgres_store import PostgresStore
from pg_schemas import expression_indexes, private_store

_NO_SCANS = "-c enable_seqscan=off -c enable_bitmapscan=off -c enable_sort=off"


@pytest.fixture
def strict_store(pg_dsn: str) -> Iterator[PostgresStore]:
    """A store whose connections may not scan a table or sort where an index could serve."""
    with private_store(make_conninfo(pg_dsn, options=_NO_SCANS), "ltc_ix") as (store, _):
        yield store


def _fetch(dsn: str, query: str, *params: str) -> list[tuple[Any, ...]]:
    """The rows of one catalog query, on a connection of its own."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(query, params).fetchall()


def _scans(dsn: str, schema: str) -> dict[str, tuple[int, int]]:
    """Per expression index of ``schema``'s record rows, the server's count of its scans and
    of the index entries those scans returned."""
    rows = _fetch(
        dsn,
        "SELECT indexrelname, idx_scan, idx_tup_read FROM pg_stat_user_indexes "
        "WHERE schemaname = %s AND indexrelname LIKE 'rx\\_%%'",
        schema,
    )
    return {str(name): (int(scans), int(read)) for name, scans, read in rows}


def _settled_scans(dsn: str, schema: str, expected: int) -> dict[str, tuple[int, int]]:
    """The counts once ``expected`` indexes show scans, or after 10 s (a backend sends its
    statistics when it exits, shortly after its client has gone)."""
    deadline = time.monotonic() + 10
    while True:
        scans = _scans(dsn, schema)
        if sum(1 for n, _ in scans.values() if n > 0) >= expected or time.monotonic() > deadline:
            return scans
        time.sleep(0.05)


_RECORDS = 20  # per kind; each query below selects one of them


def test_every_queried_index_is_served_by_its_expression_index(
    pg_dsn: str, strict_store: PostgresStore
) -> None:
    """Each query reads only the entries it returns: its value conditions are the index's
    own (a query whose expression did not match would read all of a kind's entries, through
    the index's predicate, and filter them)."""
    pairs = sorted((kind, name) for kind, names in QUERIED_INDEXES.items() for name in names)
    assert len(pairs) >= 40  # the library's own lists, sweeps and screens
    writes = [
        RecordWrite(kind, f"{kind}-{n:02d}", 0, {"n": n}, dict.fromkeys(names, f"v{n:02d}|{kind}"))
        for kind, names in QUERIED_INDEXES.items()
        for n in range(_RECORDS)
    ]
    strict_store.session().commit(Commit(tuple(writes)))
    session = strict_store.session()
    for kind, name in pairs:
        hit = (f"v07|{kind}", f"{kind}-07")
        assert session.query(IndexQuery(kind, name, equals=hit[0])) == [hit], (kind, name)
        ranged = IndexQuery(
            kind, name, at_least="v07|", below="v07}", after=("v07", ""),
            where=((IndexFilter(name, at_least="v07"), IndexFilter("absent", equals="x")),),
        )  # fmt: skip
        assert session.query(ranged) == [hit], (kind, name)
        assert session.count(ranged) == 1, (kind, name)
        assert session.query(IndexQuery(kind, name, after=hit, limit=1)) == [
            (f"v08|{kind}", f"{kind}-08")
        ], (kind, name)
    schema = strict_store.schema
    strict_store.close()  # its backends exit and send their statistics
    kinds_of = {name: sum(1 for _, n in pairs if n == name) for _, name in pairs}
    scans = _settled_scans(pg_dsn, schema, len(kinds_of))
    assert len(scans) == len(kinds_of)  # one expression index per name
    by_name = {_indexed_name(pg_dsn, schema, index): found for index, found in scans.items()}
    # Four queries per (kind, name), one or two entries read each (a range scan may read one
    # entry past its end); a query its index did not serve reads every entry of its kind.
    unused = sorted(name for name, (count, _) in by_name.items() if count < 4 * kinds_of[name])
    assert unused == [], "queries that scan their kind's rows instead of their index"
    overread = sorted(name for name, (_, read) in by_name.items() if read > 8 * kinds_of[name])
    assert overread == [], "queries whose value conditions their index does not serve"


def _indexed_name(dsn: str, schema: str, index: str) -> str:
    """The index name (``indexes ->> name``) an expression index is over."""
    query = "SELECT indexdef FROM pg_indexes WHERE schemaname = %s AND indexname = %s"
    (definition,) = _fetch(dsn, query, schema, index)
    found = re.search(r"indexes ->> '([^']+)'", str(definition[0]))
    assert found is not None, definition
    return found.group(1)


def test_a_store_indexes_what_it_is_told_and_answers_the_rest_from_the_rows(
    pg_dsn: str,
) -> None:
    """``indexed`` chooses the expression indexes; an index without one still answers."""
    with private_store(pg_dsn, "ltc_ix", indexed={"thing": ["a"]}) as (store, schema):
        writes = [
            RecordWrite("thing", f"t{n}", 0, {}, {"a": f"{n % 2}", "b": f"{n:02d}"})
            for n in range(6)
        ]
        store.session().commit(Commit(tuple(writes)))
        assert set(_scans(pg_dsn, schema)) == {_only_index(pg_dsn, schema)}
        session = store.session()
        assert session.query(IndexQuery("thing", "a", equals="1")) == [
            ("1", "t1"), ("1", "t3"), ("1", "t5"),
        ]  # fmt: skip
        assert session.query(IndexQuery("thing", "b", at_least="03", limit=2)) == [
            ("03", "t3"), ("04", "t4"),
        ]  # fmt: skip
        assert session.count(IndexQuery("customer", "owner")) == 0
        # Names no row can hold (PostgreSQL text has no NUL) match nothing, as in memory.
        assert session.query(IndexQuery("thing", "a\x00")) == []
        assert session.count(IndexQuery("thing\x00", "a")) == 0
        either = (IndexFilter("b\x00", equals="1"), IndexFilter("b", equals="05"))
        assert session.query(IndexQuery("thing", "a", where=(either,))) == [("1", "t5")]
        # Asked for other indexes, create_schema makes them exactly those (the migration of a
        # library version that queries by other names).
        a_index = _only_index(pg_dsn, schema)
        with PostgresStore.connect(
            pg_dsn, schema=schema, create_schema=True, indexed={"thing": ["b"], "other": ["b"]}
        ) as again:
            b_index = _only_index(pg_dsn, schema)
            assert b_index != a_index
            assert again.session().query(IndexQuery("thing", "b", below="01")) == [("00", "t0")]
            assert again.session().count(IndexQuery("thing", "a", equals="0")) == 3


def _only_index(dsn: str, schema: str) -> str:
    """The one expression index of ``schema``'s record rows."""
    found = expression_indexes(dsn, schema)
    assert len(found) == 1, found
    return found[0]
