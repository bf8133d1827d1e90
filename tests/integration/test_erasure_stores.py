"""Erasure on every store (issue #24): after ``erase_person`` no stored byte holds the person.

A customer with a phone, an e-mail and an address is claimed, edited, read unmasked and given
a contact; a lead holds the contact's phone. After erasing the customer's people, every byte
the store keeps — the SQLite file and its WAL, every PostgreSQL table as text, everything the
in-memory store holds — is free of their phones, e-mails, names and address, the audit still
verifies against a digest sealed before the erasure, and an erased entry's commitment edited
afterwards is still found.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest

from leadtocash import LeadToCash, PoolId, Principal, RepId, Role, SalesRep, ZoneId
from leadtocash.app.auditing import verify_store_audit
from leadtocash.audit import COMMITMENT_KEY, verify_audit
from leadtocash.errors import PermissionDenied, ValidationError
from leadtocash.ports import Store
from leadtocash.testing import FakeClock, InMemoryStore, SequentialIds
from leadtocash_adapters.postgres_store import PostgresStore
from leadtocash_adapters.sqlite_store import SQLiteStore
from pg_schemas import private_store
from store_dumps import postgres_text, sqlite_bytes

ADMIN = Principal("admin", roles=frozenset({Role.ADMIN}))
REP = Principal("user1", roles=frozenset({Role.REP}), rep_id=RepId("rep1"), zone_id=ZoneId("east"))
START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)

#: The people's data: digits as typed (stored in E.164, which contains them), e-mails, names.
SECRETS = (
    "13912345678", "13987654321", "13700001111",  # the customer's phones and the contact's
    "137-0000-1111", "137 0000 1111",  # the contact's phone as typed into a ticket
    "wang.fang@example.cn", "boss@jiake.example",  # the customer's and the contact's e-mails
    "王芳", "Wang Fang",  # the contact's name, and the lead's contact name
    "福州市鼓楼区五四路 88 号",  # the customer's address
)  # fmt: skip


def _scenario(store: Store) -> tuple[LeadToCash, str]:
    crm = LeadToCash(store, FakeClock(START), SequentialIds())
    pool = crm.pools.create_pool(ADMIN, "East", zone_id=ZoneId("east"), pool_id=PoolId("east"))
    crm.reps.register(ADMIN, SalesRep(RepId("rep1"), "Rep 1", zone_id=ZoneId("east")))
    cid = crm.pools.add_customer(
        ADMIN, "甲科技有限公司", pool_id=pool.id, phones=["13912345678"],
        emails=["boss@jiake.example"], address="福州市鼓楼区五四路 88 号",
    ).id  # fmt: skip
    crm.pools.claim(REP, cid)
    crm.customers.edit(REP, cid, phones=["13912345678", "13987654321"], reason="second line")
    contact = crm.contacts.add_contact(
        REP, cid, "王芳", title="采购经理", phone="13700001111", email="wang.fang@example.cn"
    )
    crm.contacts.edit_contact(REP, contact.id, decision_maker=True)
    crm.pools.log_follow_up(
        REP, cid, note="王芳说周五再打 13700001111", next_at=START + timedelta(days=3),
        plan="给王芳发报价, 抄送 wang.fang@example.cn",
    )  # fmt: skip
    crm.leads.capture(
        ADMIN,
        {"company_name": "甲科技", "contact_name": "Wang Fang", "phone": "+86 137 0000 1111",
         "channel": "web_form", "note": "Wang Fang 留言: 下午请打 137 0000 1111 询价"},
    )  # fmt: skip
    # a ticket that holds the person in every text people write on one (售后工单)
    ticket = crm.tickets.open(
        REP, cid, contact.id, subject="王芳: 打印机无法连接", category="hardware",
        channel="phone", priority="P3", description="请回电 137-0000-1111 或 wang.fang@example.cn",
    )  # fmt: skip
    crm.tickets.wait_on_customer(REP, ticket.id, reason="等王芳回电 13700001111")
    crm.tickets.resume(REP, ticket.id)
    crm.tickets.resolve(REP, ticket.id, reason="已电话 137 0000 1111 远程修复")
    crm.tickets.close(REP, ticket.id, score=4, comment="Wang Fang: 满意")
    crm.customers.get(REP, cid)  # an audited unmasked read
    store.seal_digest()
    return crm, cid


def _check(store: Store, dump: Callable[[], bytes]) -> None:
    crm, cid = _scenario(store)
    before = dump()
    assert all(secret.encode() in before for secret in SECRETS)  # the scan does see them
    result = crm.customers.erase_person(ADMIN, customer_id=cid, reason="PIPL request 2026-17")
    assert {kind for kind, _ in result.subjects} == {
        "customer", "contact", "lead", "follow_up", "ticket",
    }  # fmt: skip
    assert result.audit_entries >= 6
    after = dump()
    found = [secret for secret in SECRETS if secret.encode() in after]
    assert found == []
    assert "甲科技有限公司".encode() in after  # the company's name is no personal data
    assert "周五再打".encode() in after  # the rest of the note stays
    assert "远程修复".encode() in after  # and the rest of what the ticket says
    assert "询价".encode() in after  # and of the lead's note
    report = verify_store_audit(store)
    assert report.ok, report.faults
    log = store.audit_log(limit=10_000)
    tombstones = [e for e in log if e.action == "privacy.erase"]
    assert {(e.target_kind, e.reason) for e in tombstones} == {
        ("customer", "PIPL request 2026-17"), ("contact", "PIPL request 2026-17"),
        ("lead", "PIPL request 2026-17"), ("follow_up", "PIPL request 2026-17"),
        ("ticket", "PIPL request 2026-17"),
    }  # fmt: skip
    assert all(e.actor_id == "admin" and e.before is None for e in tombstones)
    erased = next(e for e in log if e.target_kind == "customer" and e.action == "pool.claim")
    assert erased.personal is None
    assert erased.after is not None
    assert set(erased.after["phones"]) == {COMMITMENT_KEY}
    forged = attrs.evolve(
        erased, after={**erased.after, "phones": {COMMITMENT_KEY: "0" * 64}}
    )  # the commitment is still covered by the hash
    tampered = [forged if e.id == erased.id else e for e in log]
    faults = verify_audit(tampered, store.audit_digests(), strands=store.audit_strands).faults
    assert [f.entry_id for f in faults] == [erased.id]
    again = crm.customers.erase_person(ADMIN, customer_id=cid, reason="again")
    assert again.audit_entries == 0
    assert verify_store_audit(store).ok


def test_erasure_on_the_in_memory_store() -> None:
    store = InMemoryStore()
    _check(store, lambda: repr(vars(store)).encode())


def test_erasure_on_sqlite_leaves_no_byte_in_the_files(tmp_path: Path) -> None:
    path = tmp_path / "erase.db"

    with SQLiteStore.open(path, create_schema=True) as store:
        _check(store, lambda: sqlite_bytes(path))


@pytest.fixture
def pg_store(pg_dsn: str) -> Iterator[tuple[PostgresStore, str]]:
    with private_store(pg_dsn, "ltc_erase") as (store, schema):
        yield store, schema


@pytest.mark.postgres
def test_erasure_on_postgres_leaves_no_value_in_any_table(
    pg_store: tuple[PostgresStore, str], pg_dsn: str
) -> None:
    store, schema = pg_store

    _check(store, lambda: postgres_text(pg_dsn, schema))


def test_erasing_one_contact_keeps_the_customer_and_other_contacts() -> None:
    store = InMemoryStore()
    crm, cid = _scenario(store)
    other = crm.contacts.add_contact(REP, cid, "李雷", phone="13800001234")
    target = next(c for c in crm.contacts.contacts(REP, cid).items if c.name == "王芳")
    result = crm.customers.erase_person(ADMIN, contact_id=target.id, reason="request")
    assert ("contact", target.id) in result.subjects
    assert ("customer", cid) not in result.subjects
    kept = {c.id: c for c in crm.contacts.contacts(REP, cid).items}
    assert (kept[target.id].name, kept[target.id].phone, kept[target.id].email) == (
        "[erased]", None, None,
    )  # fmt: skip
    assert kept[other.id].phone == "+8613800001234"
    assert crm.customers.get(REP, cid).customer.phones == ("+8613912345678", "+8613987654321")
    assert verify_store_audit(store).ok


def test_only_admins_erase_and_a_reason_and_one_subject_are_required() -> None:
    store = InMemoryStore()
    crm, cid = _scenario(store)
    with pytest.raises(PermissionDenied):
        crm.customers.erase_person(REP, customer_id=cid, reason="no")
    with pytest.raises(ValidationError) as no_subject:
        crm.customers.erase_person(ADMIN, reason="why")
    assert [e.code for e in no_subject.value.errors] == ["field.required"]
    with pytest.raises(ValidationError) as no_reason:
        crm.customers.erase_person(ADMIN, customer_id=cid, contact_id="x", reason=" ")
    assert sorted(e.code for e in no_reason.value.errors) == ["field.required", "field.type"]


def test_an_access_request_discloses_every_record_an_erasure_rewrites() -> None:
    store = InMemoryStore()
    crm, cid = _scenario(store)
    data = crm.customers.personal_data(ADMIN, cid)
    shown = {
        *(("customer", str(c.id)) for c in (data.customer, *data.merged)),
        *(("contact", str(c.id)) for c in data.contacts),
        *(("lead", str(lead.id)) for lead in data.leads),
        *(("follow_up", str(f.id)) for f in data.follow_ups),
        *(("ticket", str(t.id)) for t in data.tickets),
    }
    assert {kind for kind, _ in shown} == {"customer", "contact", "lead", "follow_up", "ticket"}
    assert data.leads[0].phone == "+8613700001111"  # unmasked: it is the person's own data
    disclosed = store.audit_log(limit=10_000)[-1]
    assert disclosed.after is not None
    assert disclosed.after["leads"] == [data.leads[0].id]
    assert disclosed.after["tickets"] == [data.tickets[0].id]
    result = crm.customers.erase_person(ADMIN, customer_id=cid, reason="PIPL request")
    assert set(result.subjects) <= shown
