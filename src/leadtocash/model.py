"""Core model: leads, customers, contacts, reps, teams, zones and follow-ups.

Every aggregate is a frozen attrs class with an ``id`` and a ``version`` (the storage port's
optimistic-concurrency counter; the domain never changes it). State changes return new
instances via ``attrs.evolve``; aggregates validate their own invariants on construction.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import NewType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from leadtocash.errors import ValidationError
from leadtocash.scoring import LeadScore
from leadtocash.signals import DemandSignals
from leadtocash.validators import non_blank, non_negative, optional_non_negative, utc

__all__ = [
    "Channel",
    "Collaborator",
    "CollaboratorAccess",
    "Contact",
    "ContactId",
    "Customer",
    "CustomerId",
    "Deletion",
    "FollowUp",
    "FollowUpId",
    "FollowUpKind",
    "Lead",
    "LeadId",
    "LeadStatus",
    "PoolId",
    "RepId",
    "SalesRep",
    "Team",
    "TeamId",
    "Tier",
    "Zone",
    "ZoneId",
    "iana_timezone",
    "non_blank",
    "stricter_limit",
    "utc",
]

LeadId = NewType("LeadId", str)
CustomerId = NewType("CustomerId", str)
ContactId = NewType("ContactId", str)
RepId = NewType("RepId", str)
TeamId = NewType("TeamId", str)
ZoneId = NewType("ZoneId", str)
PoolId = NewType("PoolId", str)
FollowUpId = NewType("FollowUpId", str)


class Channel(enum.StrEnum):
    """Where a lead came from (线索来源)."""

    WEB_FORM = "web_form"
    SOCIAL = "social"
    EMAIL = "email"
    CALL = "call"
    IMPORT = "import"
    REFERRAL = "referral"
    EVENT = "event"


class LeadStatus(enum.StrEnum):
    """Lead lifecycle states; the pipeline issue adds the state machine over them."""

    NEW = "new"
    WORKING = "working"
    QUALIFIED = "qualified"
    CONVERTED = "converted"
    DISQUALIFIED = "disqualified"


class Tier(enum.StrEnum):
    """Five-tier customer classification (五级客户分类): A is hottest, E is dead/invalid."""

    A = "A"
    B = "B"
    C = "C"
    D = "D"
    E = "E"


class FollowUpKind(enum.StrEnum):
    """How a rep followed up (跟进方式)."""

    CALL = "call"
    VISIT = "visit"
    EMAIL = "email"
    MESSAGE = "message"
    MEETING = "meeting"
    OTHER = "other"


def iana_timezone(_inst: object, attribute: attrs.Attribute[str], value: str) -> None:
    """attrs validator: an IANA time zone name the standard library knows (``Asia/Shanghai``)."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValidationError.single(
            attribute.name, "zone.unknown_timezone", f"{value!r} is not an IANA time zone name"
        ) from None


def stricter_limit(*limits: int | None) -> int | None:
    """The smallest limit that is on (``None`` and 0 mean off), or ``None`` when all are off."""
    on = [limit for limit in limits if limit]
    return min(on) if on else None


@attrs.frozen
class Deletion:
    """A soft delete (回收站): who moved the record to the recycle bin, when, why, until when.

    ``purge_due_at`` is when the purge sweep may scrub it (None: kept until restored);
    ``purged_at`` marks the tombstone left by the purge; ``with_customer`` names the customer
    whose deletion took this record along (restoring that customer brings it back).
    """

    at: datetime = attrs.field(validator=utc)
    by: str = attrs.field(validator=non_blank)
    reason: str = attrs.field(validator=non_blank)
    purge_due_at: datetime | None = attrs.field(default=None, validator=utc)
    purged_at: datetime | None = attrs.field(default=None, validator=utc)
    with_customer: CustomerId | None = None


@attrs.frozen
class Zone:
    """A sales zone (战区); ``timezone`` is the IANA name used at day edges."""

    id: ZoneId
    name: str = attrs.field(validator=non_blank)
    timezone: str = attrs.field(default="Asia/Shanghai", validator=iana_timezone)
    version: int = 0


@attrs.frozen
class Team:
    """A sales team inside a zone, optionally with a team lead.

    ``last_departure_at``: when a member last moved out or left the company. Saving it makes
    naming a team lead and a member's departure meet on the team's version, so a rep who
    moved out or left never ends up leading the team.
    """

    id: TeamId
    name: str = attrs.field(validator=non_blank)
    zone_id: ZoneId | None = None
    lead_rep_id: RepId | None = None
    last_departure_at: datetime | None = attrs.field(default=None, validator=utc)
    version: int = 0


@attrs.frozen
class SalesRep:
    """A sales representative; ``weight`` scales their fair share of allocated leads."""

    id: RepId
    name: str = attrs.field(validator=non_blank)
    email: str | None = None
    zone_id: ZoneId | None = None
    team_id: TeamId | None = None
    weight: int = attrs.field(default=1, validator=non_negative)
    skills: frozenset[str] = frozenset()
    active: bool = True
    on_leave: bool = False
    version: int = 0
    #: The most customers the rep may claim (领取) from one pool per organisation day; the
    #: pool's own limit applies too and the stricter wins. ``None`` or 0: no limit of its own.
    daily_claim_limit: int | None = attrs.field(default=None, validator=optional_non_negative)
    #: The most records fair allocation and batch distribution give the rep from one pool per
    #: organisation day (with the pool's limit, the stricter wins). ``None`` or 0: no cap.
    daily_allocation_cap: int | None = attrs.field(default=None, validator=optional_non_negative)

    @property
    def available(self) -> bool:
        """Active and not on leave: may be given new work."""
        return self.active and not self.on_leave


@attrs.frozen
class Lead:
    """An unqualified prospect (线索) captured from a channel."""

    id: LeadId
    channel: Channel
    company_name: str = attrs.field(validator=non_blank)
    created_at: datetime = attrs.field(validator=utc)
    contact_name: str | None = None
    phone: str | None = None
    email: str | None = None
    uscc: str | None = None
    zone_id: ZoneId | None = None
    owner_id: RepId | None = None
    #: Lead pool (线索池) bookkeeping, kept by the lead-pool commands: the pool the lead
    #: belongs to, its product line (routing), when the owner took it, who had it before, when
    #: it last entered the pool and how often. ``last_follow_up_at`` and ``status_changed_at``
    #: are the "worked" facts the reclaim rules read; ``reclaim_due_at``, ``reclaim_rule``,
    #: ``warn_at``, ``warned_due_at`` and ``reclaim_provisional`` are derived from them and
    #: the pool's rules (never set them by hand).
    pool_id: PoolId | None = None
    product_line: str | None = None
    owner_since: datetime | None = attrs.field(default=None, validator=utc)
    previous_owner_id: RepId | None = None
    pool_entered_at: datetime | None = attrs.field(default=None, validator=utc)
    pool_cycles: int = 0
    last_follow_up_at: datetime | None = attrs.field(default=None, validator=utc)
    status_changed_at: datetime | None = attrs.field(default=None, validator=utc)
    reclaim_due_at: datetime | None = attrs.field(default=None, validator=utc)
    reclaim_rule: str | None = None
    warn_at: datetime | None = attrs.field(default=None, validator=utc)
    warned_due_at: datetime | None = attrs.field(default=None, validator=utc)
    reclaim_provisional: bool = False
    status: LeadStatus = LeadStatus.NEW
    tier: Tier = Tier.D
    campaign: str | None = None
    note: str | None = None
    disqualify_reason: str | None = None
    #: What the lead score's fit rules read besides the pool's product line (industry, size
    #: in employees) and the score itself (线索评分), recomputed on every change of the lead.
    industry: str | None = None
    employees: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(non_negative)
    )
    score: LeadScore | None = None
    updated_at: datetime | None = attrs.field(default=None, validator=utc)
    version: int = 0
    #: The record this lead duplicates, as ``"customer:<id>"`` or ``"lead:<id>"``: set at
    #: capture when an exact key the collision policy blocks on is already held (查重).
    duplicate_of: str | None = None
    #: Set while the lead is in the recycle bin (回收站); see :class:`Deletion`.
    deleted: Deletion | None = None


class CollaboratorAccess(enum.StrEnum):
    """What a collaborator may do with the customer they were added to."""

    READ = "read"
    WRITE = "write"


@attrs.frozen
class Collaborator:
    """A rep (often from another zone) working one customer alongside its owner (协同跟进)."""

    rep_id: RepId
    access: CollaboratorAccess = CollaboratorAccess.READ


@attrs.frozen
class Customer:
    """A customer account (客户): owned by at most one rep, or sitting in a public pool.

    ``reclaim_due_at``, ``reclaim_rule``, ``warn_at``, ``warned_due_at`` and
    ``reclaim_provisional`` (the schedule rests on an unpublished calendar year) are derived by
    the pool rules whenever a fact changes (never set them by hand); ``has_active_contract``,
    ``last_contract_at`` (when its latest contract was drafted) and ``last_contract_end_at``
    are kept by the contract services; ``merged_into`` marks an
    archived duplicate; ``collaborators`` grant other reps read or write access.
    """

    id: CustomerId
    name: str = attrs.field(validator=non_blank)
    created_at: datetime = attrs.field(validator=utc)
    uscc: str | None = None
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    address: str | None = None
    zone_id: ZoneId | None = None
    pool_id: PoolId | None = None
    owner_id: RepId | None = None
    tier: Tier = Tier.D
    tags: frozenset[str] = frozenset()
    locked: bool = False
    last_follow_up_at: datetime | None = attrs.field(default=None, validator=utc)
    updated_at: datetime | None = attrs.field(default=None, validator=utc)
    owner_since: datetime | None = attrs.field(default=None, validator=utc)
    previous_owner_id: RepId | None = None
    pool_entered_at: datetime | None = attrs.field(default=None, validator=utc)
    pool_cycles: int = 0
    follow_ups_since_claim: int = 0
    won: bool = False
    open_opportunity_stage: int | None = None
    last_opportunity_at: datetime | None = attrs.field(default=None, validator=utc)
    has_active_contract: bool = False
    last_contract_at: datetime | None = attrs.field(default=None, validator=utc)
    last_contract_end_at: datetime | None = attrs.field(default=None, validator=utc)
    reclaim_due_at: datetime | None = attrs.field(default=None, validator=utc)
    reclaim_rule: str | None = None
    warn_at: datetime | None = attrs.field(default=None, validator=utc)
    warned_due_at: datetime | None = attrs.field(default=None, validator=utc)
    reclaim_provisional: bool = False
    signals: DemandSignals = attrs.field(factory=DemandSignals)
    merged_into: CustomerId | None = None
    collaborators: tuple[Collaborator, ...] = ()
    #: Set while the customer is in the recycle bin (回收站); see :class:`Deletion`.
    deleted: Deletion | None = None
    version: int = 0


@attrs.frozen
class Contact:
    """A person at a customer (联系人)."""

    id: ContactId
    customer_id: CustomerId
    name: str = attrs.field(validator=non_blank)
    title: str | None = None
    phone: str | None = None
    email: str | None = None
    decision_maker: bool = False
    version: int = 0


@attrs.frozen
class FollowUp:
    """A follow-up record (跟进记录): who contacted whom, when, how and what was said.

    ``next_at`` and ``plan`` are the follow-up plan (跟进计划): when to follow up next and
    what to do then. The plan is open until the next follow-up on the same record is logged
    (``plan_done_at``); ``reminded_at`` says its due reminder went out.
    """

    id: FollowUpId
    rep_id: RepId
    at: datetime = attrs.field(validator=utc)
    kind: FollowUpKind = FollowUpKind.CALL
    customer_id: CustomerId | None = None
    lead_id: LeadId | None = None
    note: str = ""
    next_at: datetime | None = attrs.field(default=None, validator=utc)
    plan: str = ""
    plan_done_at: datetime | None = attrs.field(default=None, validator=utc)
    reminded_at: datetime | None = attrs.field(default=None, validator=utc)
    updated_at: datetime | None = attrs.field(default=None, validator=utc)
    version: int = 0

    def __attrs_post_init__(self) -> None:
        if (self.customer_id is None) == (self.lead_id is None):
            raise ValidationError.single(
                "customer_id", "followup.target", "a follow-up targets exactly one customer or lead"
            )
