"""leadtocash: embeddable lead-to-cash (线索到回款) CRM rules as a typed, storage-agnostic library.

The public API is what this module (and ``leadtocash.ports``, ``leadtocash.app``,
``leadtocash.testing``) export in ``__all__``; everything else is internal.

Logging goes to ``logging.getLogger("leadtocash…")`` (a ``NullHandler`` is installed): commits,
conflicts and retries at DEBUG, sweeps and the outbox relay at INFO.
"""

import logging

from leadtocash.access import Action, Principal, Role
from leadtocash.app import QUERIED_INDEXES, AppContext, LeadToCash, Page
from leadtocash.app.auditing import verify_store_audit
from leadtocash.audit import (
    DEFAULT_STRANDS,
    GENESIS_HASH,
    AuditDigest,
    AuditEntry,
    AuditFault,
    AuditReport,
    InclusionProof,
    prove_inclusion,
    verify_audit,
    verify_audit_chain,
    verify_inclusion,
)
from leadtocash.calendars import CalendarOutOfRange, ChinaStatutoryCalendar
from leadtocash.classification import RequiredFields, TagRules, TierRules
from leadtocash.collision import CollisionPolicy
from leadtocash.durations import Duration, WeekdayCalendar
from leadtocash.errors import (
    AuthenticationFailed,
    ConcurrencyConflict,
    DuplicateKey,
    FieldError,
    InvalidTransition,
    LeadToCashError,
    MissingExtra,
    NotFound,
    PermissionDenied,
    RuleViolation,
    StorageError,
    StorageUnavailable,
    StoreNotReady,
    StoreUnreachable,
    StoreURLError,
    ValidationError,
)
from leadtocash.i18n import describe_error, label, message
from leadtocash.intake import IntakeRules
from leadtocash.model import (
    Channel,
    Contact,
    ContactId,
    Customer,
    CustomerId,
    FollowUp,
    FollowUpId,
    FollowUpKind,
    Lead,
    LeadId,
    LeadStatus,
    PoolId,
    RepId,
    SalesRep,
    Team,
    TeamId,
    Tier,
    Zone,
    ZoneId,
)
from leadtocash.money import Money
from leadtocash.pipeline import Opportunity, OpportunityId
from leadtocash.pool import BrowseQuota, Pool, PoolMembers, PoolRules
from leadtocash.ports import Store
from leadtocash.recycle import BinKind, RecycleRules
from leadtocash.scopes import CollaboratorAccess
from leadtocash.serialization import structure, unstructure
from leadtocash.settings import OrganisationSettings
from leadtocash.stores import connect
from leadtocash.system import RandomIds, SystemClock

logging.getLogger("leadtocash").addHandler(logging.NullHandler())

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_STRANDS",
    "GENESIS_HASH",
    "QUERIED_INDEXES",
    "Action",
    "AppContext",
    "AuditDigest",
    "AuditEntry",
    "AuditFault",
    "AuditReport",
    "AuthenticationFailed",
    "BinKind",
    "BrowseQuota",
    "CalendarOutOfRange",
    "Channel",
    "ChinaStatutoryCalendar",
    "CollaboratorAccess",
    "CollisionPolicy",
    "ConcurrencyConflict",
    "Contact",
    "ContactId",
    "Customer",
    "CustomerId",
    "DuplicateKey",
    "Duration",
    "FieldError",
    "FollowUp",
    "FollowUpId",
    "FollowUpKind",
    "InclusionProof",
    "IntakeRules",
    "InvalidTransition",
    "Lead",
    "LeadId",
    "LeadStatus",
    "LeadToCash",
    "LeadToCashError",
    "MissingExtra",
    "Money",
    "NotFound",
    "Opportunity",
    "OpportunityId",
    "OrganisationSettings",
    "Page",
    "PermissionDenied",
    "Pool",
    "PoolId",
    "PoolMembers",
    "PoolRules",
    "Principal",
    "RandomIds",
    "RecycleRules",
    "RepId",
    "RequiredFields",
    "Role",
    "RuleViolation",
    "SalesRep",
    "StorageError",
    "StorageUnavailable",
    "Store",
    "StoreNotReady",
    "StoreURLError",
    "StoreUnreachable",
    "SystemClock",
    "TagRules",
    "Team",
    "TeamId",
    "Tier",
    "TierRules",
    "ValidationError",
    "WeekdayCalendar",
    "Zone",
    "ZoneId",
    "__version__",
    "connect",
    "describe_error",
    "label",
    "message",
    "prove_inclusion",
    "structure",
    "unstructure",
    "verify_audit",
    "verify_audit_chain",
    "verify_inclusion",
    "verify_store_audit",
]
