"""Customer screens (客户 360): the 360 view, edits, lists, counts, search, export, privacy.

Every read is authorized and masked exactly like the writes: the action is checked, the data
scope is a ``where`` clause of the list query itself (so pages are full and counts agree), and
each customer returned goes through the same masking as a command's result. Every edit goes
through :class:`~leadtocash.app.customers.CustomerWrites` (validated, collision-checked,
reclassified, audited). Reads that show a contact field unmasked are audited: one entry per
read (who, when, which customers, which fields, by which screen), never the values.
"""

from __future__ import annotations

import csv
import importlib
import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, BinaryIO, TextIO, TypeVar

import attrs

from leadtocash.access import Action, Principal
from leadtocash.aftersales import Ticket
from leadtocash.app.context import AppContext, Change
from leadtocash.app.customers import CustomerWrites, all_pools, with_archives
from leadtocash.app.dedup import collision_report
from leadtocash.app.erasure import ErasureResult, erase_person, person_records
from leadtocash.app.listing import (
    DEFAULT_PAGE,
    CustomerFilter,
    CustomerSort,
    Scope,
    customer_query,
    name_search_queries,
    name_value,
    page_limit,
    pool_member_filter,
    scope_clauses,
)
from leadtocash.app.unit_of_work import Page, Repository, UnitOfWork
from leadtocash.classification import Classification, classify
from leadtocash.collision import (
    RecordKind,
    RecordRef,
    candidate_keys,
    email_key,
    phone_key,
    raise_if_blocked,
    uscc_key,
)
from leadtocash.contracts import Contract, Invoice, Receipt
from leadtocash.errors import (
    DuplicateKey,
    FieldError,
    MissingExtra,
    RuleViolation,
    ValidationError,
)
from leadtocash.fields import collect_field, length_errors, parse_email, parse_phone, parse_uscc
from leadtocash.model import Contact, Customer, CustomerId, FollowUp, Lead, RepId, SalesRep, TeamId
from leadtocash.pipeline.opportunity import Opportunity
from leadtocash.pipeline.views import OpportunityView, visible_opportunity
from leadtocash.pool.book import OwnershipChange
from leadtocash.pool.visibility import can_see_amounts, can_see_contact, mask_email, mask_phone
from leadtocash.ports.storage import IndexFilter, IndexQuery
from leadtocash.scopes import DataScope

__all__ = [
    "CSV_COLUMNS",
    "UNCHANGED",
    "Customer360",
    "CustomerService",
    "PersonalData",
    "Section",
    "exact_key",
    "name_search_page",
    "read_scope",
    "team_reps",
    "visible_contact",
]

T = TypeVar("T")


class _Unchanged:
    """The default of an edit's fields: leave the field as it is."""

    def __repr__(self) -> str:
        return "UNCHANGED"


#: Pass nothing (or this) for a field an edit leaves alone; None clears an optional field.
UNCHANGED: Any = _Unchanged()

#: The columns of a customer CSV export, in order.
CSV_COLUMNS = (
    "id", "name", "tier", "tags", "owner_id", "zone_id", "pool_id", "phones", "emails",
    "address", "uscc", "created_at", "updated_at", "reclaim_due_at",
)  # fmt: skip

_RECENT_FOLLOW_UPS = 20
_SECTION_ROWS = 50
_EXPORT_PAGE = 200


def visible_contact(contact: Contact, customer: Customer, principal: Principal) -> Contact:
    """``contact`` as ``principal`` may see it: phone and e-mail masked like its customer's."""
    if can_see_contact(customer, principal):
        return contact
    return attrs.evolve(
        contact,
        phone=mask_phone(contact.phone) if contact.phone else None,
        email=mask_email(contact.email) if contact.email else None,
    )


def _reveals(customer: Customer) -> tuple[str, ...]:
    """The contact fields of ``customer`` that hold a value (what showing it unmasked reveals)."""
    fields = (("phones", customer.phones), ("emails", customer.emails),
              ("address", customer.address))  # fmt: skip
    return tuple(name for name, value in fields if value)


@attrs.frozen
class Section:
    """One more part of the 360 view, read by another feature (contracts, tickets, ...).

    ``read`` returns the rows for one customer; the section is left out for callers whom
    the policy does not grant ``action``.
    """

    name: str
    action: Action
    read: Callable[[UnitOfWork, Customer], tuple[Any, ...]]


def _grouped_rows(cls: type[Any], index: str) -> Callable[[UnitOfWork, Customer], tuple[Any, ...]]:
    def read(uow: UnitOfWork, customer: Customer) -> tuple[Any, ...]:
        page = uow.repository(cls).query_group(index, customer.id, limit=_SECTION_ROWS)
        return tuple(reversed(page.items))  # newest first

    return read


#: The sections every facade shows: contracts, invoices and receipts (newest first, up to
#: 50 each). Tickets and renewals plug in the same way.
DEFAULT_SECTIONS: tuple[Section, ...] = (
    Section("contracts", Action.CONTRACT_READ, _grouped_rows(Contract, "customer")),
    Section("invoices", Action.INVOICE_READ, _grouped_rows(Invoice, "customer")),
    Section("receipts", Action.RECEIPT_READ, _grouped_rows(Receipt, "customer")),
)


@attrs.frozen
class Customer360:
    """Everything a customer screen shows, as the caller may see it.

    ``classification`` (the tier and why) is shown to the owner and managers only;
    ``sections`` holds the parts other features add (contracts, invoices, receipts, ...),
    the customer's own rows first, then those of the duplicates merged into it
    (``merged_from``: a merge moves their documents to the customer; this lists what a merge
    by an earlier version left with them, see ``collisions.complete_merges``).
    """

    customer: Customer
    owner: SalesRep | None
    classification: Classification | None
    contacts: tuple[Contact, ...]
    follow_ups: tuple[FollowUp, ...]
    open_plans: tuple[FollowUp, ...]
    opportunities: tuple[OpportunityView, ...]
    history: tuple[OwnershipChange, ...]
    sections: Mapping[str, tuple[Any, ...]] = attrs.field(factory=dict)
    merged_from: tuple[CustomerId, ...] = ()


@attrs.frozen
class PersonalData:
    """Everything stored about the people of one customer (PIPL / GDPR access request): the
    records an erasure of them would rewrite (:func:`~leadtocash.app.erasure.person_records`)
    and what was written about them."""

    customer: Customer
    contacts: tuple[Contact, ...]
    #: Follow-ups of the customer, its merged-away duplicates and the leads.
    follow_ups: tuple[FollowUp, ...]
    history: tuple[OwnershipChange, ...]
    #: Customers merged into this one (archived duplicates: their data is the same people's).
    merged: tuple[Customer, ...] = ()
    #: Leads holding one of the people's phones or e-mails.
    leads: tuple[Lead, ...] = ()
    #: Tickets of the customer and its merged-away duplicates (售后工单: what they reported).
    tickets: tuple[Ticket, ...] = ()


@attrs.frozen
class CustomerService:
    """Reads and edits behind the customer screens."""

    ctx: AppContext
    sections: tuple[Section, ...] = DEFAULT_SECTIONS
    customers: CustomerWrites = attrs.field(
        init=False, default=attrs.Factory(lambda self: CustomerWrites(self.ctx), takes_self=True)
    )

    # -- scope ----------------------------------------------------------------------------------
    def _team_reps(self, uow: UnitOfWork, team_id: TeamId | None) -> tuple[RepId, ...]:
        return team_reps(uow, team_id)

    def _scope(self, uow: UnitOfWork, principal: Principal) -> Scope:
        pools = all_pools(uow)
        return read_scope(
            self.ctx, uow, principal, members=lambda p: pool_member_filter(pools, p, "pool")
        )

    def _query(
        self, uow: UnitOfWork, principal: Principal, filters: CustomerFilter, sort: CustomerSort
    ) -> IndexQuery:
        mine = filters.owner is not None and filters.owner == principal.rep_id
        scope = None if mine else self._scope(uow, principal)  # own customers: always in scope
        reps = self._team_reps(uow, filters.team) if filters.team is not None else ()
        return customer_query(filters, sort, scope, team_reps=reps)

    def _shown(
        self, uow: UnitOfWork, principal: Principal, found: Sequence[Customer]
    ) -> list[Customer]:
        """What a list shows: readable (the query guarantees it; checked again) and masked."""
        return [
            self.customers.visible(c, principal)
            for c in found
            if c.merged_into is None and self.customers.readable(uow, principal, c)
        ]

    # -- privacy ---------------------------------------------------------------------------------
    def _disclose(
        self, principal: Principal, shown: Sequence[Customer], raw: Mapping[str, Customer], via: str
    ) -> None:
        """Audit whose contact fields ``principal`` just saw unmasked (never the values)."""
        revealed = {
            c.id: list(_reveals(raw[c.id]))
            for c in shown
            if c.id in raw and can_see_contact(raw[c.id], principal) and _reveals(raw[c.id])
        }
        if not revealed:
            return
        record = {"via": via, "customers": revealed}

        def command(uow: UnitOfWork) -> tuple[None, list[Change]]:
            return None, [Change("disclosure", principal.user_id, None, record, reason=via)]

        self.ctx.execute(principal, Action.CUSTOMER_READ, command)

    def _page(
        self,
        principal: Principal,
        action: Action,
        read: Callable[[UnitOfWork], tuple[Sequence[Customer], tuple[str, str] | None]],
        via: str,
    ) -> Page[Customer]:
        raw: dict[str, Customer] = {}

        def query(uow: UnitOfWork) -> Page[Customer]:
            found, cursor = read(uow)
            raw.update((c.id, c) for c in found)
            return Page(tuple(self._shown(uow, principal, found)), cursor)

        page = self.ctx.read(principal, action, query)
        self._disclose(principal, page.items, raw, via)
        return page

    # -- reads -----------------------------------------------------------------------------------
    def get(self, principal: Principal, customer_id: str) -> Customer360:
        """The 360 view of one customer (客户360): owner, tier and why, tags, contacts, recent
        follow-ups and open plans, open opportunities, ownership history, and the sections of
        other features the caller may read. Audits an unmasked view of contact fields."""
        raw: dict[str, Customer] = {}

        def query(uow: UnitOfWork) -> Customer360:
            customer = uow.customers.get(customer_id)
            self.customers.guard_member(uow, principal, customer)  # pool members only
            raw[customer.id] = customer
            return self._view(uow, principal, customer)

        view = self.ctx.read(principal, Action.CUSTOMER_READ, query)
        self._disclose(principal, [view.customer], raw, "customer.get")
        return view

    def _view(self, uow: UnitOfWork, principal: Principal, customer: Customer) -> Customer360:
        policy = self.ctx.policy
        owner = uow.reps.find(customer.owner_id) if customer.owner_id else None
        classification = None
        if principal.is_manager or (principal.rep_id and principal.rep_id == customer.owner_id):
            found = classify(
                customer, customer.signals, self.ctx.tier_rules, self.ctx.clock.now(),
                timezone=self.ctx.timezone,
                requirements=self.ctx.required_fields.entities.get("customer"),
            )  # fmt: skip
            seen = can_see_amounts(principal, customer.owner_id, policy)
            classification = found if seen else found.without_budget()
        contacts = uow.contacts.query("customer", equals=customer.id, limit=200).items
        recent = uow.follow_ups.query_group("target", customer.id, limit=10_000)
        follow_ups = tuple(reversed(recent.items))[:_RECENT_FOLLOW_UPS]
        plans = uow.follow_ups.query_group("plan_open", customer.id, limit=_SECTION_ROWS).items
        opportunities: tuple[OpportunityView, ...] = ()
        if policy.allows(principal, Action.OPPORTUNITY_READ):
            opened = uow.repository(Opportunity).query("customer", equals=customer.id, limit=200)
            opportunities = tuple(
                visible_opportunity(o, principal, policy)
                for o in opened.items
                if o.closed_at is None
            )
        history = uow.repository(OwnershipChange).query_group("customer", customer.id, limit=200)
        # Documents a merge by an earlier version left with the duplicates merged into this
        # customer (contracts, invoices, receipts …) follow the customer's own in each section.
        family = with_archives(uow, customer)

        def rows(section: Section) -> tuple[Any, ...]:
            return tuple([row for one in family for row in section.read(uow, one)][:_SECTION_ROWS])

        sections = {
            section.name: rows(section)
            for section in self.sections
            if policy.allows(principal, section.action)
        }
        return Customer360(
            customer=self.customers.visible(customer, principal),
            owner=owner,
            classification=classification,
            contacts=tuple(visible_contact(c, customer, principal) for c in contacts),
            follow_ups=follow_ups,
            open_plans=plans,
            opportunities=opportunities,
            history=history.items,
            sections=sections,
            merged_from=tuple(m.id for m in family[1:]),
        )

    def list(
        self,
        principal: Principal,
        filters: CustomerFilter | None = None,
        *,
        sort: CustomerSort = CustomerSort.CREATED,
        after: tuple[str, str] | None = None,
        limit: int = DEFAULT_PAGE,
    ) -> Page[Customer]:
        """One page of the customers the caller may see, filtered and sorted (keyset paging).

        Pass ``next_cursor`` back as ``after`` for the next page (None: the last page). Every
        page is full except the last; :meth:`count` counts the same selection.
        """
        read = self._reader(principal, filters or CustomerFilter(), sort, after, page_limit(limit))
        return self._page(principal, Action.CUSTOMER_READ, read, "customer.list")

    def count(self, principal: Principal, filters: CustomerFilter | None = None) -> int:
        """How many customers :meth:`list` would show with ``filters`` (any sort, all pages)."""
        wanted = filters or CustomerFilter()

        def query(uow: UnitOfWork) -> int:
            return uow.customers.count(self._query(uow, principal, wanted, CustomerSort.CREATED))

        return self.ctx.read(principal, Action.CUSTOMER_READ, query)

    def search(
        self,
        principal: Principal,
        text: str,
        *,
        after: tuple[str, str] | None = None,
        limit: int = DEFAULT_PAGE,
    ) -> Page[Customer]:
        """Customers the caller may see matching ``text``: a USCC, an e-mail address or a phone
        number finds the customers holding that normalized key; anything else is a prefix of
        the normalized company name (legal suffixes, width and punctuation folded) or, for
        Latin text, of the pinyin of a Chinese name (``huawei`` finds 华为技术有限公司)."""
        size = page_limit(limit)
        key = exact_key(text)

        def read(uow: UnitOfWork) -> tuple[Sequence[Customer], tuple[str, str] | None]:
            if key is not None:
                ids = uow.customers.find_ids_by_key(key, limit=size)
                return uow.customers.get_many(ids), None
            return self._name_search(uow, principal, text, after, size)

        return self._page(principal, Action.CUSTOMER_READ, read, "customer.search")

    def _name_search(
        self,
        uow: UnitOfWork,
        principal: Principal,
        text: str,
        after: tuple[str, str] | None,
        size: int,
    ) -> tuple[Sequence[Customer], tuple[str, str] | None]:
        queries = name_search_queries(text, self._scope(uow, principal))
        return name_search_page(uow.customers, queries, after, size, lambda c: c.name)

    def export_csv(
        self,
        principal: Principal,
        out: TextIO,
        filters: CustomerFilter | None = None,
        *,
        sort: CustomerSort = CustomerSort.CREATED,
    ) -> int:
        """Write the customers the caller may see (filtered) as CSV to ``out``; returns the rows.

        Each row is what :meth:`list` shows: masked fields stay masked. Needs
        ``customer.export``; the export is audited (filters, rows, and the customers whose
        contact fields it contains unmasked).
        """
        self.ctx.policy.check(principal, Action.CUSTOMER_EXPORT)
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        rows = 0
        for page in self._pages(principal, filters or CustomerFilter(), sort):
            for customer in page:
                writer.writerow(_csv_row(customer))
                rows += 1
        return rows

    def _pages(
        self, principal: Principal, filters: CustomerFilter, sort: CustomerSort
    ) -> Iterator[Sequence[Customer]]:
        cursor: tuple[str, str] | None = None
        while True:
            page = self._page(
                principal,
                Action.CUSTOMER_EXPORT,
                self._reader(principal, filters, sort, cursor, _EXPORT_PAGE),
                "customer.export_csv",
            )
            yield page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def _reader(
        self,
        principal: Principal,
        filters: CustomerFilter,
        sort: CustomerSort,
        after: tuple[str, str] | None,
        size: int,
    ) -> Callable[[UnitOfWork], tuple[Sequence[Customer], tuple[str, str] | None]]:
        def read(uow: UnitOfWork) -> tuple[Sequence[Customer], tuple[str, str] | None]:
            query = attrs.evolve(
                self._query(uow, principal, filters, sort), after=after, limit=size
            )
            page = uow.customers.select(query)
            return page.items, page.next_cursor

        return read

    def export_xlsx(
        self,
        principal: Principal,
        out: BinaryIO,
        filters: CustomerFilter | None = None,
        *,
        sort: CustomerSort = CustomerSort.CREATED,
    ) -> int:
        """:meth:`export_csv` as an Excel workbook (one sheet, same columns, same masking,
        same audit) written to ``out``; needs the ``xlsx`` extra (openpyxl)."""
        self.ctx.policy.check(principal, Action.CUSTOMER_EXPORT)
        try:
            openpyxl = importlib.import_module("openpyxl")
        except ImportError as exc:
            raise MissingExtra("xlsx", needed_for="an .xlsx export", module="openpyxl") from exc
        book = openpyxl.Workbook(write_only=True)
        sheet = book.create_sheet("customers")
        sheet.append(list(CSV_COLUMNS))
        rows = 0
        for page in self._pages(principal, filters or CustomerFilter(), sort):
            for customer in page:
                sheet.append(_csv_row(customer))
                rows += 1
        book.save(out)
        return rows

    def export_text(self, principal: Principal, filters: CustomerFilter | None = None) -> str:
        """:meth:`export_csv` into a string (small exports)."""
        buffer = io.StringIO()
        self.export_csv(principal, buffer, filters)
        return buffer.getvalue()

    def personal_data(self, principal: Principal, customer_id: str) -> PersonalData:
        """Everything stored about the people of one customer, unmasked, for an access request
        under PIPL / GDPR (``privacy.export``, audited like any unmasked read)."""
        raw: dict[str, Customer] = {}

        def query(uow: UnitOfWork) -> PersonalData:
            customer, found = person_records(uow, customer_id, None)
            self.customers.guard(uow, principal, customer, write=False)
            raw[customer.id] = customer
            holders = [str(c.id) for c in found.customers]
            targets = holders + [str(lead.id) for lead in found.leads]
            tickets = uow.repository(Ticket)
            return PersonalData(
                customer,
                found.contacts,
                tuple(f for key in targets for f in uow.follow_ups.whole_group("target", key)),
                tuple(uow.repository(OwnershipChange).whole_group("customer", customer.id)),
                merged=found.customers[1:],
                leads=found.leads,
                tickets=tuple(t for key in holders for t in tickets.whole_group("customer", key)),
            )

        data = self.ctx.read(principal, Action.PERSONAL_DATA_EXPORT, query)
        everything = {
            str(c.id): ["phones", "emails", "address", "contacts"]
            for c in (data.customer, *data.merged)
        }
        record = {
            "via": "privacy.export",
            "customers": everything,
            "leads": [str(lead.id) for lead in data.leads],
            "tickets": [str(ticket.id) for ticket in data.tickets],
        }

        def audit(uow: UnitOfWork) -> tuple[None, list[Change]]:
            return None, [Change("disclosure", principal.user_id, None, record, reason="export")]

        self.ctx.execute(principal, Action.PERSONAL_DATA_EXPORT, audit)
        return data

    def erase_person(
        self,
        principal: Principal,
        *,
        customer_id: str | None = None,
        contact_id: str | None = None,
        reason: str,
    ) -> ErasureResult:
        """Erase a person's data on request (PIPL / GDPR; ``privacy.erase``, admins): a
        customer's phones, e-mails and address and all its contacts (``customer_id``), or one
        contact (``contact_id``), and the leads holding their phones or e-mails: aggregates
        rewritten, keys gone, audit entries and outbox scrubbed, one tombstone entry each
        (:func:`leadtocash.app.erasure.erase_person`)."""
        return erase_person(
            self.ctx, self.customers, principal,
            customer_id=customer_id, contact_id=contact_id, reason=reason,
        )  # fmt: skip

    # -- edits -----------------------------------------------------------------------------------
    def edit(
        self,
        principal: Principal,
        customer_id: str,
        *,
        name: str = UNCHANGED,
        phones: Sequence[str] = UNCHANGED,
        emails: Sequence[str] = UNCHANGED,
        uscc: str | None = UNCHANGED,
        address: str | None = UNCHANGED,
        reason: str | None = None,
    ) -> Customer:
        """Edit a customer's name and contact fields (the owner, write collaborators, managers
        in scope). Validated like a creation, re-checked for collisions (excluding itself),
        reclassified and audited through the customer write path."""
        errors: list[FieldError] = []
        given: dict[str, Any] = {}
        if name is not UNCHANGED:
            if not name or not name.strip():
                errors.append(FieldError("name", "field.required", "name is required"))
            given["name"] = (name or "").strip()
        if phones is not UNCHANGED:
            parsed = [
                collect_field(errors, _phone, p, f"phones[{i}]") for i, p in enumerate(phones)
            ]
            given["phones"] = tuple(dict.fromkeys(p for p in parsed if p))
        if emails is not UNCHANGED:
            parsed = [
                collect_field(errors, _email, e, f"emails[{i}]") for i, e in enumerate(emails)
            ]
            given["emails"] = tuple(dict.fromkeys(e for e in parsed if e))
        if uscc is not UNCHANGED:
            given["uscc"] = collect_field(errors, _uscc, uscc, "uscc") if uscc else None
        if address is not UNCHANGED:
            given["address"] = address.strip() if address and address.strip() else None
        errors += length_errors(
            {k: given.get(k) for k in ("name", "address") if k in given}
            | ({"reason": reason} if reason is not None else {})
        )
        if errors:
            raise ValidationError(errors)

        def command(uow: UnitOfWork) -> tuple[Customer, list[Change]]:
            before = uow.customers.get(customer_id)
            self.customers.owner_or_manager(uow, principal, before, collaborators=True)
            candidate = attrs.evolve(before, **given)
            if candidate == before:
                return before, []
            keys = candidate_keys(name=candidate.name, phones=candidate.phones,
                                  emails=candidate.emails, uscc=candidate.uscc)  # fmt: skip
            me = RecordRef(RecordKind.CUSTOMER, before.id)
            raise_if_blocked(
                collision_report(uow, self.ctx.collision, principal, keys, exclude=[me])
            )
            staged = self.customers.stage(uow, before, candidate, reason=reason or "edited")
            return staged.after, list(staged.changes)

        try:
            stored = self.ctx.execute(principal, Action.CUSTOMER_UPDATE, command)
        except DuplicateKey as exc:  # a concurrent change won the unique key
            raise RuleViolation(
                f"another customer already holds {exc.key!r}",
                code="collision.duplicate",
                details={"key": exc.key, "existing": {"kind": exc.kind, "id": exc.existing_id}},
            ) from exc
        return self.customers.visible(stored, principal)


# -- helpers -------------------------------------------------------------------------------------
def team_reps(uow: UnitOfWork, team_id: TeamId | None) -> tuple[RepId, ...]:
    """The ids of the reps in ``team_id`` (none for None)."""
    if team_id is None:
        return ()
    found: list[RepId] = []
    cursor = None
    while True:
        page = uow.reps.query("team", equals=team_id, after=cursor, limit=500)
        found.extend(rep.id for rep in page.items)
        if page.next_cursor is None:
            return tuple(found)
        cursor = page.next_cursor


def read_scope(
    ctx: AppContext,
    uow: UnitOfWork,
    principal: Principal,
    *,
    collaborators: bool = True,
    unowned_index: str = "pool_zone",
    members: Callable[[Principal], IndexFilter | None] | None = None,
) -> Scope:
    """The ``where`` clauses of the records ``principal`` may read (None: everything).

    ``members`` gives, for the principal placed where the organisation model says, the
    membership filter of the unowned records reached only through their pool
    (:func:`~leadtocash.app.listing.pool_member_filter`), as a single read requires."""
    principal = ctx.positioned(uow, principal)
    team = ctx.scopes.scope_of(principal) is DataScope.TEAM
    reps = team_reps(uow, principal.team_id) if team else ()
    return scope_clauses(
        ctx.scopes, principal, team_reps=reps, collaborators=collaborators,
        unowned_index=unowned_index, members=None if members is None else members(principal),
    )  # fmt: skip


def _phone(raw: str, path: str) -> str:
    return parse_phone(raw, path=path)


def _email(raw: str, path: str) -> str:
    return parse_email(raw, path=path)


def _uscc(raw: str, path: str) -> str:
    return parse_uscc(raw, path=path)


def exact_key(text: str) -> str | None:
    """The dedup key text ``text`` is, when it is a USCC, an e-mail address or a phone number."""
    raw = text.strip()
    if not raw:
        return None
    builders = [uscc_key] if len(raw) == 18 else []
    builders += [email_key] if "@" in raw else []
    digits = sum(ch.isdigit() for ch in raw)
    builders += [phone_key] if digits >= 5 and digits * 2 >= len(raw.replace(" ", "")) else []
    for build in builders:
        try:
            return build(raw).text
        except ValidationError:
            continue
    return None


def name_search_page(
    repo: Repository[T],
    queries: Sequence[IndexQuery],
    after: tuple[str, str] | None,
    size: int,
    name_of: Callable[[T], str | None],
) -> tuple[list[T], tuple[str, str] | None]:
    """One page of a name search: name prefix hits, then pinyin prefix hits not already found
    by name; the cursor's value says which phase it is in (``n:`` or ``p:``)."""
    phase, cursor = 0, None
    if after is not None:
        phase = 0 if after[0].startswith("n:") else 1
        cursor = (after[0][2:], after[1])
    found: list[T] = []
    for number in range(phase, len(queries)):
        while True:
            want = size - len(found)
            page = repo.select(attrs.evolve(queries[number], after=cursor, limit=want))
            rows = list(page.items)
            if number == 1:  # what the name phase lists is not listed twice
                rows = [r for r in rows if not _in_range(queries[0], name_of(r))]
            found.extend(rows)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
            if len(found) >= size:
                return found, (f"{'np'[number]}:{cursor[0]}", cursor[1])
        cursor = None
    return found, None


def _in_range(query: IndexQuery, name: str | None) -> bool:
    value = name_value(name)
    return value is not None and (query.at_least or "") <= value < (query.below or "\U0010ffff")


def _csv_row(customer: Customer) -> list[str]:
    def when(moment: datetime | None) -> str:
        return moment.isoformat() if moment else ""

    return [
        customer.id, customer.name, customer.tier.value, ";".join(sorted(customer.tags)),
        customer.owner_id or "", customer.zone_id or "", customer.pool_id or "",
        ";".join(customer.phones), ";".join(customer.emails), customer.address or "",
        customer.uscc or "", when(customer.created_at), when(customer.updated_at),
        when(customer.reclaim_due_at),
    ]  # fmt: skip
