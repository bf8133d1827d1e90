"""What a PostgreSQL server on this machine spends: CPU of its processes, WAL written.

Used by ``benchmarks/claims.py`` and ``benchmarks/claim_wal.py``. The server is the one
``LEADTOCASH_PG_DSN`` names; its CPU is read from ``/proc`` (the postmaster, its children,
and what it reaped of children that ended), so only when it runs on this machine. WAL
records are counted with ``pg_walinspect`` where the role may create that extension.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def _proc_cpu(stat: str) -> tuple[int, float, float]:
    """(parent pid, own CPU s, reaped children's CPU s) from a /proc/<pid>/stat line."""
    fields = stat[stat.rindex(")") + 2 :].split()  # from field 3 (state) on
    tick = os.sysconf("SC_CLK_TCK")
    own = (int(fields[11]) + int(fields[12])) / tick
    return int(fields[1]), own, (int(fields[13]) + int(fields[14])) / tick


def server_usage() -> tuple[float | None, int] | None:
    """PostgreSQL's CPU seconds so far (None if its processes are not here) and WAL position.

    CPU is the postmaster's and every child's user + system time, plus what the postmaster
    reaped of children that ended (connections closed since start-up). None without
    LEADTOCASH_PG_DSN.
    """
    dsn = os.environ.get("LEADTOCASH_PG_DSN")
    if not dsn:
        return None
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as pg:
        row = pg.execute("SELECT pg_backend_pid(), pg_current_wal_lsn() - '0/0'::pg_lsn").fetchone()
        assert row is not None
        backend, wal = int(row[0]), int(row[1])
        try:  # while the connection is open, so that its backend exists
            postmaster, _, _ = _proc_cpu(Path(f"/proc/{backend}/stat").read_text())
            local = Path(f"/proc/{postmaster}/comm").read_text().strip() == "postgres"
        except (OSError, ValueError):
            local = False
        if not local:
            return None, wal  # the server runs elsewhere (that pid, if any, is not its)
    try:
        _, cpu, reaped = _proc_cpu(Path(f"/proc/{postmaster}/stat").read_text())
    except (OSError, ValueError):
        return None, wal
    cpu += reaped
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent, own, _ = _proc_cpu(stat.read_text())
        except (OSError, ValueError):
            continue  # ended meanwhile
        if parent == postmaster:
            cpu += own
    return cpu, wal


def server_figures(
    before: tuple[float | None, int] | None, attempts: int, prefix: str = ""
) -> dict[str, Any]:
    """What the server spent per attempt since ``before`` (empty when not measured)."""
    after = server_usage() if before is not None else None
    if before is None or after is None:
        return {}
    figures: dict[str, float] = {
        f"{prefix}wal_bytes_per_attempt": round((after[1] - before[1]) / attempts)
    }
    if before[0] is not None and after[0] is not None:
        cpu_ms = 1000 * (after[0] - before[0]) / attempts
        figures[f"{prefix}server_cpu_ms_per_attempt"] = round(cpu_ms, 3)
    records = wal_records(before[1], after[1])
    if records is not None:
        figures[f"{prefix}wal_records_per_attempt"] = round(records / attempts, 1)
    return figures


def _lsn(position: int) -> str:
    """A WAL position (bytes) as PostgreSQL writes an LSN."""
    return f"{position >> 32:X}/{position & 0xFFFFFFFF:X}"


def wal_records(start: int, end: int) -> int | None:
    """How many WAL records the server wrote between two positions (pg_walinspect), or None
    where that extension cannot be created (it needs a superuser)."""
    import psycopg

    with psycopg.connect(os.environ["LEADTOCASH_PG_DSN"], autocommit=True) as pg:
        try:
            pg.execute("CREATE EXTENSION IF NOT EXISTS pg_walinspect")
            row = pg.execute(
                "SELECT sum(count) FROM pg_get_wal_stats(%s::pg_lsn, %s::pg_lsn)",
                (_lsn(start), _lsn(end)),
            ).fetchone()
        except psycopg.Error:
            return None
    return None if row is None or row[0] is None else int(row[0])


def wal_by_type(start: int, end: int) -> dict[str, dict[str, int]] | None:
    """The WAL records written between two positions by resource manager and record type
    (``pg_walinspect``): their count, their bytes without full-page images, and the
    full-page images' bytes; None where the extension cannot be created."""
    import psycopg

    with psycopg.connect(os.environ["LEADTOCASH_PG_DSN"], autocommit=True) as pg:
        try:
            pg.execute("CREATE EXTENSION IF NOT EXISTS pg_walinspect")
            rows = pg.execute(
                'SELECT "resource_manager/record_type", count, record_size, fpi_size'
                " FROM pg_get_wal_stats(%s::pg_lsn, %s::pg_lsn, true) WHERE count > 0",
                (_lsn(start), _lsn(end)),
            ).fetchall()
        except psycopg.Error:
            return None
    return {
        str(kind): {"records": int(count), "bytes": int(size), "fpi_bytes": int(fpi)}
        for kind, count, size, fpi in rows
    }
