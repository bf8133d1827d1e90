"""One flow, every reference store: the tests an integration module gets from its flow.

A module defines ``_flow(store) -> figures`` (what the flow observed, as plain data) and
``_check(figures)`` (the expected figures); :func:`same_on_every_store` gives it the three
tests that run the flow on the in-memory reference store (checked), on a fresh SQLite file and
on PostgreSQL in a private schema, each of which must observe exactly the reference figures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from leadtocash.ports import Store
from leadtocash.testing import InMemoryStore
from leadtocash_adapters.postgres_store import PostgresStore
from leadtocash_adapters.sqlite_store import SQLiteStore
from pg_schemas import private_store

Figures = dict[str, Any]


def same_on_every_store(
    flow: Callable[[Store], Figures], check: Callable[[Figures], None], name: str
) -> tuple[Any, Callable[..., None], Any, Callable[..., None]]:
    """``(reference, sqlite test, pg_store, postgres test)``: assign them to module names
    (``reference``, ``test_…_on_sqlite…``, ``pg_store``, ``test_…_on_postgres…``) so pytest
    collects them; ``name`` names the SQLite file and the PostgreSQL schema prefix."""

    @pytest.fixture(scope="module")
    def reference() -> Figures:
        figures = flow(InMemoryStore())
        check(figures)
        return figures

    def test_the_flow_on_sqlite_matches_the_reference(tmp_path: Path, reference: Figures) -> None:
        with SQLiteStore.open(tmp_path / f"{name}.db", create_schema=True) as store:
            assert flow(store) == reference

    @pytest.fixture
    def pg_store(pg_dsn: str) -> Iterator[PostgresStore]:
        with private_store(pg_dsn, f"ltc_{name}") as (store, _schema):
            yield store

    @pytest.mark.postgres
    def test_the_flow_on_postgres_matches_the_reference(
        pg_store: PostgresStore, reference: Figures
    ) -> None:
        assert flow(pg_store) == reference

    return (
        reference,
        test_the_flow_on_sqlite_matches_the_reference,
        pg_store,
        test_the_flow_on_postgres_matches_the_reference,
    )
