"""Principals, roles and the authorization policy every application service consults.

Authentication (who is calling) is a port; authorization (may they do this) is domain policy.
This module holds the role-to-action table; data scopes and collaborators build on it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

import attrs

from leadtocash.errors import PermissionDenied
from leadtocash.model import RepId, TeamId, ZoneId

__all__ = [
    "DEFAULT_PERMISSIONS",
    "Action",
    "Principal",
    "Role",
    "RolePolicy",
]


class Role(enum.StrEnum):
    """Built-in roles; organisations map their own job titles onto these."""

    ADMIN = "admin"
    ZONE_MANAGER = "zone_manager"
    TEAM_LEAD = "team_lead"
    REP = "rep"
    FINANCE = "finance"
    SERVICE = "service"
    SYSTEM = "system"


class Action(enum.StrEnum):
    """Every authorized operation has a stable action name (also used in audit entries)."""

    LEAD_CAPTURE = "lead.capture"
    LEAD_READ = "lead.read"
    LEAD_IMPORT = "lead.import"


@attrs.frozen
class Principal:
    """An authenticated caller: user id, roles and organisational position."""

    user_id: str
    roles: frozenset[Role] = frozenset()
    rep_id: RepId | None = None
    zone_id: ZoneId | None = None
    team_id: TeamId | None = None
    locale: str = "zh-CN"

    def has(self, role: Role) -> bool:
        """True when the principal holds ``role``."""
        return role in self.roles


_SALES = frozenset({Role.ADMIN, Role.ZONE_MANAGER, Role.TEAM_LEAD, Role.REP, Role.SYSTEM})

#: Which roles may perform each action. Unlisted actions are denied to everyone but admin.
DEFAULT_PERMISSIONS: Mapping[Action, frozenset[Role]] = {
    Action.LEAD_CAPTURE: _SALES,
    Action.LEAD_READ: _SALES | {Role.SERVICE},
    Action.LEAD_IMPORT: frozenset({Role.ADMIN, Role.ZONE_MANAGER, Role.SYSTEM}),
}


@attrs.frozen
class RolePolicy:
    """Role-based authorization: a principal may act when one of its roles is allowed."""

    permissions: Mapping[Action, frozenset[Role]] = DEFAULT_PERMISSIONS

    def allows(self, principal: Principal, action: Action) -> bool:
        """True when ``principal`` may perform ``action``."""
        if principal.has(Role.ADMIN):
            return True
        return bool(principal.roles & self.permissions.get(action, frozenset()))

    def check(self, principal: Principal, action: Action) -> None:
        """Raise PermissionDenied (code ``auth.permission_denied``) unless allowed."""
        if not self.allows(principal, action):
            raise PermissionDenied(
                f"{principal.user_id} may not {action.value}",
                details={
                    "action": action.value,
                    "user_id": principal.user_id,
                    "roles": sorted(r.value for r in principal.roles),
                },
            )
