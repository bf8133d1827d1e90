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
    query_blocks,
)
from leadtocash.model import LeadStatus

__all__ = ["OPEN_LEAD_STATUSES", "collision_report", "existing_records"]

_CANDIDATES = 200
#: At most this many records per blocking key: a key held by more names is not specific
#: enough to find a near-duplicate by (the ids past it are not read).
_PER_BLOCK = 32

#: Lead statuses a new record is checked against (converted and disqualified leads are not).
OPEN_LEAD_STATUSES = frozenset({LeadStatus.NEW, LeadStatus.WORKING, LeadStatus.QUALIFIED})


def existing_records(
    uow: UnitOfWork,
    keys: Iterable[DedupKey],
    *,
    limit: int = _CANDIDATES,
    fuzzy: bool = True,
) -> list[ExistingRecord]:
    """Customers and open leads sharing a key with the candidate, plus fuzzy-name candidates.

    Exact keys come from storage's lookup keys; fuzzy candidates (unless ``fuzzy`` is off) are
    the records holding one of the candidate name's blocking keys (``query_blocks``: a bounded
    lookup per key, never a scan of the book).
    """
    keys = frozenset(keys)
    texts = [key.text for key in sorted(keys)]
    blocks: list[str] = []
    if fuzzy:
        for key in keys:
            if key.kind is KeyKind.NAME and key.value:
                blocks = sorted(query_blocks(key.value))
    customer_ids: dict[str, None] = {}
    lead_ids: dict[str, None] = {}
    for text, cap in [*((t, limit) for t in texts), *((b, _PER_BLOCK) for b in blocks)]:
        customer_ids.update(dict.fromkeys(uow.customers.find_ids_by_key(text, limit=cap)))
        lead_ids.update(dict.fromkeys(uow.leads.find_ids_by_key(text, limit=cap)))
    found: list[ExistingRecord] = [
        ExistingRecord.from_customer(customer)
        for customer in uow.customers.get_many(list(customer_ids))
        if customer.merged_into is None
    ]
    found.extend(
        ExistingRecord.from_lead(lead)
        for lead in uow.leads.get_many(list(lead_ids))
        if lead.status in OPEN_LEAD_STATUSES
    )
    return found


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

    fuzzy = policy.fuzzy_threshold is not None or policy.variants
    existing = existing_records(uow, keys, fuzzy=fuzzy)
    return check_duplicates(keys, existing, policy, viewer_may_see=may_see, exclude=exclude)
