"""The ``leadtocash`` console script: exit codes 0 / 1 / 2, stable codes, nothing written."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import leadtocash_adapters
from connect_claim import claim_once  # examples/connect_claim.py
from leadtocash.cli.commands import cli
from leadtocash_adapters.sqlite_store import SCHEMA_VERSION, SQLiteStore
from store_urls import pg_url


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_migrate_is_idempotent_and_prints_the_schema_version(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/crm.db"
    for _ in range(2):
        result = run("migrate", url)
        assert result.exit_code == 0, result.output
        assert f"schema version {SCHEMA_VERSION}" in result.output
    assert run("migrate", "memory://").exit_code == 0


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("migrate", "mysql://root@localhost/crm"), "store.unknown_scheme"),
        (("migrate", "crm.db"), "store.invalid_url"),
        (("sweep", "sqlite:///crm.db"), "store.no_schema"),
        (("verify-audit", "sqlite:///crm.db"), "store.no_schema"),
        (("reindex", "sqlite:///crm.db"), "store.no_schema"),
        (("complete-merges", "sqlite:///crm.db"), "store.no_schema"),
        (("relay", "sqlite:///crm.db", "--webhook", "http://127.0.0.1:9/x", "--secret", "k"),
         "store.no_schema"),
        (("migrate", "sqlite:///no/such/dir/crm.db"), "store.unreachable"),
        (("migrate", "postgresql://u:pw@127.0.0.1:1/crm?connect_timeout=2"), "store.unreachable"),
    ],
)  # fmt: skip
def test_typed_errors_exit_2_with_their_code_and_write_nothing(
    args: tuple[str, ...], code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert f"[{code}]" in result.output
    assert "pw@" not in result.output
    assert _files(tmp_path) == []


def test_a_missing_extra_exits_2_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)
    monkeypatch.delitem(sys.modules, "leadtocash_adapters.postgres_store", raising=False)
    monkeypatch.delattr(leadtocash_adapters, "postgres_store", raising=False)
    result = run("migrate", "postgresql://crm@localhost/crm")
    assert result.exit_code == 2
    assert "[store.missing_extra]" in result.output
    assert "pip install 'leadtocash[postgres]'" in result.output


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert run().exit_code in (0, 2)  # help
    assert run("migrate").exit_code == 2
    url = f"sqlite:///{tmp_path}/crm.db"
    assert run("migrate", url).exit_code == 0
    assert run("relay", url).exit_code == 2  # no notifier
    assert run("relay", url, "--webhook", "http://x/y").exit_code == 2  # no secret
    assert run("import", url, str(tmp_path / "missing.csv")).exit_code == 2


def test_verify_audit_exits_1_naming_the_tampered_entry(tmp_path: Path) -> None:
    path = tmp_path / "crm.db"
    url = f"sqlite:///{path}"
    claim_once(url)
    ok = run("verify-audit", url)
    assert ok.exit_code == 0 and "verifies: 4 entries" in ok.output
    with SQLiteStore.open(path) as store, store.raw_connection() as conn:
        conn.execute("UPDATE audit SET reason = 'edited' WHERE seq = 2")
    bad = run("verify-audit", url)
    assert bad.exit_code == 1, bad.output
    assert "audit faults" in bad.output and "(edited)" in bad.output
    for processes in ("1", "3"):  # checked here alone, or split over worker processes
        again = run("verify-audit", url, "--processes", processes)
        assert (again.exit_code, again.output) == (1, bad.output)


def test_reindex_rewrites_every_record_and_refuses_an_unknown_kind(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/crm.db"
    claim_once(url)
    result = run("reindex", url, "--batch", "1")
    assert result.exit_code == 0, result.output
    assert "customer" in result.output and "pool" in result.output
    assert run("verify-audit", url).exit_code == 0
    bad = run("reindex", url, "--kind", "customer", "--kind", "nope")
    assert bad.exit_code == 2, bad.output
    assert "kinds[1]" in bad.output


def test_complete_merges_moves_nothing_on_a_store_without_leftovers(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/crm.db"
    claim_once(url)
    result = run("complete-merges", url)
    assert result.exit_code == 0, result.output
    assert "0 records moved" in result.output
    assert run("verify-audit", url).exit_code == 0


def test_sweep_runs_every_step_and_summarises(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/crm.db"
    claim_once(url)
    result = run("sweep", url)
    assert result.exit_code == 0, result.output
    for step in ("reclaim", "payment reminders", "quote expiry", "SLA", "recycle bin purge"):
        assert step in result.output


def test_import_reports_created_duplicates_and_rejections(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/crm.db"
    assert run("migrate", url).exit_code == 0
    good = tmp_path / "good.csv"
    good.write_text(
        "name,phones,emails,uscc,address\n华东贸易有限公司,13800138000,,,上海\n", "utf-8"
    )
    first = run("import", url, str(good))
    assert first.exit_code == 0, first.output
    assert "1 created, 0 duplicates, 0 rejected" in first.output
    again = run("import", url, str(good))
    assert again.exit_code == 1 and "0 created, 1 duplicates" in again.output
    bad = tmp_path / "bad.csv"
    bad.write_text("name,phones\n,not-a-phone\n", "utf-8")
    rejected = run("import", url, str(bad))
    assert rejected.exit_code == 1 and "1 rejected" in rejected.output
    latin = tmp_path / "latin.csv"
    latin.write_bytes("name\nM\xfcller GmbH\n".encode("latin-1"))
    assert run("import", url, str(latin)).exit_code == 2


class _Receiver(BaseHTTPRequestHandler):
    received: list[bytes] = []  # noqa: RUF012 - one test server at a time

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(body)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    _Receiver.received = []
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()


def test_relay_delivers_the_outbox_to_a_webhook_once(tmp_path: Path, receiver: str) -> None:
    url = f"sqlite:///{tmp_path}/crm.db"
    claim_once(url)
    result = run("relay", url, "--webhook", receiver, "--secret", "k", "--once")
    assert result.exit_code == 0, result.output
    assert len(_Receiver.received) >= 2  # customer added, ownership changed
    assert f"{len(_Receiver.received)} delivered, 0 failed" in result.output
    again = run("relay", url, "--webhook", receiver, "--secret", "k", "--once")
    assert again.exit_code == 0 and "0 delivered" in again.output


def test_relay_exits_1_when_the_webhook_is_down(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/crm.db"
    claim_once(url)
    result = run("relay", url, "--webhook", "http://127.0.0.1:9/down", "--secret", "k", "--once")
    assert result.exit_code == 1, result.output
    assert "0 delivered" in result.output and "failed attempts" in result.output


def test_the_installed_console_script_runs(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("leadtocash")
    result = subprocess.run(
        [str(script), "migrate", "sqlite:///crm.db"], cwd=tmp_path, capture_output=True,
        text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    bad = subprocess.run(
        [str(script), "verify-audit", "sqlite:///other.db"], cwd=tmp_path, capture_output=True,
        text=True, timeout=60, check=False,
    )  # fmt: skip
    assert bad.returncode == 2 and "[store.no_schema]" in bad.stderr
    assert not (tmp_path / "other.db").exists()


def test_without_the_cli_extra_the_command_names_it(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['click'] = None\n"
        "from leadtocash.cli import main\n"
        "main(['migrate', 'memory://'])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "[store.missing_extra]" in result.stderr and "leadtocash[cli]" in result.stderr


@pytest.mark.postgres
def test_migrate_and_verify_on_postgresql(pg_dsn: str) -> None:
    url = f"{pg_url(pg_dsn)}?schema=cli_{os.getpid()}"
    first = run("migrate", url)
    assert first.exit_code == 0 and "schema version" in first.output, first.output
    assert claim_once(url).startswith("claimed ")
    assert run("verify-audit", url).exit_code == 0
