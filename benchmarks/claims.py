"""Claims through the library vs a bare conditional UPDATE, 4 processes, SQLite and PostgreSQL.

For each engine: a pool of customers, 4 OS processes each attempting the same seeded random
sequence of claims through ``LeadToCash.pools.claim`` (one unit of work per claim: customer,
daily counter, rep book, history, audit, outbox, versioned commit); then, in the same run and
with the same driver and durability defaults as the adapter, 4 processes each with one
connection running ``UPDATE … SET owner = ? WHERE id = ? AND owner IS NULL`` for the same
sequence. Reports attempts per second for both, their ratio, and ``double_owned`` (must be 0).

A second yardstick, the *floor*, runs the same sequence through ``examples/claim_floor.py``:
the same guarantees hand-written in one transaction, with no library code (versioned
customer and book, counter, history, one audit entry sealed onto its strand, one outbox
message, a digest every 256 claims of a worker). It is a practical ceiling for any
implementation of those guarantees on this machine: ``floor_ratio`` is the floor against
the bare UPDATE, ``of_floor`` the library against it. Every round also runs the floor
with ``--listings`` (``listings_floor_claims_per_s``, ``of_listings_floor``): the floor plus
native indexes for the customer lists the library keeps (an owner's customers by name,
creation and last change, a pool's unowned customers, …), which a claim moves its customer
in. Both run with K = 16 audit strands
(the default); full mode then runs the library and the floor once more with K = 1, 4 and 64
(``by_strands``). After every run the audit is verified (every strand against the digests)
and ownership checked. ``client_cpu_ms_per_attempt`` is the workers' CPU time (user +
system, ``time.process_time``) per claim attempt. Library workers call ``crm.warm_up()``
before the start signal, as a server does at start-up (cattrs builds the functions of every
stored type then, instead of during the first claims); its CPU per worker is
``warm_up_cpu_ms``, outside the timed loop (before session 11 the loop paid it: ~10 % of a
500-attempt worker). Prints one JSON object. PostgreSQL needs
LEADTOCASH_PG_DSN (scripts/with-postgres.sh).

On PostgreSQL every run (library, bare and floor) also reports what the *server* spent on
the timed part: ``server_cpu_ms_per_attempt`` (user + system CPU of all the server's
processes, read from ``/proc``, so only when the server runs on this machine; connection
start-up included) and ``wal_bytes_per_attempt`` (``pg_current_wal_lsn()`` moved, i.e.
what the attempts wrote) and ``wal_records_per_attempt`` (counted with ``pg_walinspect``
where the benchmark's role may create it). Bare workers report their client CPU too
(``raw_cpu_ms_per_attempt``). ``cpu_budget`` adds client and server CPU per attempt for
the contenders and says how many attempts per second this machine's cores could carry at that
cost: a contender whose budget exceeds another's cannot match its rate on a CPU-bound
machine, however the work is split.

``--counts DIR`` takes the main runs' client CPU apart: every worker (library and floor)
classes its attempts by outcome and by how many version conflicts preceded it, and each
run's ``decomposition`` gives per class the attempts and their CPU (library workers also
count their store sessions, reads and commits); the files stay under ``DIR``.
``--profile DIR`` writes a cProfile of every library worker's loop there.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))

from server_usage import server_figures, server_usage  # noqa: E402

WORKLOAD = ROOT / "examples" / "claim_workload.py"
FLOOR = ROOT / "examples" / "claim_floor.py"
PROCESSES = 4
#: Audit strands of the main comparison; full mode also runs the others.
STRANDS = 16
STRAND_SWEEP = (1, 4, 16, 64)
#: Workers start this many seconds after launch, together, so imports are not timed.
START_DELAY = 5.0  # worker start-up (imports, warm-up) fits in it even on a loaded machine
#: Where workers write their per-attempt classes and profiles (--counts, --profile); None: off.
COUNTS: dict[str, Path | None] = {"counts": None, "profile": None}
_RUNS = itertools.count()


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "examples"), str(ROOT / "src")])
    env.update(extra or {})
    return env


def _script(script: Path, *args: str, extra: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(script), *args], stdout=subprocess.PIPE, text=True, env=_env(extra)
    )


def _run_dirs(script: Path) -> tuple[dict[str, str], Path | None]:
    """The workers' environment for --counts/--profile, and the run's counts directory."""
    extra: dict[str, str] = {}
    run = f"{next(_RUNS):03d}-{script.stem}"
    counts = COUNTS["counts"]
    if counts is not None:
        (counts / run).mkdir(parents=True)
        extra["LEADTOCASH_CLAIM_COUNTS"] = str(counts / run)
    profile = COUNTS["profile"]
    if profile is not None and script == WORKLOAD:
        (profile / run).mkdir(parents=True)
        extra["LEADTOCASH_CLAIM_PROFILE"] = str(profile / run)
    return extra, None if counts is None else counts / run


def decomposition(where: Path) -> dict[str, Any]:
    """The workers' attempt classes summed: attempts, CPU ms in all and per attempt."""
    classes: dict[str, list[float]] = {}
    calls: dict[str, list[float]] = {}
    for path in sorted(where.glob("rep*.json")):
        report = json.loads(path.read_text())
        for into, part in ((classes, "classes"), (calls, "store_calls")):
            for name, (count, cpu) in report.get(part, {}).items():
                total = into.setdefault(name, [0, 0.0])
                total[0] += count
                total[1] += cpu

    def table(rows: dict[str, list[float]]) -> dict[str, Any]:
        return {
            name: {
                "count": int(count),
                "cpu_ms": round(1000 * cpu, 1),
                "cpu_ms_each": round(1000 * cpu / count, 3) if count else None,
            }
            for name, (count, cpu) in sorted(rows.items())
        }

    return {"classes": table(classes), "store_calls": table(calls)}


def _concurrently(
    script: Path, spec: str, customers: int, claims: int, strands: int, *setup_args: str
) -> tuple[list[dict[str, Any]], float, dict[str, Any]]:
    """Set up, run 4 workers of ``script`` together, verify; (results, seconds, checks)."""
    sizes = ("--customers", str(customers))
    reps = ("--reps", str(PROCESSES), "--strands", str(strands))
    setup = _script(script, "setup", spec, *sizes, *reps, *setup_args)
    setup.communicate()
    assert setup.returncode == 0, f"{script.name} setup failed"
    extra, counted = _run_dirs(script)
    before = server_usage() if spec.startswith("postgres:") else None
    start_at = time.time() + START_DELAY
    timing = ("--claims", str(claims), "--start-at", str(start_at))
    workers = [
        _script(script, "worker", spec, *sizes, *timing, "--rep", str(n), extra=extra)
        for n in range(1, PROCESSES + 1)
    ]
    results = []
    for proc in workers:
        out, _ = proc.communicate()
        assert proc.returncode == 0, f"{script.name} worker failed"
        results.append(json.loads(out))
    server = server_figures(before, PROCESSES * claims)
    elapsed = max(r["ended"] for r in results) - start_at
    late = max(r["started"] for r in results) - start_at
    if late > 0.1:  # a worker was not ready at the start signal: its start-up was timed
        print(f"{script.name}: a worker started {late:.2f} s late", file=sys.stderr)
    check = _script(script, "verify", spec, *sizes, "--reps", str(PROCESSES))
    out, _ = check.communicate()
    assert check.returncode == 0, f"{script.name} verify failed"
    verified = json.loads(out)
    if counted is not None:
        verified["decomposition"] = decomposition(counted)
    verified["server"] = server
    return results, elapsed, verified


def library_run(spec: str, customers: int, claims: int, strands: int = STRANDS) -> dict[str, Any]:
    """Run 4 claim workers through the library; returns figures."""
    results, elapsed, verified = _concurrently(WORKLOAD, spec, customers, claims, strands)
    attempts = sum(r["attempts"] for r in results)
    claimed = sum(len(r["claimed"]) for r in results)
    return {
        "claims_per_s": round(attempts / elapsed, 1),
        "successful_claims_per_s": round(claimed / elapsed, 1),
        "claimed": claimed,
        "conflicts_exhausted": sum(r["conflicts_exhausted"] for r in results),
        "client_cpu_ms_per_attempt": round(1000 * sum(r["cpu_s"] for r in results) / attempts, 3),
        "warm_up_cpu_ms": round(1000 * statistics.mean(r["warm_up_cpu_s"] for r in results), 1),
        "double_owned": verified["double_owned"],
        "books_match": verified["books_match"],
        "audit_chain_ok": verified["audit_chain_ok"],
        **verified["server"],
        **({"decomposition": verified["decomposition"]} if "decomposition" in verified else {}),
    }


def floor_run(
    spec: str, customers: int, claims: int, strands: int = STRANDS, listings: bool = False
) -> dict[str, Any]:
    """Run 4 workers of the hand-written floor (examples/claim_floor.py); returns figures.

    With ``listings`` the floor also keeps the library's customer lists (``--listings``) and
    its figures are named ``listings_floor_…``."""
    extra = ("--listings",) if listings else ()
    results, elapsed, verified = _concurrently(FLOOR, spec, customers, claims, strands, *extra)
    broken = [check for check in ("books_match", "audit_chain_ok") if not verified[check]]
    if verified["double_owned"]:
        broken.append("double_owned")
    assert not broken, f"the floor broke {broken}: {verified}"
    figures = {
        "floor_claims_per_s": round(PROCESSES * claims / elapsed, 1),
        "floor_claimed": sum(len(r["claimed"]) for r in results),
        "floor_cpu_ms_per_attempt": round(
            1000 * sum(r["cpu_s"] for r in results) / (PROCESSES * claims), 3
        ),
        **{f"floor_{key}": value for key, value in verified["server"].items()},
        **(
            {"floor_decomposition": verified["decomposition"]}
            if "decomposition" in verified
            else {}
        ),
    }
    return {f"listings_{key}": value for key, value in figures.items()} if listings else figures


def _sequence(rep: int, claims: int, customers: int, seed: int = 1) -> list[str]:
    # The same ids the library workers choose (examples/claim_workload.py: seed * 1000 + rep).
    rng = random.Random(seed * 1000 + rep)
    ids = [f"cust-{n:06d}" for n in range(customers)]
    return [rng.choice(ids) for _ in range(claims)]


def raw_worker(
    engine: str, where: str, rep: int, claims: int, customers: int, start_at: float
) -> None:
    """One process, one connection, bare conditional UPDATEs (autocommit)."""
    sequence = _sequence(rep, claims, customers)
    owner = f"rep{rep}"
    won = 0
    delay = start_at - time.time()
    cpu = 0.0
    if engine == "sqlite":
        conn = sqlite3.connect(where, isolation_level=None, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=30000")
        time.sleep(max(0.0, delay))
        cpu = time.process_time()
        for cid in sequence:
            cur = conn.execute(
                "UPDATE raw_customers SET owner = ? WHERE id = ? AND owner IS NULL", (owner, cid)
            )
            won += cur.rowcount
        cpu = time.process_time() - cpu
        conn.close()
    else:
        import psycopg

        with psycopg.connect(os.environ["LEADTOCASH_PG_DSN"], autocommit=True) as pg:
            time.sleep(max(0.0, start_at - time.time()))
            cpu = time.process_time()
            for cid in sequence:
                won += pg.execute(
                    f"UPDATE {where}.raw_customers SET owner = %s WHERE id = %s AND owner IS NULL",
                    (owner, cid),
                ).rowcount
            cpu = time.process_time() - cpu
    print(json.dumps({"won": won, "ended": time.time(), "cpu_s": cpu}))


def raw_run(engine: str, where: str, customers: int, claims: int) -> dict[str, Any]:
    """Create the raw table, run 4 raw workers concurrently; returns figures."""
    rows = [(f"cust-{n:06d}",) for n in range(customers)]
    if engine == "sqlite":
        conn = sqlite3.connect(where)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE raw_customers (id TEXT PRIMARY KEY, owner TEXT)")
        conn.executemany("INSERT INTO raw_customers (id) VALUES (?)", rows)
        conn.commit()
        conn.close()
    else:
        import psycopg

        with psycopg.connect(os.environ["LEADTOCASH_PG_DSN"], autocommit=True) as pg:
            pg.execute(f"DROP SCHEMA IF EXISTS {where} CASCADE")
            pg.execute(f"CREATE SCHEMA {where}")
            pg.execute(f"CREATE TABLE {where}.raw_customers (id TEXT PRIMARY KEY, owner TEXT)")
            with pg.cursor() as cur:
                cur.executemany(f"INSERT INTO {where}.raw_customers (id) VALUES (%s)", rows)
    before = server_usage() if engine == "postgres" else None
    start_at = time.time() + START_DELAY
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--raw-worker",
                engine,
                where,
                str(n),
                str(claims),
                str(customers),
                str(start_at),
            ],
            stdout=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        for n in range(1, PROCESSES + 1)
    ]
    won, ended, cpu = 0, start_at, 0.0
    for proc in procs:
        out, _ = proc.communicate()
        assert proc.returncode == 0, "raw worker failed"
        answer = json.loads(out)
        won += answer["won"]
        ended = max(ended, answer["ended"])
        cpu += answer["cpu_s"]
    attempts = PROCESSES * claims
    return {
        "raw_claims_per_s": round(attempts / (ended - start_at), 1),
        "raw_claimed": won,
        "raw_cpu_ms_per_attempt": round(1000 * cpu / attempts, 3),
        **server_figures(before, attempts, prefix="raw_"),
    }


#: What each round reports in the summary.
_ROUND_KEYS = (
    "claims_per_s", "raw_claims_per_s", "floor_claims_per_s", "client_cpu_ms_per_attempt",
    "floor_cpu_ms_per_attempt", "raw_cpu_ms_per_attempt", "server_cpu_ms_per_attempt",
    "listings_floor_claims_per_s", "listings_floor_cpu_ms_per_attempt",
    "listings_floor_server_cpu_ms_per_attempt", "listings_floor_wal_bytes_per_attempt",
    "wal_records_per_attempt", "floor_wal_records_per_attempt",
    "listings_floor_wal_records_per_attempt", "raw_wal_records_per_attempt",
    "floor_server_cpu_ms_per_attempt", "raw_server_cpu_ms_per_attempt", "wal_bytes_per_attempt",
    "floor_wal_bytes_per_attempt", "raw_wal_bytes_per_attempt", "warm_up_cpu_ms",
    "decomposition", "floor_decomposition",
)  # fmt: skip
#: Per contender, the prefix of its figures in a round (the library's client CPU is named
#: ``client_cpu_ms_per_attempt``, the others' ``<prefix>cpu_ms_per_attempt``).
_CONTENDERS = {"library": "", "floor": "floor_", "floor_listings": "listings_floor_",
               "bare": "raw_"}  # fmt: skip


def cpu_budget(runs: list[dict[str, Any]], cores: int) -> dict[str, Any]:
    """Per contender, median client and server CPU per attempt, their sum, the rate
    ``cores`` could carry at that sum (attempts/s if CPU were all that limited them), and
    the WAL written per attempt."""

    def median(key: str) -> float | None:
        values = [r[key] for r in runs if key in r]
        return statistics.median(values) if values else None

    budget = {}
    for name, prefix in _CONTENDERS.items():
        client = median(f"{prefix or 'client_'}cpu_ms_per_attempt")
        if client is None:
            continue
        server = median(f"{prefix}server_cpu_ms_per_attempt")
        total = client + (server or 0.0)
        budget[name] = {
            "client_ms": client,
            "server_ms": server,  # None: in-process (SQLite) or not measurable here
            "total_ms": round(total, 3),
            "cpu_bound_per_s": round(1000 * cores / total) if total else None,
            "wal_bytes": median(f"{prefix}wal_bytes_per_attempt"),
            "wal_records": median(f"{prefix}wal_records_per_attempt"),
        }
    return budget


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median library, raw and floor rates over the rounds, their ratios, the worst checks."""
    library = statistics.median(r["claims_per_s"] for r in runs)
    raw = statistics.median(r["raw_claims_per_s"] for r in runs)
    floor = statistics.median(r["floor_claims_per_s"] for r in runs)
    listed = statistics.median(r["listings_floor_claims_per_s"] for r in runs)
    return {
        "claims_per_s": library,
        "raw_claims_per_s": raw,
        "ratio": round(library / raw, 3),
        "floor_claims_per_s": floor,
        "floor_ratio": round(floor / raw, 3),
        "of_floor": round(library / floor, 3),
        "listings_floor_claims_per_s": listed,
        "of_listings_floor": round(library / listed, 3),
        "double_owned": max(r["double_owned"] for r in runs),
        "books_match": all(r["books_match"] for r in runs),
        "audit_chain_ok": all(r["audit_chain_ok"] for r in runs),
        "conflicts_exhausted": sum(r["conflicts_exhausted"] for r in runs),
        "client_cpu_ms_per_attempt": statistics.median(
            r["client_cpu_ms_per_attempt"] for r in runs
        ),
        "floor_cpu_ms_per_attempt": statistics.median(r["floor_cpu_ms_per_attempt"] for r in runs),
        "warm_up_cpu_ms": statistics.median(r["warm_up_cpu_ms"] for r in runs),
        "cpu_budget": cpu_budget(runs, os.cpu_count() or 1),
        "claimed_per_round": runs[0]["claimed"],
        "raw_claimed_per_round": runs[0]["raw_claimed"],
        "floor_claimed_per_round": runs[0]["floor_claimed"],
        "rounds": [{key: r[key] for key in _ROUND_KEYS if key in r} for r in runs],
    }


def _sweep(engine: str, spec: str, floor_spec: str, customers: int, claims: int) -> dict[str, Any]:
    """One library run and one floor run for each K of STRAND_SWEEP (same engine)."""
    sweep = {}
    for strands in STRAND_SWEEP:
        where = f"k{strands}"
        library = library_run(spec.format(n=where), customers, claims, strands)
        floor = floor_run(floor_spec.format(n=where), customers, claims, strands)
        sweep[str(strands)] = {
            "claims_per_s": library["claims_per_s"],
            "floor_claims_per_s": floor["floor_claims_per_s"],
            "of_floor": round(library["claims_per_s"] / floor["floor_claims_per_s"], 3),
            "client_cpu_ms_per_attempt": library["client_cpu_ms_per_attempt"],
            "double_owned": library["double_owned"],
            "audit_chain_ok": library["audit_chain_ok"],
        }
    return sweep


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--raw-worker":
        engine, where, rep, count, population, start_at = sys.argv[2:8]
        raw_worker(engine, where, int(rep), int(count), int(population), float(start_at))
        return 0
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer claims, for CI")
    parser.add_argument(
        "--repeat", type=int, default=None, help="rounds per engine (default 5, quick 1)"
    )
    parser.add_argument("--counts", type=Path, help="take each run's CPU apart (files here)")
    parser.add_argument("--profile", type=Path, help="cProfile every library worker (here)")
    parser.add_argument("--no-sweep", action="store_true", help="full mode without by_strands")
    parser.add_argument(
        "--engines", default="sqlite,postgres", help="comma-separated engines to run"
    )
    args = parser.parse_args()
    COUNTS.update(counts=args.counts, profile=args.profile)
    customers, claims = (1000, 150) if args.quick else (1000, 500)
    rounds = args.repeat or (1 if args.quick else 3)
    figures: dict[str, Any] = {
        "benchmark": "claims",
        "mode": "quick" if args.quick else "full",
        "processes": PROCESSES,
        "customers": customers,
        "attempts_per_process": claims,
        "rounds": rounds,
    }
    with tempfile.TemporaryDirectory() as tmp:
        # engine: (library store, raw table's home, floor store), {n} the round
        engines = {
            "sqlite": (f"sqlite:{tmp}/claims-{{n}}.sqlite3", f"{tmp}/raw-{{n}}.sqlite3",
                       f"sqlite:{tmp}/floor-{{n}}.sqlite3"),
        }  # fmt: skip
        if "sqlite" not in args.engines.split(","):
            del engines["sqlite"]
        if "postgres" not in args.engines.split(","):
            figures["postgres"] = {"skipped": "not in --engines"}
        elif os.environ.get("LEADTOCASH_PG_DSN"):
            engines["postgres"] = ("postgres:bench_claims", "bench_raw", "postgres:bench_floor")
        else:
            figures["postgres"] = {"skipped": "LEADTOCASH_PG_DSN not set"}
        for engine, (spec, raw_where, floor_spec) in engines.items():
            # Library, baseline and floor alternate, so a noisy neighbour hits all alike;
            # the figures are the medians of the rounds.
            runs = []
            for n in range(rounds):
                result = library_run(spec.format(n=n), customers, claims)
                result.update(raw_run(engine, raw_where.format(n=n), customers, claims))
                result.update(floor_run(floor_spec.format(n=n), customers, claims))
                listed = floor_spec.format(n=f"listings{n}")
                result.update(floor_run(listed, customers, claims, listings=True))
                runs.append(result)
            figures[engine] = _summary(runs)
            if not args.quick and not args.no_sweep:
                figures[engine]["by_strands"] = _sweep(engine, spec, floor_spec, customers, claims)
    print(json.dumps(figures))
    failed = [
        e for e in engines if figures[e]["double_owned"] != 0 or not figures[e]["audit_chain_ok"]
    ]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
