"""What a merge of duplicates (防撞单) re-points from the loser to the survivor, and how.

A merge makes the survivor the company's one customer: everything recorded against the
loser moves with it — contacts, follow-ups, deals, tickets, renewals, and the cash documents
(quotes, contracts, invoices and their reminder schedules, receipts, reversals, refunds).
So the survivor's rep works the company's contracts and invoices, its receivables and aging
are the company's, and a payment registered on the survivor pays the company's oldest
invoices. The loser's customer credit joins the survivor's ledger in the same currency (its
entries, so what credit paid on a moved invoice can still be released); the loser's ledger
is left empty. A deal or contract in the recycle bin is out of the customer's indexes and
stays where it is; restoring it puts it on the survivor. Every move is its own audited change
in the merge's unit of work.
"""

from __future__ import annotations

from typing import Any

import attrs

from leadtocash.aftersales import Renewal, Ticket
from leadtocash.app.aggregates import group_bounds
from leadtocash.app.context import Change
from leadtocash.app.unit_of_work import Repository, UnitOfWork
from leadtocash.contracts import (
    Contract,
    CreditRefund,
    CustomerCredit,
    Invoice,
    Quote,
    Receipt,
    ReceiptReversal,
    credit_id,
    open_credit,
)
from leadtocash.contracts.reminders import DueReminders
from leadtocash.model import Contact, CustomerId, FollowUp
from leadtocash.pipeline import Opportunity

__all__ = ["Move", "attached_records", "move_record"]

#: The records a customer has: (kind, type, the index naming the customer, grouped index?).
ATTACHED: tuple[tuple[str, type[Any], str, bool], ...] = (
    ("contact", Contact, "customer", False),
    ("follow_up", FollowUp, "target", True),
    ("opportunity", Opportunity, "customer", False),
    ("ticket", Ticket, "customer", True),
    ("renewal", Renewal, "customer", True),
    ("quote", Quote, "customer", True),
    ("contract", Contract, "customer", True),
    ("invoice", Invoice, "customer", True),
    ("receipt", Receipt, "customer", True),
    ("receipt_reversal", ReceiptReversal, "customer", True),
    ("credit_refund", CreditRefund, "customer", True),
    ("customer_credit", CustomerCredit, "customer", False),
)
_TYPES = {kind: cls for kind, cls, _, _ in ATTACHED} | {"due_reminders": DueReminders}
#: ``(loser id, survivor id)`` of a move.
Move = tuple[CustomerId, CustomerId]


def _ids(repo: Repository[Any], index: str, customer_id: str, grouped: bool) -> list[str]:
    """Every id filed under the customer in ``index``."""
    if grouped:
        at_least, below = group_bounds(customer_id)
        return repo.all_ids(index, at_least=at_least, below=below)
    return repo.all_ids(index, equals=customer_id)


def attached_records(uow: UnitOfWork, customer_id: str) -> list[tuple[str, str]]:
    """``(kind, id)`` of every record a merge moves off customer ``customer_id``."""
    found: list[tuple[str, str]] = []
    for kind, cls, index, grouped in ATTACHED:
        idents = _ids(uow.repository(cls), index, customer_id, grouped)
        found += [(kind, ident) for ident in idents]
        if kind == "invoice":  # an invoice's reminder schedule has the invoice's id
            schedules = uow.repository(DueReminders).get_many(idents)
            found += [("due_reminders", s.id) for s in schedules]
    return found


def move_record(uow: UnitOfWork, kind: str, ident: str, move: Move, reason: str) -> list[Change]:
    """Re-point one of the loser's records to the survivor; the audited changes."""
    loser_id, survivor_id = move
    if kind == "customer_credit":
        return _join_credit(uow, ident, survivor_id, reason)
    repo = uow.repository(_TYPES[kind])
    before = repo.find_any(ident)
    if before is None or before.customer_id != loser_id:
        return []  # gone or moved since it was planned: nothing to do
    after = attrs.evolve(before, customer_id=survivor_id)
    repo.save(after)
    return [Change(kind, ident, before, after, reason)]


def _join_credit(uow: UnitOfWork, ident: str, survivor_id: CustomerId, reason: str) -> list[Change]:
    """The loser's credit ledger joins the survivor's in its currency (entries in time order)."""
    ledgers = uow.repository(CustomerCredit)
    loser = ledgers.get(ident)
    if not loser.entries:
        return []
    target = credit_id(survivor_id, loser.currency)
    found = ledgers.find(target)
    survivor = found or open_credit(survivor_id, loser.currency)
    entries = sorted((*survivor.entries, *loser.entries), key=lambda entry: entry.at)
    joined = attrs.evolve(survivor, entries=tuple(entries))
    emptied = attrs.evolve(loser, entries=())
    (ledgers.add if found is None else ledgers.save)(joined)
    ledgers.save(emptied)
    return [
        Change("customer_credit", loser.id, loser, emptied, reason),
        Change("customer_credit", target, found, joined, reason),
    ]
