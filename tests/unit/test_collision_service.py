"""Anti-collision through the application: guarded creation, import reports, merge, races."""

from __future__ import annotations

import threading
from datetime import date
from decimal import Decimal
from typing import Any

import attrs
import pytest

from contract_fixtures import cash_world, signed_contract
from leadtocash import (
    CollaboratorAccess,
    Contact,
    ContactId,
    CustomerId,
    FollowUp,
    FollowUpId,
    LeadToCashError,
    Money,
    RepId,
    RuleViolation,
)
from leadtocash.collision import Outcome
from leadtocash.contracts import Contract, Invoice, InvoiceKind, LineInput, Receipt
from pool_fixtures import ADMIN, MANAGER, World, make_world, rep_principal

REP1, REP2 = rep_principal(1), rep_principal(2)
USCC = "91110000600037341L"


def _state(world: World) -> Any:
    return (dict(world.store._rows), len(world.store._audit))


def test_variants_of_one_company_are_blocked_and_the_answer_names_the_owner() -> None:
    world = make_world()
    first, report = world.crm.collisions.create_customer(
        ADMIN, "华为技术有限公司", pool_id=world.pool_id, phones=["13800138000"]
    )
    assert report.clean
    world.crm.pools.claim(REP1, first.id)
    before = _state(world)
    for variant in ("华为技术 有限公司", "华为技术，有限公司。", "华为技术股份有限公司"):
        with pytest.raises(RuleViolation) as caught:
            world.crm.collisions.create_customer(REP2, variant, pool_id=world.pool_id)
        assert caught.value.code == "collision.duplicate"
        text = str(caught.value.details)
        assert first.id in text
        assert "rep1" not in text, "the owner is masked for a rep who may not see it"
        assert "华为技术有限公司" not in text
    assert _state(world) == before
    with pytest.raises(RuleViolation) as caught:
        world.crm.collisions.create_customer(MANAGER, "华为技术", pool_id=world.pool_id)
    assert "rep1" in str(caught.value.details), "managers see who owns the duplicate"


def test_uscc_blocks_even_under_another_name_and_add_customer_enforces_too() -> None:
    world = make_world()
    world.crm.collisions.create_customer(ADMIN, "甲公司", pool_id=world.pool_id, uscc=USCC)
    with pytest.raises(RuleViolation) as caught:
        world.crm.pools.add_customer(ADMIN, "完全不同的名字", pool_id=world.pool_id, uscc=USCC)
    assert caught.value.code == "collision.duplicate"


def test_shared_phone_and_similar_name_only_warn() -> None:
    world = make_world()
    world.crm.collisions.create_customer(
        ADMIN, "Huawei Technologies Co., Ltd.", pool_id=world.pool_id, phones=["13800138000"]
    )
    customer, report = world.crm.collisions.create_customer(
        ADMIN, "Huawei Technology", pool_id=world.pool_id, phones=["+86 138-0013-8000"]
    )
    assert not report.blocked
    found = {(hit.match.value, hit.key.kind.value if hit.key else None) for hit in report.warnings}
    assert ("exact", "phone") in found
    assert ("fuzzy", None) in found
    assert all(hit.outcome is Outcome.WARN for hit in report.warnings)
    assert customer.id


def test_customers_are_checked_against_leads() -> None:
    world = make_world()
    web = rep_principal(3)
    lead = world.crm.leads.capture(
        web, {"channel": "web_form", "company_name": "字节跳动", "phone": "13900139000"}
    )
    report = world.crm.collisions.check_customer(ADMIN, "字节跳动有限公司", phones=["13900139000"])
    assert {(hit.record.kind.value, hit.record.id) for hit in report.hits} == {("lead", lead.id)}


def test_import_reports_created_duplicate_and_rejected_rows() -> None:
    world = make_world()
    world.crm.collisions.create_customer(ADMIN, "已存在科技有限公司", pool_id=world.pool_id)
    csv_text = (
        "name,phones,emails,uscc,address\n"
        "新客户一有限公司,13800000001;13800000002,a@x.cn,,\n"
        "已存在科技(有限公司),,,,\n"
        ",12345,bad-email,,\n"
        "新客户一 有限公司,,,,\n"
    )
    report = world.crm.collisions.import_customers_csv(ADMIN, csv_text, pool_id=world.pool_id)
    assert [row.status for row in report.rows] == ["created", "duplicate", "rejected", "duplicate"]
    assert report.count("created") == 1
    rejected = report.rows[2]
    assert sorted(e.path for e in rejected.errors) == [
        "rows[2].emails[0]",
        "rows[2].name",
        "rows[2].phones[0]",
    ]
    assert report.rows[3].duplicate_of is not None
    assert report.rows[3].duplicate_of.id == report.rows[0].customer_id


def test_eight_threads_creating_one_company_admit_exactly_one() -> None:
    world = make_world()
    outcomes: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def create(n: int) -> None:
        barrier.wait()
        try:
            world.crm.pools.add_customer(
                ADMIN, f"并发测试{'　' * n}有限公司", pool_id=world.pool_id
            )
            result = "created"
        except RuleViolation as exc:
            result = exc.code
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=create, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["collision.duplicate"] * 7 + ["created"]
    page = world.crm.pools.list_pool(ADMIN, world.pool_id)
    assert len(page.items) == 1


def test_merge_moves_contacts_and_follow_ups_archives_the_loser_and_frees_its_keys() -> None:
    world = make_world()
    keep, _ = world.crm.collisions.create_customer(
        ADMIN, "深圳甲科技有限公司", pool_id=world.pool_id, phones=["13800000011"]
    )
    drop, _ = world.crm.collisions.create_customer(
        ADMIN, "甲科技深圳公司", pool_id=world.pool_id, phones=["13800000022"]
    )
    world.crm.pools.claim(REP1, keep.id)
    world.crm.pools.claim(REP2, drop.id)
    follow_up = world.crm.pools.log_follow_up(REP2, drop.id, note="met the buyer")
    with world.crm.unit_of_work() as uow:
        uow.contacts.add(Contact(id=ContactId("ct-1"), customer_id=CustomerId(drop.id), name="王"))
        uow.commit()
    plan = world.crm.collisions.merge(MANAGER, keep.id, drop.id, "same company", prefer=keep.id)
    assert (plan.survivor_id, plan.loser_id) == (keep.id, drop.id)
    merged = world.crm.pools.get_customer(ADMIN, keep.id)
    assert set(merged.phones) == {"+8613800000011", "+8613800000022"}
    loser = world.crm.pools.get_customer(ADMIN, drop.id)
    assert loser.merged_into == keep.id
    assert loser.owner_id is None
    with world.crm.unit_of_work() as uow:
        assert uow.contacts.get("ct-1").customer_id == keep.id
        assert uow.follow_ups.get(follow_up.id).customer_id == keep.id
        from leadtocash.pool.book import RepBook

        assert uow.repository(RepBook).get(RepId("rep2")).owned == 0
        assert uow.repository(RepBook).get(RepId("rep1")).owned == 1
    entries = [e for e in world.store.audit_log() if e.action == "customer.merge"]
    customers = {e.target_id for e in entries if e.target_kind == "customer"}
    assert customers == {keep.id, drop.id}
    moved = {(e.target_kind, e.target_id) for e in entries if e.target_kind != "customer"}
    assert moved == {("contact", "ct-1"), ("follow_up", follow_up.id)}  # re-targeted, audited
    assert all(e.before is not None and e.reason == "same company" for e in entries)
    # The loser's name key is free again: a new record with it is only a fuzzy warning now.
    again, _ = world.crm.collisions.create_customer(ADMIN, "甲科技深圳公司", pool_id=world.pool_id)
    assert again.id != drop.id
    with pytest.raises(RuleViolation) as caught:
        world.crm.collisions.merge(MANAGER, keep.id, drop.id, "twice")
    assert caught.value.code == "collision.merge_invalid"


def test_create_customer_checks_and_creates_in_one_unit_of_work(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The duplicate check and the creation share one unit of work: one check, one commit,
    and the report that comes back is the check the creation rested on."""
    from leadtocash.app.context import AppContext
    from leadtocash.app.dedup import collision_report

    world = make_world()
    world.crm.collisions.create_customer(
        ADMIN, "Huawei Technologies Co., Ltd.", pool_id=world.pool_id, phones=["13800138000"]
    )
    checks: list[int] = []
    reads: list[int] = []
    real_check, real_read = collision_report, AppContext.read

    def counted_check(*args: Any, **kwargs: Any) -> Any:
        checks.append(1)
        return real_check(*args, **kwargs)

    def counted_read(self: AppContext, *args: Any) -> Any:
        reads.append(1)
        return real_read(self, *args)

    monkeypatch.setattr("leadtocash.app.collision.collision_report", counted_check)
    monkeypatch.setattr(AppContext, "read", counted_read)
    entries = len(world.store._audit)
    customer, report = world.crm.collisions.create_customer(
        ADMIN, "Huawei Technology", pool_id=world.pool_id, phones=["+86 138-0013-8000"]
    )
    assert (len(checks), len(reads)) == (1, 0)
    assert len(world.store._audit) == entries + 1 and customer.version == 1
    assert report.warnings and not report.blocked
    with pytest.raises(RuleViolation):
        world.crm.collisions.create_customer(ADMIN, "Huawei Technology", pool_id=world.pool_id)
    assert len(checks) == 2 and len(world.store._audit) == entries + 1


def _merged_away(world: World) -> str:
    """Merge the world's first two customers; the id of the archived loser."""
    keep, drop = world.customers[0], world.customers[1]
    world.crm.collisions.merge(ADMIN, keep, drop, "same company", prefer=CustomerId(keep))
    return drop


#: Every command that would own, change or attach a new record to a customer.
ON_A_MERGED_CUSTOMER: dict[str, Any] = {
    "claim": lambda crm, cid: crm.pools.claim(rep_principal(1), cid),
    "assign": lambda crm, cid: crm.pools.assign(MANAGER, cid, RepId("rep1")),
    "collaborator": lambda crm, cid: crm.pools.set_collaborator(
        ADMIN, cid, RepId("rep2"), CollaboratorAccess.READ, "help"
    ),
    "edit": lambda crm, cid: crm.customers.edit(ADMIN, cid, address="上海"),
    "signals": lambda crm, cid: crm.classification.update_signals(ADMIN, cid, need_confirmed=True),
    "tags": lambda crm, cid: crm.classification.edit_tags(ADMIN, cid, add=["vip"]),
    "reclassify": lambda crm, cid: crm.classification.reclassify(ADMIN, cid),
    "contact": lambda crm, cid: crm.contacts.add_contact(ADMIN, cid, "王经理"),
    "deal": lambda crm, cid: crm.pipeline.create_opportunity(
        ADMIN,
        cid,
        name="ERP",
        amount=Money("1", "CNY"),
        close_date=date(2026, 6, 30),
        owner_id=RepId("rep1"),
    ),
    "quote": lambda crm, cid: crm.quotes.draft(ADMIN, cid, "CNY", [LineInput(Decimal(1))]),
    "delete": lambda crm, cid: crm.recycle_bin.delete(ADMIN, "customer", cid, "junk"),
}


@pytest.mark.parametrize("command", sorted(ON_A_MERGED_CUSTOMER))
def test_a_merged_away_customer_is_an_archive_no_command_owns_or_changes(command: str) -> None:
    """Found by the lifecycle machine: the loser of a merge stayed in its pool, so a claim
    or an assignment put the archived duplicate in a rep's book (and the company, through
    its survivor, in two). Each command is refused with ``customer.merged``, naming the
    survivor, and changes nothing."""
    world = make_world(customers=3)
    drop = _merged_away(world)
    before = (dict(world.store._rows), len(world.store._audit))
    with pytest.raises(RuleViolation) as caught:
        ON_A_MERGED_CUSTOMER[command](world.crm, drop)
    assert caught.value.code == "customer.merged"
    assert caught.value.details == {"id": drop, "merged_into": world.customers[0]}
    assert (dict(world.store._rows), len(world.store._audit)) == before


def test_a_merged_away_customer_can_still_be_erased() -> None:
    """Erasure reaches the archive too (a person's data must go wherever it is)."""
    world = make_world(customers=3)
    drop = _merged_away(world)
    world.crm.customers.erase_person(ADMIN, customer_id=world.customers[0], reason="PIPL")
    assert world.crm.pools.get_customer(ADMIN, drop).phones == ()


def test_a_merge_moves_the_companys_cash_documents_to_the_survivor() -> None:
    """The duplicate's contract, invoice, receipt and credit become the survivor's: its rep
    works them, its aging shows what the company owes, a payment registered on it pays the
    company's oldest invoice, credit applied on a moved invoice can be released from the one
    ledger; the archive takes no new receipt. Contract facts follow the contracts."""
    world, kept, dropped = cash_world(customers=2)
    crm, rep1 = world.crm, rep_principal(1)
    theirs = signed_contract(world, dropped, rep=2)
    today = world.clock.now().date()

    def cny(amount: str) -> Money:
        return Money(amount, "CNY")

    paid = crm.billing.draft_invoice(ADMIN, theirs.id, InvoiceKind.ORDINARY, cny("500"))
    crm.billing.issue_invoice(ADMIN, paid.id)
    owed = crm.billing.draft_invoice(ADMIN, theirs.id, InvoiceKind.ORDINARY, cny("1000"))
    crm.billing.issue_invoice(ADMIN, owed.id)
    early = crm.billing.register_receipt(ADMIN, dropped, cny("800"), today, "BR-1", "客户1")
    crm.billing.confirm_receipt(ADMIN, early.id)
    crm.billing.allocate_receipt(ADMIN, early.id, {paid.id: cny("500")})  # 300 left as credit
    crm.billing.apply_credit(ADMIN, owed.id, amount=cny("100"))
    assert crm.billing.credit(ADMIN, dropped, "CNY").balance == cny("200")

    crm.collisions.merge(ADMIN, kept, dropped, "same company", prefer=CustomerId(kept))

    assert crm.contracts.get(rep1, theirs.id).customer_id == kept  # the survivor's rep works it
    assert {i.customer_id for i in (crm.billing.get_invoice(rep1, paid.id),
                                    crm.billing.get_invoice(rep1, owed.id))} == {kept}  # fmt: skip
    assert crm.billing.get_receipt(ADMIN, early.id).customer_id == kept
    assert crm.billing.credit(ADMIN, kept, "CNY").balance == cny("200")
    assert crm.billing.credit(ADMIN, dropped, "CNY").balance == cny("0")
    later = today.replace(year=today.year + 1)
    assert crm.receivables.aging(ADMIN, later, "CNY", customer_id=kept).total == cny("900")
    crm.billing.release_credit(ADMIN, owed.id)  # the application moved with the ledger
    assert crm.billing.credit(ADMIN, kept, "CNY").balance == cny("300")

    payment = crm.billing.register_receipt(ADMIN, kept, cny("1000"), today, "BR-2", "客户0")
    crm.billing.confirm_receipt(ADMIN, payment.id)
    crm.billing.allocate_receipt(ADMIN, payment.id)  # oldest due first: the moved invoice
    assert crm.billing.get_invoice(ADMIN, owed.id).paid == cny("1000")
    with pytest.raises(LeadToCashError) as refused:
        crm.billing.register_receipt(ADMIN, dropped, cny("1"), today, "BR-3", "客户1")
    assert refused.value.code == "customer.merged"

    def active() -> bool:
        with crm.unit_of_work() as uow:
            return uow.customers.get(kept).has_active_contract

    own = signed_contract(world, kept)
    crm.contracts.terminate(ADMIN, theirs.id, "cancelled")
    assert active(), "the survivor's own contract still runs"
    crm.contracts.terminate(ADMIN, own.id, "cancelled")
    assert not active()
    with crm.unit_of_work() as uow:
        assert uow.customers.get(kept).last_contract_end_at == world.clock.now()


def test_merged_duplicates_at_any_depth_are_the_companys() -> None:
    """A duplicate merged into a customer that was merged on in turn is still the company's:
    an erasure of the last survivor reaches it, and its contract protects the survivor."""
    world, first, second = cash_world(customers=3)
    third = world.customers[2]
    crm = world.crm
    signed_contract(world, first)
    crm.collisions.merge(ADMIN, second, first, "same company", prefer=CustomerId(second))
    crm.collisions.merge(ADMIN, third, second, "same company", prefer=CustomerId(third))
    with crm.unit_of_work() as uow:
        assert uow.customers.get(third).has_active_contract
    crm.customers.erase_person(ADMIN, customer_id=third, reason="PIPL")
    assert crm.pools.get_customer(ADMIN, first).phones == ()


def test_a_merge_moves_every_record_of_a_long_history() -> None:
    """More records than one page of an index (the merge read 1,000 at most before) all move:
    1,001 follow-ups and 1,001 contacts of the duplicate become the survivor's."""
    world = make_world(customers=2)
    kept, dropped = world.customers
    rep = RepId("rep1")
    with world.crm.unit_of_work() as uow:
        for n in range(1_001):
            at = world.clock.now()
            uow.follow_ups.add(FollowUp(FollowUpId(f"f{n}"), rep, at, customer_id=dropped))
            uow.contacts.add(Contact(ContactId(f"k{n}"), CustomerId(dropped), f"联系人{n}"))
        uow.commit()
    world.crm.collisions.merge(ADMIN, kept, dropped, "same company", prefer=CustomerId(kept))
    with world.crm.unit_of_work() as uow:
        follow_ups = uow.follow_ups.scan(limit=5_000)
        contacts = uow.contacts.scan(limit=5_000)
    assert {f.customer_id for f in follow_ups} == {kept} and len(follow_ups) == 1_001
    assert {c.customer_id for c in contacts} == {kept} and len(contacts) == 1_001


def test_complete_merges_moves_what_an_earlier_merge_left_with_the_archive() -> None:
    """A store merged by an earlier version (documents left on the archive): the survivor's
    rep cannot open the contract until ``complete_merges`` moves it, with its invoice and
    receipt, to the end of the merge chain; the moves are audited; a second run moves
    nothing; only managers may run it."""
    world, first, second = cash_world(customers=3)
    third = world.customers[2]
    crm = world.crm
    theirs = signed_contract(world, second, rep=2)
    invoice = crm.billing.draft_invoice(ADMIN, theirs.id, InvoiceKind.ORDINARY, Money("10", "CNY"))
    today = world.clock.now().date()
    receipt = crm.billing.register_receipt(ADMIN, second, Money("10", "CNY"), today, "B", "付款人")
    crm.collisions.merge(ADMIN, first, second, "same company", prefer=CustomerId(first))
    crm.collisions.merge(ADMIN, third, first, "same company", prefer=CustomerId(third))
    crm.pools.claim(rep_principal(3), third)
    with crm.unit_of_work() as uow:  # as an earlier version's merge left them
        left = CustomerId(second)
        contracts, invoices = uow.repository(Contract), uow.repository(Invoice)
        contracts.save(attrs.evolve(contracts.get(theirs.id), customer_id=left))
        invoices.save(attrs.evolve(invoices.get(invoice.id), customer_id=left))
        receipts = uow.repository(Receipt)
        receipts.save(attrs.evolve(receipts.get(receipt.id), customer_id=left))
        uow.commit()
    with pytest.raises(LeadToCashError):
        crm.contracts.get(rep_principal(3), theirs.id)
    with pytest.raises(LeadToCashError) as refused:
        crm.collisions.complete_merges(rep_principal(3))
    assert refused.value.code == "auth.permission_denied"

    seq = len(world.store.audit_log(limit=100_000))
    report = crm.collisions.complete_merges(ADMIN)
    assert report.moved == {second: 3} and report.skipped == ()
    assert crm.contracts.get(rep_principal(3), theirs.id).customer_id == third
    assert crm.billing.get_invoice(ADMIN, invoice.id).customer_id == third
    assert crm.billing.get_receipt(ADMIN, receipt.id).customer_id == third
    reasons = {e.reason for e in world.store.audit_log(after_seq=seq, limit=100)}
    assert reasons == {f"merge into {third} completed"}
    assert crm.collisions.complete_merges(ADMIN).moved == {}
