"""The recycle bin (回收站): delete, restore, list and purge leads, customers, deals, contracts.

A deletion is a soft delete: the record gets a :class:`~leadtocash.model.Deletion` and keeps
its data, and its storage spec then gives it only the bin's indexes and no dedup key, so
every list, search and collision check forgets it, and ``get`` answers NotFound everywhere
but here. A restore puts it back when nothing took its keys meanwhile; the purge sweep
scrubs what is due (an indexed range query: O(due)) and leaves a tombstone. Customers go
through the customer write path (books, schedule); the rules are in :mod:`leadtocash.recycle`;
the choices are explained in docs/recycle_bin.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs

from leadtocash.access import Action, Principal
from leadtocash.app.aggregates import sortable_time
from leadtocash.app.context import AppContext, Change
from leadtocash.app.customers import CustomerWrites
from leadtocash.app.dedup import collision_report
from leadtocash.app.documents import all_pages, batch_size, document_target
from leadtocash.app.erasure import scrub_follow_ups, scrub_tickets, wiped
from leadtocash.app.lead_writes import LeadPoolWrites
from leadtocash.app.listing import DEFAULT_PAGE, page_limit
from leadtocash.app.unit_of_work import Page, Repository, UnitOfWork
from leadtocash.collision import (
    CollisionReport,
    Outcome,
    RecordKind,
    RecordRef,
    candidate_keys,
    key_texts,
    raise_if_blocked,
)
from leadtocash.contracts import Contract, Invoice
from leadtocash.errors import (
    DuplicateKey,
    NotFound,
    PermissionDenied,
    RuleViolation,
    ValidationError,
)
from leadtocash.fields import PERSONAL_FIELDS
from leadtocash.model import Customer, Deletion, Lead
from leadtocash.pipeline import operations as ops
from leadtocash.pipeline.flows import DEFAULT_FLOW, StageFlow
from leadtocash.pipeline.opportunity import Opportunity
from leadtocash.pool.book import OwnershipAction
from leadtocash.pool.leads import OPEN_LEAD_STATUSES, LeadBook, lead_returned
from leadtocash.pool.ownership import (
    OwnershipFacts,
    check_active_rep,
    check_capacity,
    require_reason,
    returned_to_pool,
)
from leadtocash.pool.rules import Pool
from leadtocash.ports.storage import ERASED, Erasure
from leadtocash.recycle import (
    DELETABLE_CONTRACT_STATUSES,
    BinKind,
    RecordDeleted,
    RecordPurged,
    RecordRestored,
    check_contract_deletable,
    check_customer_dependents,
    check_lead_deletable,
    check_not_deleted,
    check_restorable,
    new_deletion,
    purged,
)
from leadtocash.scopes import ScopeTarget, customer_target, lead_target

__all__ = ["BinEntry", "PurgeReport", "RecycleBinService", "Restored"]

_TYPES: Mapping[BinKind, type[Any]] = {
    BinKind.LEAD: Lead,
    BinKind.CUSTOMER: Customer,
    BinKind.OPPORTUNITY: Opportunity,
    BinKind.CONTRACT: Contract,
}
_PAGE = 500
_SWEEP_REASON = "recycle bin: retention period over"


@attrs.frozen
class BinEntry:
    """One record in the recycle bin: its kind and id, a title, its owner and the deletion."""

    kind: BinKind
    id: str
    title: str
    owner_id: str | None
    deletion: Deletion


@attrs.frozen
class Restored:
    """What a restore did: the record, whom it belongs to now, and what came back with it.

    ``to_pool`` is True when a customer's owner had no room (or left) and the customer went
    back to its pool instead; ``with_records`` are the ``(kind, id)`` of the records deleted
    along with a customer and restored with it.
    """

    kind: BinKind
    id: str
    owner_id: str | None
    to_pool: bool = False
    with_records: tuple[tuple[str, str], ...] = ()


@attrs.frozen
class PurgeReport:
    """What a purge sweep did: the records turned into tombstones, and how many audit entries
    and outbox messages lost their personal values."""

    purged: tuple[tuple[str, str], ...]
    audit_entries: int
    outbox_messages: int


def _kind(kind: BinKind | str) -> BinKind:
    try:
        return BinKind(kind)
    except ValueError:
        raise ValidationError.single(
            "kind",
            "recycle.unknown_kind",
            f"{kind!r} is not lead, customer, opportunity or contract",
        ) from None


def _title(record: Any) -> str:
    for name in ("company_name", "title", "name"):
        value = getattr(record, name, None)
        if isinstance(value, str):
            return value
    return str(record.id)


def _owner(record: Any) -> str | None:
    owner = getattr(record, "owner_id", None)
    return None if owner is None else str(owner)


def _open_stage(opportunities: Sequence[Opportunity]) -> int | None:
    flows = {DEFAULT_FLOW.name: DEFAULT_FLOW}

    def flow_of(name: str) -> StageFlow:
        return flows.get(name, DEFAULT_FLOW)

    return ops.open_stage_rank(opportunities, flow_of)


@attrs.frozen
class RecycleBinService:
    """Soft delete, restore, the bin's lists and the purge sweep (see the module docstring)."""

    ctx: AppContext
    writes: CustomerWrites = attrs.field(
        init=False, default=attrs.Factory(lambda self: CustomerWrites(self.ctx), takes_self=True)
    )

    # -- who may --------------------------------------------------------------------------------
    def _customer_of(self, uow: UnitOfWork, record: Any) -> Customer | None:
        """The record's customer; for one merged away since the record was deleted, the
        company's survivor (where a restore puts the record), in the bin or not."""
        customer_id = getattr(record, "customer_id", None)
        if customer_id is None or uow.customers.find_any(customer_id) is None:
            return None
        return self.writes.company(uow, customer_id, binned=True)[-1]

    def _target(self, kind: BinKind, record: Any, customer: Customer | None) -> ScopeTarget:
        if kind is BinKind.LEAD:
            return lead_target(record)
        if kind is BinKind.CUSTOMER:
            return customer_target(record)
        owner = record.owner_id
        return ScopeTarget(
            kind.value,
            record.id,
            owner_rep=owner if owner is not None else (customer.owner_id if customer else None),
            zone=customer.zone_id if customer else None,
            collaborators=customer.collaborators if customer else (),
        )

    def _owners(self, kind: BinKind, record: Any, customer: Customer | None) -> set[str]:
        owners = {record.owner_id}
        if kind is BinKind.CONTRACT and customer is not None:
            owners.add(customer.owner_id)
        return {o for o in owners if o is not None}

    def _check(
        self, uow: UnitOfWork, principal: Principal, kind: BinKind, record: Any
    ) -> Customer | None:
        """Managers act within their data scope; reps on what they own; customers: managers.

        A deal's or contract's customer is expected unchanged at commit (a concurrent merge
        or transfer re-runs the command)."""
        customer = record if kind is BinKind.CUSTOMER else self._customer_of(uow, record)
        if customer is not None:
            uow.expect_unchanged(customer)
        if principal.is_manager:
            if kind is BinKind.CONTRACT and customer is not None:
                target = document_target(kind.value, record.id, customer)
            else:
                target = self._target(kind, record, customer)
            self.ctx.guard(uow, principal, target, write=True)
            return customer
        if kind is BinKind.CUSTOMER:
            raise PermissionDenied(
                f"{principal.user_id} may not delete or restore customers",
                code="recycle.managers_only",
                details={"kind": kind.value, "id": record.id, "user_id": principal.user_id},
            )
        if principal.rep_id is None or principal.rep_id not in self._owners(kind, record, customer):
            raise PermissionDenied(
                f"{principal.user_id} does not own {kind.value} {record.id}",
                code="recycle.not_owner",
                details={"kind": kind.value, "id": record.id, "user_id": principal.user_id},
            )
        return customer

    def _may(self, uow: UnitOfWork, principal: Principal, kind: BinKind, record: Any) -> bool:
        try:
            self._check(uow, principal, kind, record)
        except PermissionDenied:
            return False
        return True

    def _repo(self, uow: UnitOfWork, kind: BinKind) -> Repository[Any]:
        return uow.repository(_TYPES[kind])

    def _load(self, uow: UnitOfWork, kind: BinKind, record_id: str) -> Any:
        found = self._repo(uow, kind).find_any(record_id)
        if found is None:
            raise NotFound(kind.value, record_id)
        return found

    # -- delete ---------------------------------------------------------------------------------
    def delete(
        self, principal: Principal, kind: BinKind | str, record_id: str, reason: str
    ) -> BinEntry:
        """Move a lead, customer, opportunity or unsigned contract to the recycle bin.

        ``recycle.delete``: owners delete their own leads, opportunities and unsigned
        contracts, managers within their scope, customers only managers. Refused (typed,
        nothing changed): a converted lead, a signed contract, an opportunity a live
        contract names, a customer with open opportunities, signed contracts or unpaid
        invoices (``recycle.has_dependents`` names them). A customer takes its closed
        opportunities and unsigned contracts along, and leaves its owner's book.
        """
        bin_kind = _kind(kind)
        now = self.ctx.clock.now()
        deletion = new_deletion(
            self.ctx.settings.recycle, now, principal.user_id, reason
        )  # validates the reason before anything is read

        def command(uow: UnitOfWork) -> tuple[BinEntry, list[Change]]:
            record = self._load(uow, bin_kind, record_id)
            check_not_deleted(bin_kind, record_id, record.deleted)
            self._check(uow, principal, bin_kind, record)
            changes: list[Change] = []
            if bin_kind is BinKind.CUSTOMER:
                changes += self._delete_customer(uow, record, deletion)
            else:
                changes += self._delete_one(uow, bin_kind, record, deletion)
            entry = BinEntry(bin_kind, record.id, _title(record), _owner(record), deletion)
            return entry, changes

        return self.ctx.execute(principal, Action.RECYCLE_DELETE, command)

    def _delete_one(
        self, uow: UnitOfWork, kind: BinKind, record: Any, deletion: Deletion
    ) -> list[Change]:
        if kind is BinKind.LEAD:
            check_lead_deletable(record)
        elif kind is BinKind.CONTRACT:
            check_contract_deletable(record)
        elif kind is BinKind.OPPORTUNITY:
            naming = [
                c.id
                for c in self._contracts_of(uow, record.customer_id)
                if c.opportunity_id == record.id
            ]
            if naming:
                raise RuleViolation(
                    f"opportunity {record.id} is named by contract {', '.join(naming)}",
                    code="recycle.has_dependents",
                    details={
                        "kind": kind.value,
                        "id": record.id,
                        "dependents": {"contracts": naming},
                    },
                )
        after = attrs.evolve(record, deleted=deletion)
        self._repo(uow, kind).save(after)
        changes = [Change(kind.value, record.id, record, after, deletion.reason)]
        self._record_deleted(uow, kind, record.id, deletion)
        if kind is BinKind.OPPORTUNITY and record.closed_at is None:
            changes += self._refresh_open_stage(uow, record.customer_id, deletion.reason)
        return changes

    def _record_deleted(
        self, uow: UnitOfWork, kind: BinKind, ident: str, deletion: Deletion
    ) -> None:
        uow.record(
            RecordDeleted(
                deletion.at, kind.value, ident, deletion.by, deletion.reason, deletion.purge_due_at
            )
        )

    def _contracts_of(self, uow: UnitOfWork, customer_id: str) -> list[Contract]:
        return uow.repository(Contract).whole_group("customer", customer_id)

    def _opportunities_of(self, uow: UnitOfWork, customer_id: str) -> list[Opportunity]:
        return all_pages(uow.repository(Opportunity), "customer", equals=customer_id)

    def _refresh_open_stage(
        self,
        uow: UnitOfWork,
        customer_id: str,
        reason: str,
        *,
        restored: Opportunity | None = None,
    ) -> list[Change]:
        """The customer's ``open_opportunity_stage`` fact after a deal left or came back."""
        customer = uow.customers.find(customer_id)
        if customer is None:
            return []
        current = {o.id: o for o in self._opportunities_of(uow, customer_id)}
        if restored is not None:
            current[restored.id] = restored
        rank = _open_stage(list(current.values()))
        if rank == customer.open_opportunity_stage:
            return []
        candidate = attrs.evolve(customer, open_opportunity_stage=rank)
        return list(self.writes.stage(uow, customer, candidate, reason=reason).changes)

    def _delete_customer(
        self, uow: UnitOfWork, customer: Customer, deletion: Deletion
    ) -> list[Change]:
        opportunities = self._opportunities_of(uow, customer.id)
        contracts = self._contracts_of(uow, customer.id)
        invoices = all_pages(uow.repository(Invoice), "open_customer",
                             at_least=f"{customer.id}|", below=f"{customer.id}}}")  # fmt: skip
        check_customer_dependents(
            customer.id,
            open_opportunities=[o.id for o in opportunities if o.closed_at is None],
            contracts=[c.id for c in contracts if c.signed or _signed_state(c)],
            open_invoices=[i.id for i in invoices],
        )
        after = attrs.evolve(customer, deleted=deletion)
        staged = self.writes.stage(uow, customer, after, reason=deletion.reason, classify=False)
        changes = list(staged.changes)
        self._record_deleted(uow, BinKind.CUSTOMER, customer.id, deletion)
        along = attrs.evolve(deletion, with_customer=customer.id)
        for kind, records in ((BinKind.OPPORTUNITY, opportunities), (BinKind.CONTRACT, contracts)):
            for record in records:
                gone = attrs.evolve(record, deleted=along)
                self._repo(uow, kind).save(gone)
                changes.append(Change(kind.value, record.id, record, gone, deletion.reason))
                self._record_deleted(uow, kind, record.id, along)
        return changes

    # -- restore --------------------------------------------------------------------------------
    def restore(
        self, principal: Principal, kind: BinKind | str, record_id: str, reason: str | None = None
    ) -> Restored:
        """Bring a record back from the recycle bin (``recycle.restore``, same rights as delete).

        Refused (typed, nothing changed): a purged record (``recycle.already_purged``), one not in
        the bin (``recycle.not_deleted``), a deal or contract whose customer is in the bin
        (``recycle.customer_deleted``), a lead or customer whose blocking keys a record
        created since holds (``collision.duplicate`` naming it). A customer whose owner left
        or has no room under the pool's capacity goes back to its pool (``to_pool``).
        """
        bin_kind = _kind(kind)

        def command(uow: UnitOfWork) -> tuple[Restored, list[Change]]:
            record = self._load(uow, bin_kind, record_id)
            deletion = check_restorable(bin_kind, record_id, record.deleted)
            self._check(uow, principal, bin_kind, record)
            why = reason or f"restored from the recycle bin (deleted: {deletion.reason})"
            if bin_kind is BinKind.CUSTOMER:
                return self._restore_customer(uow, principal, record, why)
            return self._restore_one(uow, principal, bin_kind, record, why)

        try:
            return self.ctx.execute(principal, Action.RECYCLE_RESTORE, command)
        except DuplicateKey as exc:  # a concurrent creation took the key first
            raise RuleViolation(
                f"another {exc.kind} already holds {exc.key!r}",
                code="collision.duplicate",
                details={"key": exc.key, "existing": {"kind": exc.kind, "id": exc.existing_id}},
            ) from exc

    def _restore_one(
        self, uow: UnitOfWork, principal: Principal, kind: BinKind, record: Any, why: str
    ) -> tuple[Restored, list[Change]]:
        now = self.ctx.clock.now()
        if kind is BinKind.LEAD:
            self._check_lead_keys(uow, principal, record)
            return self._restore_lead(uow, principal, record, why)
        parent = self._customer_of(uow, record)
        if parent is not None and parent.deleted is not None:
            raise RuleViolation(
                f"customer {parent.id} of {kind.value} {record.id} is in the recycle bin; "
                "restore the customer first",
                code="recycle.customer_deleted",
                details={"kind": kind.value, "id": record.id, "customer_id": parent.id},
            )
        home = record.customer_id if parent is None else parent.id  # the survivor of a merge
        after = attrs.evolve(record, deleted=None, customer_id=home)
        self._repo(uow, kind).save(after)
        changes = [Change(kind.value, record.id, record, after, why)]
        uow.record(RecordRestored(now, kind.value, record.id, principal.user_id, _owner(after)))
        if kind is BinKind.OPPORTUNITY and after.closed_at is None:
            changes += self._refresh_open_stage(uow, after.customer_id, why, restored=after)
        return Restored(kind, record.id, _owner(after)), changes

    def _restore_lead(
        self, uow: UnitOfWork, principal: Principal, lead: Lead, why: str
    ) -> tuple[Restored, list[Change]]:
        """Through the lead write path: rescheduled, rescored; a pooled open lead whose owner
        left or is at the pool's capacity goes back to its lead pool."""
        writes = LeadPoolWrites(self.ctx)
        live = attrs.evolve(lead, deleted=None)
        owner, pool_id = live.owner_id, live.pool_id
        counted = owner is not None and live.status in OPEN_LEAD_STATUSES
        to_pool = counted and pool_id is not None and not self._lead_room(uow, writes, live)
        if to_pool and pool_id is not None:
            back = lead_returned(live, pool_id, self.ctx.clock.now())
            after, changes = writes.move(
                uow, principal, lead, back, OwnershipAction.RELEASE,
                reason=f"{why}; owner {owner} has no room, back to the lead pool",
            )  # fmt: skip
        else:
            after, changes = writes.stage(uow, lead, live, reason=why)
            if counted and owner is not None:  # a gain for the owner, like a claim
                books = uow.repository(LeadBook)
                books.save((books.find(owner) or LeadBook(owner)).gained())
        now = self.ctx.clock.now()
        uow.record(RecordRestored(now, "lead", lead.id, principal.user_id, after.owner_id))
        return Restored(BinKind.LEAD, lead.id, after.owner_id, to_pool), changes

    def _lead_room(self, uow: UnitOfWork, writes: LeadPoolWrites, lead: Lead) -> bool:
        """Whether the lead's owner is still active and under its lead pool's capacity."""
        assert lead.owner_id is not None
        rep = uow.reps.find(lead.owner_id)
        if rep is None or not rep.active:
            return False
        capacity = writes.rules_of(uow, lead.pool_id).capacity
        return not capacity or writes.open_leads(uow, rep.id) < capacity

    def _check_lead_keys(self, uow: UnitOfWork, principal: Principal, lead: Lead) -> None:
        """A lead's blocking keys held by a lead or customer created since its deletion."""
        deleted_at = lead.deleted.at if lead.deleted else self.ctx.clock.now()
        keys = candidate_keys(
            name=lead.company_name,
            phones=(lead.phone,) if lead.phone else (),
            emails=(lead.email,) if lead.email else (),
            uscc=lead.uscc,
        )
        blocking = frozenset(
            k for k in keys if self.ctx.collision.outcome_for(k.kind) is Outcome.BLOCK
        )
        newer: set[tuple[str, str]] = set()
        for text in sorted(key_texts(blocking)):
            holders: list[Lead | Customer] = [
                *uow.leads.find_by_key(text),
                *uow.customers.find_by_key(text),
            ]
            for holder in holders:
                if holder.id != lead.id and holder.created_at > deleted_at:
                    newer.add(("lead" if isinstance(holder, Lead) else "customer", holder.id))
        if newer:
            report = collision_report(uow, self.ctx.collision, principal, blocking)
            named = [h for h in report.blocking if (h.record.kind, h.record.id) in newer]
            first = named[0] if named else None
            raise RuleViolation(
                f"duplicate of {first.describe() if first else sorted(newer)[0]}",
                code="collision.duplicate",
                details={
                    "records": [{"kind": k, "id": i} for k, i in sorted(newer)],
                    **(report.details() if named else {}),
                },
            )

    def _restore_customer(
        self, uow: UnitOfWork, principal: Principal, customer: Customer, why: str
    ) -> tuple[Restored, list[Change]]:
        now = self.ctx.clock.now()
        live = attrs.evolve(customer, deleted=None)
        keys = candidate_keys(name=live.name, phones=live.phones, emails=live.emails,
                              uscc=live.uscc)  # fmt: skip
        deleted_at = customer.deleted.at if customer.deleted else now
        report = collision_report(uow, self.ctx.collision, principal, keys)
        older = self._leads_older_than(uow, report, deleted_at)
        if older:  # leads it lived with (its own converted lead, its duplicates) do not block
            report = collision_report(uow, self.ctx.collision, principal, keys, exclude=older)
        raise_if_blocked(report)
        to_pool = live.owner_id is not None and live.pool_id is not None
        if to_pool and live.owner_id is not None:
            to_pool = not self._has_room(uow, live)
        changes: list[Change]
        if to_pool and live.pool_id is not None:
            back = returned_to_pool(live, live.pool_id, now)
            after, changes = self.writes.move(
                uow, principal, customer, back, OwnershipAction.RELEASE,
                reason=f"{why}; owner {live.owner_id} has no room, back to the pool",
            )  # fmt: skip
        else:
            staged = self.writes.stage(uow, customer, live, reason=why, classify=False)
            after, changes = staged.after, list(staged.changes)
        uow.record(RecordRestored(now, "customer", customer.id, principal.user_id, after.owner_id))
        along: list[tuple[str, str]] = []
        for kind in (BinKind.OPPORTUNITY, BinKind.CONTRACT):
            repo = self._repo(uow, kind)
            for record in _all_hidden(repo, "deleted_with", customer.id):
                if record.deleted is None or record.deleted.with_customer != customer.id:
                    continue
                back_record = attrs.evolve(record, deleted=None)
                repo.save(back_record)
                changes.append(Change(kind.value, record.id, record, back_record, why))
                uow.record(
                    RecordRestored(now, kind.value, record.id, principal.user_id, _owner(record))
                )
                along.append((kind.value, record.id))
        restored = Restored(BinKind.CUSTOMER, customer.id, after.owner_id, to_pool, tuple(along))
        return restored, changes

    def _leads_older_than(
        self, uow: UnitOfWork, report: CollisionReport, moment: datetime
    ) -> list[RecordRef]:
        """The blocking leads of ``report`` captured before ``moment``."""
        ids = sorted({h.record.id for h in report.blocking if h.record.kind is RecordKind.LEAD})
        older = [lead for lead in uow.leads.get_many(ids) if lead.created_at <= moment]
        return [RecordRef(RecordKind.LEAD, lead.id) for lead in older]

    def _has_room(self, uow: UnitOfWork, customer: Customer) -> bool:
        """Whether the customer's owner is still active and has room in its book."""
        assert customer.owner_id is not None
        rep = uow.reps.find(customer.owner_id)
        if rep is None:
            return False
        pool = uow.repository(Pool).find(customer.pool_id) if customer.pool_id else None
        facts = OwnershipFacts(
            now=self.ctx.clock.now(),
            timezone=self.ctx.timezone,
            book=self.writes.book(uow, rep.id),
            calendar=self.ctx.calendar,
        )
        try:
            check_active_rep(rep, pool)
            if pool is not None:
                check_capacity(pool.rules, facts)
        except RuleViolation:
            return False
        return True

    # -- the bin's reads ------------------------------------------------------------------------
    def get(self, principal: Principal, kind: BinKind | str, record_id: str) -> BinEntry:
        """One record in the bin (``recycle.read``); NotFound when it is not there."""
        bin_kind = _kind(kind)

        def query(uow: UnitOfWork) -> BinEntry:
            record = self._load(uow, bin_kind, record_id)
            if record.deleted is None or record.deleted.purged_at is not None:
                raise NotFound(bin_kind.value, record_id)
            self._check(uow, principal, bin_kind, record)
            return BinEntry(bin_kind, record.id, _title(record), _owner(record), record.deleted)

        return self.ctx.read(principal, Action.RECYCLE_READ, query)

    def list(
        self,
        principal: Principal,
        kind: BinKind | str,
        *,
        after: tuple[str, str] | None = None,
        limit: int = DEFAULT_PAGE,
    ) -> Page[BinEntry]:
        """One page of the bin for a kind, oldest deletion first (``recycle.read``).

        Holds only what the caller may restore (their own records; managers: their scope),
        so a page may be shorter than ``limit``; ``next_cursor`` pages on.
        """
        bin_kind = _kind(kind)
        size = page_limit(limit)

        def query(uow: UnitOfWork) -> Page[BinEntry]:
            repo = self._repo(uow, bin_kind)
            hits = repo.index_entries("deleted", after=after, limit=size)
            records = repo.get_many([ident for _, ident in hits], include_hidden=True)
            entries = tuple(
                BinEntry(bin_kind, r.id, _title(r), _owner(r), r.deleted)
                for r in records
                if r.deleted is not None and self._may(uow, principal, bin_kind, r)
            )
            cursor = hits[-1] if hits and len(hits) == size else None
            return Page(entries, cursor)

        return self.ctx.read(principal, Action.RECYCLE_READ, query)

    # -- purge ----------------------------------------------------------------------------------
    def purge_due(self, principal: Principal, *, limit: int = _PAGE) -> PurgeReport:
        """Purge what the retention period let go (``recycle.purge``: admin, system).

        Each record due (the ``purge_due`` index, so the cost grows with what is due) loses
        its personal fields (a customer's contacts too) in its own commit and stays a
        tombstone that cannot be restored; its audit entries and outbox messages lose the
        personal values (the strands still verify). At most ``limit`` records per kind.
        """
        batch_size(limit, "limit")
        self.ctx.policy.check(principal, Action.RECYCLE_PURGE)
        now = self.ctx.clock.now()
        due: list[tuple[BinKind, str]] = []
        until = sortable_time(now + timedelta(microseconds=1))  # due at or before now
        with self.ctx.unit_of_work() as uow:
            for kind in BinKind:
                hits = self._repo(uow, kind).index_entries("purge_due", below=until, limit=limit)
                due += [(kind, ident) for _, ident in hits]
        done: list[tuple[str, str]] = []
        audit = outbox = 0
        for kind, ident in due:
            result = self._purge_one(principal, kind, ident, now, _SWEEP_REASON)
            if result is None:
                continue
            report = self.ctx.store.erase_personal(Erasure(*result))
            done.append((kind.value, ident))
            audit += report.audit_entries
            outbox += report.outbox_messages
        return PurgeReport(tuple(done), audit, outbox)

    def purge(
        self, principal: Principal, kind: BinKind | str, record_id: str, reason: str
    ) -> PurgeReport:
        """Purge one record of the bin now, before its retention period ends (``recycle.purge``).

        For an erasure request (PIPL / GDPR) about a deleted record, or test data. The same
        scrub and tombstone as the sweep, with ``reason`` in its audit entry; refused with
        ``recycle.not_deleted`` or ``recycle.already_purged``.
        """
        bin_kind = _kind(kind)
        why = require_reason(reason)
        self.ctx.policy.check(principal, Action.RECYCLE_PURGE)
        result = self._purge_one(
            principal, bin_kind, record_id, self.ctx.clock.now(), why, due_only=False
        )
        assert result is not None  # a forced purge raises instead
        report = self.ctx.store.erase_personal(Erasure(*result))
        return PurgeReport(
            ((bin_kind.value, record_id),), report.audit_entries, report.outbox_messages
        )

    def _purge_one(
        self,
        principal: Principal,
        kind: BinKind,
        ident: str,
        now: datetime,
        reason: str,
        *,
        due_only: bool = True,
    ) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]] | None:
        def command(
            uow: UnitOfWork,
        ) -> tuple[tuple[tuple[tuple[str, str], ...], tuple[str, ...]] | None, list[Change]]:
            record = self._repo(uow, kind).find_any(ident)
            if not due_only:
                if record is None:
                    raise NotFound(kind.value, ident)
                check_restorable(kind, ident, record.deleted)
                self._check(uow, principal, kind, record)
            deletion = None if record is None else record.deleted
            if (
                record is None
                or deletion is None
                or deletion.purged_at is not None
                or (due_only and (deletion.purge_due_at is None or deletion.purge_due_at > now))
            ):
                return None, []  # restored or purged meanwhile
            tomb = purged(deletion, now)
            values: list[str] = []
            subjects: list[tuple[str, str]] = [(kind.value, ident)]
            changes: list[Change] = []
            if kind is BinKind.CUSTOMER:
                values += [*record.phones, *record.emails, record.address or ""]
                after = attrs.evolve(record, phones=(), emails=(), address=None, deleted=tomb)
                self.writes.stage(uow, record, after, reason=reason, classify=False)
                for contact in all_pages(uow.contacts, "customer", equals=ident):
                    values += [contact.name, contact.phone or "", contact.email or ""]
                    erased = attrs.evolve(contact, name=ERASED, phone=None, email=None)
                    if erased != contact:
                        uow.contacts.save(erased)
                        subjects.append(("contact", contact.id))
                        changes.append(_tombstone("contact", contact.id, contact, reason))
            elif kind is BinKind.LEAD:
                values += [record.contact_name or "", record.phone or "", record.email or ""]
                values += [record.note or ""]
                after = attrs.evolve(
                    record, contact_name=None, phone=None, email=None,
                    note=wiped(record.note) if record.note else record.note, deleted=tomb,
                )  # fmt: skip
                uow.leads.save(after)
            else:
                after = attrs.evolve(record, deleted=tomb)
                self._repo(uow, kind).save(after)
            if kind in (BinKind.CUSTOMER, BinKind.LEAD):  # what was said with them goes too
                notes, texts, scrubbed = scrub_follow_ups(uow, ident, None, reason)
                subjects += notes
                values += texts
                changes += scrubbed
            if kind is BinKind.CUSTOMER:  # and what their tickets say
                tickets, texts, scrubbed = scrub_tickets(uow, ident, None, reason)
                subjects += tickets
                values += texts
                changes += scrubbed
            changes.insert(0, _tombstone(kind.value, ident, record, reason))
            uow.record(RecordPurged(now, kind.value, ident))
            return (tuple(subjects), tuple(v for v in values if v)), changes

        return self.ctx.execute(principal, Action.RECYCLE_PURGE, command)


def _signed_state(contract: Contract) -> bool:
    return contract.status not in DELETABLE_CONTRACT_STATUSES


def _all_hidden(repo: Repository[Any], index: str, value: str) -> list[Any]:
    """Every record filed under ``value`` in ``index``, records in the recycle bin included."""
    found: list[Any] = []
    cursor: tuple[str, str] | None = None
    while True:
        page = repo.query(index, equals=value, after=cursor, limit=_PAGE, include_hidden=True)
        found.extend(page.items)
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor


def _tombstone(kind: str, ident: str, before: Any, reason: str) -> Change:
    """The audit change of a purge: which personal fields were scrubbed, never their values."""
    fields = [
        name
        for name in PERSONAL_FIELDS.get(kind, ())
        if getattr(before, name, None) not in (None, "", ())
    ]
    return Change(kind, ident, None, {"purged": True, "erased": fields}, reason=reason)
