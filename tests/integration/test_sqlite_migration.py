"""A version-1 SQLite database is refused until create_schema() migrates it, keeping its data."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from leadtocash import StorageError
from leadtocash.ports import Commit, RecordWrite
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
        assert store.schema_version() == sqlite_store.SCHEMA_VERSION == 2
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
    assert again.schema_version() == 2
    again.close()
