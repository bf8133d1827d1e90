"""The SQLite and PostgreSQL adapters parse a record's document once per distinct text.

A record read again unchanged hands out the document parsed at the last read (that is what
saves parsing, and lets the aggregate cache compare by identity); a new version, or a row
edited under the same version, is parsed afresh, so no read ever returns a stale document.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from leadtocash.ports import Commit, RecordWrite, Store
from leadtocash_adapters.postgres_store import PostgresStore
from leadtocash_adapters.sqlite_store import SQLiteStore
from pg_schemas import private_store


def _check(store: Store, edit: Callable[[str], None]) -> None:
    session = store.session()
    session.commit(Commit([RecordWrite("thing", "t1", 0, {"name": "一", "tags": ["a"]})]))
    session = store.session()
    first = session.load("thing", "t1")
    assert first is not None and first.data == {"name": "一", "tags": ["a"]}
    again = session.load_each([("thing", "t1")])[("thing", "t1")]
    assert again.data is first.data  # the same text: the same document
    assert session.load_many("thing", ["t1"])["t1"].data is first.data
    edit(json.dumps({"name": "改过", "tags": ["a"]}))  # same version, other text
    edited = session.load("thing", "t1")
    assert edited is not None and edited.version == first.version
    assert edited.data == {"name": "改过", "tags": ["a"]} and edited.data is not first.data
    session.close()
    session = store.session()
    session.commit(Commit([RecordWrite("thing", "t1", 1, {"name": "二", "tags": []})]))
    session = store.session()
    written = session.load("thing", "t1")
    session.close()
    assert written is not None
    assert (written.version, written.data) == (2, {"name": "二", "tags": []})


def test_sqlite_parses_a_document_again_only_when_its_text_changed(tmp_path: Path) -> None:
    store = SQLiteStore.open(tmp_path / "crm.db", create_schema=True)

    def edit(text: str) -> None:
        with store.raw_connection() as conn:
            conn.execute("UPDATE records SET data = ? WHERE kind = 'thing' AND id = 't1'", (text,))

    try:
        _check(store, edit)
    finally:
        store.close()


@pytest.fixture
def pg_store(pg_dsn: str) -> Iterator[tuple[PostgresStore, str]]:
    with private_store(pg_dsn, "ltc_docs") as (store, schema):
        yield store, schema


def test_postgres_parses_a_document_again_only_when_its_text_changed(
    pg_store: tuple[PostgresStore, str], pg_dsn: str
) -> None:
    store, schema = pg_store

    def edit(text: str) -> None:
        statement = sql.SQL(
            "UPDATE {}.records SET data = %s::jsonb WHERE kind = 'thing' AND id = 't1'"
        ).format(sql.Identifier(schema))
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute(statement, (text,))

    _check(store, edit)
