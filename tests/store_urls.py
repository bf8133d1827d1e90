"""Store URLs for tests: the ``postgresql://`` URL of the throwaway server's libpq DSN."""

from __future__ import annotations


def pg_url(dsn: str) -> str:
    """The ``postgresql://`` URL of a libpq ``key=value`` DSN (what scripts/postgres.sh sets)."""
    if "://" in dsn:
        return dsn
    fields = dict(part.split("=", 1) for part in dsn.split())
    auth = fields.get("user", "") + (f":{fields['password']}" if "password" in fields else "")
    host = f"{fields.get('host', 'localhost')}:{fields.get('port', '5432')}"
    return f"postgresql://{auth}{'@' if auth else ''}{host}/{fields.get('dbname', '')}"
