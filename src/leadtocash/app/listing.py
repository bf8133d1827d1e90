"""What the screens query: list indexes, data-scope clauses, filters, sorts and page bounds.

Lists are keyset-paged index queries (:class:`~leadtocash.ports.storage.IndexQuery`): a
*driving* index gives the order (its value, then the id) and the cursor; ``where`` clauses on
other indexes of the same record narrow it, and :meth:`StoreSession.count` counts the very
same selection, so a list and its count always agree. The caller's data scope is one or two
more clauses (:func:`scope_clauses`), built from the same rules as :mod:`leadtocash.scopes`
and pool membership, so a list never holds a record the caller could not open.

The index values below are added to the aggregates' indexes in
:mod:`leadtocash.app.aggregates`; this module imports nothing from it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Protocol

import attrs

from leadtocash.access import Principal
from leadtocash.collision import name_key
from leadtocash.collision.normalize import normalize_company_name, pinyin_syllables
from leadtocash.errors import FieldError, ValidationError
from leadtocash.model import (
    Channel,
    Customer,
    FollowUp,
    Lead,
    LeadStatus,
    PoolId,
    RepId,
    TeamId,
    Tier,
    ZoneId,
)
from leadtocash.pool.membership import Member, PoolMembers
from leadtocash.ports.storage import Clause, IndexFilter, IndexQuery
from leadtocash.scopes import DataScope, ScopePolicy
from leadtocash.scoring import MAX_SCORE, LeadScore

__all__ = [
    "CUSTOMER_LIST_QUERIES",
    "DEFAULT_PAGE",
    "LEAD_LIST_QUERIES",
    "MAX_PAGE",
    "CustomerFilter",
    "CustomerSort",
    "LeadFilter",
    "LeadSort",
    "MemberPool",
    "Scope",
    "customer_list_indexes",
    "customer_query",
    "follow_up_list_indexes",
    "lead_list_indexes",
    "lead_query",
    "name_value",
    "page_limit",
    "pinyin_value",
    "pool_member_filter",
    "recent_value",
    "scope_clauses",
    "score_value",
    "time_value",
]

#: Page sizes: the default and the largest a caller may ask for.
DEFAULT_PAGE = 50
MAX_PAGE = 200

_FAR = 10**17  # microseconds since the epoch, beyond any instant stored (year ~5138)


def page_limit(limit: int) -> int:
    """``limit`` when 1 ≤ limit ≤ MAX_PAGE; ValidationError ``field.out_of_range`` otherwise."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationError(
            [FieldError("limit", "field.out_of_range", f"a page holds 1 to {MAX_PAGE} rows")]
        )
    return limit


# -- index values ------------------------------------------------------------------------------
def time_value(moment: datetime) -> str:
    """Index text of an instant, in time order (the format of ``aggregates.sortable_time``)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _micros(moment: datetime) -> int:
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def recent_value(moment: datetime) -> str:
    """Index text of an instant in *reverse* time order (the most recent first)."""
    return f"{_FAR - _micros(moment):020d}"


def _recent_range(start: datetime | None, end: datetime | None) -> tuple[str | None, str | None]:
    """``(at_least, below)`` on a ``recent_value`` index for instants in ``[start, end)``."""
    at_least = None if end is None else f"{_FAR - _micros(end) + 1:020d}"
    below = None if start is None else f"{_FAR - _micros(start) + 1:020d}"
    return at_least, below


def name_value(name: str | None) -> str | None:
    """The normalized company name (the ``name`` dedup key's value), or None."""
    if not name:
        return None
    try:
        return name_key(name).value
    except ValidationError:
        return None


def pinyin_value(normalized: str | None) -> str | None:
    """Toneless pinyin of a normalized name that has Han characters (None without pypinyin)."""
    if not normalized or normalized.isascii():
        return None
    syllables = pinyin_syllables(normalized)
    joined = "".join(syllables) if syllables else None
    return joined if joined and joined != normalized else None


def _grouped(key: str, value: str) -> str:
    return f"{key}|{value}"


def _group_bounds(key: str) -> tuple[str, str]:
    return f"{key}|", f"{key}}}"


def _prefix_bounds(prefix: str) -> tuple[str, str]:
    return prefix, prefix + "\U0010ffff"


def customer_list_indexes(customer: Customer) -> dict[str, str | None]:
    """The indexes the customer screens read (lists, sorts, filters, search, data scope)."""
    name = name_value(customer.name)
    created = time_value(customer.created_at)
    recent = recent_value(customer.updated_at or customer.created_at)
    owner = customer.owner_id
    unowned_in_pool = owner is None and customer.pool_id is not None
    found: dict[str, str | None] = {
        "created": created,
        "recent": recent,
        "name": name,
        "pinyin": pinyin_value(name),
        "zone": customer.zone_id or "",
        "tier": customer.tier.value,
        "pool_zone": (customer.zone_id or "") if unowned_in_pool else None,
        "owner_created": _grouped(owner, created) if owner else None,
        "owner_recent": _grouped(owner, recent) if owner else None,
        "owner_name": _grouped(owner, name or "") if owner else None,
    }
    for tag in customer.tags:
        found[f"tag:{tag}"] = "1"
    for collaborator in customer.collaborators:
        found[f"collab:{collaborator.rep_id}"] = collaborator.access.value
    return found


#: The ``score`` index value of a lead without a score (after every scored lead).
UNSCORED = "999"


def score_value(score: LeadScore | None) -> str:
    """Index text of a lead score, best first (100 → ``"000"``); unscored leads sort last."""
    return UNSCORED if score is None else f"{MAX_SCORE - score.total:03d}"


def lead_list_indexes(lead: Lead) -> dict[str, str | None]:
    """The indexes the lead screens read (besides ``status``, ``owner`` and ``created``)."""
    name = name_value(lead.company_name)
    return {
        "name": name,
        "pinyin": pinyin_value(name),
        "recent": recent_value(lead.updated_at or lead.created_at),
        "zone": lead.zone_id or "",
        "channel": lead.channel.value,
        "unowned_zone": (lead.zone_id or "") if lead.owner_id is None else None,
        "unowned_pool": (lead.pool_id or "") if lead.owner_id is None else None,
        "score": score_value(lead.score),
    }


def follow_up_list_indexes(follow_up: FollowUp) -> dict[str, str | None]:
    """Per-rep follow-up lists, and open follow-up plans (跟进计划) by due time."""
    planned = follow_up.next_at is not None and follow_up.plan_done_at is None
    due = time_value(follow_up.next_at) if follow_up.next_at is not None else None
    target = str(follow_up.customer_id or follow_up.lead_id)
    return {
        "rep": _grouped(follow_up.rep_id, time_value(follow_up.at)),
        "plan_open": _grouped(target, due) if planned and due else None,
        "plan_due": due if planned and follow_up.reminded_at is None else None,
    }


# -- data scope --------------------------------------------------------------------------------
#: The data-scope ``where`` clauses of a list: every clause must hold; None admits everything.
Scope = tuple[Clause, ...] | None


def scope_clauses(
    scopes: ScopePolicy,
    principal: Principal,
    *,
    team_reps: Sequence[RepId] = (),
    collaborators: bool = True,
    unowned_index: str = "pool_zone",
    members: IndexFilter | None = None,
) -> Scope:
    """The ``where`` clauses admitting exactly the records ``principal`` may read (None: all).

    Mirrors :meth:`ScopePolicy.reason` for reads: own records, the zone's (and zone-less)
    records for a zone scope, records owned by ``team_reps`` (the principal's team) for a
    team scope, collaborations, and unowned records waiting in a pool of the principal's
    zone (or of none). No scope at all admits nothing (an empty clause). ``members``, when
    given, selects the unowned records in pools whose membership admits the principal (see
    :func:`pool_member_filter`): an unowned record read only through its pool must then pass
    it too (a second clause, the same alternatives with ``members`` instead of the zone test
    — so both must hold).
    """
    scope = scopes.scope_of(principal)
    if scope is None:
        return ((),)
    if scope is DataScope.ALL:
        return None
    zones = (principal.zone_id, "") if principal.zone_id else ("",)
    alternatives: list[IndexFilter] = []
    if principal.rep_id is not None:
        alternatives.append(IndexFilter("owner", equals=principal.rep_id))
        if collaborators:
            alternatives.append(IndexFilter(f"collab:{principal.rep_id}", at_least=""))
    if scope.rank >= DataScope.ZONE.rank and principal.zone_id is not None:
        alternatives.append(IndexFilter("zone", one_of=zones))
    if scope is DataScope.TEAM and principal.team_id is not None and team_reps:
        alternatives.append(IndexFilter("owner", one_of=tuple(team_reps)))
    by_zone = (*alternatives, IndexFilter(unowned_index, one_of=zones))
    if members is None:
        return (by_zone,)
    return by_zone, (*alternatives, members)


class MemberPool(Protocol):
    """What membership reads of a customer or lead pool."""

    @property
    def id(self) -> PoolId:
        """The pool's id."""
        ...

    @property
    def members(self) -> PoolMembers:
        """Who belongs to the pool."""
        ...


def pool_member_filter(
    pools: Sequence[MemberPool], principal: Principal, index: str, *, no_pool: bool = False
) -> IndexFilter | None:
    """The filter on ``index`` (the pool id of an unowned record) admitting the pools whose
    membership admits ``principal`` (already positioned) — and records in no pool when
    ``no_pool`` (their index value is ``""``); None when membership restricts nothing (a
    manager, or every pool open to everyone)."""
    if principal.is_manager:
        return None
    member = Member.of(principal)
    if all(pool.members.admits(member) for pool in pools):
        return None
    admitted = [str(pool.id) for pool in pools if pool.members.admits(member)]
    return IndexFilter(index, one_of=(*admitted, "") if no_pool else tuple(admitted))


def _where(scope: Scope, filters: Mapping[str, IndexFilter | None]) -> tuple[Clause, ...]:
    found = list(scope or ())
    found += [(f,) for f in filters.values() if f is not None]
    return tuple(found)


# -- customers ---------------------------------------------------------------------------------
class CustomerSort(enum.StrEnum):
    """Orders of a customer list; ``created`` (the default) never moves a row between pages."""

    CREATED = "created"  # oldest first
    RECENT = "recent"  # most recently changed first
    NAME = "name"  # normalized name, code-point order
    RECLAIM_DUE = "reclaim_due"  # owned customers with a reclaim deadline, soonest first


@attrs.frozen
class CustomerFilter:
    """Filters of a customer list (all optional; every one given must hold).

    ``pool`` selects the unowned customers waiting in that public pool; ``team`` the
    customers owned by the team's reps; ``reclaim_due_before`` owned customers whose reclaim
    deadline is before that instant; ``created_*``/``updated_*`` are ``[from, until)``.
    """

    owner: RepId | None = None
    team: TeamId | None = None
    zone: ZoneId | None = None
    tier: Tier | None = None
    tag: str | None = None
    pool: PoolId | None = None
    reclaim_due_before: datetime | None = None
    created_from: datetime | None = None
    created_until: datetime | None = None
    updated_from: datetime | None = None
    updated_until: datetime | None = None


def _time_range(start: datetime | None, end: datetime | None) -> tuple[str | None, str | None]:
    return (
        None if start is None else time_value(start),
        None if end is None else time_value(end),
    )


def _range_filter(index: str, bounds: tuple[str | None, str | None]) -> IndexFilter | None:
    at_least, below = bounds
    if at_least is None and below is None:
        return None
    return IndexFilter(index, at_least=at_least or "", below=below)


def customer_query(
    filters: CustomerFilter,
    sort: CustomerSort,
    scope: Scope,
    *,
    team_reps: Sequence[RepId] = (),
) -> IndexQuery:
    """The index query of a customer list (no cursor, no limit yet)."""
    created = _time_range(filters.created_from, filters.created_until)
    updated = _recent_range(filters.updated_from, filters.updated_until)
    due = (
        None,
        None if filters.reclaim_due_before is None else time_value(filters.reclaim_due_before),
    )
    conditions: dict[str, IndexFilter | None] = {
        "owner": None if filters.owner is None else IndexFilter("owner", equals=filters.owner),
        "team": None if filters.team is None else IndexFilter("owner", one_of=tuple(team_reps)),
        "zone": None if filters.zone is None else IndexFilter("zone", equals=filters.zone),
        "tier": None if filters.tier is None else IndexFilter("tier", equals=filters.tier.value),
        "tag": None if filters.tag is None else IndexFilter(f"tag:{filters.tag}", equals="1"),
        "pool": None if filters.pool is None else IndexFilter("pool", equals=filters.pool),
        "due": _range_filter("reclaim_due", due),
        "created": _range_filter("created", created),
        "updated": _range_filter("recent", updated),
    }
    index, at_least, below = sort.value, None, None
    if filters.owner is not None and sort is not CustomerSort.RECLAIM_DUE:
        index = f"owner_{sort.value}"
        at_least, below = _group_bounds(filters.owner)
        conditions["owner"] = None
    elif sort is CustomerSort.CREATED:
        at_least, below = created
        conditions["created"] = None
    elif sort is CustomerSort.RECENT:
        at_least, below = updated
        conditions["updated"] = None
    elif sort is CustomerSort.RECLAIM_DUE:
        below = due[1]
        conditions["due"] = None
    return IndexQuery(
        "customer", index, at_least=at_least, below=below, where=_where(scope, conditions)
    )


#: Every index a customer list or name search queries by (the owner's lists are grouped).
CUSTOMER_LIST_QUERIES = frozenset(
    {sort.value for sort in CustomerSort}
    | {f"owner_{sort.value}" for sort in CustomerSort if sort is not CustomerSort.RECLAIM_DUE}
    | {"name", "pinyin"}
)


def name_search_queries(text: str, scope: Scope) -> list[IndexQuery]:
    """Prefix queries on the normalized name, then (for Latin text) on the pinyin of Han names."""
    normalized = normalize_company_name(text)
    if not normalized:
        return []
    at_least, below = _prefix_bounds(normalized)
    where = scope or ()
    found = [IndexQuery("customer", "name", at_least=at_least, below=below, where=where)]
    if normalized.isascii():
        found.append(IndexQuery("customer", "pinyin", at_least=at_least, below=below, where=where))
    return found


# -- leads -------------------------------------------------------------------------------------
class LeadSort(enum.StrEnum):
    """Orders of a lead list; ``created`` (the default) never moves a row between pages."""

    CREATED = "created"
    RECENT = "recent"
    NAME = "name"
    SCORE = "score"  # best lead score first (线索评分), unscored leads last


@attrs.frozen
class LeadFilter:
    """Filters of a lead list (all optional; every one given must hold).

    ``min_score`` keeps leads whose stored score is at least that (0-100; unscored leads
    never match).
    """

    status: LeadStatus | None = None
    owner: RepId | None = None
    zone: ZoneId | None = None
    channel: Channel | None = None
    created_from: datetime | None = None
    created_until: datetime | None = None
    min_score: int | None = None


def _score_bounds(min_score: int | None) -> tuple[str | None, str | None]:
    """``(at_least, below)`` on the ``score`` index for scores of at least ``min_score``."""
    if min_score is None:
        return None, None
    if isinstance(min_score, bool) or not isinstance(min_score, int):
        raise ValidationError.single("min_score", "field.type", "expected a whole number")
    if not 0 <= min_score <= MAX_SCORE:
        raise ValidationError.single(
            "min_score", "field.out_of_range", f"a score is 0 to {MAX_SCORE}"
        )
    return "000", f"{MAX_SCORE - min_score + 1:03d}"


def lead_query(filters: LeadFilter, sort: LeadSort, scope: Scope) -> IndexQuery:
    """The index query of a lead list (no cursor, no limit yet)."""
    created = _time_range(filters.created_from, filters.created_until)
    scores = _score_bounds(filters.min_score)
    conditions: dict[str, IndexFilter | None] = {
        "status": None
        if filters.status is None
        else IndexFilter("status", equals=filters.status.value),
        "owner": None if filters.owner is None else IndexFilter("owner", equals=filters.owner),
        "zone": None if filters.zone is None else IndexFilter("zone", equals=filters.zone),
        "channel": None
        if filters.channel is None
        else IndexFilter("channel", equals=filters.channel.value),
        "created": _range_filter("created", created),
        "score": _range_filter("score", scores),
    }
    at_least, below = (None, None)
    if sort is LeadSort.CREATED:
        at_least, below = created
        conditions["created"] = None
    elif sort is LeadSort.SCORE:
        at_least, below = scores
        conditions["score"] = None
    return IndexQuery(
        "lead", sort.value, at_least=at_least, below=below, where=_where(scope, conditions)
    )


#: Every index a lead list or name search queries by.
LEAD_LIST_QUERIES = frozenset({sort.value for sort in LeadSort} | {"name", "pinyin"})


def lead_search_queries(text: str, scope: Scope) -> list[IndexQuery]:
    """Prefix queries on a lead's normalized company name, then on its pinyin."""
    return [attrs.evolve(query, kind="lead") for query in name_search_queries(text, scope)]
