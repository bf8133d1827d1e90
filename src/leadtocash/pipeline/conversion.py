"""Lead conversion: the customer and contact a qualified lead becomes, and dedup reuse.

Pure helpers for the application's conversion use case: build the new customer and contact
from the lead, find a reusable contact, and decide from a collision report whether an
existing customer is reused (same owner) or the conversion is refused as a duplicate.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

import attrs

from leadtocash.collision import CollisionHit, CollisionReport, Outcome, raise_if_blocked
from leadtocash.model import Contact, ContactId, Customer, CustomerId, Lead, PoolId, RepId
from leadtocash.pipeline.opportunity import Opportunity

__all__ = [
    "ConversionResult",
    "contact_from_lead",
    "customer_from_lead",
    "matching_contact",
    "reusable_customer",
]


@attrs.frozen
class ConversionResult:
    """What a conversion produced; ``warnings`` are non-blocking collision hits."""

    lead: Lead
    customer: Customer
    contact: Contact | None
    opportunity: Opportunity
    reused_customer: bool
    warnings: tuple[CollisionHit, ...] = ()


def customer_from_lead(
    lead: Lead,
    *,
    customer_id: CustomerId,
    owner_id: RepId,
    at: datetime,
    pool_id: PoolId | None = None,
) -> Customer:
    """A new customer owned by ``owner_id`` carrying the lead's company data."""
    return Customer(
        id=customer_id,
        name=lead.company_name,
        created_at=at,
        updated_at=at,
        uscc=lead.uscc,
        phones=(lead.phone,) if lead.phone else (),
        emails=(lead.email,) if lead.email else (),
        zone_id=lead.zone_id,
        pool_id=pool_id,
        owner_id=owner_id,
        owner_since=at,
        tier=lead.tier,
    )


def contact_from_lead(
    lead: Lead, *, contact_id: ContactId, customer_id: CustomerId, title: str | None = None
) -> Contact | None:
    """The lead's contact person as a contact of the customer (None without a name)."""
    if not lead.contact_name:
        return None
    return Contact(
        id=contact_id,
        customer_id=customer_id,
        name=lead.contact_name,
        title=title,
        phone=lead.phone,
        email=lead.email,
    )


def matching_contact(contacts: Iterable[Contact], lead: Lead) -> Contact | None:
    """An existing contact with the lead's contact name and the same phone or e-mail."""
    for contact in contacts:
        if contact.name != lead.contact_name:
            continue
        if (contact.phone, contact.email) == (lead.phone, lead.email):
            return contact
        if (lead.phone and contact.phone == lead.phone) or (
            lead.email and contact.email == lead.email
        ):
            return contact
    return None


def reusable_customer(
    report: CollisionReport, found: Mapping[str, Customer], owner_id: RepId
) -> Customer | None:
    """The existing customer a conversion reuses, None when dedup found none.

    A blocking hit on a customer owned by ``owner_id`` is reused; a blocking hit on anyone
    else's (or a pool's) customer raises RuleViolation ``collision.duplicate`` naming it.
    """
    blocking = [ref for ref in report.records(Outcome.BLOCK) if ref.id in found]
    if not blocking:
        return None
    customer = found[blocking[0].id]
    if customer.owner_id != owner_id:
        raise_if_blocked(report)
    return customer
