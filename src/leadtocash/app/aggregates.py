"""How each aggregate type is stored: its kind name, named indexes and dedup keys.

Adding an aggregate means adding one :class:`AggregateSpec` here; every adapter stores it
without changes, because the storage port only sees kinds, JSON, index text and keys.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import attrs

from leadtocash.aftersales import Renewal, Ticket
from leadtocash.allocation.ledger import FairnessLedger
from leadtocash.app.listing import (
    CUSTOMER_LIST_QUERIES,
    LEAD_LIST_QUERIES,
    customer_list_indexes,
    follow_up_list_indexes,
    lead_list_indexes,
)
from leadtocash.classification import LeadRescore
from leadtocash.collision import DedupKey, name_key, stored_keys
from leadtocash.contracts import (
    OPEN_INVOICE_STATUSES,
    Contract,
    ContractStatus,
    CreditEntryKind,
    CreditRefund,
    CustomerCredit,
    Invoice,
    InvoiceColor,
    InvoiceStatus,
    Product,
    Quote,
    QuoteStatus,
    Receipt,
    ReceiptReversal,
)
from leadtocash.contracts.reminders import DueReminders
from leadtocash.errors import ValidationError
from leadtocash.model import Contact, Customer, Deletion, FollowUp, Lead, SalesRep, Team, Zone
from leadtocash.pipeline.opportunity import Opportunity
from leadtocash.pool.book import DailyClaims, OwnershipChange, RepBook
from leadtocash.pool.browsing import DailyBrowses
from leadtocash.pool.leads import OPEN_LEAD_STATUSES, LeadBook, LeadOwnershipChange, LeadPool
from leadtocash.pool.reclaim import LeadScheduleRecompute, ScheduleRecompute
from leadtocash.pool.rules import Pool
from leadtocash.settings import OrganisationSettings

__all__ = [
    "BIN_QUERIES",
    "OPPORTUNITY_QUERIES",
    "QUERIED_INDEXES",
    "SPECS",
    "AggregateSpec",
    "bin_indexes",
    "group_bounds",
    "grouped",
    "name_prefix",
    "sortable_int",
    "sortable_time",
    "spec_for",
]

T = TypeVar("T")


def sortable_time(value: datetime) -> str:
    """Index text for an instant whose text order is time order (UTC, fixed width)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sortable_int(value: int) -> str:
    """Index text for a non-negative integer whose text order is numeric order."""
    if value < 0:
        raise ValueError("sortable_int takes non-negative integers")
    return f"{value:020d}"


def grouped(key: str, *order: str) -> str:
    """Index text for an entry filed under ``key`` and ordered by ``order`` within it."""
    return "|".join((key, *order))


def group_bounds(key: str) -> tuple[str, str]:
    """``(at_least, below)`` bounds selecting every entry ``grouped`` under ``key``."""
    return f"{key}|", f"{key}}}"  # "}" follows "|" in code-point order


def _names(names: Iterable[str]) -> frozenset[str]:
    return frozenset(names)


def _no_indexes(_agg: Any) -> Mapping[str, str | None]:
    return {}


def _no_keys(_agg: Any) -> frozenset[str]:
    return frozenset()


def _no_dedup(_agg: Any) -> frozenset[DedupKey]:
    return frozenset()


@attrs.frozen
class AggregateSpec(Generic[T]):
    """Storage description of one aggregate type.

    ``dedup_keys`` feed anti-collision: every one is stored as a lookup key, and when
    ``dedup_unique`` is set, those the collision policy blocks on are also unique keys.
    ``hidden`` says which stored records repositories do not hand out (records in the
    recycle bin: ``get`` raises NotFound; only the bin reads them). ``queried`` names the
    indexes the library queries by (the others only narrow a query in its ``where``
    clauses): what an adapter gives an index of its own (:data:`QUERIED_INDEXES`), and all
    a repository may query.
    """

    kind: str
    type: type[T]
    indexes: Callable[[T], Mapping[str, str | None]] = _no_indexes
    queried: frozenset[str] = attrs.field(default=frozenset(), converter=_names)
    unique_keys: Callable[[T], frozenset[str]] = _no_keys
    dedup_keys: Callable[[T], frozenset[DedupKey]] = _no_dedup
    dedup_unique: bool = False
    hidden: Callable[[T], bool] | None = None


@functools.lru_cache(maxsize=4096)
def _keys_of(
    name: str | None, phones: tuple[str, ...], emails: tuple[str, ...], uscc: str | None
) -> frozenset[DedupKey]:
    """:func:`~leadtocash.collision.stored_keys`, remembered per value: a record's name,
    phones and e-mails rarely change between its writes, and normalizing a name or parsing a
    phone that is not yet canonical costs ~0.1 ms."""
    return stored_keys(name, phones, emails, uscc)


#: The recycle bin's queries of a kind whose records it holds (see :func:`bin_indexes`).
BIN_QUERIES = frozenset({"deleted", "purge_due", "deleted_with"})


def bin_indexes(deleted: Deletion) -> Mapping[str, str | None]:
    """The only indexes of a record in the recycle bin: by deletion time, purge due time,
    the customer it was deleted with; a purged tombstone only by its purge time."""
    if deleted.purged_at is not None:
        return {"purged": sortable_time(deleted.purged_at)}
    due = deleted.purge_due_at
    return {
        "deleted": sortable_time(deleted.at),
        "purge_due": sortable_time(due) if due else None,
        "deleted_with": deleted.with_customer,
    }


def _is_deleted(record: Any) -> bool:
    return record.deleted is not None


def _customer_dedup(customer: Customer) -> frozenset[DedupKey]:
    if customer.merged_into is not None or customer.deleted is not None:
        return frozenset()  # an archived merge loser or a deleted customer gives its keys up
    return _keys_of(customer.name, tuple(customer.phones), tuple(customer.emails), customer.uscc)


def name_prefix(name: str) -> str | None:
    """Index text for fuzzy-name candidates: the first two characters of the normalized name."""
    try:
        return name_key(name).value[:2]
    except ValidationError:
        return None


def _lead_dedup(lead: Lead) -> frozenset[DedupKey]:
    if lead.deleted is not None:
        return frozenset()
    phones = (lead.phone,) if lead.phone else ()
    emails = (lead.email,) if lead.email else ()
    return _keys_of(lead.company_name, phones, emails, lead.uscc)


def _lead_pool_indexes(lead: Lead) -> Mapping[str, str | None]:
    """The lead pools' indexes: unowned leads per pool, owned ones per pool and per rep (open
    only), and the reclaim sweep's due and warning instants (set only while they apply)."""
    if lead.status not in OPEN_LEAD_STATUSES:
        return {}
    owned = lead.owner_id is not None
    due = lead.reclaim_due_at if owned else None
    warn = lead.warn_at if owned and lead.warned_due_at != due else None
    return {
        "lead_pool": None if owned else lead.pool_id,
        "owned_lead_pool": lead.pool_id if owned else None,
        "open_owner": lead.owner_id,
        "reclaim_due": sortable_time(due) if due else None,
        "reclaim_warn": sortable_time(warn) if warn else None,
    }


def _lead_indexes(lead: Lead) -> Mapping[str, str | None]:
    if lead.deleted is not None:
        return bin_indexes(lead.deleted)
    return {
        "status": lead.status.value,
        "owner": lead.owner_id,
        "created": sortable_time(lead.created_at),
        **_lead_pool_indexes(lead),
        **lead_list_indexes(lead),  # the lead screens' lists, sorts and search
    }


def _customer_indexes(customer: Customer) -> Mapping[str, str | None]:
    if customer.deleted is not None:
        return bin_indexes(customer.deleted)
    if customer.merged_into is not None:
        return {"merged_into": customer.merged_into}
    owned = customer.owner_id is not None
    due = customer.reclaim_due_at if owned else None
    warn = customer.warn_at if owned and customer.warned_due_at != due else None
    due_text = sortable_time(due) if due else None
    listed = customer_list_indexes(customer)  # the customer screens' lists, sorts and search
    name = listed["name"]  # the normalized name: name_prefix(customer.name) is its start
    return {
        "owner": customer.owner_id,
        "pool": None if owned else customer.pool_id,
        "owned_pool": customer.pool_id if owned else None,
        "reclaim_due": due_text,
        "reclaim_warn": sortable_time(warn) if warn else None,
        "reclaim_provisional": due_text if customer.reclaim_provisional else None,
        **listed,
        "name_prefix": name[:2] if name else None,
    }


def _followup_indexes(follow_up: FollowUp) -> Mapping[str, str | None]:
    target = follow_up.customer_id or follow_up.lead_id
    return {
        "target": grouped(str(target), sortable_time(follow_up.at)),
        **follow_up_list_indexes(follow_up),  # per rep, and open plans by due time
    }


#: What :meth:`~leadtocash.app.pipeline.PipelineService.opportunities` may list deals by.
OPPORTUNITY_QUERIES = frozenset({"owner", "customer", "stage", "close_month", "open_close_date"})


def _opportunity_indexes(opportunity: Opportunity) -> Mapping[str, str | None]:
    if opportunity.deleted is not None:
        return bin_indexes(opportunity.deleted)
    is_open = opportunity.closed_at is None
    return {
        "owner": opportunity.owner_id,
        "customer": opportunity.customer_id,
        "stage": opportunity.stage,
        "close_month": opportunity.close_month,
        "open_close_date": opportunity.close_date.isoformat() if is_open else None,
    }


# -- contract to cash -------------------------------------------------------------------------
_OPEN_QUOTES = frozenset(
    {QuoteStatus.DRAFT, QuoteStatus.PENDING_APPROVAL, QuoteStatus.APPROVED, QuoteStatus.SENT}
)


def _product_indexes(product: Product) -> Mapping[str, str | None]:
    return {"code": product.code, "active": product.code if product.active else None}


def _quote_indexes(quote: Quote) -> Mapping[str, str | None]:
    is_open = quote.status in _OPEN_QUOTES
    pending = quote.status is QuoteStatus.PENDING_APPROVAL
    return {
        "customer": grouped(quote.customer_id, sortable_time(quote.created_at)),
        # open quotes by the last day they are valid: the expiry sweep reads what ended
        "open_valid_until": quote.valid_until.isoformat() if is_open else None,
        "pending_approval": sortable_time(quote.updated_at or quote.created_at)
        if pending
        else None,
    }


def _contract_indexes(contract: Contract) -> Mapping[str, str | None]:
    if contract.deleted is not None:
        return bin_indexes(contract.deleted)
    active = contract.status is ContractStatus.ACTIVE
    signed = contract.signed_at or contract.created_at
    renews = contract.ends_on is not None and contract.status in _RENEWING
    return {
        # the renewal sweep: contracts that may renew, by the day they end
        "renews_on": contract.ends_on.isoformat() if renews and contract.ends_on else None,
        "customer": grouped(contract.customer_id, sortable_time(contract.created_at)),
        "active": sortable_time(signed) if active else None,
        "active_customer": contract.customer_id if active else None,
        "pending_approval": sortable_time(contract.updated_at or contract.created_at)
        if contract.status is ContractStatus.PENDING_APPROVAL
        else None,
    }


_RENEWING = frozenset({ContractStatus.ACTIVE, ContractStatus.COMPLETED})


def _invoice_indexes(invoice: Invoice) -> Mapping[str, str | None]:
    is_open = (
        invoice.color is InvoiceColor.BLUE
        and invoice.status in OPEN_INVOICE_STATUSES
        and invoice.due_date is not None
    )
    due = invoice.due_date.isoformat() if is_open and invoice.due_date else None
    issued = invoice.status not in (InvoiceStatus.DRAFT, InvoiceStatus.VOID)
    return {
        "contract": grouped(invoice.contract_id, sortable_time(invoice.created_at)),
        "customer": grouped(invoice.customer_id, sortable_time(invoice.created_at)),
        # the overdue scan: set only while the invoice is open, valued by its due date
        "open_due": due,
        "open_customer": grouped(invoice.customer_id, due) if due else None,
        "issued_on": invoice.issued_on.isoformat() if issued and invoice.issued_on else None,
    }


def _receipt_indexes(receipt: Receipt) -> Mapping[str, str | None]:
    return {
        "customer": grouped(receipt.customer_id, receipt.received_on.isoformat()),
        "received": receipt.received_on.isoformat(),
    }


def _credit_indexes(credit: CustomerCredit) -> Mapping[str, str | None]:
    applied = [e.at for e in credit.entries if e.kind is CreditEntryKind.APPLICATION]
    return {
        "customer": credit.customer_id,
        "last_applied": sortable_time(max(applied)) if applied else None,
    }


# -- after-sales ------------------------------------------------------------------------------
def _ticket_indexes(ticket: Ticket) -> Mapping[str, str | None]:
    opened = sortable_time(ticket.opened_at)
    rating = ticket.satisfaction
    breach = max((b.due_at for b in ticket.breaches), default=None)
    return {
        "customer": grouped(ticket.customer_id, opened),
        "assignee": grouped(ticket.assignee_id, opened) if ticket.assignee_id else None,
        "team": grouped(ticket.team_id, opened) if ticket.team_id else None,
        # the breach sweep: set only while a warning or breach is pending, at its instant
        "sla_check": sortable_time(ticket.sla_check_at) if ticket.sla_check_at else None,
        # CSAT per period and churn look-backs read what happened in a window
        "rated": sortable_time(rating.rated_at) if rating else None,
        "breached": sortable_time(breach) if breach else None,
    }


SPECS: tuple[AggregateSpec[Any], ...] = (
    AggregateSpec(
        "lead",
        Lead,
        _lead_indexes,
        LEAD_LIST_QUERIES
        | BIN_QUERIES
        | {"status", "open_owner", "lead_pool", "owned_lead_pool", "reclaim_due", "reclaim_warn"},
        dedup_keys=_lead_dedup,
        hidden=_is_deleted,
    ),
    AggregateSpec(
        "customer",
        Customer,
        _customer_indexes,
        CUSTOMER_LIST_QUERIES
        | BIN_QUERIES
        | {
            "owner",
            "pool",
            "owned_pool",
            "pool_zone",
            "tier",
            "zone",
            "merged_into",
            "name_prefix",
            "reclaim_warn",
            "reclaim_provisional",
        },
        dedup_keys=_customer_dedup,
        dedup_unique=True,
        hidden=_is_deleted,
    ),
    AggregateSpec("contact", Contact, lambda c: {"customer": c.customer_id}, {"customer"}),
    AggregateSpec(
        "sales_rep", SalesRep, lambda r: {"zone": r.zone_id, "team": r.team_id}, {"zone", "team"}
    ),
    AggregateSpec("team", Team),
    AggregateSpec("zone", Zone),
    AggregateSpec(
        "follow_up", FollowUp, _followup_indexes, {"target", "rep", "plan_open", "plan_due"}
    ),
    AggregateSpec("pool", Pool, lambda p: {"name": grouped(p.name, p.id)}, {"name"}),
    AggregateSpec("fairness_ledger", FairnessLedger),
    AggregateSpec("rep_book", RepBook),
    AggregateSpec("daily_claims", DailyClaims),
    AggregateSpec("lead_pool", LeadPool, lambda p: {"name": grouped(p.name, p.id)}, {"name"}),
    AggregateSpec("lead_book", LeadBook),
    AggregateSpec("daily_browses", DailyBrowses),
    AggregateSpec(
        "ownership_change",
        OwnershipChange,
        lambda c: {"customer": grouped(c.customer_id, sortable_time(c.at), c.id)},
        {"customer"},
    ),
    AggregateSpec(
        "lead_ownership_change",
        LeadOwnershipChange,
        lambda c: {"lead": grouped(c.lead_id, sortable_time(c.at), c.id)},
        {"lead"},
    ),
    AggregateSpec(
        "opportunity",
        Opportunity,
        _opportunity_indexes,
        OPPORTUNITY_QUERIES | BIN_QUERIES,
        hidden=_is_deleted,
    ),
    AggregateSpec("organisation_settings", OrganisationSettings),
    AggregateSpec(
        "schedule_recompute",
        ScheduleRecompute,
        lambda job: {"pending": None if job.done else sortable_time(job.requested_at)},
        {"pending"},
    ),
    AggregateSpec(
        "lead_schedule_recompute",
        LeadScheduleRecompute,
        lambda job: {"pending": None if job.done else sortable_time(job.requested_at)},
        {"pending"},
    ),
    AggregateSpec(
        "lead_rescore",
        LeadRescore,
        lambda job: {"pending": None if job.done else sortable_time(job.requested_at)},
        {"pending"},
    ),
    AggregateSpec("product", Product, _product_indexes, {"code", "active"}),
    AggregateSpec(
        "quote", Quote, _quote_indexes, {"customer", "open_valid_until", "pending_approval"}
    ),
    AggregateSpec(
        "contract",
        Contract,
        _contract_indexes,
        BIN_QUERIES | {"renews_on", "customer", "active", "active_customer", "pending_approval"},
        hidden=_is_deleted,
    ),
    AggregateSpec(
        "invoice",
        Invoice,
        _invoice_indexes,
        {"contract", "customer", "open_due", "open_customer", "issued_on"},
    ),
    AggregateSpec("receipt", Receipt, _receipt_indexes, {"customer", "received"}),
    AggregateSpec(
        "receipt_reversal",
        ReceiptReversal,
        lambda r: {
            "receipt": r.receipt_id,
            "customer": grouped(r.customer_id, sortable_time(r.at)),
        },
        {"customer"},
    ),
    AggregateSpec("customer_credit", CustomerCredit, _credit_indexes, {"customer", "last_applied"}),
    AggregateSpec(
        "credit_refund",
        CreditRefund,
        lambda r: {"customer": grouped(r.customer_id, sortable_time(r.at))},
        {"customer"},
    ),
    AggregateSpec(
        "due_reminders",
        DueReminders,
        lambda r: {"next": r.next_on.isoformat() if r.next_on else None},
        {"next"},
    ),
    AggregateSpec(
        "ticket",
        Ticket,
        _ticket_indexes,
        {"customer", "assignee", "team", "sla_check", "rated", "breached"},
    ),
    AggregateSpec(
        "renewal",
        Renewal,
        lambda r: {"customer": grouped(r.customer_id, r.ends_on.isoformat())},
        {"customer"},
    ),
)

_BY_TYPE: dict[type[Any], AggregateSpec[Any]] = {spec.type: spec for spec in SPECS}

#: The indexes the library queries by, per kind: what a storage adapter should index (the
#: PostgreSQL adapter gives each an expression index). Querying any other index still gets
#: the right answer from every adapter, by reading all records of its kind.
QUERIED_INDEXES: Mapping[str, frozenset[str]] = types.MappingProxyType(
    {spec.kind: spec.queried for spec in SPECS if spec.queried}
)


def spec_for(cls: type[T]) -> AggregateSpec[T]:
    """The spec registered for ``cls``."""
    try:
        return _BY_TYPE[cls]
    except KeyError:
        raise TypeError(f"{cls.__name__} is not a registered aggregate") from None
