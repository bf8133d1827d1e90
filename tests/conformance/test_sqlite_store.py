"""The SQLite reference adapter passes the storage conformance suite on a real database file."""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from leadtocash.ports import Commit, IndexQuery, RecordWrite, Store
from leadtocash.testing import InMemoryStore, StoreConformance
from leadtocash_adapters.sqlite_store import SQLiteStore


class TestSQLiteStore(StoreConformance):
    """Every contract test of the storage port against a fresh SQLite file per store."""

    @pytest.fixture(autouse=True)
    def _scratch(self) -> Iterator[None]:
        """A temporary directory for this test's database files, removed afterwards."""
        self._dir = tempfile.mkdtemp(prefix="leadtocash-sqlite-")
        self._made: list[SQLiteStore] = []
        try:
            yield
        finally:
            for store in self._made:
                store.close()
            shutil.rmtree(self._dir, ignore_errors=True)

    def make_store(self) -> Store:
        """A new, empty store in its own database file."""
        path = Path(self._dir) / f"store-{len(self._made)}.db"
        store = SQLiteStore.open(path, create_schema=True)
        self._made.append(store)
        return store


_ENTRIES = {"r0": "a", "r1": "a", "r2": "b", "r3": "华", "r4": "", "r5": "a", "r6": "é"}
_VALUES = (None, "", "a", "ab", "b", "é", "华")
_CURSORS = (None, *itertools.product(_VALUES[1:], ("", "r1", "r5", "r9")))


def test_index_queries_match_the_reference_for_every_bound_combination(tmp_path: Path) -> None:
    """Every combination of equals/at_least/below/after/limit matches the in-memory reference."""
    writes = [RecordWrite("thing", i, 0, {}, {"ix": v}) for i, v in _ENTRIES.items()]
    with SQLiteStore.open(tmp_path / "q.db", create_schema=True) as real:
        reference = InMemoryStore()
        for store in (real, reference):
            store.session().commit(Commit(writes))
        real_session, ref_session = real.session(), reference.session()
        try:
            for equals, at_least, below, after, limit in itertools.product(
                _VALUES, _VALUES, _VALUES, _CURSORS, (0, 2, 100)
            ):
                query = IndexQuery("thing", "ix", equals, at_least, below, after, limit)
                assert real_session.query(query) == ref_session.query(query), query
        finally:
            real_session.close()
            ref_session.close()
