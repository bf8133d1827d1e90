"""Data scopes (数据权限) and per-customer collaborators (多战区协同跟进).

Roles say *what* a principal may do (``access.RolePolicy``); scopes say *on which records*:
own (records they own), team (records owned by their team), zone (records of their zone), or
all. Collaborators from other zones get read or write access to one customer. Unowned
customers sitting in a pool are readable by everyone whose scope covers the pool's zone (they
must see the pool to claim from it). Every application command checks the scope of the record
it loads before changing anything.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Final

import attrs

from leadtocash.access import DEFAULT_PERMISSIONS, Action, Principal, Role
from leadtocash.errors import PermissionDenied
from leadtocash.model import (
    Collaborator,
    CollaboratorAccess,
    Customer,
    Lead,
    RepId,
    SalesRep,
    TeamId,
    ZoneId,
)

__all__ = [
    "DEFAULT_ROLE_SCOPES",
    "Collaborator",
    "CollaboratorAccess",
    "DataScope",
    "ScopePolicy",
    "ScopeTarget",
    "customer_target",
    "lead_target",
    "permission_matrix_markdown",
    "rep_target",
]


class DataScope(enum.StrEnum):
    """How far a principal's data access reaches (own < team < zone < all)."""

    OWN = "own"
    TEAM = "team"
    ZONE = "zone"
    ALL = "all"

    @property
    def rank(self) -> int:
        """Position in own < team < zone < all."""
        return _SCOPE_RANKS[self]


_SCOPE_RANKS: Final[Mapping[DataScope, int]] = {scope: n for n, scope in enumerate(DataScope)}


#: The default scope of each role (the widest scope of a principal's roles applies).
DEFAULT_ROLE_SCOPES: Mapping[Role, DataScope] = {
    Role.ADMIN: DataScope.ALL,
    Role.SYSTEM: DataScope.ALL,
    Role.FINANCE: DataScope.ALL,
    Role.SERVICE: DataScope.ALL,
    Role.ZONE_MANAGER: DataScope.ZONE,
    Role.TEAM_LEAD: DataScope.TEAM,
    Role.REP: DataScope.OWN,
}


@attrs.frozen
class ScopeTarget:
    """What a scope check needs to know about one record."""

    kind: str
    id: str
    owner_rep: RepId | None = None
    owner_team: TeamId | None = None
    zone: ZoneId | None = None
    collaborators: tuple[Collaborator, ...] = ()
    in_pool: bool = False


@attrs.frozen
class ScopePolicy:
    """Evaluates data scopes: may this principal read or write this record?"""

    role_scopes: Mapping[Role, DataScope] = DEFAULT_ROLE_SCOPES

    def scope_of(self, principal: Principal) -> DataScope | None:
        """The widest scope of the principal's roles (None when no role grants any)."""
        scopes = [self.role_scopes[r] for r in principal.roles if r in self.role_scopes]
        return max(scopes, key=lambda s: s.rank) if scopes else None

    def reason(self, principal: Principal, target: ScopeTarget, *, write: bool) -> str | None:
        """Why ``principal`` may access ``target`` (``own``, ``team``…), or None if not."""
        scope = self.scope_of(principal)
        if scope is None:
            return None
        mine = principal.rep_id is not None and target.owner_rep == principal.rep_id
        same_zone = target.zone is None or target.zone == principal.zone_id
        if scope is DataScope.ALL:
            return "all"
        if mine:
            return "own"
        if scope.rank >= DataScope.ZONE.rank and principal.zone_id is not None and same_zone:
            return "zone"
        same_team = principal.team_id is not None and target.owner_team == principal.team_id
        if scope.rank >= DataScope.TEAM.rank and same_team:
            return "team"
        for collaborator in target.collaborators:
            may = not write or collaborator.access is CollaboratorAccess.WRITE
            if collaborator.rep_id == principal.rep_id and may:
                return f"collaborator:{collaborator.access.value}"
        # Everyone may see the pool of their zone (to claim from it); managers act on it.
        acts_on_pool = not write or scope.rank >= DataScope.TEAM.rank
        if target.in_pool and target.owner_rep is None and same_zone and acts_on_pool:
            return "pool"
        return None

    def allows(self, principal: Principal, target: ScopeTarget, *, write: bool) -> bool:
        """True when the record is inside the principal's scope."""
        return self.reason(principal, target, write=write) is not None

    def check(self, principal: Principal, target: ScopeTarget, *, write: bool) -> str:
        """The reason access is allowed; PermissionDenied ``auth.out_of_scope`` otherwise."""
        found = self.reason(principal, target, write=write)
        if found is None:
            raise PermissionDenied(
                f"{target.kind} {target.id} is outside {principal.user_id}'s data scope",
                code="auth.out_of_scope",
                details={
                    "kind": target.kind,
                    "id": target.id,
                    "user_id": principal.user_id,
                    "write": write,
                },
            )
        return found


def customer_target(customer: Customer) -> ScopeTarget:
    """The scope facts of a customer (owner team is resolved by the caller when needed)."""
    return ScopeTarget(
        "customer",
        customer.id,
        owner_rep=customer.owner_id,
        zone=customer.zone_id,
        collaborators=customer.collaborators,
        in_pool=customer.owner_id is None and customer.pool_id is not None,
    )


def lead_target(lead: Lead) -> ScopeTarget:
    """The scope facts of a lead; unowned leads are open to their zone like a pool."""
    return ScopeTarget(
        "lead", lead.id, owner_rep=lead.owner_id, zone=lead.zone_id, in_pool=lead.owner_id is None
    )


def rep_target(rep: SalesRep) -> ScopeTarget:
    """The scope facts of a rep (whose work or follow-ups a manager reads or assigns to): a
    zone manager reaches the reps of their zone, a team lead those of their team."""
    return ScopeTarget(
        "sales_rep", rep.id, owner_rep=rep.id, owner_team=rep.team_id, zone=rep.zone_id
    )


def permission_matrix_markdown(
    permissions: Mapping[Action, frozenset[Role]] = DEFAULT_PERMISSIONS,
    role_scopes: Mapping[Role, DataScope] = DEFAULT_ROLE_SCOPES,
) -> str:
    """The permission matrix (actions × roles, and each role's data scope) as Markdown.

    ``docs/permissions.md`` is generated from this, so the documentation cannot drift from the
    policy the services enforce (a test compares them).
    """
    roles = list(Role)
    lines = [
        "# Permission matrix",
        "",
        "Generated from `leadtocash.access.DEFAULT_PERMISSIONS` and",
        "`leadtocash.scopes.DEFAULT_ROLE_SCOPES` by `scripts/permission_matrix.py`; do not edit.",
        "`admin` may perform every action. A permitted action is further limited to records",
        "inside the role's data scope (see the second table); collaborators get read or write",
        "access to single customers; unowned customers in a pool are readable by the pool's zone",
        "and actionable by team leads and managers there.",
        "",
        "Masking applies to everything returned. Contact fields (phones, e-mails, address) are",
        "shown to the owner, collaborators and managers, and masked for everyone else. Amounts",
        "(deal amounts, customer budgets) need `amount.read`: managers and finance then see them",
        "in their scope, reps only on what they own, and everyone else gets them hidden",
        "(`None`, with `amount_hidden` on opportunity views). Quotes, contracts, invoices,",
        "receipts and credit are money documents: without the customer's amounts they are",
        "refused (`auth.permission_denied`, action `amount.read`) and left out of lists.",
        "",
        "| action | " + " | ".join(r.value for r in roles) + " |",
        "|---" * (len(roles) + 1) + "|",
    ]
    for action in Action:
        allowed = permissions.get(action, frozenset())
        cells = ["✓" if role is Role.ADMIN or role in allowed else "–" for role in roles]
        lines.append(f"| `{action.value}` | " + " | ".join(cells) + " |")
    lines += ["", "| role | data scope |", "|---|---|"]
    lines += [
        f"| {role.value} | {role_scopes[role].value} |" for role in roles if role in role_scopes
    ]
    return "\n".join(lines) + "\n"
