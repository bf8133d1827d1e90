"""4 OS processes × 500 claims on one pool of 1,000 customers, on real SQLite and PostgreSQL.

Zero double ownership, daily caps never exceeded, rep books consistent, the audit chain intact,
and every attempt accounted for: claimed, refused with a stable code, or reported as a conflict
that exhausted its retries.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKLOAD = ROOT / "examples" / "claim_workload.py"
PROCESSES, CLAIMS, CUSTOMERS, DAILY_LIMIT = 4, 500, 1000, 200


def _run(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKLOAD), *args], stdout=subprocess.PIPE, text=True, env=env
    )


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "examples"), str(ROOT / "src")])
    return env


def _hammer(spec: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    env = _env()
    setup = _run(
        "setup", spec, "--customers", str(CUSTOMERS), "--reps", str(PROCESSES),
        "--daily-limit", str(DAILY_LIMIT), env=env,
    )  # fmt: skip
    assert setup.wait(timeout=120) == 0
    start_at = str(time.time() + 2.0)
    workers = [
        _run(
            "worker",
            spec,
            "--rep",
            str(n),
            "--claims",
            str(CLAIMS),
            "--customers",
            str(CUSTOMERS),
            "--start-at",
            start_at,
            env=env,
        )
        for n in range(1, PROCESSES + 1)
    ]
    results = []
    for proc in workers:
        out, _ = proc.communicate(timeout=600)
        assert proc.returncode == 0
        results.append(json.loads(out))
    check = _run("verify", spec, "--customers", str(CUSTOMERS), "--reps", str(PROCESSES), env=env)
    out, _ = check.communicate(timeout=120)
    assert check.returncode == 0
    return results, json.loads(out)


def _assert_sound(results: list[dict[str, Any]], verified: dict[str, Any]) -> None:
    assert verified["double_owned"] == 0
    assert verified["books_match"]
    assert verified["audit_chain_ok"]
    claimed = [cid for r in results for cid in r["claimed"]]
    assert len(claimed) == len(set(claimed)), "one customer claimed twice"
    assert verified["owned_total"] == verified["claims_total"] == len(claimed)
    for result in results:
        assert len(result["claimed"]) <= DAILY_LIMIT
        accounted = (
            len(result["claimed"])
            + sum(result["refusals"].values())
            + result["conflicts_exhausted"]
        )
        assert accounted == CLAIMS
        assert set(result["refusals"]) <= {"pool.already_owned", "pool.daily_limit_reached"}
    # Contention was real: some claims were refused because another process won.
    assert sum(r["refusals"].get("pool.already_owned", 0) for r in results) > 0
    assert sum(r["refusals"].get("pool.daily_limit_reached", 0) for r in results) > 0


def test_four_processes_claiming_on_sqlite(tmp_path: Path) -> None:
    results, verified = _hammer(f"sqlite:{tmp_path / 'claims.sqlite3'}")
    _assert_sound(results, verified)


@pytest.mark.postgres
def test_four_processes_claiming_on_postgres(pg_dsn: str) -> None:
    schema = f"claims_{uuid.uuid4().hex[:8]}"
    results, verified = _hammer(f"postgres:{schema}")
    _assert_sound(results, verified)
    import psycopg

    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")
