"""Steps shared by the contract-to-cash services: policies, document scopes, paging.

Quotes, contracts, invoices and receipts belong to a customer; who may read or change one is
decided by that customer's data scope (its owner, zone and collaborators), so a rep works the
documents of the customers they own and a zone manager those of the zone, and the documents
follow a customer when it changes hands. Money documents also need the right to see the
customer's amounts (``amount.read``; reps only on customers they own, so a collaborator
follows the customer, not its money). Nothing here calls a service.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from leadtocash.access import Action, Principal
from leadtocash.app.context import AppContext
from leadtocash.app.unit_of_work import Repository, UnitOfWork
from leadtocash.contracts.policies import CashPolicies
from leadtocash.errors import PermissionDenied, RuleViolation, ValidationError
from leadtocash.model import Customer
from leadtocash.pool.visibility import can_see_amounts
from leadtocash.scopes import ScopeTarget

__all__ = [
    "CashPolicies",
    "all_pages",
    "check_of_customer",
    "document_target",
    "guard_document",
    "in_scope",
    "index_ids",
    "page_limit",
]

T = TypeVar("T")

#: The largest page a list read returns.
MAX_PAGE = 500


def document_target(kind: str, ident: str, customer: Customer) -> ScopeTarget:
    """The scope facts of a document: those of its customer (never open like a pool)."""
    return ScopeTarget(
        kind,
        ident,
        owner_rep=customer.owner_id,
        zone=customer.zone_id,
        collaborators=customer.collaborators,
    )


def guard_document(
    ctx: AppContext,
    uow: UnitOfWork,
    principal: Principal,
    kind: str,
    ident: str,
    customer_id: str,
    *,
    write: bool,
    money: bool = True,
) -> Customer:
    """The document's customer, after checking the principal's data scope on it and, for a
    ``money`` document (quote, contract, invoice, receipt, credit), the right to its amounts.

    PermissionDenied ``auth.out_of_scope`` outside the scope, ``auth.permission_denied``
    (action ``amount.read``) without the amounts; NotFound without the customer. A ``write``
    commits only if the customer is unchanged (``AppContext.guard``'s ``record``).
    """
    customer = uow.customers.get(customer_id)
    target = document_target(kind, ident, customer)
    ctx.guard(uow, principal, target, write=write, record=customer)
    if money and not can_see_amounts(principal, customer.owner_id, ctx.policy):
        raise PermissionDenied(
            f"{principal.user_id} may not see the amounts of {kind} {ident}",
            details={"action": Action.AMOUNT_READ.value, "kind": kind, "id": ident},
        )
    return customer


def check_of_customer(record: Any, customer_id: str, *, code: str, field: str) -> None:
    """Refuse a record of another customer where one of ``customer_id``'s is named (a deal's
    contact, a quote's deal, a ticket's contract): RuleViolation ``code``, whose details name
    the record under ``field`` and the customer."""
    if record.customer_id != customer_id:
        raise RuleViolation(
            f"{field} {record.id} is not a record of customer {customer_id}",
            code=code,
            details={field: record.id, "customer_id": customer_id},
        )


def in_scope(
    ctx: AppContext,
    uow: UnitOfWork,
    principal: Principal,
    kind: str,
    documents: Iterable[T],
    customer_of: Callable[[T], str],
    ident_of: Callable[[T], str],
) -> list[T]:
    """The money documents whose customer lies in the principal's read scope and whose
    amounts the principal may see (one customer read)."""
    found = list(documents)
    customers = {c.id: c for c in uow.customers.get_many(sorted({customer_of(d) for d in found}))}
    kept = []
    for document in found:
        customer = customers.get(customer_of(document))  # type: ignore[call-overload]
        if (
            customer is not None
            and ctx.in_scope(uow, principal, document_target(kind, ident_of(document), customer))
            and can_see_amounts(principal, customer.owner_id, ctx.policy)
        ):
            kept.append(document)
    return kept


def all_pages(
    repo: Repository[T],
    index: str,
    *,
    equals: str | None = None,
    at_least: str | None = None,
    below: str | None = None,
    page: int = MAX_PAGE,
) -> list[T]:
    """Every aggregate of a named-index range, read page by page."""
    found: list[T] = []
    cursor: tuple[str, str] | None = None
    while True:
        hits = repo.query(
            index, equals=equals, at_least=at_least, below=below, after=cursor, limit=page
        )
        found.extend(hits.items)
        if hits.next_cursor is None:
            return found
        cursor = hits.next_cursor


def index_ids(
    ctx: AppContext,
    aggregate: type[Any],
    index: str,
    *,
    below: str | None = None,
    page: int = MAX_PAGE,
) -> list[str]:
    """The ids in a named index below ``below``, read in pages (what a sweep has to do)."""
    with ctx.unit_of_work() as uow:
        return uow.repository(aggregate).all_ids(index, below=below, page=page)


def batch_size(value: int, name: str) -> int:
    """How many records a sweep or paged job takes per step, checked: at least 1
    (ValidationError ``field.out_of_range`` on the parameter ``name`` otherwise)."""
    if value < 1:
        raise ValidationError.single(name, "field.out_of_range", "at least 1")
    return value


def page_limit(limit: int) -> int:
    """``limit`` checked: 1 to 500 (ValidationError ``field.out_of_range`` otherwise)."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationError.single("limit", "field.out_of_range", f"1 to {MAX_PAGE}")
    return limit
