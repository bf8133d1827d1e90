"""What a version check costs a commit, SQLite and PostgreSQL (decision 0008).

A command that files a document under a customer commits with a version check of the
customer (``Commit.checks``): the store reads its version under the write lock (SQLite) or
share-locks its row in the records' lock order (PostgreSQL, ``SELECT … FOR SHARE`` inside
``ltc_commit``). This measures it as such commands do it: 4 OS processes each commit new
documents (one record, one audit entry, one outbox message per commit) as fast as they can
through the store port, filed under 10 customers they all share; the same run alternates
rounds *with* a check of the document's customer and *without* (the baseline).
``ratio`` is checked / unchecked commits per second; ``conflicts`` counts checked commits
that failed (none should: nobody writes the customers). The audit is verified afterwards.
Prints one JSON object. PostgreSQL needs LEADTOCASH_PG_DSN (scripts/with-postgres.sh).
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
from leadtocash import AuditEntry, ConcurrencyConflict  # noqa: E402
from leadtocash.ports import Commit, OutboxMessage, RecordWrite, VersionCheck  # noqa: E402

PROCESSES = 4
CUSTOMERS = 10
#: Workers start this many seconds after launch, together, so imports are not timed.
START_DELAY = 2.0
T0 = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)


def _commit(n: int, worker: int, checked: bool, start_at: float) -> Commit:
    """A new document under customer ``n mod CUSTOMERS``, audited, with its event."""
    ident = f"w{worker}-{start_at}-{n}"  # unique across rounds
    customer = f"c{n % CUSTOMERS}"
    document = RecordWrite(
        kind="invoice", id=ident, expected_version=0,
        data={"customer_id": customer, "amount": "100.00", "currency": "CNY"},
        indexes={"customer": f"{customer}|{ident}"},
    )  # fmt: skip
    entry = AuditEntry(
        id=ident, at=T0, actor_id=f"w{worker}", action="bench.file",
        target_kind="invoice", target_id=ident, after={"customer_id": customer},
    )  # fmt: skip
    message = OutboxMessage(
        id=ident, topic="bench.filed", payload={"id": ident}, created_at=T0,
        idempotency_key=ident,
    )  # fmt: skip
    checks = (VersionCheck("customer", customer, 1),) if checked else ()
    return Commit((document,), (entry,), (message,), checks)


def worker(spec: str, number: int, commits: int, checked: bool, start_at: float) -> None:
    """One process: ``commits`` commits, one session each; prints its end time."""
    store = open_store(spec)
    conflicts = 0
    try:
        time.sleep(max(0.0, start_at - time.time()))
        for n in range(commits):
            try:
                store.session().commit(_commit(n, number, checked, start_at))
            except ConcurrencyConflict:
                conflicts += 1
        print(json.dumps({"ended": time.time(), "conflicts": conflicts}))
    finally:
        store.close()


def run(spec: str, commits: int, checked: bool) -> tuple[float, int]:
    """4 workers at once; (commits per second, conflicts)."""
    tag = "checked" if checked else "plain"
    start_at, results = together(
        __file__, PROCESSES, START_DELAY,
        lambda n, at: ["--worker", spec, str(n), str(commits), tag, str(at)],
    )  # fmt: skip
    ended = max([start_at, *(float(result["ended"]) for result in results)])
    return PROCESSES * commits / (ended - start_at), sum(r["conflicts"] for r in results)


def measure(spec: str, commits: int, rounds: int) -> dict[str, Any]:
    """Checked and unchecked rounds alternately on a fresh store; medians and the audit."""
    reset(spec)
    store = open_store(spec, create=True)
    try:
        customers = [
            RecordWrite(kind="customer", id=f"c{i}", expected_version=0, data={"name": f"c{i}"})
            for i in range(CUSTOMERS)
        ]
        store.session().commit(Commit(customers))
    finally:
        store.close()
    checked, plain, conflicts = [], [], 0
    for _ in range(rounds):
        rate, failed = run(spec, commits, True)
        checked.append(rate)
        conflicts += failed
        plain.append(run(spec, commits, False)[0])
    audit_ok = audit_verifies(spec)
    c, p = statistics.median(checked), statistics.median(plain)
    return {
        "checked_commits_per_s": round(c, 1),
        "unchecked_commits_per_s": round(p, 1),
        "ratio": round(c / p, 3),
        "conflicts": conflicts,
        "audit_ok": audit_ok,
    }


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        spec, number, count, tag, start_at = sys.argv[2:7]
        worker(spec, int(number), int(count), tag == "checked", float(start_at))
        return 0
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer commits, for CI")
    args = parser.parse_args()
    commits, rounds = (150, 1) if args.quick else (1000, 3)
    figures: dict[str, Any] = {
        "benchmark": "version_checks",
        "mode": "quick" if args.quick else "full",
        "processes": PROCESSES,
        "customers": CUSTOMERS,
        "commits_per_process": commits,
        "rounds": rounds,
    }
    with tempfile.TemporaryDirectory() as tmp:
        figures["sqlite"] = measure(f"sqlite:{tmp}/checks.sqlite3", commits, rounds)
        if os.environ.get("LEADTOCASH_PG_DSN"):
            figures["postgres"] = measure("postgres:bench_version_checks", commits, rounds)
            reset("postgres:bench_version_checks")
        else:
            figures["postgres"] = {"skipped": "LEADTOCASH_PG_DSN not set"}
    figures["load_average"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(figures))
    runs = [r for r in (figures["sqlite"], figures["postgres"]) if "ratio" in r]
    return 0 if all(r["audit_ok"] and r["conflicts"] == 0 for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
