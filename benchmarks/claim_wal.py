"""What the PostgreSQL server does for one claim, by WAL record type: library and floors.

``benchmarks/claims.py`` shows that the server's half of a claim matters (decision 0004,
"The server's half"); this takes it apart. One process, no contention, for each of the
library (``examples/claim_workload.py``), the hand-written floor and the floor with the
customer lists (``examples/claim_floor.py [--listings]``): a fresh store of customers and one
rep, a ``CHECKPOINT``, then the same seeded claim attempts. Per successful claim it reports
the server's CPU (its processes, from ``/proc``), the WAL bytes and records, and the records
by type (``pg_walinspect``): count and bytes, with the full-page images' bytes apart (they
depend on how many pages the run touches after the checkpoint, not on the claim). Rounds
alternate the contenders; figures are medians, the by-type table is the last round's. To
compare two commits, run it from two worktrees, interleaved, as was done for PostgreSQL
schema version 8::

    bash scripts/with-postgres.sh python benchmarks/claim_wal.py [--quick]

Prints one JSON object; without ``LEADTOCASH_PG_DSN`` PostgreSQL is reported skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))

from server_usage import server_spent, server_usage  # noqa: E402

#: Contender: (script, extra setup arguments).
CONTENDERS = {
    "library": (ROOT / "examples" / "claim_workload.py", ()),
    "floor": (ROOT / "examples" / "claim_floor.py", ()),
    "floor_listings": (ROOT / "examples" / "claim_floor.py", ("--listings",)),
}


def _run(script: Path, *args: str) -> str:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "examples"), str(ROOT / "src")]))
    done = subprocess.run(
        [sys.executable, str(script), *args], env=env, check=True, capture_output=True, text=True
    )
    return done.stdout


def one_round(name: str, customers: int, claims: int) -> dict[str, Any]:
    """Set up the contender's store, then time its claims on the server."""
    import psycopg

    script, extra = CONTENDERS[name]
    spec, sizes = f"postgres:bench_wal_{name}", ("--customers", str(customers))
    _run(script, "setup", spec, *sizes, "--reps", "1", *extra)
    with psycopg.connect(os.environ["LEADTOCASH_PG_DSN"], autocommit=True) as pg:
        pg.execute("CHECKPOINT")
    before = server_usage()
    out = _run(script, "worker", spec, *sizes, "--claims", str(claims), "--rep", "1")
    after = server_usage()
    assert before is not None
    assert after is not None
    won = len(json.loads(out)["claimed"])
    cpu, wal, by_type = server_spent(before, after)
    return {
        "claims": won,
        "server_cpu_ms": None if cpu is None else round(1000 * cpu / won, 3),
        "wal_bytes": round(wal / won),
        "wal_records": None
        if by_type is None
        else round(sum(t["records"] for t in by_type.values()) / won, 1),
        "by_type": None
        if by_type is None
        else {
            kind: {key: round(value / won, 2) for key, value in counts.items()}
            for kind, counts in sorted(by_type.items(), key=lambda item: -item[1]["records"])
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, one round (CI)")
    args = parser.parse_args()
    customers, claims, rounds = (300, 100, 1) if args.quick else (3000, 1000, 3)
    figures: dict[str, Any] = {
        "benchmark": "claim_wal",
        "mode": "quick" if args.quick else "full",
        "customers": customers,
        "attempts": claims,
        "rounds": rounds,
    }
    if not os.environ.get("LEADTOCASH_PG_DSN"):
        figures["postgres"] = {"skipped": "LEADTOCASH_PG_DSN not set"}
        print(json.dumps(figures))
        return 0
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in CONTENDERS}
    for _ in range(rounds):
        for name in CONTENDERS:
            runs[name].append(one_round(name, customers, claims))
    postgres: dict[str, Any] = {}
    for name, results in runs.items():

        def median(key: str, results: list[dict[str, Any]] = results) -> float | None:
            values = [r[key] for r in results if r[key] is not None]
            return statistics.median(values) if values else None

        postgres[name] = {
            "claims": results[-1]["claims"],
            "server_cpu_ms_per_claim": median("server_cpu_ms"),
            "wal_bytes_per_claim": median("wal_bytes"),
            "wal_records_per_claim": median("wal_records"),
            "by_type_per_claim": results[-1]["by_type"],
        }
    library, listed = postgres["library"], postgres["floor_listings"]
    if library["wal_records_per_claim"] and listed["wal_records_per_claim"]:
        postgres["library_over_floor_listings_wal_records"] = round(
            library["wal_records_per_claim"] / listed["wal_records_per_claim"], 2
        )
    figures["postgres"] = postgres
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
