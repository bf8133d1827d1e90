"""The allocation engine: exact integer fairness accounting and Tijdeman's rule on a heap.

Entitlements are integers over one common ``denominator`` (a multiple of every eligible set's
total weight and of δ's denominator 2(k−1)), so all arithmetic is exact and cheap. Leads that
share one eligible set form a *segment*: instead of crediting every member per lead, the engine
counts the segment's ``leads_given`` and credits each member its ``share`` (weight·denominator /
total weight) per lead lazily, when the segment ends.

The fair path keeps every member of a segment in exactly one of two places: ``released``, a heap
of the reps at least δ behind, by deadline then seed rank, or ``waiting``, under the lead at
which they will be δ behind. A lead moves the reps due at it into the heap and gives itself to
the top: O(log k) per lead instead of O(k). When nobody is δ behind, the rep furthest behind
takes the lead. Any other fair policy, and every other policy, goes through the generic path,
which builds each lead's candidates and asks the policy.
"""

from __future__ import annotations

import hashlib
import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from fractions import Fraction
from heapq import heappop, heappush, heappushpop
from itertools import groupby
from math import lcm
from operator import attrgetter

import attrs

from leadtocash.allocation.eligibility import LeadProfile, RepState, static_reasons
from leadtocash.allocation.ledger import FairnessLedger, LedgerEntry
from leadtocash.allocation.outcome import AllocationResult, DeferredRun, Trace
from leadtocash.allocation.policies import (
    AllocationPolicy,
    Candidate,
    PickContext,
    has_scope,
    is_fair,
)
from leadtocash.errors import ValidationError
from leadtocash.model import RepId

__all__ = ["run_allocation", "tie_break"]

_Key = tuple[object, frozenset[str], tuple[str, frozenset[RepId]] | None]


def tie_break(seed: int, rep_id: str) -> int:
    """Deterministic 64-bit tie-break value of a rep under a seed (blake2b, no ``random``)."""
    data = f"{seed}\x1f{rep_id}".encode()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest())  # big-endian


class _Engine:
    """Working copy of one ledger for one call; a rep's index (``rank``) is its seed order."""

    def __init__(
        self,
        ledger: FairnessLedger,
        leads: Sequence[LeadProfile],
        reps: Sequence[RepState],
        policy: AllocationPolicy,
        seed: int,
        *,
        equal_shares: bool,
    ) -> None:
        given: dict[RepId, RepState] = {}
        for rep in reps:
            if rep.rep_id in given:
                raise ValidationError.single(
                    "reps", "allocation.duplicate_rep", f"rep {rep.rep_id!r} given twice"
                )
            given[rep.rep_id] = rep
        entries = {entry.rep_id: entry for entry in ledger.entries}
        joining = [rep_id for rep_id in given if rep_id not in entries]
        ledger_order = [*entries, *joining]
        rep_ids = sorted(ledger_order, key=lambda rep_id: (tie_break(seed, rep_id), rep_id))
        rank_of = {rep_id: rank for rank, rep_id in enumerate(rep_ids)}
        position: dict[RepId | None, int] = {rep_id: p for p, rep_id in enumerate(ledger_order)}
        self.ledger = ledger
        self.leads = tuple(leads)
        self.policy = policy
        self.given = tuple(reps)
        self.fair = is_fair(policy)
        self.scoped = has_scope(policy)
        self.rep_ids = rep_ids
        self.rank_of = rank_of
        self.ledger_order = [rank_of[rep_id] for rep_id in ledger_order]
        self.ledger_position = [position[rep_id] for rep_id in rep_ids]
        # Reps of this call by rank; ledger reps absent from it are in no segment.
        self.states = {rank_of[rep.rep_id]: rep for rep in reps}
        self.current = dict(self.states)
        self.weights = [
            given[rep_id].weight if rep_id in given else entries[rep_id].weight
            for rep_id in rep_ids
        ]
        self.equal_shares = equal_shares
        self.entitled = [entries[r].entitled if r in entries else 0 for r in rep_ids]
        self.received = [entries[r].received if r in entries else 0 for r in rep_ids]
        self.received_before = list(self.received)
        # The received count at which a rep is full: only reps of this call are ever compared.
        self.full_at = list(self.received)
        for rank, state in self.states.items():
            room = state.room()
            self.full_at[rank] += sys.maxsize if room is None else room
        self.cursor = position.get(ledger.cursor)
        count = len(rep_ids)
        self.delta = Fraction(1, 2 * (count - 1)) if count > 1 else Fraction(0)
        self.denominator = ledger.denominator
        self.delta_num: int
        self.horizon: int
        self._rescale(self.delta.denominator)
        self.rank_bits = count.bit_length()
        self.eligible_by_key: dict[_Key, list[int]] = {}
        # The current segment: each member's share of one lead, and the leads given so far.
        self.shares: dict[int, int] = {}
        self.leads_given: int
        self.picks: list[int | None] = []
        self.deficits: dict[int, Fraction] = {}
        self.runs: list[DeferredRun] = []

    def _rescale(self, factor: int) -> None:
        """Make the denominator a multiple of ``factor``; δ and 1 − δ over it follow."""
        denominator = lcm(self.denominator, factor)
        if denominator != self.denominator:
            scale = denominator // self.denominator
            self.entitled = [entitled * scale for entitled in self.entitled]
            self.denominator = denominator
        self.delta_num = denominator * self.delta.numerator // self.delta.denominator
        self.horizon = denominator - self.delta_num

    def _key(self, lead: LeadProfile) -> _Key:
        """What decides a lead's eligible reps: zone, skills and the policy's rule scope."""
        return (lead.zone_id, lead.skills, self.policy.scope(lead))

    def _eligible(self, lead: LeadProfile) -> list[int]:
        """Ranks of the reps the lead's zone, skills, rule and availability allow (cached)."""
        key = self._key(lead)
        if key not in self.eligible_by_key:
            scope = key[2]
            allowed = None if scope is None else scope[1]
            self.eligible_by_key[key] = [
                rank
                for rank, state in self.states.items()
                if (allowed is None or state.rep_id in allowed) and static_reasons(lead, state)[0]
            ]
        return self.eligible_by_key[key]

    def _credit(self) -> None:
        """Credit the current segment's leads to its members' entitlements."""
        for rank, share in self.shares.items():
            self.entitled[rank] += share * self.leads_given

    def _start_segment(self, members: list[int]) -> None:
        """Credit the segment that ends; share the next leads among ``members``."""
        self._credit()
        weights = self.weights
        total = len(members) if self.equal_shares else sum(weights[rank] for rank in members)
        self._rescale(total)
        per_weight = self.denominator // total
        if self.equal_shares:
            self.shares = dict.fromkeys(members, per_weight)
        else:
            self.shares = {rank: weights[rank] * per_weight for rank in members}
        self.leads_given = 0

    def _queue_members(self) -> defaultdict[int, list[int]]:
        """Every member under the lead at which they are δ behind (the next lead at the latest).

        A queued item is ``deadline << rank_bits | rank``: the deadline is the absolute lead
        count at which the rep would be 1 − δ behind, so items compare as Tijdeman's order.
        """
        denominator, delta_num, horizon = self.denominator, self.delta_num, self.horizon
        entitled, received, bits, clock = (
            self.entitled,
            self.received,
            self.rank_bits,
            self.leads_given,
        )
        waiting: defaultdict[int, list[int]] = defaultdict(list)
        for rank, share in self.shares.items():
            ahead = received[rank] * denominator - entitled[rank]
            due = -((-ahead - delta_num) // share)
            item = (((ahead + horizon) // share) << bits) | rank
            waiting[due if due > clock else clock + 1].append(item)
        return waiting

    def _furthest_behind(self, lead_count: int) -> int:
        """The member with the largest deficit after ``lead_count`` leads (lowest rank on ties)."""
        denominator, entitled, received = self.denominator, self.entitled, self.received
        return max(
            self.shares,
            key=lambda rank: (
                entitled[rank] + self.shares[rank] * lead_count - received[rank] * denominator,
                -rank,
            ),
        )

    def _fair_run(self, at: int, end: int) -> int:
        """Tijdeman's rule for leads ``at..end-1`` (one eligible set) until the end or a cap."""
        released: list[int] = []
        waiting = self._queue_members()
        denominator, delta_num, horizon, bits = (
            self.denominator,
            self.delta_num,
            self.horizon,
            self.rank_bits,
        )
        rank_mask = (1 << bits) - 1
        entitled, received, shares = self.entitled, self.received, self.shares
        full_at = self.full_at
        pop_due = waiting.pop
        picks = self.picks.append
        pop, push, pushpop = heappop, heappush, heappushpop
        start = self.leads_given
        first = len(self.picks)
        snapshot = (entitled[:], shares, received[:])  # shares are replaced, never changed
        for lead_count in range(start + 1, start + 1 + end - at):
            due = pop_due(lead_count, None)
            item: int | None
            if due is None:
                item = pop(released) if released else None
            elif len(due) == 1:
                item = pushpop(released, due[0])
            else:
                for queued in due:
                    push(released, queued)
                item = pop(released)
            # Nobody δ behind: the rep furthest behind takes the lead. Its queued item is then
            # stale, so the run ends there and the next one queues the members afresh.
            rank = self._furthest_behind(lead_count) if item is None else item & rank_mask
            picks(rank)
            count = received[rank] + 1
            received[rank] = count
            if count == full_at[rank] or item is None:
                break
            share = shares[rank]
            ahead = count * denominator - entitled[rank]
            due_at = -((-ahead - delta_num) // share)
            waiting[due_at if due_at > lead_count else lead_count + 1].append(
                (((ahead + horizon) // share) << bits) | rank
            )
        self.leads_given = lead_count
        self.runs.append(DeferredRun(first, lead_count - start, start, denominator, *snapshot))
        return at + lead_count - start

    def _generic_run(self, at: int, end: int) -> int:
        """The policy picks leads ``at..end-1`` one by one, until the end or a cap."""
        shares, entitled, received = self.shares, self.entitled, self.received
        for index in range(at, end):
            self.leads_given += 1
            denominator, lead_count = self.denominator, self.leads_given
            candidates = tuple(
                Candidate(
                    self.current[rank],
                    self.ledger_position[rank],
                    rank,
                    self.weights[rank],
                    received[rank],
                    received[rank] - self.received_before[rank],
                    entitled[rank] + share * lead_count - received[rank] * denominator,
                    share,
                    denominator,
                )
                for rank, share in shares.items()
            )
            context = PickContext(self.leads[index], candidates, self.cursor, self.delta)
            chosen = self.policy.choose(context)
            if not any(chosen is candidate for candidate in candidates):
                raise ValueError(f"policy {self.policy.name!r} chose a rep that is not a candidate")
            rank = chosen.rank
            self.deficits[index] = chosen.deficit
            self.picks.append(rank)
            self.cursor = self.ledger_position[rank]
            received[rank] += 1
            state = self.current[rank]
            self.current[rank] = attrs.evolve(
                state, today=state.today + 1, owned=state.owned + 1, open_leads=state.open_leads + 1
            )
            if received[rank] == self.full_at[rank]:
                return index + 1
        return end

    def run(self) -> None:
        """Allocate every lead in order; a lead nobody may take is recorded as ``None``."""
        leads = self.leads
        group_key: Callable[[LeadProfile], object]
        group_key = self._key if self.scoped else attrgetter("zone_id", "skills")
        at = 0
        for _, group in groupby(leads, group_key):
            end = at + len(list(group))
            eligible = self._eligible(leads[at])
            while at < end:
                members = [rank for rank in eligible if self.received[rank] < self.full_at[rank]]
                if not members:
                    break
                if members != list(self.shares):
                    self._start_segment(members)
                at = self._fair_run(at, end) if self.fair else self._generic_run(at, end)
            self.picks.extend([None] * (end - at))
            at = end

    def result(self) -> AllocationResult:
        """The new ledger and rep states, with the trace for explanations."""
        self._credit()
        received, before = self.received, self.received_before
        entries = tuple(
            LedgerEntry(self.rep_ids[rank], self.weights[rank], self.entitled[rank], received[rank])
            for rank in self.ledger_order
        )
        last_pick = next((rank for rank in reversed(self.picks) if rank is not None), None)
        ledger = attrs.evolve(
            self.ledger,
            entries=entries,
            denominator=self.denominator,
            cursor=self.ledger.cursor if last_pick is None else self.rep_ids[last_pick],
            allocated=self.ledger.allocated + sum(received) - sum(before),
        ).normalized()
        states = []
        for state in self.given:
            rank = self.rank_of[state.rep_id]
            taken = received[rank] - before[rank]
            if taken:
                state = attrs.evolve(
                    state,
                    today=state.today + taken,
                    owned=state.owned + taken,
                    open_leads=state.open_leads + taken,
                )
            states.append(state)
        trace = Trace(self.leads, self.given, self.rep_ids, self.picks, self.deficits, self.runs)
        return AllocationResult(self.policy, ledger, tuple(states), trace)


def run_allocation(
    ledger: FairnessLedger,
    leads: Sequence[LeadProfile],
    reps: Sequence[RepState],
    policy: AllocationPolicy,
    seed: int,
    *,
    equal_shares: bool = False,
) -> AllocationResult:
    """Run one allocation call (see :func:`leadtocash.allocation.run.allocate`).

    :class:`FairPolicy` itself takes the heap path; any other policy, a subclass of
    ``FairPolicy`` included, is asked lead by lead (the generic path).
    """
    engine = _Engine(ledger, leads, reps, policy, seed, equal_shares=equal_shares)
    engine.run()
    return engine.result()
