"""Concurrent claim workload: several OS processes claim from one pool on a real engine.

Used by ``benchmarks/claims.py`` and the real-engine concurrency tests, and runnable by hand::

    python examples/claim_workload.py setup  sqlite:/tmp/claims.sqlite3 --customers 1000
    python examples/claim_workload.py worker sqlite:/tmp/claims.sqlite3 --rep 1 --claims 500
    python examples/claim_workload.py verify sqlite:/tmp/claims.sqlite3

A store spec is ``sqlite:<path>`` or ``postgres:<schema>`` (DSN from ``LEADTOCASH_PG_DSN``).
Each worker prints one JSON line: what it claimed, its refusals by code, conflicts that
exhausted the retries, and elapsed seconds. ``verify`` prints the checks as JSON.

Two environment variables take a worker apart (``benchmarks/claims.py --counts/--profile``):
``LEADTOCASH_CLAIM_COUNTS=<dir>`` writes ``<dir>/rep<N>.json``, every attempt classed by what
happened (won or refused, after how many version conflicts) with its count and CPU, and the
store calls and their CPU; ``LEADTOCASH_CLAIM_PROFILE=<dir>`` writes a cProfile of the
worker's loop (``time.process_time`` as its clock) to ``<dir>/rep<N>.prof``.
"""

from __future__ import annotations

import cProfile
import gc
import json
import os
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from leadtocash import (
    ConcurrencyConflict,
    Customer,
    CustomerId,
    LeadToCash,
    LeadToCashError,
    Pool,
    PoolId,
    PoolRules,
    Principal,
    RandomIds,
    RepId,
    Role,
    SalesRep,
    Store,
    SystemClock,
    ZoneId,
    verify_store_audit,
)
from leadtocash.pool import OwnershipAction, OwnershipChange, RepBook
from workload_cli import workload_parser

ADMIN = Principal("admin", roles=frozenset({Role.ADMIN}))
POOL = PoolId("bench")


def open_store(spec: str, *, create: bool = False, strands: int | None = None) -> Store:
    """Open the store named by ``spec`` (``sqlite:<path>`` or ``postgres:<schema>``);
    ``strands`` (K audit strands) when creating it."""
    engine, _, where = spec.partition(":")
    if engine == "sqlite":
        from leadtocash_adapters.sqlite_store import SQLiteStore

        return SQLiteStore.open(where, create_schema=create, strands=strands)
    if engine == "postgres":
        from leadtocash_adapters.postgres_store import PostgresStore

        dsn = os.environ["LEADTOCASH_PG_DSN"]
        return PostgresStore.connect(
            dsn, schema=where, create_schema=create, max_size=4, strands=strands
        )
    raise SystemExit(f"unknown store spec {spec!r}")


def customer_ids(count: int) -> list[CustomerId]:
    """The ids ``setup`` gives the pool's customers."""
    return [CustomerId(f"cust-{n:06d}") for n in range(count)]


def together(
    script: str, processes: int, delay: float, argv: Callable[[int, float], list[str]]
) -> tuple[float, list[dict[str, Any]]]:
    """Run ``processes`` copies of ``script`` with ``argv(n, start_at)`` and wait for them.

    Each copy should sleep until ``start_at`` (``delay`` seconds from now, so imports are not
    timed), work, and print one JSON object; returns ``start_at`` and those objects. Shared by
    the store benchmarks that time N processes committing at once.
    """
    start_at = time.time() + delay
    procs = [
        subprocess.Popen(
            [sys.executable, script, *argv(n, start_at)], stdout=subprocess.PIPE, text=True
        )
        for n in range(processes)
    ]
    results = []
    for proc in procs:
        out, _ = proc.communicate()
        assert proc.returncode == 0, f"a worker of {script} failed"
        results.append(json.loads(out))
    return start_at, results


def audit_verifies(spec: str) -> bool:
    """Seal a digest, then verify the store's whole audit (every strand against the digests)."""
    store = open_store(spec)
    try:
        store.seal_digest()
        return verify_store_audit(store).ok
    finally:
        store.close()


def reset(spec: str) -> None:
    """Start from nothing: drop the PostgreSQL schema (SQLite specs name a new file)."""
    engine, _, where = spec.partition(":")
    if engine == "postgres":
        import psycopg

        with psycopg.connect(os.environ["LEADTOCASH_PG_DSN"], autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{where}" CASCADE')


def setup(spec: str, customers: int, reps: int, daily_limit: int, strands: int = 16) -> None:
    """Create the pool, ``reps`` reps and ``customers`` unowned customers (from scratch)."""
    reset(spec)
    store = open_store(spec, create=True, strands=strands)
    try:
        crm = LeadToCash(store, SystemClock(), RandomIds())
        rules = PoolRules(daily_claim_limit=daily_limit)
        crm.pools.create_pool(ADMIN, "bench pool", rules=rules, pool_id=POOL)
        for n in range(1, reps + 1):
            crm.reps.register(ADMIN, SalesRep(id=RepId(f"rep{n}"), name=f"rep {n}"))
        now = SystemClock().now()
        ids = customer_ids(customers)
        for start in range(0, customers, 500):
            with crm.unit_of_work() as uow:
                for cid in ids[start : start + 500]:
                    uow.customers.add(
                        Customer(
                            id=cid,
                            name=f"customer {cid}",
                            created_at=now,
                            pool_id=POOL,
                            pool_entered_at=now,
                            zone_id=ZoneId("z"),
                        )
                    )
                uow.commit()
    finally:
        store.close()


class StoreCounts:
    """Store calls of a worker: sessions, reads, commits, conflicts, and their CPU."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.cpu: dict[str, float] = {}

    def timed(self, name: str, call: Any, *args: Any) -> Any:
        """``call(*args)``, counted and timed under ``name`` (``name:conflict`` if it conflicts)."""
        started = time.process_time()
        try:
            return call(*args)
        except ConcurrencyConflict:
            name = f"{name}:conflict"
            raise
        finally:
            self.calls[name] += 1
            self.cpu[name] = self.cpu.get(name, 0.0) + time.process_time() - started

    def snapshot(self) -> tuple[int, int]:
        """(sessions, conflicting commits) so far."""
        return self.calls["session"], self.calls["commit:conflict"]


class _CountingSession:
    """A store session whose reads and commits are counted (the rest passes through)."""

    def __init__(self, session: Any, counts: StoreCounts) -> None:
        self._session = session
        self._counts = counts

    def load_each(self, refs: Any) -> Any:
        """Counted ``load_each``."""
        return self._counts.timed("load_each", self._session.load_each, refs)

    def load(self, kind: str, ident: str) -> Any:
        """Counted ``load``."""
        return self._counts.timed("load", self._session.load, kind, ident)

    def commit(self, commit: Any) -> None:
        """Counted ``commit``."""
        self._counts.timed("commit", self._session.commit, commit)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


class _CountingStore:
    """A store whose sessions are counted (the rest passes through)."""

    def __init__(self, store: Store, counts: StoreCounts) -> None:
        self._store = store
        self._counts = counts

    def session(self) -> Any:
        """A counted session."""
        self._counts.calls["session"] += 1
        return _CountingSession(self._store.session(), self._counts)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


#: A worker's first attempts are classed apart: they pay for the process's warm-up
#: (cattrs generating its structuring code, first imports), which later attempts do not.
FIRST_ATTEMPTS = 10


class AttemptClasses:
    """Claim attempts classed by outcome and version conflicts, with their count and CPU;
    and the CPU of the garbage collector's runs during them."""

    def __init__(self) -> None:
        self.count: Counter[str] = Counter()
        self.cpu: dict[str, float] = {}
        self.gc_runs = 0
        self.gc_cpu = 0.0
        self._gc_started = 0.0

    def add(self, outcome: str, conflicts: int, cpu: float) -> None:
        """Count one attempt: ``outcome`` (won or a refusal code) after ``conflicts``."""
        seen = sum(self.count.values())
        name = "first attempts" if seen < FIRST_ATTEMPTS else f"{outcome}/{conflicts}"
        self.count[name] += 1
        self.cpu[name] = self.cpu.get(name, 0.0) + cpu

    def on_gc(self, phase: str, info: dict[str, int]) -> None:
        """A ``gc.callbacks`` hook: time each collection."""
        if phase == "start":
            self._gc_started = time.process_time()
        else:
            self.gc_runs += 1
            self.gc_cpu += time.process_time() - self._gc_started

    def report(self, counts: StoreCounts) -> dict[str, Any]:
        """The classes and store calls as JSON-ready figures (CPU in seconds)."""
        calls: dict[str, list[float]] = {
            k: [counts.calls[k], round(counts.cpu.get(k, 0.0), 6)] for k in counts.calls
        }
        calls["garbage collector (in the attempts)"] = [self.gc_runs, round(self.gc_cpu, 6)]
        return {
            "classes": {k: [self.count[k], round(self.cpu[k], 6)] for k in sorted(self.count)},
            "store_calls": calls,
        }


def wait_until(start_at: float) -> float:
    """Sleep until the wall-clock instant ``start_at`` (so all workers start together)."""
    delay = start_at - time.time()
    if delay > 0:
        time.sleep(delay)
    return time.time()


def worker(
    spec: str, rep: int, claims: int, customers: int, seed: int, start_at: float = 0.0
) -> dict[str, Any]:
    """Attempt ``claims`` claims of random customers as rep ``rep``; return what happened."""
    store = open_store(spec)
    counts_dir = os.environ.get("LEADTOCASH_CLAIM_COUNTS")
    profile_dir = os.environ.get("LEADTOCASH_CLAIM_PROFILE")
    counts, classes = StoreCounts(), AttemptClasses()
    crm_store = store if not counts_dir else cast(Store, _CountingStore(store, counts))
    profiler = cProfile.Profile(time.process_time) if profile_dir else None
    rng = random.Random(seed * 1000 + rep)
    principal = Principal(f"user{rep}", roles=frozenset({Role.REP}), rep_id=RepId(f"rep{rep}"))
    ids = customer_ids(customers)
    claimed: list[str] = []
    refusals: Counter[str] = Counter()
    exhausted = 0
    try:
        crm = LeadToCash(crm_store, SystemClock(), RandomIds())
        warm_up_started = time.process_time()
        crm.warm_up()  # as a server does at start-up, before the start signal
        warm_up_cpu = time.process_time() - warm_up_started
        started = wait_until(start_at)
        cpu_started = time.process_time()
        if profiler is not None:
            profiler.enable()
        if counts_dir:
            gc.callbacks.append(classes.on_gc)
        for _ in range(claims):
            cid = rng.choice(ids)
            before, attempt_started = counts.snapshot(), time.process_time()
            outcome = "won"
            try:
                crm.pools.claim(principal, cid)
                claimed.append(cid)
            except ConcurrencyConflict:
                exhausted += 1
                outcome = "exhausted"
            except LeadToCashError as exc:
                refusals[exc.code] += 1
                outcome = exc.code
            if counts_dir:
                conflicts = counts.snapshot()[1] - before[1]
                classes.add(outcome, conflicts, time.process_time() - attempt_started)
        if profiler is not None:
            profiler.disable()
        if counts_dir:
            gc.callbacks.remove(classes.on_gc)
        ended = time.time()
        cpu = time.process_time() - cpu_started
    finally:
        store.close()
    if profiler is not None and profile_dir:
        profiler.dump_stats(str(Path(profile_dir) / f"rep{rep}.prof"))
    if counts_dir:
        report = classes.report(counts)
        (Path(counts_dir) / f"rep{rep}.json").write_text(json.dumps(report))
    return {
        "rep": f"rep{rep}",
        "attempts": claims,
        "claimed": claimed,
        "refusals": dict(refusals),
        "conflicts_exhausted": exhausted,
        "started": started,
        "ended": ended,
        "cpu_s": round(cpu, 4),
        "warm_up_cpu_s": round(warm_up_cpu, 4),
    }


def verify(spec: str, customers: int, reps: int) -> dict[str, Any]:
    """Check the store after the workers: single ownership, books, caps, audit chain."""
    store = open_store(spec)
    try:
        crm = LeadToCash(store, SystemClock(), RandomIds())
        owners: Counter[str] = Counter()
        claim_lines: Counter[str] = Counter()
        per_rep: Counter[str] = Counter()
        with crm.unit_of_work() as uow:
            for cid in customer_ids(customers):
                customer = uow.customers.get(cid)
                if customer.owner_id is not None:
                    owners[customer.owner_id] += 1
                page = uow.repository(OwnershipChange).query(
                    "customer", at_least=f"{cid}|", below=f"{cid}}}", limit=100
                )
                claims = [c for c in page.items if c.action is OwnershipAction.CLAIM]
                claim_lines[cid] = len(claims)
                for c in claims:
                    per_rep[str(c.to_rep)] += 1
            limit = uow.repository(Pool).get(POOL).rules.daily_claim_limit
            books = {
                f"rep{n}": (uow.repository(RepBook).find(f"rep{n}") or RepBook(RepId("x"))).owned
                for n in range(1, reps + 1)
            }
        store.seal_digest()
        report = verify_store_audit(store)
        return {
            "double_owned": sum(1 for n in claim_lines.values() if n > 1),
            "owned_total": sum(owners.values()),
            "claims_total": sum(claim_lines.values()),
            "books_match": all(books[r] == owners.get(r, 0) for r in books),
            "max_claims_per_rep": max(per_rep.values(), default=0),
            "daily_limit": limit,
            "audit_entries": report.entries,
            "audit_digests": report.digests,
            "audit_chain_ok": report.ok,
        }
    finally:
        store.close()


def main(argv: list[str] | None = None) -> int:
    parser = workload_parser(__doc__)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--daily-limit", type=int, default=0, help="0 = no limit")
    args = parser.parse_args(argv)
    if args.command == "setup":
        setup(args.store, args.customers, args.reps, args.daily_limit, args.strands)
    elif args.command == "worker":
        result = worker(args.store, args.rep, args.claims, args.customers, args.seed, args.start_at)
        print(json.dumps(result))
    else:
        print(json.dumps(verify(args.store, args.customers, args.reps)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
