"""leadtocash.connect: store URLs, typed errors with stable codes, nothing written on a bad URL."""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path

import pytest

import leadtocash_adapters
from connect_claim import claim_once  # examples/connect_claim.py
from leadtocash import (
    LeadToCashError,
    MissingExtra,
    StorageUnavailable,
    StoreNotReady,
    StoreUnreachable,
    StoreURLError,
    connect,
    describe_error,
    message,
)
from leadtocash.stores import StoreURL, schema_version
from leadtocash.testing import InMemoryStore
from leadtocash_adapters.sqlite_store import SCHEMA_VERSION, SQLiteStore
from store_urls import pg_url


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_urls_parse_into_scheme_target_and_options() -> None:
    assert StoreURL.parse("sqlite:///crm.db") == StoreURL("sqlite", "crm.db", {})
    assert StoreURL.parse("sqlite:////var/lib/crm.db").target == "/var/lib/crm.db"
    assert StoreURL.parse("sqlite:///:memory:").target == ":memory:"
    assert StoreURL.parse("SQLITE:///a%20b.db?synchronous=NORMAL&pool_size=2") == StoreURL(
        "sqlite", "a b.db", {"synchronous": "NORMAL", "pool_size": 2}
    )
    pg = StoreURL.parse("postgres://crm:s3cret@db:5433/crm?sslmode=disable&schema=t1&max_size=4")
    assert pg.scheme == "postgresql"
    assert pg.target == "postgresql://crm:s3cret@db:5433/crm?sslmode=disable"
    assert pg.options == {"schema": "t1", "max_size": 4}
    assert "s3cret" not in pg.redacted() and "***" in pg.redacted()
    assert StoreURL.parse("memory://?strands=4").options == {"strands": 4}


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("mysql://root@localhost/crm", "store.unknown_scheme"),
        ("crm.db", "store.invalid_url"),
        ("sqlite://host/crm.db", "store.invalid_url"),
        ("sqlite:///", "store.invalid_url"),
        ("sqlite:///crm.db?bogus=1", "store.invalid_url"),
        ("sqlite:///crm.db?strands=many", "store.invalid_url"),
        ("sqlite:///crm.db?synchronous=SOMETIMES", "store.invalid_url"),
        ("memory://?schema=x", "store.invalid_url"),
        ("postgresql://localhost/crm?max_size=lots", "store.invalid_url"),
    ],
)
def test_a_bad_url_is_a_typed_error_and_writes_nothing(
    url: str, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for create in (False, True):
        with pytest.raises(StoreURLError) as caught:
            connect(url, create_schema=create)
        assert caught.value.code == code
        assert _files(tmp_path) == []


def test_unknown_schemes_name_the_known_ones_in_every_language() -> None:
    with pytest.raises(StoreURLError) as caught:
        connect("redis://localhost")
    assert caught.value.details["scheme"] == "redis"
    assert "sqlite" in str(caught.value) and "memory" in str(caught.value)
    for loc in ("en", "zh-CN", "zh-TW"):
        text = describe_error(caught.value, loc)
        assert "redis" in text, (loc, text)


def test_a_missing_sqlite_file_is_not_created_without_create_schema(tmp_path: Path) -> None:
    with pytest.raises(StoreNotReady) as caught:
        connect(f"sqlite:///{tmp_path}/crm.db")
    assert caught.value.code == "store.no_schema"
    assert "leadtocash migrate" in caught.value.message
    assert _files(tmp_path) == []


def test_a_missing_directory_is_unreachable_and_nothing_is_written(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/no/such/dir/crm.db"
    with pytest.raises(StoreUnreachable) as caught:
        connect(url, create_schema=True)
    assert caught.value.code == "store.unreachable"
    assert isinstance(caught.value, StorageUnavailable) and caught.value.retryable
    assert _files(tmp_path) == []


def test_an_older_sqlite_schema_is_not_ready_until_migrated(tmp_path: Path) -> None:
    path = tmp_path / "crm.db"
    SQLiteStore.open(path, create_schema=True).close()
    with SQLiteStore.open(path) as store, store.raw_connection() as conn:
        conn.execute("UPDATE schema_version SET version = 1")
    with pytest.raises(StoreNotReady) as caught:
        connect(f"sqlite:///{path}")
    assert caught.value.details["found"] == 1


def test_sqlite_opens_in_wal_with_full_sync_by_default(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/crm.db"
    store = connect(url, create_schema=True)
    assert isinstance(store, SQLiteStore)
    with store.raw_connection() as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert schema_version(store) == SCHEMA_VERSION
    store.close()
    again = connect(url + "?synchronous=NORMAL")  # the schema exists now
    with again.raw_connection() as conn:  # type: ignore[attr-defined]
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1
    again.close()


def test_a_claim_goes_through_every_local_url(tmp_path: Path) -> None:
    for url in (f"sqlite:///{tmp_path}/crm.db", "sqlite:///:memory:", "memory://"):
        assert claim_once(url).startswith("claimed "), url
    assert claim_once(f"sqlite:///{tmp_path}/crm.db").endswith("(8 entries)")


def test_sqlite_memory_is_a_private_file_removed_with_the_store() -> None:
    store = connect("sqlite:///:memory:")
    assert isinstance(store, SQLiteStore)
    folder = store.path.parent
    assert folder.is_dir()
    store.close()
    del store
    gc.collect()
    assert not folder.exists()


def test_memory_urls_give_a_new_empty_store() -> None:
    first, second = connect("memory://"), connect("memory://?strands=4")
    assert isinstance(first, InMemoryStore) and first is not second
    assert second.audit_strands == 4 and schema_version(first) is None


def test_a_missing_driver_names_the_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg -> ImportError
    monkeypatch.delitem(sys.modules, "leadtocash_adapters.postgres_store", raising=False)
    monkeypatch.delattr(leadtocash_adapters, "postgres_store", raising=False)
    with pytest.raises(MissingExtra) as caught:
        connect("postgresql://crm@localhost/crm")
    error = caught.value
    assert error.code == "store.missing_extra" and error.extra == "postgres"
    assert isinstance(error, ImportError) and isinstance(error, LeadToCashError)
    assert "pip install 'leadtocash[postgres]'" in error.message
    assert "leadtocash[postgres]" in describe_error(error, "zh-CN")


def test_an_unreachable_server_is_a_typed_error() -> None:
    with pytest.raises(StoreUnreachable) as caught:
        connect("postgresql://crm:pw@127.0.0.1:1/crm?connect_timeout=2", create_schema=True)
    assert caught.value.code == "store.unreachable"
    assert "pw@" not in caught.value.message


def test_every_store_code_reads_in_every_language() -> None:
    codes = ("store.invalid_url", "store.unknown_scheme", "store.missing_extra",
             "store.unreachable", "store.no_schema")  # fmt: skip
    for code in codes:
        for loc in ("en", "zh-CN", "zh-TW"):
            assert message(code, loc, scheme="x", extra="cli") != code


@pytest.mark.postgres
def test_a_claim_goes_through_a_postgresql_url(pg_dsn: str) -> None:
    schema = f"connect_{os.getpid()}"
    url = f"{pg_url(pg_dsn)}?schema={schema}"
    with pytest.raises(StoreNotReady):
        connect(url)
    assert claim_once(url).startswith("claimed ")
    store = connect(url)
    try:
        assert schema_version(store) is not None
    finally:
        store.close()
