"""Contact masking: reps see a customer's phone, e-mail and address only once they own it."""

from __future__ import annotations

import attrs

from leadtocash.access import Principal
from leadtocash.model import Customer

__all__ = ["MASK", "can_see_contact", "mask_email", "mask_phone", "visible_customer"]

#: What replaces a hidden value entirely.
MASK = "***"


def mask_phone(phone: str) -> str:
    """Keep the country code, the first three and the last four digits: +86138****8000."""
    if len(phone) <= 8:
        return MASK
    head = 6 if phone.startswith("+86") else min(4, len(phone) - 4)
    return phone[:head] + "*" * (len(phone) - head - 4) + phone[-4:]


def mask_email(email: str) -> str:
    """Keep the first character and the domain: b***@example.com."""
    user, _, domain = email.partition("@")
    return f"{user[:1]}{MASK}@{domain}" if domain else MASK


def can_see_contact(customer: Customer, principal: Principal) -> bool:
    """Owners, collaborators and managers see contact fields; everyone else sees them masked."""
    if principal.is_manager:
        return True
    rep = principal.rep_id
    return rep is not None and (
        rep == customer.owner_id or any(c.rep_id == rep for c in customer.collaborators)
    )


def visible_customer(customer: Customer, principal: Principal) -> Customer:
    """``customer`` as ``principal`` may see it (contact fields masked when not allowed)."""
    if can_see_contact(customer, principal):
        return customer
    return attrs.evolve(
        customer,
        phones=tuple(mask_phone(p) for p in customer.phones),
        emails=tuple(mask_email(e) for e in customer.emails),
        address=MASK if customer.address else None,
    )
