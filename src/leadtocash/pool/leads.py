"""Lead pools (线索池): the customer pool's rules where they apply to leads.

A :class:`LeadPool` of one zone or product line holds unowned leads that reps claim (领取)
or managers assign (分配); a rep may hold at most ``capacity`` open leads and claim at most
``daily_claim_limit`` a day from one pool; an owned lead that is not worked — no follow-up,
or no status progress — within its pool's durations goes back (回收), with a warning first.
The checks are the customer pool's own (:mod:`leadtocash.pool.ownership`) over the
:class:`~leadtocash.pool.ownership.PoolRecord` protocol, refusing with ``lead_pool.*`` codes,
and the schedule is :func:`~leadtocash.pool.reclaim.schedule_from` with the lead's clocks.
Pure: no I/O, no clock.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from leadtocash.durations import Duration, WorkingCalendar
from leadtocash.errors import RuleViolation, ValidationError
from leadtocash.model import (
    Lead,
    LeadId,
    LeadStatus,
    PoolId,
    RepId,
    SalesRep,
    ZoneId,
    non_blank,
    stricter_limit,
    utc,
)
from leadtocash.pool.book import DailyClaims, OwnershipAction
from leadtocash.pool.membership import Member, PoolMembers, check_member, claimer, rep_member
from leadtocash.pool.ownership import (
    check_active_rep,
    check_cooldowns,
    check_daily_limit,
    check_in_pool,
    check_owned,
    check_pool_zone,
    check_unowned,
    refuse_capacity,
)
from leadtocash.pool.reclaim import ReclaimSchedule, schedule_from

__all__ = [
    "OPEN_LEAD_STATUSES",
    "LeadBook",
    "LeadClaim",
    "LeadOwnershipChange",
    "LeadOwnershipFacts",
    "LeadPool",
    "LeadPoolRules",
    "decide_lead_assign",
    "decide_lead_claim",
    "decide_lead_release",
    "decide_lead_transfer",
    "lead_claims_id",
    "lead_reclaim_schedule",
    "lead_returned",
    "lead_taken_by",
    "lead_with_schedule",
]

#: Statuses of a lead still being worked: only these sit in pools, count toward capacity and
#: are reclaimed; a converted or disqualified lead leaves its pool's rules behind.
OPEN_LEAD_STATUSES = frozenset({LeadStatus.NEW, LeadStatus.WORKING, LeadStatus.QUALIFIED})


def _limit(_inst: object, attribute: attrs.Attribute[int | None], value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise ValidationError.single(attribute.name, "pool.rule_invalid", "must be None or >= 0")


@attrs.frozen
class LeadPoolRules:
    """Every rule of one lead pool. ``None`` or ``0`` switches a rule off.

    * ``daily_claim_limit``: leads a rep may claim from this pool per local calendar day.
    * ``capacity``: open leads (new, working, qualified) a rep may hold, across pools.
    * ``reclaim_cooldown``: how long a previous owner waits to claim a lead again.
    * ``new_in_pool_cooldown``: how long a lead that just entered the pool is unclaimable.
    * ``no_follow_up``: reclaim when the owner logged no follow-up for this long.
    * ``no_progress``: reclaim when the lead's status did not move for this long.
    * ``warn_before``: notify the owner this long before reclaim.
    * ``release_to``: lead pool receiving released/reclaimed leads (None = this pool).

    Durations carry their unit (calendar days, working days of the organisation's calendar,
    business hours), like the customer pool's.
    """

    daily_claim_limit: int | None = attrs.field(default=None, validator=_limit)
    capacity: int | None = attrs.field(default=None, validator=_limit)
    reclaim_cooldown: Duration | None = None
    new_in_pool_cooldown: Duration | None = None
    no_follow_up: Duration | None = None
    no_progress: Duration | None = None
    warn_before: Duration | None = None
    release_to: PoolId | None = None


@attrs.frozen
class LeadPool:
    """A lead pool (线索池) of one zone or product line, with its rules and its members
    (:mod:`leadtocash.pool.membership`: who may see it and claim from it; default everyone)."""

    id: PoolId
    name: str = attrs.field(validator=non_blank)
    zone_id: ZoneId | None = None
    product_line: str | None = None
    rules: LeadPoolRules = attrs.field(factory=LeadPoolRules)
    members: PoolMembers = attrs.field(factory=PoolMembers)
    version: int = 0


@attrs.frozen
class LeadBook:
    """A rep's lead-ownership counter: every command that gives the rep a lead counts it here.

    Its version is what makes capacity race-free: two concurrent gains for one rep both save
    it, so one conflicts and retries with a fresh count of the rep's open leads (which is an
    indexed count, never drifting when a lead converts or is disqualified elsewhere).
    ``left_at``: when the rep last left (离职); leaving saves the book, so a lead given to the
    rep meanwhile meets the departure on its version.
    """

    id: RepId
    gains: int = 0
    left_at: datetime | None = attrs.field(default=None, validator=utc)
    version: int = 0

    def gained(self) -> LeadBook:
        """This counter after one more lead given to the rep."""
        return attrs.evolve(self, gains=self.gains + 1)


@attrs.frozen
class LeadOwnershipChange:
    """One line of a lead's ownership history (线索流转记录): who moved it, from whom, to whom,
    out of and into which pool, and why."""

    id: str
    lead_id: LeadId
    action: OwnershipAction
    at: datetime = attrs.field(validator=utc)
    actor_id: str
    from_rep: RepId | None = None
    to_rep: RepId | None = None
    from_pool: PoolId | None = None
    to_pool: PoolId | None = None
    reason: str | None = None
    override: bool = False
    version: int = 0


@attrs.frozen
class LeadOwnershipFacts:
    """What the lead rules need besides the lead: time, calendar and the rep's open leads."""

    now: datetime
    timezone: str
    open_leads: int = 0
    calendar: WorkingCalendar | None = None


@attrs.frozen
class LeadClaim:
    """A granted lead claim: the lead as the rep's, and the rep's day counter with it."""

    lead: Lead
    counter: DailyClaims


def lead_claims_id(pool_id: PoolId, rep_id: RepId, day: object) -> str:
    """Id of the counter of ``rep_id``'s claims from lead pool ``pool_id`` on local ``day``."""
    return f"lead|{pool_id}|{rep_id}|{day}"


def _check_open(lead: Lead) -> None:
    if lead.status not in OPEN_LEAD_STATUSES:
        raise RuleViolation(
            f"lead {lead.id} is {lead.status.value}; only open leads move between pools and reps",
            code="lead_pool.lead_closed",
            details={"lead_id": lead.id, "status": lead.status.value},
        )


def _check_capacity(rules: LeadPoolRules, rep_id: RepId, facts: LeadOwnershipFacts) -> None:
    if rules.capacity:
        refuse_capacity(rep_id, rules.capacity, facts.open_leads, kind="lead")


def decide_lead_claim(
    lead: Lead,
    rep_id: RepId,
    rep_zone: ZoneId | None,
    pool: LeadPool | None,
    counter: DailyClaims | None,
    facts: LeadOwnershipFacts,
    *,
    rep_limit: int | None = None,
    member: Member | None = None,
) -> LeadClaim:
    """The whole lead claim (领取) decision, refused by the first rule that fails: open,
    unowned, in a pool of the rep's zone, past its cooldowns, under the daily limit and
    capacity. ``pool`` is the lead's pool and ``counter`` the rep's claims from it today;
    ``rep_limit`` is the rep's own daily claim limit (the stricter of it and the pool's wins).
    ``member`` is who claims (team and roles, for the pool's membership: a non-member is
    refused with PermissionDenied ``pool.not_member`` right after the zone rule); without it
    the rep counts with its id and zone only.
    """
    _check_open(lead)
    check_unowned(lead, kind="lead")
    in_pool = check_in_pool(lead, kind="lead")
    if pool is None or pool.id != in_pool or counter is None:
        raise ValueError(f"decide_lead_claim needs pool {in_pool} and the rep's counter from it")
    check_pool_zone(pool, rep_id, rep_zone)
    check_member(pool.id, pool.members, claimer(rep_id, rep_zone, member))
    rules = pool.rules
    check_cooldowns(
        lead, rep_id, rules.new_in_pool_cooldown, rules.reclaim_cooldown, facts, kind="lead"
    )
    limit = stricter_limit(rules.daily_claim_limit, rep_limit)
    check_daily_limit(rep_id, limit, counter.count, facts)
    _check_capacity(rules, rep_id, facts)
    return LeadClaim(lead_taken_by(lead, rep_id, facts.now), counter.counted(lead))


def decide_lead_assign(
    lead: Lead,
    rep: SalesRep,
    pool: LeadPool | None,
    facts: LeadOwnershipFacts,
    *,
    override: bool = False,
) -> Lead:
    """The lead given (分配) to an active rep, not on leave, of the pool's zone, whom the
    pool's membership admits, with room for one more open lead (an authorized ``override``
    skips membership and capacity)."""
    _check_open(lead)
    check_unowned(lead, kind="lead")
    return _handed_to(lead, rep, pool, facts, override=override, membership=True)


def decide_lead_transfer(
    lead: Lead,
    rep: SalesRep,
    pool: LeadPool | None,
    facts: LeadOwnershipFacts,
    *,
    override: bool = False,
) -> Lead:
    """The owned open lead moved (转移) to another active rep, not on leave, of the pool's
    zone, with room for one more open lead (an authorized ``override`` skips the capacity)."""
    _check_open(lead)
    owner = check_owned(lead, kind="lead")
    if owner == rep.id:
        raise RuleViolation(
            f"lead {lead.id} already belongs to {rep.id}",
            code="lead_pool.same_owner",
            details={"lead_id": lead.id},
        )
    return _handed_to(lead, rep, pool, facts, override=override)


def _handed_to(
    lead: Lead,
    rep: SalesRep,
    pool: LeadPool | None,
    facts: LeadOwnershipFacts,
    *,
    override: bool,
    membership: bool = False,
) -> Lead:
    """``lead`` given to ``rep``: active, not on leave, of the pool's zone, admitted by the
    pool's members when ``membership`` asks, with room for one more open lead; ``override``
    skips the last two."""
    check_active_rep(rep, pool)
    if membership and pool is not None and not override:
        check_member(pool.id, pool.members, rep_member(rep))
    if not override:
        _check_capacity(pool.rules if pool else LeadPoolRules(), rep.id, facts)
    return lead_taken_by(lead, rep.id, facts.now)


def decide_lead_release(lead: Lead, rules: LeadPoolRules, now: datetime) -> Lead:
    """The lead given back (退回) to its pool, or to ``rules.release_to``."""
    check_owned(lead, kind="lead")
    _check_open(lead)
    target = rules.release_to or lead.pool_id
    if target is None:
        raise RuleViolation(
            f"lead {lead.id} has no pool to go back to",
            code="lead_pool.not_in_pool",
            details={"lead_id": lead.id},
        )
    return lead_returned(lead, target, now)


def lead_taken_by(lead: Lead, rep_id: RepId, now: datetime) -> Lead:
    """``lead`` as owned by ``rep_id`` from ``now`` (its reclaim clocks start afresh)."""
    return attrs.evolve(lead, owner_id=rep_id, owner_since=now, warned_due_at=None, updated_at=now)


def lead_returned(lead: Lead, pool_id: PoolId, now: datetime) -> Lead:
    """``lead`` back in ``pool_id`` (released or reclaimed): unowned, cycle + 1, no schedule."""
    return attrs.evolve(
        lead,
        owner_id=None,
        owner_since=None,
        previous_owner_id=lead.owner_id,
        pool_id=pool_id,
        pool_entered_at=now,
        pool_cycles=lead.pool_cycles + 1,
        reclaim_due_at=None,
        reclaim_rule=None,
        warn_at=None,
        warned_due_at=None,
        reclaim_provisional=False,
        updated_at=now,
    )


def lead_reclaim_schedule(
    lead: Lead, rules: LeadPoolRules, *, timezone: str, calendar: WorkingCalendar | None = None
) -> ReclaimSchedule:
    """When ``lead`` goes back to its pool under ``rules``: the earlier of "no follow-up" and
    "no status progress" since the owner took it (empty when unowned, closed or off)."""
    since = lead.owner_since
    if lead.owner_id is None or since is None or lead.status not in OPEN_LEAD_STATUSES:
        return ReclaimSchedule()
    followed = max(since, lead.last_follow_up_at or since)
    progressed = max(since, lead.status_changed_at or since)
    clocks = [
        ("no_follow_up", followed, rules.no_follow_up),
        ("no_progress", progressed, rules.no_progress),
    ]
    return schedule_from(since, clocks, rules.warn_before, timezone=timezone, calendar=calendar)


def lead_with_schedule(
    lead: Lead, rules: LeadPoolRules, *, timezone: str, calendar: WorkingCalendar | None = None
) -> Lead:
    """``lead`` with its derived reclaim fields recomputed under ``rules``."""
    schedule = lead_reclaim_schedule(lead, rules, timezone=timezone, calendar=calendar)
    warned = lead.warned_due_at if lead.warned_due_at == schedule.due_at else None
    found = (lead.reclaim_due_at, lead.reclaim_rule, lead.warn_at, lead.reclaim_provisional)
    wanted = (schedule.due_at, schedule.rule, schedule.warn_at, schedule.provisional)
    if found == wanted and warned == lead.warned_due_at:
        return lead
    return attrs.evolve(
        lead,
        reclaim_due_at=schedule.due_at,
        reclaim_rule=schedule.rule,
        warn_at=schedule.warn_at,
        warned_due_at=warned,
        reclaim_provisional=schedule.provisional,
    )
