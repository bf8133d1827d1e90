"""A PostgreSQL store in a private, throwaway schema: what the integration tests share."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql

from leadtocash_adapters.postgres_store import PostgresStore


@contextmanager
def private_store(dsn: str, prefix: str, **options: Any) -> Iterator[tuple[PostgresStore, str]]:
    """A fresh store in schema ``<prefix>_<pid>_<random>``, and the schema's name; the schema
    is dropped afterwards (so concurrent runs never share tables). ``options`` go to
    :meth:`PostgresStore.connect` (default pool ``min_size=1``)."""
    schema = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    options.setdefault("min_size", 1)
    store = PostgresStore.connect(dsn, schema=schema, create_schema=True, **options)
    try:
        yield store, schema
    finally:
        store.close()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def expression_indexes(dsn: str, schema: str) -> list[str]:
    """The names of the adapter's expression indexes on ``schema``'s record rows, sorted."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = %s AND tablename = 'records' "
            "AND indexname LIKE 'rx\\_%%' ORDER BY indexname",
            (schema,),
        ).fetchall()
    return [str(name) for (name,) in rows]
