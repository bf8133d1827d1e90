"""Approvals of quotes, contracts and amendments: who may approve, never one's own document."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import attrs

from leadtocash.access import Principal, Role
from leadtocash.errors import RuleViolation
from leadtocash.validators import non_blank, utc

__all__ = ["DEFAULT_APPROVER_ROLES", "Approval", "ApprovalPolicy", "check_approver"]

#: Roles that approve discounts, contracts and amendments unless a policy says otherwise.
DEFAULT_APPROVER_ROLES: frozenset[Role] = frozenset({Role.ADMIN, Role.ZONE_MANAGER, Role.TEAM_LEAD})


def _roles(value: Iterable[Role | str]) -> frozenset[Role]:
    return frozenset(Role(r) for r in value)


@attrs.frozen
class ApprovalPolicy:
    """Which roles may approve a contract or an amendment."""

    approver_roles: frozenset[Role] = attrs.field(default=DEFAULT_APPROVER_ROLES, converter=_roles)


@attrs.frozen
class Approval:
    """A recorded approval: who approved, when, and why (the reason is required)."""

    approver_id: str = attrs.field(validator=non_blank)
    at: datetime = attrs.field(validator=utc)
    reason: str = attrs.field(validator=non_blank)


def check_approver(
    approver: Principal,
    roles: frozenset[Role],
    author_id: str,
    *,
    self_code: str,
    document: str,
    document_id: str,
) -> None:
    """Refuse an approver without an approving role, or the document's own author."""
    if not approver.roles & roles:
        raise RuleViolation(
            f"{approver.user_id} holds none of the approving roles",
            code="contracts.approver_role",
            details={
                "approver_id": approver.user_id,
                "roles": sorted(r.value for r in roles),
                "document": document,
                "id": document_id,
            },
        )
    if approver.user_id == author_id:
        raise RuleViolation(
            f"{approver.user_id} wrote {document} {document_id} and may not approve it",
            code=self_code,
            details={"approver_id": approver.user_id, "document": document, "id": document_id},
        )
