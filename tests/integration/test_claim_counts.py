"""The claim workers' per-attempt classes (``LEADTOCASH_CLAIM_COUNTS``) account for every attempt.

``benchmarks/claims.py --counts`` takes the four-process run's client CPU apart with them;
the decomposition means something only if every attempt is counted once, in the right class.
Its CPU budget adds the server's CPU and WAL, read from the running PostgreSQL server.
"""

from __future__ import annotations

import importlib.util
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

import claim_floor
import claim_workload
import server_usage

ROOT = Path(__file__).resolve().parents[2]


def _classes(where: Path) -> dict[str, list[float]]:
    report = json.loads((where / "rep1.json").read_text())
    classes: dict[str, list[float]] = report["classes"]
    return classes


def test_library_worker_classes_every_attempt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = f"sqlite:{tmp_path / 'claims.sqlite3'}"
    claim_workload.setup(spec, customers=20, reps=1, daily_limit=0, strands=4)
    monkeypatch.setenv("LEADTOCASH_CLAIM_COUNTS", str(tmp_path))
    result = claim_workload.worker(spec, rep=1, claims=60, customers=20, seed=1)
    classes = _classes(tmp_path)
    assert sum(count for count, _ in classes.values()) == 60
    first = classes.pop("first attempts")[0]
    assert first == claim_workload.FIRST_ATTEMPTS
    won_later = sum(count for name, (count, _) in classes.items() if name.startswith("won/"))
    refused = sum(result["refusals"].values())
    assert won_later + sum(classes.get("pool.already_owned/0", [0])[:1]) == 60 - first
    assert len(result["claimed"]) + refused == 60
    calls = json.loads((tmp_path / "rep1.json").read_text())["store_calls"]
    assert calls["session"][0] >= 60  # a unit of work per attempt (and the facade's reads)
    assert calls["commit"][0] == len(result["claimed"])
    assert "commit:conflict" not in calls


def test_floor_worker_classes_every_attempt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = f"sqlite:{tmp_path / 'floor.sqlite3'}"
    claim_floor.setup(spec, customers=20, reps=1, strands=4)
    monkeypatch.setenv("LEADTOCASH_CLAIM_COUNTS", str(tmp_path))
    result = claim_floor.worker(spec, rep=1, claims=60, customers=20, start_at=0.0)
    classes = _classes(tmp_path)
    assert sum(count for count, _ in classes.values()) == 60
    won = sum(count for name, (count, _) in classes.items() if name.startswith("won/"))
    assert won + classes["first attempts"][0] >= len(result["claimed"]) >= won


def _benchmark() -> Any:
    spec = importlib.util.spec_from_file_location("claims_bench", ROOT / "benchmarks/claims.py")
    assert spec is not None and spec.loader is not None
    claims = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(claims)
    return claims


def test_benchmark_sums_the_workers_classes(tmp_path: Path) -> None:
    claims = _benchmark()
    for rep, won in ((1, [3, 0.003]), (2, [1, 0.002])):
        report = {"classes": {"won/0": won}, "store_calls": {"commit": won}}
        (tmp_path / f"rep{rep}.json").write_text(json.dumps(report))
    table = claims.decomposition(tmp_path)
    assert table["classes"]["won/0"] == {"count": 4, "cpu_ms": 5.0, "cpu_ms_each": 1.25}
    assert table["store_calls"]["commit"]["count"] == 4


def test_cpu_budget_adds_client_and_server_per_contender() -> None:
    rounds = [
        {"client_cpu_ms_per_attempt": 1.0, "server_cpu_ms_per_attempt": 1.0,
         "floor_cpu_ms_per_attempt": 0.2, "floor_server_cpu_ms_per_attempt": 0.3,
         "floor_wal_bytes_per_attempt": 2000, "raw_cpu_ms_per_attempt": 0.1},
        {"client_cpu_ms_per_attempt": 3.0, "server_cpu_ms_per_attempt": 2.0,
         "floor_cpu_ms_per_attempt": 0.2, "floor_server_cpu_ms_per_attempt": 0.3,
         "floor_wal_bytes_per_attempt": 4000, "raw_cpu_ms_per_attempt": 0.1},
    ]  # fmt: skip
    budget = _benchmark().cpu_budget(rounds, cores=2)
    assert budget["library"]["total_ms"] == 3.5  # medians: client 2.0 + server 1.5
    assert budget["library"]["cpu_bound_per_s"] == round(2000 / 3.5)
    assert budget["floor"]["cpu_bound_per_s"] == 4000 and budget["floor"]["wal_bytes"] == 3000
    assert budget["bare"]["server_ms"] is None  # in-process engine: client CPU is all of it
    assert budget["bare"]["total_ms"] == 0.1
    assert "floor_listings" not in budget  # not run


@pytest.mark.postgres
def test_server_figures_count_what_the_server_did(
    pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg

    monkeypatch.setenv("LEADTOCASH_PG_DSN", pg_dsn)
    table = f"busy_{uuid.uuid4().hex[:8]}"
    before = server_usage.server_usage()
    assert before is not None
    with psycopg.connect(pg_dsn, autocommit=True) as pg:
        pg.execute(f"CREATE TABLE {table} (n int, h text)")  # a logged table: WAL is written
        pg.execute(f"INSERT INTO {table} SELECT n, md5(n::text) FROM generate_series(1, 20000) n")
        pg.execute(f"SELECT count(*) FROM {table} a JOIN {table} b USING (h)")
        after = server_usage.server_usage()
        pg.execute(f"DROP TABLE {table}")
    assert after is not None
    figures = server_usage.server_figures(before, attempts=10)
    assert figures["server_cpu_ms_per_attempt"] > 0  # the insert and join ran in the server
    assert figures["wal_bytes_per_attempt"] * 10 >= 20000 * 30  # 20,000 rows of ~40 bytes
    assert figures["wal_records_per_attempt"] * 10 >= 20000
    by_type = server_usage.wal_by_type(before[1], after[1])
    assert by_type is not None  # a row insert each (INSERT+INIT: the first on a new page)
    assert sum(by_type[kind]["records"] for kind in ("Heap/INSERT", "Heap/INSERT+INIT")) >= 20000
    assert server_usage.server_figures(None, attempts=10) == {}  # no PostgreSQL run: nothing
