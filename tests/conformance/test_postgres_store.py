"""The PostgreSQL reference adapter passes the storage conformance suite on a real server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import psycopg
import pytest
from psycopg import sql

from leadtocash.ports import Store
from leadtocash.testing import StoreConformance
from leadtocash_adapters.postgres_store import PostgresStore

pytestmark = pytest.mark.postgres


#: The index names the suite queries its "thing" records by: given expression indexes in
#: the second run of the suite, so that its answers come through them too.
SUITE_INDEXES = {"thing": ["due", "name", "none", "other", "owner", "pool", "tier", "zone"]}


@contextmanager
def _private_schema(dsn: str, indexed: Mapping[str, list[str]] | None) -> Iterator[str]:
    """A private schema (so concurrent runs never share tables), dropped afterwards."""
    schema = f"ltc_conformance_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with PostgresStore.connect(dsn, schema=schema, create_schema=True, min_size=1, indexed=indexed):
        pass
    try:
        yield schema
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture(scope="class")
def pg_schema(pg_dsn: str) -> Iterator[tuple[str, str]]:
    """A private schema for this test class, with the library's expression indexes (none
    of which serves the suite's kinds: its queries get their answers from the rows)."""
    with _private_schema(pg_dsn, None) as schema:
        yield pg_dsn, schema


@pytest.fixture(scope="class")
def pg_indexed_schema(pg_dsn: str) -> Iterator[tuple[str, str]]:
    """A private schema with an expression index for each index the suite queries by."""
    with _private_schema(pg_dsn, SUITE_INDEXES) as schema:
        yield pg_dsn, schema


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


class TestPostgresStoreThroughExpressionIndexes(TestPostgresStore):
    """The whole suite again, its queries of "thing" records served by expression indexes."""

    @pytest.fixture(autouse=True, scope="class")
    @classmethod
    def _database(cls, pg_indexed_schema: tuple[str, str]) -> None:
        cls.dsn, cls.schema = pg_indexed_schema
