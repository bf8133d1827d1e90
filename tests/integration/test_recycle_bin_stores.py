"""The recycle bin on real stores (issue #27): SQLite and PostgreSQL keep soft deletes.

On each store: a customer and a lead are deleted, leave the lists, searches and their keys (a
new customer takes the deleted one's name), a restore into that collision is refused and
changes nothing, the lead comes back, and after the retention period the purge sweep leaves
tombstones that cannot be restored, with no byte of the lead's contact or of its follow-up
notes left and the audit still verifying.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest

from leadtocash import LeadToCash, PoolId, Principal, RepId, Role, RuleViolation, ZoneId
from leadtocash.app.auditing import verify_store_audit
from leadtocash.errors import NotFound
from leadtocash.ports import Store
from leadtocash.testing import FakeClock, InMemoryStore, SequentialIds
from leadtocash_adapters.postgres_store import PostgresStore
from leadtocash_adapters.sqlite_store import SQLiteStore
from pg_schemas import private_store
from store_dumps import postgres_text, sqlite_bytes

ADMIN = Principal("admin", roles=frozenset({Role.ADMIN}))
SYSTEM = Principal("sweeper", roles=frozenset({Role.SYSTEM}))
START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
SECRETS = ("13912345678", "lead.contact@example.cn", "赵六", "下周三来访")


def _check(store: Store, dump: Callable[[], bytes]) -> None:
    clock = FakeClock(START)
    crm = LeadToCash(store, clock, SequentialIds())
    pool = crm.pools.create_pool(ADMIN, "East", zone_id=ZoneId("east"), pool_id=PoolId("east"))
    customer = crm.pools.add_customer(ADMIN, "甲科技有限公司", pool_id=pool.id)
    lead = crm.leads.capture(
        ADMIN,
        {"channel": "web_form", "company_name": "乙贸易有限公司", "contact_name": "赵六",
         "phone": "139 1234 5678", "email": "lead.contact@example.cn"},
    )  # fmt: skip
    with crm.unit_of_work() as uow:  # handed to a rep, as a sales lead would be
        uow.leads.save(attrs.evolve(uow.leads.get(lead.id), owner_id=RepId("rep1")))
        uow.commit()
    rep1 = Principal("u1", roles=frozenset({Role.REP}), rep_id=RepId("rep1"))
    crm.lead_pools.log_follow_up(rep1, lead.id, note="赵六说下周三来访")  # what was said

    crm.recycle_bin.delete(ADMIN, "customer", customer.id, "test data")
    crm.recycle_bin.delete(ADMIN, "lead", lead.id, "spam")
    assert crm.customers.list(ADMIN).items == ()
    assert crm.customers.search(ADMIN, "甲科技").items == ()
    assert crm.leads.list(ADMIN).items == ()
    assert crm.pools.list_pool(ADMIN, pool.id).items == ()
    with pytest.raises(NotFound):
        crm.customers.get(ADMIN, customer.id)
    assert {e.id for e in crm.recycle_bin.list(ADMIN, "customer").items} == {customer.id}

    clock.advance(timedelta(hours=1))
    twin = crm.pools.add_customer(ADMIN, "甲科技有限公司", pool_id=pool.id)  # the key is free
    rows = crm.customers.count(ADMIN), len(store.audit_log(limit=10_000))
    with pytest.raises(RuleViolation) as caught:
        crm.recycle_bin.restore(ADMIN, "customer", customer.id)
    assert caught.value.code == "collision.duplicate" and twin.id in str(caught.value.details)
    assert (crm.customers.count(ADMIN), len(store.audit_log(limit=10_000))) == rows

    assert crm.recycle_bin.restore(ADMIN, "lead", lead.id).id == lead.id
    assert [found.id for found in crm.leads.list(ADMIN).items] == [lead.id]
    crm.recycle_bin.delete(ADMIN, "lead", lead.id, "spam after all")

    assert all(secret.encode() in dump() for secret in SECRETS)  # the scan does see them
    clock.advance(timedelta(days=31))
    report = crm.recycle_bin.purge_due(SYSTEM)
    assert set(report.purged) == {("customer", customer.id), ("lead", lead.id)}
    with pytest.raises(RuleViolation) as purged:
        crm.recycle_bin.restore(ADMIN, "lead", lead.id)
    assert purged.value.code == "recycle.already_purged"
    assert crm.recycle_bin.list(ADMIN, "lead").items == ()
    assert [s for s in SECRETS if s.encode() in dump()] == []
    assert crm.recycle_bin.purge_due(SYSTEM).purged == ()
    assert verify_store_audit(store).ok


def test_recycle_bin_on_the_in_memory_store() -> None:
    store = InMemoryStore()
    _check(store, lambda: repr(vars(store)).encode())


def test_recycle_bin_on_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "bin.db"

    with SQLiteStore.open(path, create_schema=True) as store:
        _check(store, lambda: sqlite_bytes(path))


@pytest.fixture
def pg_store(pg_dsn: str) -> Iterator[tuple[PostgresStore, str]]:
    with private_store(pg_dsn, "ltc_bin") as (store, schema):
        yield store, schema


@pytest.mark.postgres
def test_recycle_bin_on_postgres(pg_store: tuple[PostgresStore, str], pg_dsn: str) -> None:
    store, schema = pg_store

    _check(store, lambda: postgres_text(pg_dsn, schema))
