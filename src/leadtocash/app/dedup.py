"""Fetching what the duplicate checker needs from storage, inside a unit of work."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import attrs

from leadtocash.access import Principal
from leadtocash.app.unit_of_work import UnitOfWork
from leadtocash.collision import (
    CollisionHit,
    CollisionPolicy,
    CollisionReport,
    DedupKey,
    ExistingRecord,
    KeyKind,
    Outcome,
    RecordKind,
    RecordRef,
    check_duplicates,
    choose_survivor,
    customer_keys,
    pick_candidates,
    query_blocks,
)
from leadtocash.errors import ValidationError
from leadtocash.model import LeadStatus

__all__ = [
    "OPEN_LEAD_STATUSES",
    "DuplicateGroup",
    "DuplicatesReport",
    "collision_report",
    "existing_records",
    "find_duplicates",
]

_CANDIDATES = 200
#: At most this many record ids per blocking key: a key held by more names is not specific
#: enough to find a near-duplicate by (the ids past it are not read).
_PER_BLOCK = 16
#: At most this many records fetched for the fuzzy comparison (``pick_candidates`` chooses
#: them, specific keys first), so a check's cost does not grow with the book.
_FUZZY_BUDGET = 48

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
    lookup per key, never a scan of the book), at most ``_FUZZY_BUDGET`` of them chosen by
    ``pick_candidates``. A record found only by its blocking keys is compared by name (its
    contact data shares no key with the candidate, or the exact lookup would have found it).
    """
    keys = frozenset(keys)
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
                        for ident in uow.customers.find_ids_by_key(block, limit=_PER_BLOCK)
                        if ident not in customer_ids
                    ]
                    holders.extend(
                        (RecordKind.LEAD, ident)
                        for ident in uow.leads.find_ids_by_key(block, limit=_PER_BLOCK)
                        if ident not in lead_ids
                    )
                    if holders:
                        found[block] = holders
    picked = pick_candidates(found, _FUZZY_BUDGET)
    by_name = sorted(ident for kind, ident in picked if kind is RecordKind.CUSTOMER)
    leads_by_name = sorted(ident for kind, ident in picked if kind is RecordKind.LEAD)
    records: list[ExistingRecord] = [
        ExistingRecord.from_customer(customer)
        for customer in uow.customers.get_many(list(customer_ids))
        if customer.merged_into is None
    ]
    # Records found only by blocking keys are compared by name: their stored fields are read
    # without building aggregates (dozens per check; building and caching them was most of a
    # fuzzy check's cost and left the garbage collector work).
    records.extend(
        ExistingRecord.by_name(RecordKind.CUSTOMER, ident, name, owner)
        for ident, name, owner, merged_into, deleted in uow.customers.fields_of(
            by_name, ("id", "name", "owner_id", "merged_into", "deleted")
        )
        if merged_into is None and deleted is None
    )
    records.extend(
        ExistingRecord.from_lead(lead)
        for lead in uow.leads.get_many(list(lead_ids))
        if lead.status in OPEN_LEAD_STATUSES
    )
    records.extend(
        ExistingRecord.by_name(RecordKind.LEAD, ident, name, owner)
        for ident, name, owner, status, deleted in uow.leads.fields_of(
            leads_by_name, ("id", "company_name", "owner_id", "status", "deleted")
        )
        if status in _OPEN_STATUS_VALUES and deleted is None
    )
    return records


_OPEN_STATUS_VALUES = frozenset(status.value for status in OPEN_LEAD_STATUSES)


def collision_report(
    uow: UnitOfWork,
    policy: CollisionPolicy,
    principal: Principal,
    keys: frozenset[DedupKey],
    *,
    exclude: Sequence[RecordRef] = (),
) -> CollisionReport:
    """The collision report for ``keys``; names and owners masked unless ``principal`` may see."""

    may_see = _may_see(principal)
    fuzzy = policy.fuzzy_threshold is not None or policy.variants
    existing = existing_records(uow, keys, fuzzy=fuzzy)
    return check_duplicates(keys, existing, policy, viewer_may_see=may_see, exclude=exclude)


@attrs.frozen
class DuplicateGroup:
    """Records that collide with each other (查重), with what to do about them.

    ``suggestion`` is ``merge`` when two or more customers share a key the policy blocks on
    (``survivor`` is the one ``choose_survivor`` keeps: the owned, then the older one),
    ``link`` when leads duplicate a customer or another lead that way, and ``review`` when
    only warnings (shared phone or e-mail, similar names) tie the group together.
    """

    records: tuple[RecordRef, ...]
    hits: tuple[tuple[RecordRef, CollisionHit], ...]
    suggestion: str
    survivor: RecordRef | None = None

    @property
    def blocked(self) -> bool:
        """True when a key the policy blocks on ties the group together."""
        return self.suggestion != "review"


@attrs.frozen
class DuplicatesReport:
    """One page of a duplicate search over the book: the groups found and where to go on."""

    groups: tuple[DuplicateGroup, ...]
    scanned: int
    next_cursor: tuple[str, str] | None = None


def _may_see(principal: Principal) -> Callable[[ExistingRecord], bool]:
    def may_see(record: ExistingRecord) -> bool:
        return principal.is_manager or (
            principal.rep_id is not None and record.owner_id == principal.rep_id
        )

    return may_see


def find_duplicates(
    uow: UnitOfWork,
    policy: CollisionPolicy,
    principal: Principal,
    *,
    after: tuple[str, str] | None = None,
    limit: int = 500,
) -> DuplicatesReport:
    """Check up to ``limit`` customers (in ``name_prefix`` index order, from ``after``) against
    the book the way a new record is checked, and group what collides (union of the hits)."""
    entries = uow.customers.index_entries("name_prefix", at_least="", after=after, limit=limit)
    customers = uow.customers.get_many([ident for _, ident in entries])
    parent: dict[RecordRef, RecordRef] = {}

    def root(ref: RecordRef) -> RecordRef:
        while parent.setdefault(ref, ref) != ref:
            ref = parent[ref]
        return ref

    found: list[tuple[RecordRef, CollisionHit]] = []
    for customer in customers:
        if customer.merged_into is not None:
            continue
        try:
            keys = customer_keys(customer)
        except ValidationError:
            continue
        me = RecordRef(RecordKind.CUSTOMER, customer.id)
        report = check_duplicates(
            keys,
            existing_records(uow, keys),
            policy,
            viewer_may_see=_may_see(principal),
            exclude=[me],
        )
        for hit in report.hits:
            if hit.outcome is Outcome.ALLOW:
                continue
            other = RecordRef(hit.record.kind, hit.record.id)
            found.append((me, hit))
            parent[root(other)] = root(me)
    members: dict[RecordRef, set[RecordRef]] = {}
    for ref in list(parent):
        members.setdefault(root(ref), set()).add(ref)
    groups = [
        _group(uow, tuple(sorted(refs)), [(a, h) for a, h in found if a in refs])
        for refs in members.values()
        if len(refs) > 1
    ]
    cursor = entries[-1] if len(entries) == limit and entries else None
    return DuplicatesReport(tuple(sorted(groups, key=lambda g: g.records)), len(entries), cursor)


def _group(
    uow: UnitOfWork, refs: tuple[RecordRef, ...], hits: list[tuple[RecordRef, CollisionHit]]
) -> DuplicateGroup:
    blocking = [(a, h) for a, h in hits if h.outcome is Outcome.BLOCK]
    tied: set[RecordRef] = set()
    for a, hit in blocking:
        tied |= {a, RecordRef(hit.record.kind, hit.record.id)}
    customer_ids = sorted(r.id for r in tied if r.kind is RecordKind.CUSTOMER)
    if len(customer_ids) >= 2:
        survivors = uow.customers.get_many(customer_ids)
        survivor = survivors[0]
        for other in survivors[1:]:
            survivor = choose_survivor(survivor, other)[0]
        ref = RecordRef(RecordKind.CUSTOMER, survivor.id)
        return DuplicateGroup(refs, tuple(hits), "merge", ref)
    if blocking:
        linked_to = RecordRef(RecordKind.CUSTOMER, customer_ids[0]) if customer_ids else None
        return DuplicateGroup(refs, tuple(hits), "link", linked_to)
    return DuplicateGroup(refs, tuple(hits), "review")
