"""Everything a store holds, as bytes: what the erasure and purge tests search for a secret."""

from __future__ import annotations

from pathlib import Path

import psycopg
from psycopg import sql


def sqlite_bytes(path: Path) -> bytes:
    """The SQLite database file and its write-ahead log, as they are on disk."""
    files = [path, Path(f"{path}-wal")]
    return b"".join(f.read_bytes() for f in files if f.exists())


def postgres_text(dsn: str, schema: str) -> bytes:
    """Every row of every table of ``schema``, as PostgreSQL prints it."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                (schema,),
            )
        ]
        texts = []
        for table in tables:
            query = sql.SQL("SELECT t::text FROM {}.{} t").format(
                sql.Identifier(schema), sql.Identifier(table)
            )
            texts += [row[0] for row in conn.execute(query)]
    return "\n".join(texts).encode()
