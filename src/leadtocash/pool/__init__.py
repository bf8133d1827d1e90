"""Public customer pool (公海池): pool rules, ownership decisions, reclaim, rep books.

The modules are ``rules`` (Pool and PoolRules), ``ownership`` (the claim, assign, release and
transfer decisions), ``reclaim`` (schedules), ``book`` (a rep's book, daily counters and the
ownership history), ``membership`` (who may see and claim from a pool), ``browsing`` (the
daily quota of pool customers opened unmasked) and ``visibility``.
Fair allocation lives in :mod:`leadtocash.allocation`.
Pure: no I/O, no clock.
"""

from leadtocash.pool.book import DailyClaims, OwnershipAction, OwnershipChange, RepBook
from leadtocash.pool.browsing import DailyBrowses, decide_browse
from leadtocash.pool.membership import Member, PoolMembers, check_member
from leadtocash.pool.ownership import (
    ClaimDecision,
    OwnershipFacts,
    decide_assign,
    decide_claim,
    decide_release,
    decide_transfer,
)
from leadtocash.pool.reclaim import ReclaimSchedule, ScheduleRecompute, reclaim_schedule
from leadtocash.pool.rules import BrowseQuota, Pool, PoolRules, TierDurations

__all__ = [
    "BrowseQuota",
    "ClaimDecision",
    "DailyBrowses",
    "DailyClaims",
    "Member",
    "OwnershipAction",
    "OwnershipChange",
    "OwnershipFacts",
    "Pool",
    "PoolMembers",
    "PoolRules",
    "ReclaimSchedule",
    "RepBook",
    "ScheduleRecompute",
    "TierDurations",
    "check_member",
    "decide_assign",
    "decide_browse",
    "decide_claim",
    "decide_release",
    "decide_transfer",
    "reclaim_schedule",
]
