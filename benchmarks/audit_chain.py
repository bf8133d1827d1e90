"""How much the audit's hash chains limit concurrent commits, SQLite and PostgreSQL.

Every audited commit seals its entries onto their strands, holding each strand's head until
the commit is durable: with one strand (K = 1, the design before issue #22) all audited
commits of the system serialize on one row; with K strands only commits whose entries meet
on a strand do. This measures it: 4 OS processes commit as fast as they can through the
store port, first commits that each carry one audit entry (each for a new target, so they
spread over the strands), then (same run, same store) commits that each carry one outbox
message instead; once with K = 1 and once with K = 16. ``ratio`` is audited / unaudited
commits per second. Nothing else is written, so the figures bound what any audited command
can reach on this machine. The audit is verified after each (strands and digests). Prints
one JSON object. PostgreSQL needs LEADTOCASH_PG_DSN (scripts/with-postgres.sh).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "examples"), str(ROOT / "src")]

from claim_workload import audit_verifies, open_store, reset, together  # noqa: E402
from leadtocash import AuditEntry  # noqa: E402
from leadtocash.ports import Commit, OutboxMessage  # noqa: E402

PROCESSES = 4
STRANDS = (1, 16)
#: Workers start this many seconds after launch, together, so imports are not timed.
START_DELAY = 2.0
T0 = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)


def _commit(n: int, worker: int, audited: bool, start_at: float) -> Commit:
    ident = f"w{worker}-{start_at}-{n}"  # unique across rounds
    if audited:
        entry = AuditEntry(
            id=ident, at=T0, actor_id=f"w{worker}", action="bench.audit",
            target_kind="thing", target_id=ident,
        )  # fmt: skip
        return Commit((), (entry,), ())
    message = OutboxMessage(
        id=ident, topic="bench.outbox", payload={}, created_at=T0, idempotency_key=ident
    )
    return Commit((), (), (message,))


def worker(spec: str, number: int, commits: int, audited: bool, start_at: float) -> None:
    """One process: ``commits`` commits, one session each; prints its end time."""
    store = open_store(spec)
    try:
        time.sleep(max(0.0, start_at - time.time()))
        for n in range(commits):
            store.session().commit(_commit(n, number, audited, start_at))
        print(json.dumps({"ended": time.time()}))
    finally:
        store.close()


def run(spec: str, commits: int, audited: bool) -> float:
    """4 workers at once; commits per second."""
    tag = "audit" if audited else "outbox"
    start_at, results = together(
        __file__, PROCESSES, START_DELAY,
        lambda n, at: ["--worker", spec, str(n), str(commits), tag, str(at)],
    )  # fmt: skip
    ended = max([start_at, *(float(result["ended"]) for result in results)])
    return PROCESSES * commits / (ended - start_at)


def measure(spec: str, commits: int, rounds: int, strands: int) -> dict[str, Any]:
    """Audited and unaudited rounds alternately on a fresh store with ``strands`` audit
    strands; medians and the check."""
    reset(spec)
    open_store(spec, create=True, strands=strands).close()
    audited, unaudited = [], []
    for _ in range(rounds):
        audited.append(run(spec, commits, True))
        unaudited.append(run(spec, commits, False))
    chain_ok = audit_verifies(spec)
    a, u = statistics.median(audited), statistics.median(unaudited)
    return {
        "audited_commits_per_s": round(a, 1),
        "unaudited_commits_per_s": round(u, 1),
        "ratio": round(a / u, 3),
        "audit_chain_ok": chain_ok,
    }


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        spec, number, count, tag, start_at = sys.argv[2:7]
        worker(spec, int(number), int(count), tag == "audit", float(start_at))
        return 0
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer commits, for CI")
    args = parser.parse_args()
    commits, rounds = (200, 1) if args.quick else (1000, 3)
    figures: dict[str, Any] = {
        "benchmark": "audit_chain",
        "mode": "quick" if args.quick else "full",
        "processes": PROCESSES,
        "commits_per_process": commits,
        "rounds": rounds,
    }
    with tempfile.TemporaryDirectory() as tmp:
        figures["sqlite"] = {
            f"strands_{k}": measure(f"sqlite:{tmp}/chain-{k}.sqlite3", commits, rounds, k)
            for k in STRANDS
        }
        if os.environ.get("LEADTOCASH_PG_DSN"):
            figures["postgres"] = {
                f"strands_{k}": measure("postgres:bench_audit_chain", commits, rounds, k)
                for k in STRANDS
            }
            reset("postgres:bench_audit_chain")
        else:
            figures["postgres"] = {"skipped": "LEADTOCASH_PG_DSN not set"}
    print(json.dumps(figures))
    runs = [r for f in (figures["sqlite"], figures["postgres"]) for r in f.values()]
    return 0 if all(r["audit_chain_ok"] for r in runs if isinstance(r, dict)) else 1


if __name__ == "__main__":
    sys.exit(main())
