"""Fair allocation of leads to reps: policies, eligibility, the ledger, explanations, exact mode.

The modules are ``run`` (allocate, allocate_one, distribute_batch), ``policies``,
``eligibility``, ``ledger``, ``outcome`` (results and explanations), ``engine`` (the loop) and
``exact`` (the integer-programming mode). Pool rules and ownership live in
:mod:`leadtocash.pool`. Pure: no I/O, no clock, no ``random`` (ties are broken by a blake2b
hash of an explicit seed).
"""

from leadtocash.allocation.eligibility import (
    LeadProfile,
    Reason,
    RepEligibility,
    RepState,
    check_eligibility,
)
from leadtocash.allocation.engine import tie_break
from leadtocash.allocation.exact import ExactPlan, exact_allocate
from leadtocash.allocation.ledger import FairnessLedger, LedgerEntry, fraction_text, parse_fraction
from leadtocash.allocation.outcome import (
    NO_ELIGIBLE_REP,
    AllocationResult,
    Assignment,
    Explanation,
    NoEligibleRep,
    Refusal,
)
from leadtocash.allocation.policies import (
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
from leadtocash.allocation.run import allocate, allocate_one, distribute_batch

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
