"""Fetching what the duplicate checker needs from storage, inside a unit of work."""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Mapping, Sequence

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
    stored_keys,
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
    Each kind's keys are looked up in one store call (``find_by_keys``), and every record is
    read as the few stored fields the check compares (``fields_of``), never built.
    """
    keys = frozenset(keys)
    texts = [key.text for key in sorted(keys)]
    customer_ids = _holders(uow.customers.find_ids_by_keys(texts, limit=limit), texts)
    lead_ids = _holders(uow.leads.find_ids_by_keys(texts, limit=limit), texts)
    found = _fuzzy_candidates(uow, keys, customer_ids, lead_ids) if fuzzy else {}
    picked = pick_candidates(found, _FUZZY_BUDGET)
    by_name = sorted(ident for kind, ident in picked if kind is RecordKind.CUSTOMER)
    leads_by_name = sorted(ident for kind, ident in picked if kind is RecordKind.LEAD)
    records = _customers(uow, list(customer_ids))
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
    records.extend(_leads(uow, list(lead_ids)))
    records.extend(
        ExistingRecord.by_name(RecordKind.LEAD, ident, name, owner)
        for ident, name, owner, status, deleted in uow.leads.fields_of(
            leads_by_name, ("id", "company_name", "owner_id", "status", "deleted")
        )
        if status in _OPEN_STATUS_VALUES and deleted is None
    )
    return records


def _holders(held: Mapping[str, Sequence[str]], texts: Sequence[str]) -> dict[str, None]:
    """The ids ``held`` under ``texts``, key by key in the order given, each once."""
    ids: dict[str, None] = {}
    for text in texts:
        ids.update(dict.fromkeys(held.get(text, ())))
    return ids


def _fuzzy_candidates(
    uow: UnitOfWork,
    keys: frozenset[DedupKey],
    customer_ids: Container[str],
    lead_ids: Container[str],
) -> dict[str, list[tuple[RecordKind, str]]]:
    """Per blocking key of the candidate's name, the records holding it that no exact key
    found (at most ``_PER_BLOCK`` per kind and key); all keys looked up in one call a kind."""
    names = [key.value for key in keys if key.kind is KeyKind.NAME and key.value]
    blocks = [block for name in names for block in sorted(query_blocks(name))]
    customers = uow.customers.find_ids_by_keys(blocks, limit=_PER_BLOCK)
    leads = uow.leads.find_ids_by_keys(blocks, limit=_PER_BLOCK)
    found: dict[str, list[tuple[RecordKind, str]]] = {}
    for block in blocks:
        holders = [
            (RecordKind.CUSTOMER, ident)
            for ident in customers.get(block, ())
            if ident not in customer_ids
        ]
        holders.extend(
            (RecordKind.LEAD, ident) for ident in leads.get(block, ()) if ident not in lead_ids
        )
        if holders:
            found[block] = holders
    return found


_CUSTOMER_FIELDS = ("id", "name", "owner_id", "phones", "emails", "uscc", "merged_into", "deleted")
_LEAD_FIELDS = ("id", "company_name", "owner_id", "phone", "email", "uscc", "status", "deleted")


def _customers(uow: UnitOfWork, idents: list[str]) -> list[ExistingRecord]:
    """The checker's view of the live customers among ``idents``, read from stored fields."""
    return [
        ExistingRecord(
            RecordKind.CUSTOMER,
            ident,
            name,
            owner,
            stored_keys(name, phones or (), emails or (), uscc),
        )
        for ident, name, owner, phones, emails, uscc, merged_into, deleted in (
            uow.customers.fields_of(idents, _CUSTOMER_FIELDS)
        )
        if merged_into is None and deleted is None
    ]


def _leads(uow: UnitOfWork, idents: list[str]) -> list[ExistingRecord]:
    """The checker's view of the open leads among ``idents``, read from stored fields."""
    return [
        ExistingRecord(
            RecordKind.LEAD, ident, name, owner, stored_keys(name, (phone,), (email,), uscc)
        )
        for ident, name, owner, phone, email, uscc, status, deleted in (
            uow.leads.fields_of(idents, _LEAD_FIELDS)
        )
        if status in _OPEN_STATUS_VALUES and deleted is None
    ]


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
