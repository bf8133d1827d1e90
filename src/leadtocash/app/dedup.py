"""Fetching what the duplicate checker needs from storage, inside a unit of work."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from leadtocash.access import Principal
from leadtocash.app.unit_of_work import UnitOfWork
from leadtocash.collision import (
    CollisionPolicy,
    CollisionReport,
    DedupKey,
    ExistingRecord,
    KeyKind,
    RecordRef,
    check_duplicates,
)

__all__ = ["collision_report", "existing_records"]

_CANDIDATES = 200


def existing_records(
    uow: UnitOfWork, keys: Iterable[DedupKey], *, limit: int = _CANDIDATES
) -> list[ExistingRecord]:
    """Customers and leads sharing a key with the candidate, plus fuzzy-name candidates.

    Exact keys come from storage's lookup keys; fuzzy candidates are the customers whose
    normalized name starts with the same two characters (the ``name_prefix`` index).
    """
    found: dict[tuple[str, str], ExistingRecord] = {}
    for key in keys:
        for customer in uow.customers.find_by_key(key.text, limit=limit):
            found[("customer", customer.id)] = ExistingRecord.from_customer(customer)
        for lead in uow.leads.find_by_key(key.text, limit=limit):
            found[("lead", lead.id)] = ExistingRecord.from_lead(lead)
        if key.kind is KeyKind.NAME and key.value:
            similar = uow.customers.query("name_prefix", equals=key.value[:2], limit=limit)
            for customer in similar.items:
                record = ExistingRecord.from_customer(customer)
                found.setdefault(("customer", customer.id), record)
    return list(found.values())


def collision_report(
    uow: UnitOfWork,
    policy: CollisionPolicy,
    principal: Principal,
    keys: frozenset[DedupKey],
    *,
    exclude: Sequence[RecordRef] = (),
) -> CollisionReport:
    """The collision report for ``keys``; names and owners masked unless ``principal`` may see."""

    def may_see(record: ExistingRecord) -> bool:
        return principal.is_manager or (
            principal.rep_id is not None and record.owner_id == principal.rep_id
        )

    return check_duplicates(
        keys, existing_records(uow, keys), policy, viewer_may_see=may_see, exclude=exclude
    )
