"""Lead scores on every store (issue #27): scores are stored with their explanation, lists sort
best score first and filter by a minimum through the ``score`` index, and a score rule change
rescores every lead — the same answers on memory, SQLite and PostgreSQL, across a reopen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from leadtocash import LeadToCash, Principal, Role
from leadtocash.app import LeadFilter, LeadSort
from leadtocash.classification import RESCORE_ID, LeadRescore, ScoreRules
from leadtocash.ports import Store
from leadtocash.testing import FakeClock, InMemoryStore, SequentialIds
from leadtocash_adapters.postgres_store import PostgresStore
from leadtocash_adapters.sqlite_store import SQLiteStore
from pg_schemas import private_store

ADMIN = Principal("admin", roles=frozenset({Role.ADMIN}))
START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
PAYLOADS = [
    {"channel": "import", "company_name": "甲贸易", "phone": "13900139001"},  # 5
    {"channel": "referral", "company_name": "乙科技", "phone": "13900139002",
     "employees": "900", "industry": "制造"},  # 20 + 5 + 15 + 5 = 45
    {"channel": "event", "company_name": "丙制造", "email": "c@example.com"},  # 10 + 5 = 15
    {"channel": "social", "company_name": "丁物流", "email": "d@example.com",
     "campaign": "春季"},  # 5 + 5 = 10
]  # fmt: skip
REFERRALS = ScoreRules.from_config(
    {"rules": [{"name": "referral", "component": "source", "points": 70,
                "when": {"channel": {"one_of": ["referral", "event"]}}}]}
)  # fmt: skip


def _check(store: Store, reopen: Callable[[], Store]) -> None:
    clock = FakeClock(START)
    crm = LeadToCash(store, clock, SequentialIds())
    ids = [crm.leads.capture(ADMIN, payload).id for payload in PAYLOADS]
    ranked = crm.leads.list(ADMIN, sort=LeadSort.SCORE)
    assert [lead.id for lead in ranked.items] == [ids[1], ids[2], ids[3], ids[0]]
    assert [lead.score.total for lead in ranked.items if lead.score] == [45, 15, 10, 5]
    page = crm.leads.list(ADMIN, sort=LeadSort.SCORE, limit=2)
    rest = crm.leads.list(ADMIN, sort=LeadSort.SCORE, after=page.next_cursor, limit=2)
    assert [lead.id for lead in (*page.items, *rest.items)] == [ids[1], ids[2], ids[3], ids[0]]
    assert crm.leads.count(ADMIN, LeadFilter(min_score=10)) == 3
    stored = crm.leads.get(ADMIN, ids[1])
    assert stored.score is not None
    assert [r.rule for r in stored.score.fired] == [
        "referral",
        "phone",
        "mid-size",
        "large",
        "industry",
    ]

    crm.settings.update(ADMIN, "referrals and events only", lead_score=REFERRALS)
    best = crm.leads.list(ADMIN, LeadFilter(min_score=1), sort=LeadSort.SCORE)
    assert sorted(lead.id for lead in best.items) == sorted([ids[1], ids[2]])
    assert all(lead.score and lead.score.total == 70 for lead in best.items)

    again = LeadToCash(reopen(), clock, SequentialIds())  # reopened: rules and scores kept
    assert again.settings.get(ADMIN).lead_score == REFERRALS
    with again.unit_of_work() as uow:
        job = uow.repository(LeadRescore).get(RESCORE_ID)
    assert (job.done, job.changed) == (True, 4)
    lead = again.leads.get(ADMIN, ids[0])
    assert lead.score is not None and (lead.score.total, lead.score.fired) == (0, ())
    assert lead.score.rules_version == REFERRALS.version


def test_lead_scores_on_the_in_memory_store() -> None:
    store = InMemoryStore()
    _check(store, lambda: store)


def test_lead_scores_on_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "scores.db"
    with (
        SQLiteStore.open(path, create_schema=True) as store,
        SQLiteStore.open(path) as reopened,
    ):
        _check(store, lambda: reopened)


@pytest.fixture
def pg_store(pg_dsn: str) -> Iterator[tuple[PostgresStore, str]]:
    with private_store(pg_dsn, "ltc_score") as (store, schema):
        yield store, schema


def test_lead_scores_on_postgres(pg_store: tuple[PostgresStore, str], pg_dsn: str) -> None:
    store, schema = pg_store
    reopened = PostgresStore.connect(pg_dsn, schema=schema, min_size=1)
    try:
        _check(store, lambda: reopened)
    finally:
        reopened.close()
