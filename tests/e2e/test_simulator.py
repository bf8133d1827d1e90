"""``leadtocash simulate`` and ``leadtocash replay`` end to end, at a small size.

The report's numbers are checked against the store read back through the public API (counts,
cash collected, aging buckets); the same seed gives the same report, another seed another.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from leadtocash import LeadToCash, Principal, Role, connect, verify_store_audit
from leadtocash.app import CustomerFilter
from leadtocash.cli.commands import cli
from leadtocash.model import PoolId
from leadtocash.system import RandomIds, SystemClock

SMALL = ["--leads", "160", "--days", "24", "--reps", "9", "--zones", "3"]


def simulate(tmp: Path, *extra: str, name: str = "run") -> tuple[dict[str, Any], Path, Path, str]:
    store, out = tmp / f"{name}.sqlite3", tmp / f"{name}-report"
    result = CliRunner().invoke(
        cli,
        ["simulate", "--store", str(store), "--out", str(out), "--locale", "en", *SMALL, *extra],
    )
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    return report, store, out, result.output


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path, Path, str]:
    return simulate(tmp_path_factory.mktemp("sim"))


def test_the_report_charts_and_html_are_written(
    first: tuple[dict[str, Any], Path, Path, str],
) -> None:
    report, store, out, output = first
    charts = sorted(p.name for p in out.glob("*.png"))
    assert len(charts) >= 4 and {"fairness.png", "funnel.png", "cash.png", "aging.png"} <= set(
        charts
    )
    assert all((out / c).stat().st_size > 5_000 for c in charts)
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "fairness.png" in page and "Pool health" in page
    assert (out / "leads.csv").read_text(encoding="utf-8").count("\n") == 161
    assert store.exists() and str(store) in output
    assert "Fairness" in output and "Cash collected" in output
    assert "sim." not in output  # every label came from the catalog, no raw codes
    assert report["audit"]["ok"] and report["intake"]["leads"] == 160


def test_the_reports_numbers_equal_what_the_store_holds(
    first: tuple[dict[str, Any], Path, Path, str],
) -> None:
    report, store, _, _ = first
    opened = connect(f"sqlite:///{store}")
    try:
        crm = LeadToCash(opened, SystemClock(), RandomIds())
        admin = Principal("auditor", roles=frozenset({Role.ADMIN}))
        finance = Principal("finance", roles=frozenset({Role.FINANCE}))
        assert crm.customers.count(admin) == report["intake"]["customers"]
        assert report["intake"]["customers"] + report["intake"]["duplicates"] == 160
        for pool in report["pools"]:
            in_pool = crm.customers.count(admin, CustomerFilter(pool=PoolId(pool["zone"])))
            assert in_pool >= pool["size"]
        for rep in report["fairness"]["reps"]:
            assert crm.customers.count(admin, CustomerFilter(owner=rep["rep"])) == rep["owned"]
        start, end = (
            date.fromisoformat(report["config"]["start"]),
            date.fromisoformat(report["config"]["end"]),
        )
        cash = crm.receivables.performance(finance, start, end, "CNY", by="rep")
        assert sum((m.amount for m in cash.values()), Decimal(0)) == Decimal(
            report["cash"]["collected"]
        )
        aging = crm.receivables.aging(finance, end, "CNY")
        assert {b.value: str(m.amount) for b, m in aging.buckets} == report["cash"]["aging"]
        assert str(aging.total.amount) == report["cash"]["outstanding"]
        audit = verify_store_audit(opened)
        assert audit.ok and audit.entries == report["audit"]["entries"]
    finally:
        opened.close()


def _faults(report: Any) -> tuple[Any, ...]:
    return (
        report.entries,
        report.strands,
        report.digests,
        [(f.problem, f.strand, f.strand_seq, f.entry_id, f.digest) for f in report.faults],
    )


def test_the_audit_verified_in_worker_processes_equals_one_process(
    tmp_path: Path, first: tuple[dict[str, Any], Path, Path, str]
) -> None:
    """The simulator verifies the audit log split over worker processes: the same entries,
    digests and faults as ``verify_store_audit``, on the run's store and on a tampered copy."""
    import shutil
    import sqlite3

    from leadtocash.audit_processes import ParallelAudit

    _, store, _, _ = first
    tampered = tmp_path / "tampered.sqlite3"
    shutil.copy(store, tampered)
    with sqlite3.connect(tampered) as conn:
        conn.execute("UPDATE audit SET reason = 'edited' WHERE seq IN (7, 300)")
    conn.close()
    for path, ok in ((store, True), (tampered, False)):
        url = f"sqlite:///{path}"
        opened = connect(url)
        try:
            alone, strands = verify_store_audit(opened), opened.audit_strands
        finally:
            opened.close()
        split = ParallelAudit(url, strands, processes=3).result()
        assert split.ok is ok and _faults(split) == _faults(alone)


def test_same_seed_same_report_another_seed_differs(
    tmp_path: Path, first: tuple[dict[str, Any], Path, Path, str]
) -> None:
    again, *_ = simulate(tmp_path, "--no-charts", name="again")
    assert again == first[0]
    other, *_ = simulate(tmp_path, "--no-charts", "--seed", "8", name="other")
    assert other != first[0]


def rules(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_replay_two_rule_sets_same_leads_different_churn(
    tmp_path: Path, first: tuple[dict[str, Any], Path, Path, str]
) -> None:
    _, _, out, _ = first
    a = rules(tmp_path / "a.toml", 'name = "strict"\n[pool]\nno_follow_up_working_days = 2\n')
    b = rules(tmp_path / "b.toml", 'name = "lenient"\n[pool]\nno_follow_up_working_days = 15\n')
    from leadtocash.simulation import load_rules, replay

    one, two = replay(out / "leads.csv", [load_rules(a), load_rules(b)], reps=9)
    assert one["leads"] == two["leads"] == 160
    assert one["reclaimed"] != two["reclaimed"] and one["reclaimed"] > two["reclaimed"]
    result = CliRunner().invoke(
        cli,
        ["replay", "--rules", str(a), "--rules", str(b), "--stream", str(out / "leads.csv"),
         "--reps", "9", "--locale", "en", "--chart", str(tmp_path / "replay.png")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "reclaim churn" in result.output and "strict" in result.output
    assert (tmp_path / "replay.png").stat().st_size > 5_000


def test_a_bad_rule_file_names_the_bad_key_and_exits_2(tmp_path: Path) -> None:
    good = rules(tmp_path / "good.toml", "[pool]\ncapacity = 40\n")
    bad = rules(tmp_path / "bad.toml", '[pool]\ncapcity = 40\ndaily_claim_limit = "ten"\n')
    stream = tmp_path / "leads.csv"
    stream.write_text("at,channel,company_name,contact_name,phone,email\n", encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["replay", "--rules", str(good), "--rules", str(bad), "--stream", str(stream)]
    )
    assert result.exit_code == 2
    assert "pool.capcity" in result.output and "pool.daily_claim_limit" in result.output
    assert "validation.invalid" in result.output
