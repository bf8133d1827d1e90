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
    "MANAGER_ROLES",
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
    CUSTOMER_CREATE = "customer.create"
    CUSTOMER_READ = "customer.read"
    CUSTOMER_UPDATE = "customer.update"
    CUSTOMER_MERGE = "customer.merge"
    CUSTOMER_COLLABORATORS = "customer.collaborators"
    FOLLOW_UP_LOG = "customer.follow_up"
    POOL_MANAGE = "pool.manage"
    POOL_CLAIM = "pool.claim"
    POOL_ASSIGN = "pool.assign"
    POOL_RELEASE = "pool.release"
    POOL_TRANSFER = "pool.transfer"
    POOL_LOCK = "pool.lock"
    POOL_SWEEP = "pool.sweep"
    POOL_OVERRIDE = "pool.override"
    POOL_BROWSE = "pool.browse"
    REP_MANAGE = "rep.manage"
    CUSTOMER_CLASSIFY = "customer.classify"
    CLASSIFICATION_REPORT = "classification.report"
    LEAD_TRANSITION = "lead.transition"
    LEAD_CONVERT = "lead.convert"
    OPPORTUNITY_CREATE = "opportunity.create"
    OPPORTUNITY_READ = "opportunity.read"
    OPPORTUNITY_UPDATE = "opportunity.update"
    OPPORTUNITY_REOPEN = "opportunity.reopen"
    AMOUNT_READ = "amount.read"
    SETTINGS_MANAGE = "settings.manage"
    PRODUCT_MANAGE = "product.manage"
    PRODUCT_READ = "product.read"
    QUOTE_WRITE = "quote.write"
    QUOTE_APPROVE = "quote.approve"
    QUOTE_READ = "quote.read"
    CONTRACT_WRITE = "contract.write"
    CONTRACT_APPROVE = "contract.approve"
    CONTRACT_READ = "contract.read"
    DELIVERY_RECORD = "contract.deliver"
    INVOICE_DRAFT = "invoice.draft"
    INVOICE_ISSUE = "invoice.issue"
    INVOICE_READ = "invoice.read"
    RECEIPT_REGISTER = "receipt.register"
    RECEIPT_CONFIRM = "receipt.confirm"
    RECEIPT_ALLOCATE = "receipt.allocate"
    RECEIPT_REVERSE = "receipt.reverse"
    RECEIPT_READ = "receipt.read"
    CREDIT_REFUND = "credit.refund"
    RECEIVABLES_READ = "receivables.read"
    CASH_SWEEP = "cash.sweep"
    CUSTOMER_EXPORT = "customer.export"
    PERSONAL_DATA_EXPORT = "privacy.export"
    PRIVACY_ERASE = "privacy.erase"
    CONTACT_WRITE = "contact.write"
    LEAD_UPDATE = "lead.update"
    LEAD_RESCORE = "lead.rescore"
    FOLLOW_UP_SWEEP = "follow_up.sweep"
    TICKET_WRITE = "ticket.write"
    TICKET_ASSIGN = "ticket.assign"
    TICKET_READ = "ticket.read"
    CSAT_READ = "csat.read"
    SERVICE_SWEEP = "service.sweep"
    RECYCLE_DELETE = "recycle.delete"
    RECYCLE_RESTORE = "recycle.restore"
    RECYCLE_READ = "recycle.read"
    RECYCLE_PURGE = "recycle.purge"
    ORG_MANAGE = "org.manage"
    ORG_READ = "org.read"
    STORE_REINDEX = "store.reindex"


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

    @property
    def is_manager(self) -> bool:
        """True for roles that act on customers they do not own (admin, managers, system)."""
        return bool(self.roles & MANAGER_ROLES)


_SALES = frozenset({Role.ADMIN, Role.ZONE_MANAGER, Role.TEAM_LEAD, Role.REP, Role.SYSTEM})
_MANAGERS = frozenset({Role.ADMIN, Role.ZONE_MANAGER, Role.TEAM_LEAD})

#: Roles that see and act on customers they do not own (data scopes refine this later).
MANAGER_ROLES = _MANAGERS | {Role.SYSTEM}

#: Which roles may perform each action. Unlisted actions are denied to everyone but admin.
DEFAULT_PERMISSIONS: Mapping[Action, frozenset[Role]] = {
    Action.LEAD_CAPTURE: _SALES,
    Action.LEAD_READ: _SALES | {Role.SERVICE},
    Action.LEAD_IMPORT: frozenset({Role.ADMIN, Role.ZONE_MANAGER, Role.SYSTEM}),
    Action.CUSTOMER_CREATE: _SALES,
    Action.CUSTOMER_READ: _SALES | {Role.SERVICE, Role.FINANCE},
    Action.CUSTOMER_UPDATE: _SALES,
    Action.CUSTOMER_MERGE: frozenset({Role.ADMIN, Role.ZONE_MANAGER}),
    Action.CUSTOMER_COLLABORATORS: _MANAGERS,
    Action.FOLLOW_UP_LOG: _SALES,
    Action.POOL_MANAGE: frozenset({Role.ADMIN, Role.ZONE_MANAGER}),
    Action.POOL_CLAIM: frozenset({Role.REP, Role.TEAM_LEAD, Role.ZONE_MANAGER}),
    Action.POOL_ASSIGN: _MANAGERS | {Role.SYSTEM},
    Action.POOL_RELEASE: _SALES,
    Action.POOL_TRANSFER: _MANAGERS,
    Action.POOL_LOCK: _MANAGERS,
    Action.POOL_SWEEP: frozenset({Role.ADMIN, Role.SYSTEM}),
    Action.POOL_OVERRIDE: frozenset({Role.ADMIN, Role.ZONE_MANAGER}),
    # Opening a pool customer unmasked: reps within the pool's daily browsing quota
    # (managers see contact fields anyway and are not counted).
    Action.POOL_BROWSE: frozenset({Role.REP, Role.TEAM_LEAD, Role.ZONE_MANAGER}),
    Action.REP_MANAGE: frozenset({Role.ADMIN, Role.ZONE_MANAGER}),
    Action.CUSTOMER_CLASSIFY: _SALES,
    Action.CLASSIFICATION_REPORT: _MANAGERS | {Role.SYSTEM},
    Action.LEAD_TRANSITION: _SALES,
    Action.LEAD_CONVERT: _SALES,
    Action.OPPORTUNITY_CREATE: _SALES,
    # After-sales follows what was sold, without the money (see AMOUNT_READ).
    Action.OPPORTUNITY_READ: _SALES | {Role.FINANCE, Role.SERVICE},
    Action.OPPORTUNITY_UPDATE: _SALES,
    Action.OPPORTUNITY_REOPEN: _MANAGERS,
    # Seeing money (deal amounts, customer budgets); reps only on what they own
    # (pool.visibility.can_see_amounts).
    Action.AMOUNT_READ: _SALES | {Role.FINANCE},
    # Contract to cash: reps work their own customers' quotes and contracts (data scopes),
    # approvals by managers (narrowed further by the configured approver roles), finance
    # issues invoices and registers, confirms, allocates and reverses receipts. These are
    # money documents: working on one also needs the customer's amounts (amount.read; reps
    # only on customers they own), so a collaborator is refused (app.documents).
    Action.PRODUCT_MANAGE: frozenset({Role.ADMIN, Role.ZONE_MANAGER}),
    Action.PRODUCT_READ: _SALES | {Role.FINANCE},
    Action.QUOTE_WRITE: _SALES,
    Action.QUOTE_APPROVE: _MANAGERS,
    Action.QUOTE_READ: _SALES | {Role.FINANCE},
    Action.CONTRACT_WRITE: _SALES,
    Action.CONTRACT_APPROVE: _MANAGERS,
    Action.CONTRACT_READ: _SALES | {Role.FINANCE},
    Action.DELIVERY_RECORD: _SALES,
    Action.INVOICE_DRAFT: _SALES | {Role.FINANCE},
    Action.INVOICE_ISSUE: frozenset({Role.FINANCE}),
    Action.INVOICE_READ: _SALES | {Role.FINANCE},
    Action.RECEIPT_REGISTER: frozenset({Role.FINANCE}),
    Action.RECEIPT_CONFIRM: frozenset({Role.FINANCE}),
    Action.RECEIPT_ALLOCATE: frozenset({Role.FINANCE}),
    Action.RECEIPT_REVERSE: frozenset({Role.FINANCE}),
    Action.CREDIT_REFUND: frozenset({Role.FINANCE}),
    Action.RECEIPT_READ: _SALES | {Role.FINANCE},
    Action.RECEIVABLES_READ: _MANAGERS | {Role.FINANCE, Role.SYSTEM},
    Action.CASH_SWEEP: frozenset({Role.ADMIN, Role.SYSTEM}),
    # Screens: exports are for managers (what they may see, masked fields stay masked); a
    # person's data (PIPL / GDPR access request) is exported by admins; contacts are edited
    # by whoever works the customer; the follow-up plan reminders run as the system.
    Action.CUSTOMER_EXPORT: _MANAGERS,
    Action.PERSONAL_DATA_EXPORT: frozenset({Role.ADMIN}),
    Action.PRIVACY_ERASE: frozenset({Role.ADMIN}),
    Action.CONTACT_WRITE: _SALES,
    Action.LEAD_UPDATE: _SALES,
    # Rescoring every lead (after a score rule change, or the periodic refresh) is a batch
    # job: the admin's and the system's. Each lead's own changes rescore it as they happen.
    Action.LEAD_RESCORE: frozenset({Role.ADMIN, Role.SYSTEM}),
    Action.FOLLOW_UP_SWEEP: frozenset({Role.ADMIN, Role.SYSTEM}),
    # After-sales: service agents and reps open and work tickets (of their customers, or
    # assigned to them or their team: data scopes); service, managers and the system assign;
    # the SLA, churn and renewal sweeps run as the system.
    Action.TICKET_WRITE: _SALES | {Role.SERVICE},
    Action.TICKET_ASSIGN: _MANAGERS | {Role.SERVICE, Role.SYSTEM},
    Action.TICKET_READ: _SALES | {Role.SERVICE},
    Action.CSAT_READ: _MANAGERS | {Role.SERVICE, Role.SYSTEM},
    Action.SERVICE_SWEEP: frozenset({Role.ADMIN, Role.SYSTEM}),
    # Recycle bin (回收站): whoever works a record deletes and restores it (owners their own
    # leads, opportunities and unsigned contracts; customers only managers, in scope); the
    # bin lists what the caller's scope reaches; purging (the retention sweep) is the admin's
    # and the system's.
    Action.RECYCLE_DELETE: _MANAGERS | {Role.REP},
    Action.RECYCLE_RESTORE: _MANAGERS | {Role.REP},
    Action.RECYCLE_READ: _MANAGERS | {Role.REP},
    Action.RECYCLE_PURGE: frozenset({Role.ADMIN, Role.SYSTEM}),
    # Organisation (组织架构): zones and teams are set up by admins; reps (join, leave, leave
    # of absence, weight, skills, caps, team leads) by admins and zone managers of their zone;
    # everyone may read the directory.
    Action.ORG_MANAGE: frozenset({Role.ADMIN}),
    Action.ORG_READ: _SALES | {Role.FINANCE, Role.SERVICE},
    # Maintenance: rewriting every record's indexes and keys after an upgrade.
    Action.STORE_REINDEX: frozenset({Role.ADMIN, Role.SYSTEM}),
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
