"""Leads are deduplicated at capture (linked, never dropped) and the book can be searched (查重)."""

from __future__ import annotations

import itertools

import attrs

from leadtocash import CustomerId, LeadStatus
from leadtocash.collision import RecordKind, RecordRef
from pool_fixtures import ADMIN, MANAGER, make_world, rep_principal

USCC = "91110000600037341L"
_PHONES = (f"139{n:08d}" for n in itertools.count(1))


def _payload(name: str, **more: str) -> dict[str, str]:
    return {"channel": "web_form", "company_name": name, "phone": next(_PHONES), **more}


def test_a_lead_of_a_known_customer_is_stored_and_linked_to_it() -> None:
    world = make_world()
    customer, _ = world.crm.collisions.create_customer(
        ADMIN, "华为技术有限公司", pool_id=world.pool_id
    )
    lead = world.crm.leads.capture(ADMIN, _payload("华为技术股份有限公司"))
    assert lead.duplicate_of == f"customer:{customer.id}"
    assert world.crm.leads.get(ADMIN, lead.id).duplicate_of == lead.duplicate_of


def test_a_lead_of_an_open_lead_is_linked_a_closed_one_is_not() -> None:
    world = make_world()
    first = world.crm.leads.capture(ADMIN, _payload("腾讯科技（深圳）有限公司"))
    second = world.crm.leads.capture(ADMIN, _payload("腾讯科技深圳有限公司"))
    assert first.duplicate_of is None
    assert second.duplicate_of == f"lead:{first.id}"
    with world.crm.unit_of_work() as uow:  # close both
        for lead in (first, second):
            stored = uow.leads.get(lead.id)
            uow.leads.save(attrs.evolve(stored, status=LeadStatus.DISQUALIFIED))
        uow.commit()
    third = world.crm.leads.capture(ADMIN, _payload("腾讯科技（深圳）"))
    assert third.duplicate_of is None


def test_warnings_do_not_link_and_nothing_is_dropped() -> None:
    world = make_world()
    world.crm.collisions.create_customer(
        ADMIN, "甲科技有限公司", pool_id=world.pool_id, phones=["13800138000"]
    )
    lead = world.crm.leads.capture(ADMIN, {**_payload("乙贸易"), "phone": "138 0013 8000"})
    assert lead.duplicate_of is None  # a shared phone warns, it does not link
    report = world.crm.leads.import_rows(ADMIN, [_payload("甲科技"), _payload("丙物流")])
    assert report.created == 2
    linked = [
        world.crm.leads.get(ADMIN, row.lead_id).duplicate_of for row in report.rows if row.lead_id
    ]
    assert linked[0] is not None and linked[0].startswith("customer:")
    assert linked[1] is None


def test_find_duplicates_groups_the_book_with_merge_suggestions() -> None:
    world = make_world()
    crm, pool = world.crm, world.pool_id
    a, _ = crm.collisions.create_customer(ADMIN, "宏达贸易有限公司", pool_id=pool, uscc=USCC)
    with crm.unit_of_work() as uow:  # an older import slipped a duplicate past the checks
        uow.customers.add(
            attrs.evolve(a, id=CustomerId("dup1"), name="宏达贸易（集团外）", uscc=None, version=0)
        )
        uow.commit()
    b, _ = crm.collisions.create_customer(
        ADMIN, "宏大贸易有限公司", pool_id=pool, phones=["13900139000"]
    )  # a homophone typo of 宏达: a warning only
    crm.collisions.create_customer(ADMIN, "无关物流有限公司", pool_id=pool)
    lead = crm.leads.capture(ADMIN, _payload("宏达贸易", uscc=USCC))
    report = crm.collisions.find_duplicates(MANAGER)
    assert report.scanned == 4
    assert report.next_cursor is None
    by_members = {frozenset(r.id for r in g.records): g for g in report.groups}
    group = next(g for ids, g in by_members.items() if a.id in ids)
    assert RecordRef(RecordKind.LEAD, lead.id) in group.records
    assert RecordRef(RecordKind.CUSTOMER, b.id) in group.records
    assert group.suggestion in ("link", "merge")
    assert all("无关" not in h.record.display_name for g in report.groups for _, h in g.hits)
    paged = crm.collisions.find_duplicates(MANAGER, limit=2)
    assert paged.scanned == 2 and paged.next_cursor is not None
    rest = crm.collisions.find_duplicates(MANAGER, after=paged.next_cursor, limit=2)
    assert rest.scanned == 2


def test_find_duplicates_masks_records_a_rep_may_not_see() -> None:
    world = make_world()
    crm = world.crm
    crm.collisions.create_customer(ADMIN, "华为技术有限公司", pool_id=world.pool_id)
    crm.leads.capture(ADMIN, _payload("华为技术"))
    report = crm.collisions.find_duplicates(rep_principal(1))
    names = [h.record.display_name for g in report.groups for _, h in g.hits]
    assert names and all("***" in name for name in names)
