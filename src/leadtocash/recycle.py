"""The recycle bin (回收站): the rules of soft deletes, restores and purges.

Deleting a lead, customer, opportunity or contract does not remove it: the record gets a
:class:`~leadtocash.model.Deletion` (who, when, why, when it may be purged) and keeps its
data, so it can be restored within the organisation's retention period. While deleted it
is in no list, search or dedup key (the storage specs give it only the bin's indexes).
After the retention period the purge sweep scrubs its personal fields and leaves a
tombstone, which can no longer be restored. This module holds the pure rules; the
application's ``RecycleBinService`` applies them inside a unit of work.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar

import attrs

from leadtocash.contracts import Contract, ContractStatus
from leadtocash.errors import FieldError, RuleViolation, ValidationError
from leadtocash.events import DomainEvent
from leadtocash.fields import length_errors
from leadtocash.model import CustomerId, Deletion, Lead, LeadStatus, utc

__all__ = [
    "DELETABLE_CONTRACT_STATUSES",
    "BinKind",
    "RecordDeleted",
    "RecordPurged",
    "RecordRestored",
    "RecycleRules",
    "check_contract_deletable",
    "check_customer_dependents",
    "check_lead_deletable",
    "check_not_deleted",
    "check_restorable",
    "new_deletion",
    "purged",
]


class BinKind(enum.StrEnum):
    """What may be deleted to the recycle bin (the storage kind of each)."""

    LEAD = "lead"
    CUSTOMER = "customer"
    OPPORTUNITY = "opportunity"
    CONTRACT = "contract"


def _retention(_inst: object, attribute: attrs.Attribute[Any], value: int | None) -> None:
    if value is not None and value < 0:
        raise ValidationError.single(attribute.name, "field.negative", "must be >= 0")


@attrs.frozen
class RecycleRules:
    """How long a deleted record stays restorable, in calendar days.

    ``retention_days`` None keeps deleted records until someone restores them (never
    purged); 0 lets the next purge sweep take them. A deletion keeps the purge date
    computed when it was made: changing the rule later moves no existing deletion.
    """

    retention_days: int | None = attrs.field(default=30, validator=_retention)

    def purge_due(self, deleted_at: datetime) -> datetime | None:
        """When a record deleted at ``deleted_at`` may be purged (None: never)."""
        if self.retention_days is None:
            return None
        return deleted_at + timedelta(days=self.retention_days)


#: Contract states that were never signed: the only ones that may be deleted (signed
#: contracts are legal records; they are completed or terminated, never deleted).
DELETABLE_CONTRACT_STATUSES = frozenset(
    {ContractStatus.DRAFT, ContractStatus.PENDING_APPROVAL, ContractStatus.APPROVED}
)


def new_deletion(
    rules: RecycleRules,
    at: datetime,
    by: str,
    reason: str,
    *,
    with_customer: CustomerId | None = None,
) -> Deletion:
    """A deletion made now; ValidationError ``field.required`` on ``reason`` without one."""
    errors: list[FieldError] = []
    if not reason or not reason.strip():
        errors.append(FieldError("reason", "field.required", "a deletion needs a reason"))
    errors += length_errors({"reason": reason})
    if errors:
        raise ValidationError(errors)
    return Deletion(at, by, reason.strip(), rules.purge_due(at), None, with_customer)


def purged(deletion: Deletion, at: datetime) -> Deletion:
    """``deletion`` after the purge at ``at`` (no longer due; never restorable)."""
    return attrs.evolve(deletion, purge_due_at=None, purged_at=at)


def check_not_deleted(kind: BinKind, ident: str, deleted: Deletion | None) -> None:
    """RuleViolation ``recycle.already_deleted`` when the record is in the bin already."""
    if deleted is not None:
        raise RuleViolation(
            f"{kind.value} {ident} is already in the recycle bin",
            code="recycle.already_deleted",
            details={"kind": kind.value, "id": ident},
        )


def check_lead_deletable(lead: Lead) -> None:
    """A converted lead is the history of its customer: RuleViolation ``recycle.lead_converted``."""
    check_not_deleted(BinKind.LEAD, lead.id, lead.deleted)
    if lead.status is LeadStatus.CONVERTED:
        raise RuleViolation(
            f"lead {lead.id} was converted; it cannot be deleted",
            code="recycle.lead_converted",
            details={"kind": "lead", "id": lead.id},
        )


def check_contract_deletable(contract: Contract) -> None:
    """Only contracts never signed may be deleted: RuleViolation ``recycle.contract_signed``."""
    check_not_deleted(BinKind.CONTRACT, contract.id, contract.deleted)
    if contract.signed or contract.status not in DELETABLE_CONTRACT_STATUSES:
        raise RuleViolation(
            f"contract {contract.id} is {contract.status.value}; signed contracts are legal "
            "records and cannot be deleted",
            code="recycle.contract_signed",
            details={"kind": "contract", "id": contract.id, "status": contract.status.value},
        )


def check_customer_dependents(
    customer_id: str,
    *,
    open_opportunities: Sequence[str] = (),
    contracts: Sequence[str] = (),
    open_invoices: Sequence[str] = (),
) -> None:
    """A customer with open deals, live contracts or unpaid invoices stays.

    RuleViolation ``recycle.has_dependents`` naming every dependent (ids per kind); delete
    or close them first (signed contracts and their invoices keep the customer for good).
    """
    found = {
        "opportunities": sorted(open_opportunities),
        "contracts": sorted(contracts),
        "invoices": sorted(open_invoices),
    }
    named = {kind: ids for kind, ids in found.items() if ids}
    if named:
        listing = "; ".join(f"{kind}: {', '.join(ids)}" for kind, ids in named.items())
        raise RuleViolation(
            f"customer {customer_id} still has {listing}",
            code="recycle.has_dependents",
            details={"kind": "customer", "id": customer_id, "dependents": named},
        )


def check_restorable(kind: BinKind, ident: str, deleted: Deletion | None) -> Deletion:
    """The record's deletion, if it can be restored.

    RuleViolation ``recycle.not_deleted`` when it is not in the bin, ``recycle.already_purged`` when
    the purge already scrubbed it (a tombstone is never restored).
    """
    if deleted is None:
        raise RuleViolation(
            f"{kind.value} {ident} is not in the recycle bin",
            code="recycle.not_deleted",
            details={"kind": kind.value, "id": ident},
        )
    if deleted.purged_at is not None:
        raise RuleViolation(
            f"{kind.value} {ident} was purged from the recycle bin; it cannot be restored",
            code="recycle.already_purged",
            details={"kind": kind.value, "id": ident, "purged_at": deleted.purged_at.isoformat()},
        )
    return deleted


@attrs.frozen
class RecordDeleted(DomainEvent):
    """A record was moved to the recycle bin."""

    topic: ClassVar[str] = "recycle.deleted"
    kind: str
    record_id: str
    by: str
    reason: str
    purge_due_at: datetime | None = attrs.field(default=None, validator=utc)


@attrs.frozen
class RecordRestored(DomainEvent):
    """A record came back from the recycle bin (``owner_id``: whom it belongs to now)."""

    topic: ClassVar[str] = "recycle.restored"
    kind: str
    record_id: str
    by: str
    owner_id: str | None = None


@attrs.frozen
class RecordPurged(DomainEvent):
    """A deleted record was purged: personal fields scrubbed, a tombstone left."""

    topic: ClassVar[str] = "recycle.purged"
    kind: str
    record_id: str
