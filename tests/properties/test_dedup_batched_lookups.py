"""The duplicate check's batched reads find exactly what one lookup per key found.

``existing_records`` looks every key of a kind up in one ``find_by_keys`` call and reads the
records' fields without building them; ``_per_key_records`` is the check as it was before
(one ``find_by_key`` per key and kind, whole aggregates built). On random books and
candidates, in the in-memory store and in SQLite, both give the same records in the same
order, and so the same report.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import leadtocash.app.dedup as dedup
from leadtocash import Channel, Customer, CustomerId, Lead, LeadId, LeadStatus, RepId
from leadtocash.app.unit_of_work import UnitOfWork
from leadtocash.collision import (
    DEFAULT_POLICY,
    DedupKey,
    ExistingRecord,
    KeyKind,
    RecordKind,
    candidate_keys,
    check_duplicates,
    pick_candidates,
    query_blocks,
)
from leadtocash.errors import DuplicateKey
from leadtocash.model import Deletion
from leadtocash.ports import Store
from leadtocash.testing import InMemoryStore, SequentialIds
from leadtocash_adapters.sqlite_store import SQLiteStore

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
NAMES = [
    "华为技术有限公司",
    "华为技术（深圳）有限公司",
    "深圳市华为技术有限公司",
    "华为科技有限公司",
    "华为技术服务有限公司",
    "华为技术研究所",
    "华为软件技术有限公司",
    "北京华为技术有限公司",
    "華為技術有限公司",
    "腾讯科技有限公司",
    "腾讯音乐有限公司",
    "Huawei Jishu",
    "Acme Trading Co., Ltd.",
    "Acme Tradng Inc.",
]
PHONES = ["13800138000", "13900139000", "+86 21 5555 0000", "010-8888 1234"]
EMAILS = ["sales@example.cn", "info@huawei.example", "Info@Huawei.example"]

records = st.lists(
    st.tuples(
        st.sampled_from([RecordKind.CUSTOMER, RecordKind.LEAD]),
        st.sampled_from(NAMES),
        st.lists(st.sampled_from(PHONES), max_size=2, unique=True),
        st.none() | st.sampled_from(EMAILS),
        st.sampled_from(["live", "live", "deleted", "merged", "closed"]),
        st.none() | st.sampled_from(["rep-1", "rep-2"]),
    ),
    min_size=3,
    max_size=24,
)
candidates = st.tuples(
    st.sampled_from(NAMES),
    st.lists(st.sampled_from(PHONES), max_size=2),
    st.lists(st.sampled_from(EMAILS), max_size=1),
)


Spec = tuple[RecordKind, str, list[str], str | None, str, str | None]


def _record(n: int, spec: Spec) -> Customer | Lead:
    kind, name, phones, email, state, owner = spec
    deleted = Deletion(at=T0, by="tester", reason="test") if state == "deleted" else None
    if kind is RecordKind.CUSTOMER:
        return Customer(
            id=CustomerId(f"c{n:02d}"), name=name, created_at=T0, phones=tuple(phones),
            emails=(email,) if email else (), owner_id=RepId(owner) if owner else None,
            merged_into=CustomerId("c99") if state == "merged" else None, deleted=deleted,
        )  # fmt: skip
    status = LeadStatus.DISQUALIFIED if state == "closed" else LeadStatus.NEW
    return Lead(
        id=LeadId(f"l{n:02d}"), channel=Channel.WEB_FORM, company_name=name, created_at=T0,
        phone=phones[0] if phones else None, email=email,
        owner_id=RepId(owner) if owner else None, status=status, deleted=deleted,
    )  # fmt: skip


def _fill(store: Store, specs: list[Spec]) -> None:
    for n, spec in enumerate(specs):
        record = _record(n, spec)
        with UnitOfWork(store, SequentialIds()) as uow:
            if isinstance(record, Customer):
                uow.customers.add(record)
            else:
                uow.leads.add(record)
            with suppress(DuplicateKey):  # a blocking key already taken: the first keeps it
                uow.commit()


def _per_key_records(
    uow: UnitOfWork, keys: frozenset[DedupKey], *, limit: int, fuzzy: bool
) -> list[ExistingRecord]:
    """The check's reads as they were: one store call per key and kind, aggregates built."""
    customer_ids: dict[str, None] = {}
    lead_ids: dict[str, None] = {}
    for text in [key.text for key in sorted(keys)]:
        customer_ids.update(dict.fromkeys(uow.customers.find_ids_by_key(text, limit=limit)))
        lead_ids.update(dict.fromkeys(uow.leads.find_ids_by_key(text, limit=limit)))
    found: dict[str, list[tuple[RecordKind, str]]] = {}
    if fuzzy:
        for key in keys:
            if key.kind is KeyKind.NAME and key.value:
                for block in sorted(query_blocks(key.value)):
                    holders = [
                        (RecordKind.CUSTOMER, ident)
                        for ident in uow.customers.find_ids_by_key(block, limit=dedup._PER_BLOCK)
                        if ident not in customer_ids
                    ]
                    holders.extend(
                        (RecordKind.LEAD, ident)
                        for ident in uow.leads.find_ids_by_key(block, limit=dedup._PER_BLOCK)
                        if ident not in lead_ids
                    )
                    if holders:
                        found[block] = holders
    picked = pick_candidates(found, dedup._FUZZY_BUDGET)
    by_name = sorted(ident for kind, ident in picked if kind is RecordKind.CUSTOMER)
    leads_by_name = sorted(ident for kind, ident in picked if kind is RecordKind.LEAD)
    out = [
        ExistingRecord.from_customer(c)
        for c in uow.customers.get_many(list(customer_ids))
        if c.merged_into is None
    ]
    out.extend(
        ExistingRecord.by_name(RecordKind.CUSTOMER, c.id, c.name, c.owner_id)
        for c in uow.customers.get_many(by_name)
        if c.merged_into is None
    )
    out.extend(
        ExistingRecord.from_lead(lead)
        for lead in uow.leads.get_many(list(lead_ids))
        if lead.status in dedup.OPEN_LEAD_STATUSES
    )
    out.extend(
        ExistingRecord.by_name(RecordKind.LEAD, lead.id, lead.company_name, lead.owner_id)
        for lead in uow.leads.get_many(leads_by_name)
        if lead.status in dedup.OPEN_LEAD_STATUSES
    )
    return out


@contextmanager
def _memory() -> Iterator[Store]:
    store = InMemoryStore()
    try:
        yield store
    finally:
        store.close()


@contextmanager
def _sqlite() -> Iterator[Store]:
    with tempfile.TemporaryDirectory() as folder:
        store = SQLiteStore.open(Path(folder) / "book.sqlite3", create_schema=True)
        try:
            yield store
        finally:
            store.close()


@pytest.mark.parametrize("opened", [_memory, _sqlite], ids=["memory", "sqlite"])
def test_batched_reads_find_what_one_lookup_per_key_found(
    opened: Callable[[], AbstractContextManager[Store]],
) -> None:
    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        book=records,
        candidate=candidates,
        limit=st.integers(1, 3) | st.just(200),
        per_block=st.integers(1, 4) | st.just(16),
        budget=st.integers(1, 6) | st.just(48),
        fuzzy=st.booleans(),
    )
    def check(
        book: list[Spec],
        candidate: tuple[str, list[str], list[str]],
        limit: int,
        per_block: int,
        budget: int,
        fuzzy: bool,
    ) -> None:
        name, phones, emails = candidate
        keys = candidate_keys(name=name, phones=phones, emails=emails)
        saved = dedup._PER_BLOCK, dedup._FUZZY_BUDGET
        dedup._PER_BLOCK, dedup._FUZZY_BUDGET = per_block, budget
        try:
            with opened() as store:
                _fill(store, book)
                with UnitOfWork(store, SequentialIds()) as uow:
                    batched = dedup.existing_records(uow, keys, limit=limit, fuzzy=fuzzy)
                with UnitOfWork(store, SequentialIds()) as uow:
                    one_by_one = _per_key_records(uow, keys, limit=limit, fuzzy=fuzzy)
        finally:
            dedup._PER_BLOCK, dedup._FUZZY_BUDGET = saved
        assert batched == one_by_one
        assert check_duplicates(keys, batched, DEFAULT_POLICY) == check_duplicates(
            keys, one_by_one, DEFAULT_POLICY
        )

    check()
