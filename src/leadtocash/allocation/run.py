"""Fair lead allocation: the pure entry points (no I/O, no clock, no ``random``).

``allocate`` gives each lead to one eligible rep under a policy (default :class:`FairPolicy`)
and returns the new fairness ledger; ``distribute_batch`` is 批量分配 — a selected set of
customers split over a selected set of reps, counts within 1, remainder carried by the ledger.
"""

from __future__ import annotations

from collections.abc import Sequence

from leadtocash.allocation.eligibility import LeadProfile, RepState
from leadtocash.allocation.engine import run_allocation
from leadtocash.allocation.ledger import FairnessLedger
from leadtocash.allocation.outcome import AllocationResult, Assignment, Refusal
from leadtocash.allocation.policies import AllocationPolicy, BatchSplit, FairPolicy

__all__ = ["allocate", "allocate_one", "distribute_batch"]

_FAIR = FairPolicy()


def allocate(
    ledger: FairnessLedger,
    leads: Sequence[LeadProfile],
    reps: Sequence[RepState],
    *,
    seed: int,
    policy: AllocationPolicy = _FAIR,
) -> AllocationResult:
    """Allocate ``leads`` in order to ``reps`` under ``policy``; same inputs, same result.

    Reps in ``reps`` but not in the ledger join it (entitlement = received = 0); ledger reps
    missing from ``reps`` are away and accrue nothing. A rep's weight is taken from its state.
    Refused leads (nobody eligible) stay unassigned and appear in ``refusals()``.
    """
    return run_allocation(ledger, leads, reps, policy, seed)


def allocate_one(
    ledger: FairnessLedger,
    lead: LeadProfile,
    reps: Sequence[RepState],
    *,
    seed: int,
    policy: AllocationPolicy = _FAIR,
) -> tuple[AllocationResult, Assignment]:
    """Allocate one lead; raises :class:`NoEligibleRep` when nobody is eligible."""
    result = run_allocation(ledger, [lead], reps, policy, seed)
    (outcome,) = result.outcomes()
    if isinstance(outcome, Refusal):
        raise outcome.error()
    return result, outcome


def distribute_batch(
    ledger: FairnessLedger,
    items: Sequence[str | LeadProfile],
    reps: Sequence[RepState],
    *,
    seed: int,
) -> AllocationResult:
    """批量分配: split ``items`` over the selected ``reps``; counts differ by at most 1.

    Each item's unit is shared equally among the selected reps that can take it (weights do
    not apply to a manual split). The ``n mod m`` extra items go to the reps the ledger owes
    most, so the remainder rotates across batches instead of always favouring the first reps.
    Capacity and daily caps still apply: a capped rep stops and the others continue.
    """
    leads = [LeadProfile(item) if isinstance(item, str) else item for item in items]
    return run_allocation(ledger, leads, reps, BatchSplit(), seed, equal_shares=True)
