"""The claim floor (examples/claim_floor.py) keeps the guarantees it is measured for.

``benchmarks/claims.py`` reports the library against this hand-written floor; the comparison
means something only if the floor is correct: one owner per customer, books that match,
all-or-nothing writes, and an audit chain that verifies (and that ``verify`` can fail).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import claim_floor
from claim_floor import attempt, open_floor, setup, verify

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "claim_floor.py"
#: What a claim writes besides the customer and the book.
TABLES = ("history", "counters", "audit_log", "outbox")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def spec(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh floor store on each engine."""
    if request.param == "sqlite":
        yield f"sqlite:{tmp_path / 'floor.sqlite3'}"
        return
    os.environ["LEADTOCASH_PG_DSN"] = request.getfixturevalue("pg_dsn")
    schema = f"floor_{uuid.uuid4().hex[:10]}"
    yield f"postgres:{schema}"
    floor = open_floor(f"postgres:{schema}")
    floor.conn.execute(f"DROP SCHEMA {schema} CASCADE")
    floor.close()


def _counts(spec: str) -> dict[str, int]:
    floor = open_floor(spec)
    try:
        counts = {t: floor.rows(f"SELECT count(*) FROM T.{t}")[0][0] for t in TABLES}
        owned = floor.rows("SELECT count(*) FROM T.customers WHERE owner IS NOT NULL")
        return {**counts, "owned": owned[0][0]}
    finally:
        floor.close()


def test_concurrent_workers_never_double_own_and_seal_every_claim(spec: str) -> None:
    setup(spec, customers=300, reps=4)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "examples"), str(ROOT / "src")]))
    start_at = str(time.time() + 1.5)
    sizes = ("--claims", "150", "--customers", "300", "--start-at", start_at)
    workers = [
        subprocess.Popen(
            [sys.executable, str(SCRIPT), "worker", spec, "--rep", str(n), *sizes],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for n in range(1, 5)
    ]
    results = [json.loads(proc.communicate(timeout=300)[0]) for proc in workers]
    assert all(proc.returncode == 0 for proc in workers)
    claimed = [cid for result in results for cid in result["claimed"]]
    checks = verify(spec)
    assert len(claimed) == len(set(claimed)) > 0
    assert checks["double_owned"] == 0
    assert checks["books_match"]
    assert checks["audit_chain_ok"]
    assert checks["claims_total"] == checks["audit_entries"] == len(claimed)
    assert _counts(spec)["owned"] == len(claimed)


def test_a_write_with_a_stale_version_changes_nothing(spec: str) -> None:
    setup(spec, customers=3, reps=1)
    cid = claim_floor.customer_ids(3)[0]
    floor = open_floor(spec)
    try:
        version, owner, book = floor.read("rep1", cid)
        assert owner is None
        assert not floor.write("rep1", cid, version, book + 1, "stale-book")
        assert not floor.write("rep1", cid, version + 1, book, "stale-customer")
        assert _counts(spec) == dict.fromkeys((*TABLES, "owned"), 0)
        assert attempt(floor, "rep1", cid, "fresh") == "won"
        assert attempt(floor, "rep1", cid, "again") == "taken"
    finally:
        floor.close()
    assert set(_counts(spec).values()) == {1}
    assert verify(spec)["audit_chain_ok"]


def test_verify_catches_a_tampered_entry_and_a_second_owner(tmp_path: Path) -> None:
    spec = f"sqlite:{tmp_path / 'floor.sqlite3'}"
    setup(spec, customers=3, reps=2)
    cid = claim_floor.customer_ids(3)[0]
    floor = open_floor(spec)
    try:
        assert attempt(floor, "rep1", cid, "one") == "won"
        assert verify(spec)["audit_chain_ok"]
        floor.conn.execute("UPDATE audit_log SET body = body || ' '")
        floor.conn.execute("INSERT INTO history VALUES ('forged', ?, 'rep2', '{}')", (cid,))
    finally:
        floor.close()
    checks = verify(spec)
    assert not checks["audit_chain_ok"]
    assert checks["double_owned"] == 1


def test_verify_catches_a_truncated_strand_after_a_digest(tmp_path: Path) -> None:
    spec = f"sqlite:{tmp_path / 'floor.sqlite3'}"
    setup(spec, customers=6, reps=1, strands=4)
    floor = open_floor(spec)
    try:
        for n, cid in enumerate(claim_floor.customer_ids(6)):
            assert attempt(floor, "rep1", cid, f"c{n}") == "won"
        floor.seal_digest()
        (strand, seq), *_ = floor.rows(
            "SELECT strand, max(seq) FROM T.audit_log GROUP BY strand ORDER BY 2 DESC LIMIT 1"
        )
    finally:
        floor.close()
    assert verify(spec)["audit_chain_ok"]
    assert verify(spec)["audit_digests"] == 3  # each verify seals one more
    floor = open_floor(spec)
    try:  # the strand's last entry and head go back one step: the strand itself still chains
        floor.conn.execute("DELETE FROM audit_log WHERE strand = ? AND seq = ?", (strand, seq))
        prev = floor.conn.execute(
            "SELECT hash FROM audit_log WHERE strand = ? AND seq = ?", (strand, seq - 1)
        ).fetchone()
        floor.conn.execute(
            "UPDATE audit_strands SET seq = ?, hash = ? WHERE strand = ?",
            (seq - 1, prev[0] if prev else claim_floor.GENESIS, strand),
        )
    finally:
        floor.close()
    assert not verify(spec)["audit_chain_ok"]


def test_the_listings_floor_moves_a_claimed_customer_between_its_lists(spec: str) -> None:
    setup(spec, customers=3, reps=1, listings=True)
    cid = claim_floor.customer_ids(3)[1]
    floor = open_floor(spec)
    try:
        (recent,), *_ = floor.rows("SELECT recent FROM T.customers WHERE id = ?", (cid,))
        assert attempt(floor, "rep1", cid, "one") == "won"
        in_pool = floor.rows("SELECT id FROM T.customers WHERE pool = 'bench' AND owner IS NULL")
        mine = floor.rows("SELECT id FROM T.customers WHERE owner = 'rep1' ORDER BY name, id")
        (moved,), *_ = floor.rows("SELECT recent FROM T.customers WHERE id = ?", (cid,))
        engine, _, where = spec.partition(":")
        if engine == "sqlite":
            query = "SELECT count(*) FROM pragma_index_list('customers') WHERE partial = 1"
        else:
            query = (
                "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                f" WHERE n.nspname = '{where}' AND c.relname = 'customers'"
                " AND i.indpred IS NOT NULL"
            )
        (partial,), *_ = floor.rows(query)
    finally:
        floor.close()
    assert cid not in {row[0] for row in in_pool} and len(in_pool) == 2
    assert [row[0] for row in mine] == [cid]
    assert moved > recent  # its last change moved: it moves in the lists by last change
    assert partial == sum("WHERE" in index for index in claim_floor.LISTINGS)
    assert verify(spec)["audit_chain_ok"]
