"""Reclaim sweep cost vs book size: the sweep is an indexed range query over what is due.

Builds in-memory books of owned customers (default 100,000 and 1,000,000; ``--quick`` 10,000
and 100,000) in which the same number of customers falls due in each of three hourly waves,
times the sweep of each wave (keeping the fastest, the machine is shared and noisy) and, as the
baseline, a naive sweep that loads every owned customer of the smallest book and checks it.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime, timedelta

from leadtocash import Customer, CustomerId, LeadToCash, PoolId, Principal, RepId, Role
from leadtocash.app import sortable_time
from leadtocash.durations import Duration
from leadtocash.pool.book import RepBook
from leadtocash.pool.reclaim import with_schedule
from leadtocash.pool.rules import Pool, PoolRules, TierDurations
from leadtocash.testing import FakeClock, InMemoryStore, SequentialIds

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
SYSTEM = Principal("sweeper", roles=frozenset({Role.SYSTEM}))
RULES = PoolRules(no_follow_up=TierDurations(Duration.days(7)))
TZ = "Asia/Shanghai"
REPS = 100
WAVES = 3


def build(book: int, due: int) -> tuple[LeadToCash, FakeClock]:
    """A store with ``book`` owned customers; ``due`` fall due at NOW + k hours, k < WAVES."""
    store, clock = InMemoryStore(), FakeClock(NOW - timedelta(days=30))
    crm = LeadToCash(store, clock, SequentialIds())
    pool = Pool(id=PoolId("p"), name="bench", rules=RULES)
    chunk = 20_000
    with crm.unit_of_work() as uow:
        uow.repository(Pool).add(pool)
        for r in range(REPS):
            uow.repository(RepBook).add(RepBook(RepId(f"rep{r}"), owned=book // REPS + 1))
        uow.commit()
    for start in range(0, book, chunk):
        with crm.unit_of_work() as uow:
            for n in range(start, min(book, start + chunk)):
                # Wave k (the first WAVES * due customers) falls due just before NOW + k hours;
                # the rest were claimed a day ago and are due in six days.
                wave, offset = divmod(n, due)
                since = (
                    NOW + timedelta(hours=wave) - timedelta(days=7, seconds=1 + offset)
                    if wave < WAVES
                    else NOW - timedelta(days=1)
                )
                customer = Customer(
                    id=CustomerId(f"c{n:08d}"),
                    name=f"customer {n}",
                    created_at=since,
                    pool_id=pool.id,
                    owner_id=RepId(f"rep{n % REPS}"),
                    owner_since=since,
                )
                uow.customers.add(with_schedule(customer, RULES, timezone=TZ))
            uow.commit()
    clock.set(NOW)
    return crm, clock


def naive_sweep(crm: LeadToCash) -> int:
    """Baseline: page through every owned customer and check whether it is due."""
    due = 0
    cursor = None
    with crm.unit_of_work() as uow:
        while True:
            page = uow.customers.query("owned_pool", equals="p", after=cursor, limit=1000)
            due += sum(1 for c in page.items if c.reclaim_due_at and c.reclaim_due_at <= NOW)
            # (only the first wave is due at NOW)
            if page.next_cursor is None:
                return due
            cursor = page.next_cursor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small books, for CI")
    args = parser.parse_args()
    sizes = [10_000, 100_000] if args.quick else [100_000, 1_000_000]
    due = 200 if args.quick else 1000
    sweep_seconds: dict[str, float] = {}
    build_seconds: dict[str, float] = {}
    naive_seconds = None
    for size in sizes:
        t0 = time.perf_counter()
        crm, clock = build(size, due)
        build_seconds[str(size)] = round(time.perf_counter() - t0, 3)
        if size == sizes[0]:
            t0 = time.perf_counter()
            found = naive_sweep(crm)
            naive_seconds = time.perf_counter() - t0
            assert found == due
        waves = []
        for wave in range(WAVES):
            clock.set(NOW + timedelta(hours=wave))
            t0 = time.perf_counter()
            report = crm.reclaim.sweep(SYSTEM)
            waves.append(time.perf_counter() - t0)
            assert len(report.reclaimed) == due, (len(report.reclaimed), due)
            with crm.unit_of_work() as uow:
                left = uow.customers.index_entries(
                    "reclaim_due", below=sortable_time(clock.now()), limit=10
                )
            assert left == []
        sweep_seconds[str(size)] = min(waves)
    smallest, largest = sweep_seconds[str(sizes[0])], sweep_seconds[str(sizes[-1])]
    assert naive_seconds is not None
    print(
        json.dumps(
            {
                "benchmark": "reclaim",
                "mode": "quick" if args.quick else "full",
                "book_sizes": sizes,
                "due": due,
                "sweep_seconds": {k: round(v, 4) for k, v in sweep_seconds.items()},
                "growth_ratio": round(largest / smallest, 3),
                "book_growth": sizes[-1] // sizes[0],
                "per_reclaim_ms": round(1000 * largest / due, 4),
                "naive_scan_seconds_smallest_book": round(naive_seconds, 4),
                "indexed_vs_naive_speedup_smallest_book": round(naive_seconds / smallest, 2),
                "build_seconds": build_seconds,
            }
        )
    )


if __name__ == "__main__":
    main()
