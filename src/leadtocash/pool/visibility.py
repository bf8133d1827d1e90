"""Field masking: who sees a customer's contact fields and who sees money.

* Contact fields (phones, e-mails, address): owners, collaborators and managers; everyone
  else sees them masked (``+86138****8000``).
* Amounts (a customer's budget, an opportunity's amount): principals whose roles grant
  ``amount.read``, and of those, plain reps only on what they own. A hidden amount reads as
  None (views say so with a flag where the type allows it).
"""

from __future__ import annotations

import attrs

from leadtocash.access import Action, Principal, Role, RolePolicy
from leadtocash.model import Customer, RepId

__all__ = [
    "MASK",
    "can_see_amounts",
    "can_see_contact",
    "mask_email",
    "mask_phone",
    "visible_customer",
]

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


def can_see_amounts(principal: Principal, owner: RepId | None, policy: RolePolicy) -> bool:
    """May ``principal`` see the money of a record owned by ``owner``?

    Needs ``amount.read``; managers and finance then see all amounts in their scope, a rep
    only those of records they own (a collaborator follows the deal, not its money).
    """
    if not policy.allows(principal, Action.AMOUNT_READ):
        return False
    if principal.is_manager or principal.has(Role.FINANCE):
        return True
    return principal.rep_id is not None and principal.rep_id == owner


def visible_customer(
    customer: Customer, principal: Principal, policy: RolePolicy | None = None
) -> Customer:
    """``customer`` as ``principal`` may see it: contact fields masked, budget hidden (None)
    when not allowed. ``policy`` defaults to the default role policy."""
    show_budget = customer.signals.budget is None or can_see_amounts(
        principal, customer.owner_id, policy or RolePolicy()
    )
    if not show_budget:
        customer = attrs.evolve(customer, signals=attrs.evolve(customer.signals, budget=None))
    if can_see_contact(customer, principal):
        return customer
    return attrs.evolve(
        customer,
        phones=tuple(mask_phone(p) for p in customer.phones),
        emails=tuple(mask_email(e) for e in customer.emails),
        address=MASK if customer.address else None,
    )
