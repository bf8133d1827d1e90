"""The PostgreSQL reference adapter passes the storage conformance suite on a real server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from leadtocash.ports import Store
from leadtocash.testing import StoreConformance
from leadtocash_adapters.postgres_store import PostgresStore

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="class")
def pg_schema(pg_dsn: str) -> Iterator[tuple[str, str]]:
    """A private schema for this test class (so concurrent runs never share tables)."""
    schema = f"ltc_conformance_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with PostgresStore.connect(pg_dsn, schema=schema, create_schema=True, min_size=1):
        pass
    try:
        yield pg_dsn, schema
    finally:
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


class TestPostgresStore(StoreConformance):
    """Every contract test against PostgreSQL; each store starts from emptied tables."""

    dsn = ""
    schema = ""

    @pytest.fixture(autouse=True, scope="class")
    @classmethod
    def _database(cls, pg_schema: tuple[str, str]) -> None:
        cls.dsn, cls.schema = pg_schema

    def make_store(self) -> Store:
        store = PostgresStore.connect(self.dsn, schema=self.schema, min_size=1, max_size=12)
        store.truncate_all()
        return store
