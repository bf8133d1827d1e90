"""Public customer pool (公海池): rules, ownership operations, reclaim, fair allocation.

This module re-exports the fair-allocation names (ledger, policies, eligibility, explanations,
exact mode); rules and ownership live in their own modules. Pure: no I/O, no clock, no
``random`` (ties are broken by a blake2b hash of an explicit seed).
"""

from leadtocash.pool.allocation import allocate, allocate_one, distribute_batch
from leadtocash.pool.eligibility import (
    LeadProfile,
    Reason,
    RepEligibility,
    RepState,
    check_eligibility,
)
from leadtocash.pool.engine import tie_break
from leadtocash.pool.exact import ExactPlan, exact_allocate
from leadtocash.pool.ledger import FairnessLedger, LedgerEntry, fraction_text, parse_fraction
from leadtocash.pool.outcome import (
    NO_ELIGIBLE_REP,
    AllocationResult,
    Assignment,
    Explanation,
    NoEligibleRep,
    Refusal,
)
from leadtocash.pool.policies import (
    AllocationPolicy,
    BatchSplit,
    Candidate,
    FairPolicy,
    LoadBalanced,
    PickContext,
    RoundRobin,
    Rule,
    RuleBased,
    Weighted,
)

__all__ = [
    "NO_ELIGIBLE_REP",
    "AllocationPolicy",
    "AllocationResult",
    "Assignment",
    "BatchSplit",
    "Candidate",
    "ExactPlan",
    "Explanation",
    "FairPolicy",
    "FairnessLedger",
    "LeadProfile",
    "LedgerEntry",
    "LoadBalanced",
    "NoEligibleRep",
    "PickContext",
    "Reason",
    "Refusal",
    "RepEligibility",
    "RepState",
    "RoundRobin",
    "Rule",
    "RuleBased",
    "Weighted",
    "allocate",
    "allocate_one",
    "check_eligibility",
    "distribute_batch",
    "exact_allocate",
    "fraction_text",
    "parse_fraction",
    "tie_break",
]
