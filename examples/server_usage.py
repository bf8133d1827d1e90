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


def server_spent(
    before: tuple[float | None, int], after: tuple[float | None, int]
) -> tuple[float | None, int, dict[str, dict[str, int]] | None]:
    """Between two :func:`server_usage` readings: the server's CPU seconds (None when its
    processes are not here), the WAL bytes, and the WAL records by type (None without
    ``pg_walinspect``)."""
    cpu = None if before[0] is None or after[0] is None else after[0] - before[0]
    return cpu, after[1] - before[1], wal_by_type(before[1], after[1])


def server_figures(
    before: tuple[float | None, int] | None, attempts: int, prefix: str = ""
) -> dict[str, Any]:
    """What the server spent per attempt since ``before`` (empty when not measured)."""
    after = server_usage() if before is not None else None
    if before is None or after is None:
        return {}
    cpu, wal, by_type = server_spent(before, after)
    figures: dict[str, float] = {f"{prefix}wal_bytes_per_attempt": round(wal / attempts)}
    if cpu is not None:
        figures[f"{prefix}server_cpu_ms_per_attempt"] = round(1000 * cpu / attempts, 3)
    if by_type is not None:
        records = sum(counts["records"] for counts in by_type.values())
        figures[f"{prefix}wal_records_per_attempt"] = round(records / attempts, 1)
    return figures


def _lsn(position: int) -> str:
    """A WAL position (bytes) as PostgreSQL writes an LSN."""
    return f"{position >> 32:X}/{position & 0xFFFFFFFF:X}"


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
