"""What the main job costs: ``leadtocash simulate``'s run, phase by phase, per lead.

Issue #26 asks for 20,000 leads by default in under a minute. This plays the simulator's
seeded organisation (3 zones, 30 reps, 90 days, seed 7) on the embedded SQLite store as
``leadtocash simulate`` does (a file, ``synchronous=NORMAL``, the audit log verified in
worker processes while the report reads the store), and times each phase of the engine with
``time.process_time`` (CPU of this process): capture (duplicate check and the new
customer), allocation, the reps' day (claims, follow-ups, qualification, deals), the
agenda (contracts' deliveries, invoices, receipts), tickets, the nightly sweeps, then the
report with the audit check. Charts are not drawn (matplotlib's time is not the library's).
Every unit of work's commit is counted and timed too (``commit_cpu_ms_each``,
``commit_share_of_play``): the per-command cost every phase pays.

Baseline, same run: the same stream played on the in-memory store (``memory://``), which
prices the library's own Python work; ``sqlite_over_memory`` is what the storage adds. At
20,000 leads ``target_ratio`` is 60 s over the SQLite run's wall time (≥ 1 meets the
target). A lead's cost falls as the reps' books fill (follow-ups and claims are bounded by
what 30 reps can own), so a smaller run does not project to 20,000.

    python benchmarks/simulate.py            # 4,000 and 20,000 leads (a few minutes)
    python benchmarks/simulate.py --quick    # 300 leads over 20 days: proves it works
    python benchmarks/simulate.py --leads 8000 --no-memory

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "examples"), str(ROOT / "src")]

from leadtocash.app.unit_of_work import UnitOfWork  # noqa: E402
from leadtocash.audit_processes import ParallelAudit  # noqa: E402
from leadtocash.simulation.config import SimulationConfig  # noqa: E402
from leadtocash.simulation.engine import Simulation  # noqa: E402
from leadtocash.simulation.report import build_report  # noqa: E402
from leadtocash.simulation.run import play, remove_store  # noqa: E402

#: The engine's phases: the methods ``Simulation.run`` calls (``deliver`` and ``pay`` are
#: what its agenda holds; ``work`` includes claims, follow-ups, qualification and deals).
PHASES = ("capture", "allocate", "work", "deliver", "pay", "tickets", "nightly")
TARGET_LEADS = 20_000
TARGET_SECONDS = 60.0


@contextmanager
def timed_phases(cpu: dict[str, float]) -> Iterator[None]:
    """Add each phase's CPU (seconds) to ``cpu`` while the block runs (nested calls of one
    phase inside another are counted once, by the outer one)."""
    originals = {name: getattr(Simulation, name) for name in PHASES}
    active: list[str] = []

    def wrap(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            if active:
                return method(*args, **kwargs)
            active.append(name)
            start = time.process_time()
            try:
                return method(*args, **kwargs)
            finally:
                cpu[name] = cpu.get(name, 0.0) + time.process_time() - start
                active.pop()

        return timed

    for name, method in originals.items():
        setattr(Simulation, name, wrap(name, method))
    commit = UnitOfWork.commit

    def timed_commit(uow: UnitOfWork) -> None:
        start = time.process_time()
        try:
            commit(uow)
        finally:
            cpu["commits"] = cpu.get("commits", 0.0) + 1
            cpu["commit_s"] = cpu.get("commit_s", 0.0) + time.process_time() - start

    setattr(UnitOfWork, "commit", timed_commit)  # noqa: B010 - a benchmark's patch
    try:
        yield
    finally:
        setattr(UnitOfWork, "commit", commit)  # noqa: B010
        for name, method in originals.items():
            setattr(Simulation, name, method)


def measure(url: str, config: SimulationConfig) -> dict[str, Any]:
    """One simulation at ``url``: wall and CPU seconds, CPU per phase, the report's counts."""
    cpu: dict[str, float] = {}
    wall0, cpu0 = time.perf_counter(), time.process_time()
    with timed_phases(cpu):
        run = play(url, config)
    played = time.process_time() - cpu0
    try:
        report_cpu0 = time.process_time()
        if url.startswith("sqlite:"):
            audit = ParallelAudit(url, run.store.audit_strands)
            report = build_report(run, audit.result)
        else:
            report = build_report(run)
        cpu["report"] = time.process_time() - report_cpu0
    finally:
        run.store.close()
    wall = time.perf_counter() - wall0
    cpu["setup and other"] = played - sum(cpu[name] for name in PHASES if name in cpu)
    commits, commit_s = int(cpu.pop("commits", 0)), cpu.pop("commit_s", 0.0)
    leads = config.leads
    return {
        "leads": leads,
        "wall_s": round(wall, 2),
        "cpu_s": round(time.process_time() - cpu0, 2),
        "ms_per_lead": round(1000 * wall / leads, 3),
        "cpu_ms_per_lead": {name: round(1000 * s / leads, 3) for name, s in cpu.items()},
        "commits": commits,
        "commit_cpu_ms_each": round(1000 * commit_s / commits, 3) if commits else None,
        "commit_share_of_play": round(commit_s / played, 3) if played else None,
        "customers": report["intake"]["customers"],
        "duplicates_refused": report["intake"]["duplicates"],
        "audit_entries": report["audit"]["entries"],
        "audit_verified": report["audit"]["ok"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 leads, 20 days")
    parser.add_argument("--leads", type=int, action="append", help="sizes (default 4000, 20000)")
    parser.add_argument("--no-memory", action="store_true", help="skip the in-memory baseline")
    args = parser.parse_args()
    if args.quick:
        sizes, days = [300], 20
    else:
        sizes, days = args.leads or [4_000, TARGET_LEADS], 90
    out: dict[str, Any] = {"benchmark": "simulate", "mode": "quick" if args.quick else "full"}
    with tempfile.TemporaryDirectory() as tmp:
        for leads in sizes:
            config = SimulationConfig(leads=leads, days=days)
            path = Path(tmp) / f"sim-{leads}.sqlite3"
            remove_store(path)
            sqlite = measure(f"sqlite:///{path}?synchronous=NORMAL", config)
            row: dict[str, Any] = {"sqlite": sqlite}
            if not args.no_memory:
                memory = measure("memory://", config)
                row["memory"] = memory
                row["sqlite_over_memory"] = round(sqlite["cpu_s"] / memory["cpu_s"], 3)
            if leads == TARGET_LEADS:
                row["target_ratio"] = round(TARGET_SECONDS / sqlite["wall_s"], 3)
            out[str(leads)] = row
    out["load_average"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
