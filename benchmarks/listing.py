"""Keyset paging of "my customers" on SQLite: the 1,000th page costs what the first does.

Builds a SQLite book (default 1,000,000 customers owned by 20 reps, 50,000 each; ``--quick``
30,000 customers, 3 reps, pages of 10), then times, through the public API
(``crm.customers.list`` with ``CustomerFilter(owner=...)``, authorized and scoped), the first
page and the 1,000th page (its cursor found by walking the pages once), keeping the fastest
of several runs. The baseline, measured in the same run on the same file, is the same page
read with ``LIMIT … OFFSET …`` on the same index: its cost grows with the offset. Prints one
JSON object; ``late_page_ratio`` = 1,000th page / first page (keyset: ≤ 2).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

from leadtocash import Customer, CustomerId, LeadToCash, Principal, RepId, Role, ZoneId
from leadtocash.app import CustomerFilter
from leadtocash.testing import FakeClock, SequentialIds
from leadtocash_adapters.sqlite_store import SQLiteStore

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
CHUNK = 10_000
LATE_PAGE = 1_000
RUNS = 7


def build(path: Path, customers: int, reps: int) -> None:
    """``customers`` owned customers, rep ``n % reps`` owning customer n, written in chunks."""
    store = SQLiteStore.open(path, create_schema=True, synchronous="OFF")
    crm = LeadToCash(store, FakeClock(NOW), SequentialIds())
    try:
        for start in range(0, customers, CHUNK):
            with crm.unit_of_work() as uow:
                for n in range(start, min(customers, start + CHUNK)):
                    created = NOW - timedelta(days=400) + timedelta(seconds=n * 7)
                    uow.customers.add(
                        Customer(
                            id=CustomerId(f"c{n:08d}"),
                            name=f"bench customer {n}",
                            created_at=created,
                            updated_at=created,
                            zone_id=ZoneId("east"),
                            owner_id=RepId(f"rep{n % reps}"),
                            owner_since=created,
                        )
                    )
                uow.commit()
    finally:
        store.close()


def fastest(run: Callable[[], object]) -> float:
    """The fastest of RUNS timings of ``run``, in milliseconds."""
    best = float("inf")
    for _ in range(RUNS):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def measure(path: Path, page: int) -> dict[str, float]:
    store = SQLiteStore.open(path)
    crm = LeadToCash(store, FakeClock(NOW), SequentialIds())
    rep = Principal("u0", roles=frozenset({Role.REP}), rep_id=RepId("rep0"), zone_id=ZoneId("east"))
    mine = CustomerFilter(owner=RepId("rep0"))
    try:
        cursor = None
        for _ in range(LATE_PAGE - 1):  # walk to the cursor of the 999th page once
            cursor = crm.customers.list(rep, mine, after=cursor, limit=page).next_cursor
        assert cursor is not None, "the book is too small for the late page"
        late_ids = [c.id for c in crm.customers.list(rep, mine, after=cursor, limit=page).items]
        assert len(late_ids) == page
        first = fastest(lambda: crm.customers.list(rep, mine, limit=page))
        late = fastest(lambda: crm.customers.list(rep, mine, after=cursor, limit=page))
    finally:
        store.close()
    # The OFFSET baseline: the same index, the same rows, skipped instead of sought.
    conn = sqlite3.connect(path)
    sql = (
        "SELECT value, id FROM index_entries WHERE kind = 'customer' AND name = 'owner_created'"
        " AND value >= 'rep0|' AND value < 'rep0}' ORDER BY value, id LIMIT ? OFFSET ?"
    )
    try:
        offset_rows = conn.execute(sql, (page, (LATE_PAGE - 1) * page)).fetchall()
        assert [row[1] for row in offset_rows] == late_ids, "OFFSET and keyset disagree"
        offset_first = fastest(lambda: conn.execute(sql, (page, 0)).fetchall())
        offset_late = fastest(lambda: conn.execute(sql, (page, (LATE_PAGE - 1) * page)).fetchall())
    finally:
        conn.close()
    return {
        "first_page_ms": round(first, 3),
        "late_page_ms": round(late, 3),
        "late_page_ratio": round(late / first, 3),
        "offset_first_page_ms": round(offset_first, 3),
        "offset_late_page_ms": round(offset_late, 3),
        "offset_late_page_ratio": round(offset_late / offset_first, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a small book, for CI")
    args = parser.parse_args()
    customers, reps, page = (30_000, 3, 10) if args.quick else (1_000_000, 20, 50)
    with tempfile.TemporaryDirectory(prefix="leadtocash-listing-") as scratch:
        path = Path(scratch) / "book.db"
        started = time.perf_counter()
        build(path, customers, reps)
        built = time.perf_counter() - started
        figures = measure(path, page)
    print(
        json.dumps(
            {
                "benchmark": "listing",
                "mode": "quick" if args.quick else "full",
                "store": "sqlite",
                "customers": customers,
                "reps": reps,
                "owned_per_rep": customers // reps,
                "page_size": page,
                "late_page": LATE_PAGE,
                "build_seconds": round(built, 1),
                **figures,
            }
        )
    )
    if figures["late_page_ratio"] > 2:
        raise SystemExit(f"the late page costs {figures['late_page_ratio']}x the first (> 2)")


if __name__ == "__main__":
    main()
