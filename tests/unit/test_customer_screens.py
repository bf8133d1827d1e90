"""Customer screens: lists, counts, search, the 360 view, edits, contacts, follow-up plans,
export and privacy; every read scoped and masked like the writes."""

from __future__ import annotations

import csv
import io
import itertools
from datetime import timedelta

import attrs
import pytest

from contract_fixtures import cash_world, signed_contract
from leadtocash import (
    CustomerId,
    LeadToCash,
    Money,
    PermissionDenied,
    Principal,
    RepId,
    Role,
    RuleViolation,
    SalesRep,
    TeamId,
    Tier,
    ValidationError,
    ZoneId,
)
from leadtocash.app import CustomerFilter, CustomerSort
from leadtocash.contracts import Contract, InvoiceKind
from leadtocash.model import CollaboratorAccess
from leadtocash.scopes import customer_target
from pool_fixtures import ADMIN, MANAGER, START, SYSTEM, World, make_world, rep_principal

USCC = "91440300708461136T"  # 华为技术有限公司
HUAWEI_PHONE = "+8613800138000"


@pytest.fixture
def world() -> World:
    w = make_world(customers=6)
    crm = w.crm
    crm.reps.register(ADMIN, SalesRep(id=RepId("rep9"), name="West", zone_id=ZoneId("west")))
    huawei = crm.pools.add_customer(
        ADMIN, "华为技术有限公司", pool_id=w.pool_id, phones=["+86 138-0013-8000"],
        emails=["sales@huawei.com"], uscc=USCC, zone_id=ZoneId("east"),
    )  # fmt: skip
    crm.pools.add_customer(ADMIN, "Huawei Cloud Inc.", pool_id=w.pool_id, zone_id=ZoneId("east"))
    w.customers.extend([huawei.id])
    for n in (0, 1, 2):
        w.clock.advance(timedelta(minutes=1))
        crm.pools.claim(rep_principal(1), w.customers[n])
    crm.pools.claim(rep_principal(2), w.customers[3])
    crm.classification.edit_tags(rep_principal(1), w.customers[1], add=["vip"])
    return w


def _ids(page: object) -> list[str]:
    return [c.id for c in page.items]  # type: ignore[attr-defined]


def _all(crm: LeadToCash, who: Principal, filters: CustomerFilter | None = None,
         sort: CustomerSort = CustomerSort.CREATED, limit: int = 2) -> list[str]:  # fmt: skip
    seen: list[str] = []
    cursor = None
    while True:
        page = crm.customers.list(who, filters, sort=sort, after=cursor, limit=limit)
        seen += _ids(page)
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor


def test_my_customers_are_listed_in_creation_order_and_counted(world: World) -> None:
    rep1 = rep_principal(1)
    mine = CustomerFilter(owner=RepId("rep1"))
    assert _all(world.crm, rep1, mine) == world.customers[:3]
    assert world.crm.customers.count(rep1, mine) == 3
    page = world.crm.customers.list(rep1, mine)
    assert all(c.phones[0].startswith("+86138") and "*" not in c.phones[0] for c in page.items)


def test_list_and_count_agree_on_every_filter_sort_and_caller(world: World) -> None:
    crm = world.crm
    later = START + timedelta(minutes=2)
    filters = [
        CustomerFilter(),
        CustomerFilter(owner=RepId("rep1")),
        CustomerFilter(owner=RepId("rep2")),
        CustomerFilter(zone=ZoneId("east")),
        CustomerFilter(tier=Tier.D),
        CustomerFilter(tag="vip"),
        CustomerFilter(pool=world.pool_id),
        CustomerFilter(team=TeamId("t1")),
        CustomerFilter(created_from=START, created_until=later),
        CustomerFilter(updated_from=later),
        CustomerFilter(updated_until=later),
        CustomerFilter(reclaim_due_before=START + timedelta(days=3650)),
        CustomerFilter(owner=RepId("rep1"), tag="vip", zone=ZoneId("east")),
    ]
    callers = [ADMIN, MANAGER, SYSTEM, rep_principal(1), rep_principal(2), rep_principal(3)]
    for who, wanted, sort in itertools.product(callers, filters, CustomerSort):
        listed = _all(crm, who, wanted, sort)
        assert len(listed) == len(set(listed)), (who.user_id, wanted, sort)
        if sort is not CustomerSort.RECLAIM_DUE:
            assert len(listed) == crm.customers.count(who, wanted), (who.user_id, wanted, sort)


def test_lists_hold_exactly_what_the_caller_may_open(world: World) -> None:
    crm = world.crm
    crm.pools.set_collaborator(
        ADMIN, world.customers[3], RepId("rep3"), CollaboratorAccess.READ, "helps"
    )
    west = Principal("w", roles=frozenset({Role.REP}), rep_id=RepId("rep9"),
                     zone_id=ZoneId("west"))  # fmt: skip
    callers = [ADMIN, MANAGER, rep_principal(1), rep_principal(2), rep_principal(3), west]
    with crm.unit_of_work() as uow:
        everyone = uow.customers.get_many(_all(crm, ADMIN))
        for who in callers:
            expected = {c.id for c in everyone if crm.ctx.in_scope(uow, who, customer_target(c))}
            assert set(_all(crm, who)) == expected, who.user_id
    assert world.customers[0] not in _all(crm, west)  # owned in the east


def test_masked_fields_never_leak_through_list_search_or_export(world: World) -> None:
    crm = world.crm
    rep2 = rep_principal(2)  # sees the pool customers (masked), owns one
    for page in (crm.customers.list(rep2, limit=200), crm.customers.search(rep2, "华为")):
        for customer in page.items:
            if customer.owner_id != RepId("rep2"):
                assert all("****" in p for p in customer.phones), customer
    huawei = crm.customers.search(rep2, "华为").items[0]
    assert huawei.phones == ("+86138****8000",)
    assert huawei.emails == ("s***@huawei.com",)
    with pytest.raises(PermissionDenied):
        crm.customers.export_text(rep2)
    text = crm.customers.export_text(MANAGER)
    assert HUAWEI_PHONE in text  # a manager sees them unmasked
    outsider = attrs.evolve(MANAGER, roles=frozenset({Role.ZONE_MANAGER}), zone_id=ZoneId("x"))
    assert HUAWEI_PHONE not in crm.customers.export_text(outsider)


def test_search_finds_a_company_by_name_pinyin_phone_and_uscc(world: World) -> None:
    crm = world.crm
    huawei = world.customers[-1]
    for text in ("华为", "华为技术有限公司", "huawei", "+86 138-0013-8000", USCC,
                 "sales@huawei.com"):  # fmt: skip
        assert huawei in _ids(crm.customers.search(ADMIN, text)), text
    both = _ids(crm.customers.search(ADMIN, "huawei"))
    assert len(both) == 2 and len(set(both)) == 2  # the Latin name and the pinyin, once each
    first = crm.customers.search(ADMIN, "huawei", limit=1)
    rest = crm.customers.search(ADMIN, "huawei", after=first.next_cursor, limit=1)
    assert set(_ids(first) + _ids(rest)) == set(both)
    assert _ids(crm.customers.search(ADMIN, "不存在的公司")) == []


def test_page_sizes_are_bounded(world: World) -> None:
    for limit in (0, 201):
        with pytest.raises(ValidationError) as caught:
            world.crm.customers.list(ADMIN, limit=limit)
        assert caught.value.errors[0].path == "limit"


def test_the_360_view_shows_what_the_caller_may_see(world: World) -> None:
    crm = world.crm
    rep1 = rep_principal(1)
    cid = world.customers[0]
    crm.contacts.add_contact(rep1, cid, "王经理", title="采购", phone="13900139000")
    crm.pools.log_follow_up(rep1, cid, note="电话沟通", next_at=START + timedelta(days=3),
                            plan="发报价")  # fmt: skip
    view = crm.customers.get(rep1, cid)
    assert view.owner is not None and view.owner.id == RepId("rep1")
    assert view.classification is not None and view.classification.tier is view.customer.tier
    assert [c.phone for c in view.contacts] == ["+8613900139000"]
    assert [f.note for f in view.follow_ups] == ["电话沟通"]
    assert [p.plan for p in view.open_plans] == ["发报价"]
    assert [h.action.value for h in view.history] == ["claim"]
    assert set(view.sections) == {"contracts", "invoices", "receipts"}
    other = crm.customers.get(rep_principal(2), world.customers[4])  # in the pool: masked
    assert other.classification is None
    with pytest.raises(PermissionDenied):
        crm.customers.get(rep_principal(2), cid)


def test_the_360_view_shows_the_documents_of_duplicates_merged_into_the_customer() -> None:
    """A merge moves the duplicate's contracts and invoices to the survivor, whose 360 view
    lists them as its own; a document a merge recorded by an earlier version left with the
    archive is listed after the survivor's own."""
    world, kept, dropped = cash_world(customers=2)
    crm = world.crm
    own, theirs = signed_contract(world, kept), signed_contract(world, dropped, rep=2)
    crm.billing.draft_invoice(ADMIN, theirs.id, InvoiceKind.ORDINARY, Money("100", "CNY"))
    before = crm.customers.get(ADMIN, kept)
    assert [c.id for c in before.sections["contracts"]] == [own.id]
    crm.collisions.merge(ADMIN, kept, dropped, "same company", prefer=CustomerId(kept))
    view = crm.customers.get(ADMIN, kept)
    assert view.merged_from == (dropped,)
    assert sorted((c.id, c.customer_id) for c in view.sections["contracts"]) == sorted(
        [(own.id, kept), (theirs.id, kept)]
    )
    assert [i.contract_id for i in view.sections["invoices"]] == [theirs.id]
    assert crm.customers.get(ADMIN, dropped).merged_from == ()
    with crm.unit_of_work() as uow:  # as a merge before documents moved left it
        contracts = uow.repository(Contract)
        contracts.save(attrs.evolve(contracts.get(theirs.id), customer_id=dropped))
        uow.commit()
    view = crm.customers.get(ADMIN, kept)
    assert [c.id for c in view.sections["contracts"]] == [own.id, theirs.id]


def test_unmasked_reads_are_audited_without_the_values(world: World) -> None:
    crm = world.crm
    seq = len(world.store.audit_log(limit=100_000))
    crm.customers.get(rep_principal(1), world.customers[0])
    crm.customers.list(rep_principal(2), limit=200)  # pool customers only masked; one owned
    entries = world.store.audit_log(after_seq=seq)
    assert [(e.target_kind, e.actor_id, e.reason) for e in entries] == [
        ("disclosure", "user1", "customer.get"),
        ("disclosure", "user2", "customer.list"),
    ]
    assert entries[1].after == {"via": "customer.list",
                                "customers": {world.customers[3]: ["phones"]}}  # fmt: skip
    assert "+86138" not in str([e.after for e in entries])


def test_edits_are_validated_collision_checked_and_audited(world: World) -> None:
    crm = world.crm
    rep1 = rep_principal(1)
    cid = world.customers[0]
    edited = crm.customers.edit(rep1, cid, name="客户零号", phones=["13700137000"],
                                address="深圳", reason="名片")  # fmt: skip
    assert (edited.name, edited.phones, edited.address) == ("客户零号", ("+8613700137000",), "深圳")
    last = world.store.audit_log(limit=100_000)[-1]
    assert (last.action, last.target_id, last.reason) == ("customer.update", cid, "名片")
    assert _ids(crm.customers.search(ADMIN, "客户零号")) == [cid]
    with pytest.raises(RuleViolation) as caught:
        crm.customers.edit(rep1, cid, uscc=USCC)
    assert caught.value.code == "collision.duplicate"
    with pytest.raises(ValidationError) as bad:
        crm.customers.edit(rep1, cid, name=" ", phones=["12"], address="x" * 501)
    assert sorted(e.path for e in bad.value.errors) == ["address", "name", "phones[0]"]
    with pytest.raises(PermissionDenied):
        crm.customers.edit(rep_principal(2), cid, name="抢")


def test_contacts_and_follow_ups_per_customer_and_rep(world: World) -> None:
    crm = world.crm
    rep1 = rep_principal(1)
    cid = world.customers[0]
    contact = crm.contacts.add_contact(rep1, cid, "李总", email="li@example.com")
    changed = crm.contacts.edit_contact(rep1, contact.id, title="总经理", phone="13600136000")
    assert (changed.title, changed.phone, changed.email) == ("总经理", "+8613600136000",
                                                             "li@example.com")  # fmt: skip
    with pytest.raises(ValidationError):
        crm.contacts.edit_contact(rep1, contact.id, phone="not a phone")
    assert [c.id for c in crm.contacts.contacts(rep1, cid).items] == [contact.id]
    crm.pools.set_collaborator(ADMIN, cid, RepId("rep3"), CollaboratorAccess.READ, "helps")
    first = crm.pools.log_follow_up(rep1, cid, note="a")
    crm.pools.log_follow_up(rep1, world.customers[1], note="b")
    assert [f.note for f in crm.contacts.of_customer(rep1, cid).items] == ["a"]
    assert [f.note for f in crm.contacts.of_rep(rep1, RepId("rep1")).items] == ["a", "b"]
    assert [f.note for f in crm.contacts.of_rep(MANAGER, RepId("rep1")).items] == ["a", "b"]
    with pytest.raises(PermissionDenied):
        crm.contacts.of_rep(rep_principal(2), RepId("rep1"))
    fixed = crm.contacts.edit_follow_up(rep1, first.id, note="a, corrected")
    assert fixed.note == "a, corrected"
    with pytest.raises(PermissionDenied):
        crm.contacts.edit_follow_up(rep_principal(2), first.id, note="x")


def test_due_follow_up_plans_are_reminded_once_through_the_outbox(world: World) -> None:
    crm = world.crm
    rep1 = rep_principal(1)
    cid = world.customers[0]
    due = START + timedelta(days=2)
    planned = crm.pools.log_follow_up(rep1, cid, note="first call", next_at=due, plan="回访")
    assert crm.contacts.remind_due(SYSTEM).reminded == ()
    world.clock.advance(timedelta(days=3))
    assert crm.contacts.remind_due(SYSTEM).reminded == (planned.id,)
    assert crm.contacts.remind_due(SYSTEM).reminded == ()
    topics = [m.topic for m in world.store.outbox_due(world.clock.now(), limit=1000)]
    assert topics.count("customer.follow_up_due") == 1
    # the next follow-up completes the plan; a moved plan is reminded again
    crm.pools.log_follow_up(rep1, cid, note="second call")
    assert crm.customers.get(rep1, cid).open_plans == ()
    later = crm.pools.log_follow_up(rep1, cid, next_at=world.clock.now() + timedelta(days=1))
    crm.contacts.edit_follow_up(rep1, later.id, next_at=world.clock.now() + timedelta(days=5))
    world.clock.advance(timedelta(days=2))
    assert crm.contacts.remind_due(SYSTEM).reminded == ()
    world.clock.advance(timedelta(days=4))
    assert crm.contacts.remind_due(SYSTEM).reminded == (later.id,)


def test_plans_of_a_customer_in_the_recycle_bin_are_closed_without_a_reminder(
    world: World,
) -> None:
    crm = world.crm
    rep1 = rep_principal(1)
    binned, kept = world.customers[0], world.customers[1]
    due = START + timedelta(days=2)
    gone = crm.pools.log_follow_up(rep1, binned, note="call", next_at=due, plan="回访")
    live = crm.pools.log_follow_up(rep1, kept, note="call", next_at=due, plan="回访")
    crm.recycle_bin.delete(MANAGER, "customer", binned, "duplicate entry")
    world.clock.advance(timedelta(days=3))
    outbox = len(world.store._outbox)
    sweep = crm.contacts.remind_due(SYSTEM)
    assert (sweep.reminded, sweep.skipped) == ((live.id,), (gone.id,))
    assert len(world.store._outbox) == outbox + 1  # one reminder, for the live customer
    entry = next(e for e in world.store.audit_log(limit=1000) if e.target_id == gone.id
                 and e.reason and "recycle bin" in e.reason)  # fmt: skip
    assert entry.action == "follow_up.sweep"
    assert crm.contacts.remind_due(SYSTEM) == type(sweep)((), ())  # closed: not due again


def test_a_persons_data_can_be_exported_by_an_admin(world: World) -> None:
    crm = world.crm
    cid = world.customers[0]
    crm.contacts.add_contact(rep_principal(1), cid, "王经理", phone="13900139000")
    with pytest.raises(PermissionDenied):
        crm.customers.personal_data(rep_principal(1), cid)
    data = crm.customers.personal_data(ADMIN, cid)
    assert data.customer.phones == ("+8613800000000",)
    assert [c.phone for c in data.contacts] == ["+8613900139000"]
    last = world.store.audit_log(limit=100_000)[-1]
    assert (last.target_kind, last.action) == ("disclosure", "privacy.export")


def test_csv_export_has_a_header_and_one_row_per_customer(world: World) -> None:
    out = io.StringIO()
    rows = world.crm.customers.export_csv(MANAGER, out, CustomerFilter(owner=RepId("rep1")))
    table = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows == 3 and len(table) == 4 and table[0][:2] == ["id", "name"]


def test_xlsx_export_holds_the_csv_rows_with_the_same_masking(world: World) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    crm, only_rep1 = world.crm, CustomerFilter(owner=RepId("rep1"))
    text = io.StringIO()
    crm.customers.export_csv(MANAGER, text, only_rep1)
    binary = io.BytesIO()
    assert crm.customers.export_xlsx(MANAGER, binary, only_rep1) == 3
    sheet = openpyxl.load_workbook(io.BytesIO(binary.getvalue()), read_only=True).active
    cells = [
        ["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)
    ]
    assert cells == list(csv.reader(io.StringIO(text.getvalue())))
    with pytest.raises(PermissionDenied):
        crm.customers.export_xlsx(rep_principal(2), io.BytesIO())


def test_leads_are_edited_listed_counted_and_searched_in_scope(world: World) -> None:
    from leadtocash.app import LeadFilter, LeadSort
    from leadtocash.model import LeadStatus

    crm = world.crm
    rep1 = rep_principal(1)
    payload = {"channel": "web_form", "company_name": "华为终端有限公司", "phone": "13500135000",
               "zone_id": "east"}  # fmt: skip
    lead = crm.leads.capture(rep1, payload)
    crm.leads.capture(rep1, {"channel": "event", "company_name": "西部公司",
                             "email": "w@example.com", "zone_id": "west"})  # fmt: skip
    with pytest.raises(PermissionDenied):  # unowned: a rep reads it, a manager edits it
        crm.leads.edit(rep1, lead.id, note="x")
    edited = crm.leads.edit(MANAGER, lead.id, contact_name="张三", phone="13500135001")
    assert (edited.contact_name, edited.phone) == ("张三", "+8613500135001")
    with pytest.raises(ValidationError) as caught:
        crm.leads.edit(MANAGER, lead.id, company_name="x" * 201, email="bad")
    assert sorted(e.path for e in caught.value.errors) == ["company_name", "email"]
    for who in (ADMIN, MANAGER, rep1):
        for wanted in (LeadFilter(), LeadFilter(zone=ZoneId("east")),
                       LeadFilter(status=LeadStatus.NEW)):  # fmt: skip
            for sort in LeadSort:
                listed = crm.leads.list(who, wanted, sort=sort, limit=200).items
                assert len(listed) == crm.leads.count(who, wanted)
    assert {x.company_name for x in crm.leads.list(rep1, limit=200).items} == {"华为终端有限公司"}
    assert crm.leads.count(ADMIN) == 2
    for text in ("华为", "huawei", "13500135001"):
        assert [x.id for x in crm.leads.search(rep1, text).items] == [lead.id], text
    assert crm.leads.search(rep1, "西部").items == ()
    # name, then pinyin hits, page by page: every match once
    names = ["华为云计算有限公司", "Huawei Europe", "华为数字能源"]
    more = [
        crm.leads.capture(ADMIN, {"channel": "event", "company_name": name,
                                  "email": f"hw{n}@example.com", "zone_id": "east"}).id
        for n, name in enumerate(names)
    ]  # fmt: skip
    seen, cursor = [], None
    while True:
        page = crm.leads.search(ADMIN, "huawei", after=cursor, limit=1)
        assert len(page.items) <= 1
        seen += [x.id for x in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert sorted(seen) == sorted([lead.id, *more]) and len(seen) == len(set(seen))
