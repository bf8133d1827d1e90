"""Shared fixtures: a fake clock, sequential ids, an in-memory store and the facade on them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

import commit_watch
import refusal_guard
from leadtocash import LeadToCash, Principal, Role
from leadtocash.ports import Store
from leadtocash.testing import FakeClock, InMemoryStore, SequentialIds
from leadtocash_adapters.sqlite_store import SQLiteStore
from pg_schemas import private_store

settings.register_profile("ci", max_examples=60, deadline=None)
settings.register_profile("dev", max_examples=30, deadline=None)
# A bug hunt: HYPOTHESIS_PROFILE=hunt pytest tests/properties (tens of minutes).
settings.register_profile("hunt", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
refusal_guard.install()  # every test: a refused facade command committed nothing
commit_watch.install()  # every test: a record filed under a customer rests on its version


@pytest.fixture(scope="session")
def pg_dsn() -> str:
    """DSN of the throwaway PostgreSQL server started by scripts/test.sh.

    Without a server the PostgreSQL tests skip, except in CI (LEADTOCASH_REQUIRE_POSTGRES=1),
    where a missing server fails them.
    """
    dsn = os.environ.get("LEADTOCASH_PG_DSN", "")
    if not dsn:
        if os.environ.get("LEADTOCASH_REQUIRE_POSTGRES") == "1":
            pytest.fail("LEADTOCASH_REQUIRE_POSTGRES=1 but LEADTOCASH_PG_DSN is not set")
        pytest.skip("no PostgreSQL server (run the suite through scripts/test.sh)")
    return dsn


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh store on each engine: in memory, a SQLite file, a private PostgreSQL schema
    (named after the test module)."""
    if request.param == "postgres":
        name = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")[:24]
        with private_store(request.getfixturevalue("pg_dsn"), f"ltc_{name}") as (pg, _schema):
            yield pg
    elif request.param == "sqlite":
        with SQLiteStore.open(tmp_path / "engine.db", create_schema=True) as lite:
            yield lite
    else:
        yield InMemoryStore()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def crm(store: InMemoryStore, clock: FakeClock) -> LeadToCash:
    return LeadToCash(store=store, clock=clock, ids=SequentialIds())


@pytest.fixture
def rep() -> Principal:
    return Principal("alice", roles=frozenset({Role.REP}), rep_id=None)


@pytest.fixture
def finance() -> Principal:
    return Principal("fred", roles=frozenset({Role.FINANCE}))
