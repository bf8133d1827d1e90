"""Client CPU and Python function calls of one claim attempt, one process, no contention.

What ``benchmarks/claims.py`` reports as "client CPU per attempt", taken apart: successful
claims (customers this process has not read yet) and refused ones (customers another facade
— its own aggregate cache, as another process would have — claimed first) are measured
separately, on the in-memory store (library Python only) or on SQLite (with SQLite's own
work and ``fsync`` in the process). Compare two commits by running this from two worktrees,
interleaved::

    PYTHONPATH=src:examples python benchmarks/claim_cpu.py memory
    PYTHONPATH=src:examples python benchmarks/claim_cpu.py sqlite --calls

CPU is ``time.process_time`` per attempt, over batches of 50 attempts with the garbage
collector off: the median and the best batch (the best is the steadiest figure on a loaded
machine). ``--calls`` counts Python function calls per attempt with cProfile instead
(deterministic; ``--profile`` prints the profile too). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import pstats
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "examples"), str(ROOT / "src")]

import claim_workload as workload  # noqa: E402
from leadtocash import (  # noqa: E402
    Customer,
    CustomerId,
    LeadToCash,
    LeadToCashError,
    PoolRules,
    Principal,
    RandomIds,
    RepId,
    Role,
    SalesRep,
    Store,
    SystemClock,
    ZoneId,
)

BATCH = 50
#: Runs claim attempts on a batch of customer ids.
Attempts = Callable[[Sequence[CustomerId]], None]


def stores(engine: str, customers: int) -> tuple[Store, Store]:
    """Two handles on one store holding a pool, reps rep1 and rep2, and ``customers``."""
    if engine == "sqlite":
        spec = f"sqlite:{tempfile.mkdtemp()}/claims.sqlite3"
        workload.setup(spec, customers, 2, 0)
        return workload.open_store(spec), workload.open_store(spec)
    from leadtocash.testing import InMemoryStore

    store = InMemoryStore()
    crm = LeadToCash(store, SystemClock(), RandomIds())
    rules = PoolRules(daily_claim_limit=0)
    crm.pools.create_pool(workload.ADMIN, "bench pool", rules=rules, pool_id=workload.POOL)
    for n in (1, 2):
        crm.reps.register(workload.ADMIN, SalesRep(id=RepId(f"rep{n}"), name=f"rep {n}"))
    now = SystemClock().now()
    with crm.unit_of_work() as uow:
        for cid in workload.customer_ids(customers):
            uow.customers.add(
                Customer(
                    id=cid,
                    name=f"customer {cid}",
                    created_at=now,
                    pool_id=workload.POOL,
                    pool_entered_at=now,
                    zone_id=ZoneId("z"),
                )
            )
        uow.commit()
    return store, store


def cpu_per_attempt(run: Attempts, ids: Sequence[CustomerId]) -> dict[str, float]:
    """Milliseconds of CPU per attempt: the median and the best of batches of BATCH."""
    times = []
    for start in range(0, len(ids) - BATCH + 1, BATCH):
        gc.collect()
        gc.disable()
        try:
            began = time.process_time()
            run(ids[start : start + BATCH])
            times.append((time.process_time() - began) / BATCH * 1000)
        finally:
            gc.enable()
    times.sort()
    return {"median_ms": round(times[len(times) // 2], 4), "best_ms": round(times[0], 4)}


def calls_per_attempt(run: Attempts, ids: Sequence[CustomerId], *, show: bool) -> float:
    """Python function calls per attempt (cProfile); prints the profile when ``show``."""
    profile = cProfile.Profile(time.process_time)
    profile.enable()
    run(ids)
    profile.disable()
    stats = pstats.Stats(profile, stream=sys.stderr)
    if show:
        stats.sort_stats("tottime").print_stats(40)
    total: int = stats.total_calls  # type: ignore[attr-defined]
    return round(total / len(ids), 2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("engine", nargs="?", default="memory", choices=["memory", "sqlite"])
    parser.add_argument("--attempts", type=int, default=1000, help="per kind of attempt")
    parser.add_argument("--quick", action="store_true", help="100 attempts (CI: it runs)")
    parser.add_argument("--calls", action="store_true", help="count calls instead of CPU")
    parser.add_argument("--profile", action="store_true", help="with --calls: print it")
    args = parser.parse_args(argv)
    warm, n = 100, 100 if args.quick else args.attempts
    store, other_store = stores(args.engine, warm + 2 * n)
    try:
        crm = LeadToCash(store, SystemClock(), RandomIds())
        other = LeadToCash(other_store, SystemClock(), RandomIds())
        rep1 = Principal("user1", roles=frozenset({Role.REP}), rep_id=RepId("rep1"))
        rep2 = Principal("user2", roles=frozenset({Role.REP}), rep_id=RepId("rep2"))
        ids = workload.customer_ids(warm + 2 * n)
        for cid in ids[:warm]:  # the pool, book and counter are read and cached once
            crm.pools.claim(rep1, cid)
        free, taken = ids[warm : warm + n], ids[warm + n :]
        for cid in taken:
            other.pools.claim(rep2, cid)

        def succeed(batch: Sequence[CustomerId]) -> None:
            for cid in batch:
                crm.pools.claim(rep1, cid)

        def refuse(batch: Sequence[CustomerId]) -> None:
            for cid in batch:
                try:
                    crm.pools.claim(rep1, cid)
                except LeadToCashError:
                    continue
                raise AssertionError(f"{cid} was claimed twice")

        result: dict[str, Any] = {"engine": args.engine, "attempts": n}
        if args.calls:
            result["calls_successful"] = calls_per_attempt(succeed, free, show=args.profile)
            result["calls_refused"] = calls_per_attempt(refuse, taken, show=args.profile)
        else:
            result["cpu_successful"] = cpu_per_attempt(succeed, free)
            result["cpu_refused"] = cpu_per_attempt(refuse, taken)
    finally:
        store.close()
        if other_store is not store:
            other_store.close()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
