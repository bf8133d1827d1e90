"""Exact mode for constrained batches: minimise the largest |received − entitlement|.

Leads with the same eligible set are interchangeable, so the batch becomes a small flow
network: source → eligible-set class (its lead count) → rep → sink, where rep ``i`` must
receive between ``ceil(a_i − B)`` and ``floor(a_i + B)`` leads (``a_i`` = what the ledger will
owe them after the batch) and at most what its caps allow. Feasibility is monotone in ``B``
and the optimum is one of the breakpoints ``|a_i − m|``, so a binary search over them with one
flow per step finds it. Needs the optional ``networkx`` package (imported lazily).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import attrs

from leadtocash.allocation.eligibility import LeadProfile, RepState, static_reasons
from leadtocash.allocation.ledger import FairnessLedger, LedgerEntry
from leadtocash.errors import RuleViolation
from leadtocash.model import RepId

__all__ = ["ExactPlan", "exact_allocate"]


@attrs.frozen
class ExactPlan:
    """The optimal assignment of a batch, its exact optimum and the resulting ledger."""

    assignments: tuple[tuple[str, RepId], ...]
    refused: tuple[str, ...]
    max_abs_deviation: str
    ledger: FairnessLedger

    @property
    def optimum(self) -> Fraction:
        """The minimal largest |received − entitlement| over the given reps, exact."""
        return Fraction(self.max_abs_deviation)


def _networkx() -> Any:
    try:
        return importlib.import_module("networkx")
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError(
            "exact allocation needs the optional dependency networkx "
            "(pip install 'leadtocash[graph]')"
        ) from exc


def _solve(
    nx: Any,
    classes: list[tuple[list[int], int]],
    owed: list[Fraction],
    rooms: list[int],
    bound: Fraction,
) -> dict[tuple[int, int], int] | None:
    lows = [max(0, math.ceil(a - bound)) for a in owed]
    highs = [min(room, math.floor(a + bound)) for a, room in zip(owed, rooms, strict=True)]
    if any(lo > hi for lo, hi in zip(lows, highs, strict=True)):
        return None
    total = sum(n for _, n in classes)
    graph = nx.DiGraph()
    graph.add_node("s", demand=-total)
    graph.add_node("t", demand=total - sum(lows))
    for i, (lo, hi) in enumerate(zip(lows, highs, strict=True)):
        graph.add_node(("r", i), demand=lo)
        graph.add_edge(("r", i), "t", capacity=hi - lo, weight=0)
    for c, (members, count) in enumerate(classes):
        graph.add_edge("s", ("c", c), capacity=count, weight=0)
        for i in members:
            graph.add_edge(("c", c), ("r", i), capacity=count, weight=0)
    try:
        _cost, flows = nx.network_simplex(graph)
    except nx.NetworkXUnfeasible:
        return None
    return {
        (c, i): flows[("c", c)][("r", i)]
        for c, (members, _) in enumerate(classes)
        for i in members
        if flows[("c", c)][("r", i)]
    }


def exact_allocate(
    ledger: FairnessLedger, leads: Sequence[LeadProfile], reps: Sequence[RepState]
) -> ExactPlan:
    """Optimal batch: minimises max |received − entitlement| over ``reps`` at the end.

    Eligibility is static here (zone, skills, availability, weight); caps bound how many leads
    a rep may take. Entitlement is shared exactly as :func:`allocate` shares it. Raises
    ``RuleViolation`` (``allocation.exact_infeasible``) when the caps cannot absorb the batch.
    """
    nx = _networkx()
    entries = {e.rep_id: e for e in ledger.entries}
    owed = [
        Fraction(entries[r.rep_id].entitled, ledger.denominator) - entries[r.rep_id].received
        if r.rep_id in entries
        else Fraction(0)
        for r in reps
    ]
    gained = [Fraction(0)] * len(reps)
    rooms = [len(leads) if r.room() is None else min(len(leads), r.room() or 0) for r in reps]
    classes: dict[tuple[int, ...], list[int]] = {}
    by_key: dict[tuple[object, frozenset[str]], tuple[int, ...]] = {}
    refused: list[str] = []
    for index, lead in enumerate(leads):
        key = (lead.zone_id, lead.skills)
        members = by_key.get(key)
        if members is None:
            members = tuple(
                i for i, r in enumerate(reps) if rooms[i] > 0 and static_reasons(lead, r)[0]
            )
            by_key[key] = members
        if not members:
            refused.append(lead.lead_id)
            continue
        classes.setdefault(members, []).append(index)
    for members, indices in classes.items():
        total = sum(reps[i].weight for i in members)
        for i in members:
            gained[i] += Fraction(reps[i].weight * len(indices), total)
    owed = [a + g for a, g in zip(owed, gained, strict=True)]
    groups = [(list(m), len(idx)) for m, idx in classes.items()]
    upper = max((abs(a) for a in owed), default=Fraction(0)) + len(leads) + 1
    plan = _solve(nx, groups, owed, rooms, upper)
    if plan is None:
        raise RuleViolation("the caps cannot absorb this batch", code="allocation.exact_infeasible")
    low, high = 0, math.ceil(upper)
    while low < high:
        mid = (low + high) // 2
        if _solve(nx, groups, owed, rooms, Fraction(mid)) is None:
            low = mid + 1
        else:
            high = mid
    candidates = sorted(
        {Fraction(high)}
        | {
            b
            for a in owed
            for b in (high - 1 + (a - math.floor(a)), high - (a - math.floor(a)))
            if high - 1 < b <= high
        }
    )
    lo_i, hi_i = 0, len(candidates) - 1
    while lo_i < hi_i:
        mid = (lo_i + hi_i) // 2
        if _solve(nx, groups, owed, rooms, candidates[mid]) is None:
            lo_i = mid + 1
        else:
            hi_i = mid
    best = candidates[hi_i]
    flows = _solve(nx, groups, owed, rooms, best)
    assert flows is not None
    pairs: list[tuple[int, str, RepId]] = []
    counts = [0] * len(reps)
    for c, (members, indices) in enumerate(classes.items()):
        cursor = iter(indices)
        for i in members:
            for _ in range(flows.get((c, i), 0)):
                index = next(cursor)
                pairs.append((index, leads[index].lead_id, reps[i].rep_id))
                counts[i] += 1
    pairs.sort()
    deviation = max((abs(n - a) for n, a in zip(counts, owed, strict=True)), default=Fraction(0))
    new_ledger = _apply(ledger, reps, gained, counts)
    return ExactPlan(
        tuple((lead_id, rep_id) for _, lead_id, rep_id in pairs),
        tuple(refused),
        str(deviation),
        new_ledger,
    )


def _apply(
    ledger: FairnessLedger, reps: Sequence[RepState], gained: list[Fraction], counts: list[int]
) -> FairnessLedger:
    for rep in reps:
        ledger = ledger.join(rep.rep_id, rep.weight)
    q = ledger.denominator
    for g in gained:
        q = math.lcm(q, g.denominator)
    f = q // ledger.denominator
    plus = {r.rep_id: (r.weight, g, n) for r, g, n in zip(reps, gained, counts, strict=True)}
    entries = []
    for e in ledger.entries:
        w, g, n = plus.get(e.rep_id, (e.weight, Fraction(0), 0))
        entries.append(LedgerEntry(e.rep_id, w, e.entitled * f + int(g * q), e.received + n))
    return attrs.evolve(
        ledger,
        entries=tuple(entries),
        denominator=q,
        allocated=ledger.allocated + sum(counts),
    ).normalized()
