"""A merge of duplicates (防撞单) with the company's cash history, on every reference store.

The duplicate has a signed contract, two issued invoices, a receipt that paid one and left
credit, credit applied to the other, a ticket and a contact; the survivor has its own
contract. The merge moves all of it to the survivor in one commit; afterwards the survivor's
rep reads the moved contract, the survivor's aging is the company's debt, the credit ledgers
are joined, a payment on the survivor pays the moved invoice, ``complete_merges`` finds
nothing left, and the audit verifies — the same figures on the in-memory store, SQLite and
PostgreSQL.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, cast

from contract_fixtures import cash_world, signed_contract
from leadtocash.app.auditing import verify_store_audit
from leadtocash.contracts import InvoiceKind
from leadtocash.model import Contact, ContactId, CustomerId
from leadtocash.money import Money
from leadtocash.ports import Store
from leadtocash.testing import InMemoryStore
from pool_fixtures import ADMIN, rep_principal
from store_flows import same_on_every_store

REP1 = rep_principal(1)


def cny(amount: str) -> Money:
    return Money(amount, "CNY")


def _flow(store: Store) -> dict[str, Any]:
    # the fixtures type the in-memory store (other tests read its rows); any Store runs them
    world, kept, dropped = cash_world(customers=2, store=cast(InMemoryStore, store))
    crm = world.crm
    today = world.clock.now().date()
    own, theirs = signed_contract(world, kept), signed_contract(world, dropped, rep=2)
    paid = crm.billing.draft_invoice(ADMIN, theirs.id, InvoiceKind.ORDINARY, cny("500"))
    owed = crm.billing.draft_invoice(ADMIN, theirs.id, InvoiceKind.ORDINARY, cny("1000"))
    for invoice in (paid, owed):
        crm.billing.issue_invoice(ADMIN, invoice.id, due_date=today + timedelta(days=10))
    early = crm.billing.register_receipt(ADMIN, dropped, cny("800"), today, "BR-1", "乙公司")
    crm.billing.confirm_receipt(ADMIN, early.id)
    crm.billing.allocate_receipt(ADMIN, early.id, {paid.id: cny("500")})
    crm.billing.apply_credit(ADMIN, owed.id, amount=cny("100"))
    with crm.unit_of_work() as uow:
        uow.contacts.add(Contact(ContactId("k-dropped"), CustomerId(dropped), "李"))
        uow.commit()
    ticket = crm.tickets.open(
        ADMIN, dropped, "k-dropped", subject="无法开票", category="billing", channel="phone",
        priority="P3",
    )  # fmt: skip

    plan = crm.collisions.merge(ADMIN, kept, dropped, "same company", prefer=CustomerId(kept))
    later = date(2026, 12, 31)
    figures: dict[str, Any] = {
        "moved": sorted({move.kind for move in plan.moves}),
        "contract_owner_reads": crm.contracts.get(REP1, theirs.id).customer_id,
        "documents": sorted(
            {
                crm.billing.get_invoice(ADMIN, paid.id).customer_id,
                crm.billing.get_invoice(ADMIN, owed.id).customer_id,
                crm.billing.get_receipt(ADMIN, early.id).customer_id,
                crm.tickets.get(ADMIN, ticket.id).customer_id,
            }
        ),
        "aging": crm.receivables.aging(ADMIN, later, "CNY", customer_id=kept).total,
        "credit": (
            crm.billing.credit(ADMIN, kept, "CNY").balance,
            crm.billing.credit(ADMIN, dropped, "CNY").balance,
        ),
        "contracts_360": sorted(c.id for c in crm.customers.get(ADMIN, kept).sections["contracts"]),
    }
    payment = crm.billing.register_receipt(ADMIN, kept, cny("900"), today, "BR-2", "甲公司")
    crm.billing.confirm_receipt(ADMIN, payment.id)
    crm.billing.allocate_receipt(ADMIN, payment.id)
    figures["owed_paid"] = crm.billing.get_invoice(ADMIN, owed.id).paid
    figures["left_over"] = crm.collisions.complete_merges(ADMIN).moved
    figures["own_and_theirs"] = sorted([own.id, theirs.id])
    figures["ids"] = (kept, dropped)
    figures["audit_ok"] = verify_store_audit(store).ok
    return figures


def _check(figures: dict[str, Any]) -> None:
    kept, _dropped = figures["ids"]
    assert figures["moved"] == [
        "contact", "contract", "customer_credit", "due_reminders", "invoice", "quote",
        "receipt", "ticket",
    ]  # fmt: skip
    assert figures["contract_owner_reads"] == kept
    assert figures["documents"] == [kept]
    assert figures["aging"] == cny("900")  # 1,000 owed less 100 of credit
    assert figures["credit"] == (cny("200"), cny("0"))
    assert figures["contracts_360"] == figures["own_and_theirs"]
    assert figures["owed_paid"] == cny("1000")  # 100 of credit, then the 900 paid in full
    assert figures["left_over"] == {}
    assert figures["audit_ok"]


(
    reference,
    test_the_flow_on_sqlite_matches_the_reference,
    pg_store,
    test_the_flow_on_postgres_matches_the_reference,
) = same_on_every_store(_flow, _check, "merge")
