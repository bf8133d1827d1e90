"""The allocation engine: exact integer fairness accounting and Tijdeman's rule on a heap.

Entitlements are integers over one common denominator ``q`` (a multiple of every eligible
set's total weight and of ``2(k−1)``), so all arithmetic is exact and cheap. Leads that share
one eligible set form a *segment*: instead of crediting every member per lead, the engine
counts the segment's leads ``g`` and credits ``u_j = w_j·q/W`` per lead lazily, so a lead
costs O(log k) (one heap operation plus a bucket of releases) instead of O(k).
"""

from __future__ import annotations

import hashlib
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

_UNLIMITED = 1 << 62
_Key = tuple[object, frozenset[str], object]


def tie_break(seed: int, rep_id: str) -> int:
    """Deterministic 64-bit tie-break value of a rep under a seed (blake2b, no ``random``)."""
    data = f"{seed}\x1f{rep_id}".encode()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


class _Engine:
    """Working copy of one ledger for one call; internal index ``j`` is the rep's seed rank."""

    def __init__(
        self,
        ledger: FairnessLedger,
        reps: Sequence[RepState],
        policy: AllocationPolicy,
        seed: int,
        *,
        equal_shares: bool,
        fast: bool,
    ) -> None:
        states: dict[RepId, RepState] = {}
        for rep in reps:
            if rep.rep_id in states:
                raise ValidationError.single(
                    "reps", "allocation.duplicate_rep", f"rep {rep.rep_id!r} given twice"
                )
            states[rep.rep_id] = rep
        entries = {e.rep_id: e for e in ledger.entries}
        order = [e.rep_id for e in ledger.entries] + [
            r.rep_id for r in reps if r.rep_id not in entries
        ]
        position = {rid: p for p, rid in enumerate(order)}
        ids = sorted(order, key=lambda rid: (tie_break(seed, rid), rid))
        self.ledger = ledger
        self.policy = policy
        self.states = tuple(reps)
        self.fair = is_fair(policy) and fast
        self.scoped = has_scope(policy)
        self.leads: Sequence[LeadProfile] = ()
        self.ids: list[RepId] = ids
        self.k = len(ids)
        self.pos = [position[rid] for rid in ids]
        self.state: list[RepState | None] = [states.get(rid) for rid in ids]
        self.cur: list[RepState | None] = list(self.state)
        self.weight = [self._weight(entries.get(rid), states.get(rid)) for rid in ids]
        self.w = [1 if equal_shares else x for x in self.weight]
        self.ent = [entries[rid].entitled if rid in entries else 0 for rid in ids]
        self.rec = [entries[rid].received if rid in entries else 0 for rid in ids]
        self.rec0 = list(self.rec)
        self.limit = [r + self._room(states.get(rid)) for r, rid in zip(self.rec, ids, strict=True)]
        self.cursor = position.get(ledger.cursor) if ledger.cursor is not None else None
        self.q = ledger.denominator
        self.two_k1 = 2 * (self.k - 1) if self.k >= 2 else 1
        self.dq = 0
        self.epochs: list[tuple[int, int]] = [(0, self.q)]
        self._rescale(self.two_k1, 0)
        self.blocked = 0
        self.static: dict[_Key, list[int]] = {}
        self.members: list[int] = []
        self.u = [0] * self.k
        self.g = 0
        self.heap_valid = False
        self.ready: list[int] = []
        self.buckets: defaultdict[int, list[int]] = defaultdict(list)
        self.shift = max(1, self.k.bit_length())
        self.picks: list[int] = []
        self.deficits: list[int] = []
        self.runs: list[DeferredRun] = []

    @staticmethod
    def _weight(entry: LedgerEntry | None, state: RepState | None) -> int:
        if state is not None:
            return state.weight
        return entry.weight if entry is not None else 0

    @staticmethod
    def _room(state: RepState | None) -> int:
        if state is None:
            return 0
        room = state.room()
        return _UNLIMITED if room is None else room

    def _rescale(self, factor_of: int, at: int) -> None:
        new_q = lcm(self.q, factor_of)
        if new_q != self.q:
            f = new_q // self.q
            self.ent = [e * f for e in self.ent]
            self.q = new_q
            if self.epochs[-1][0] == at:
                self.epochs[-1] = (at, new_q)
            else:
                self.epochs.append((at, new_q))
        self.dq = self.q // self.two_k1 if self.k >= 2 else 0

    def _key(self, lead: LeadProfile) -> _Key:
        scope = self.policy.scope(lead) if self.scoped else None
        return (lead.zone_id, lead.skills, scope)

    def _static(self, key: _Key, lead: LeadProfile) -> list[int]:
        found = self.static.get(key)
        if found is None:
            scope = key[2]
            allowed = scope[1] if isinstance(scope, tuple) else None
            found = []
            for j, state in enumerate(self.state):
                if state is None or (allowed is not None and state.rep_id not in allowed):
                    continue
                if static_reasons(lead, state)[0]:
                    found.append(j)
            self.static[key] = found
        return found

    def _materialize(self) -> None:
        g, u, ent = self.g, self.u, self.ent
        for j in self.members:
            ent[j] += u[j] * g
            u[j] = 0
        self.g = 0
        self.members = []
        self.heap_valid = False

    def _start(self, members: list[int], at: int) -> None:
        total = sum(self.w[j] for j in members)
        self._rescale(total, at)
        per = self.q // total
        for j in members:
            self.u[j] = self.w[j] * per
        self.members = members

    def _build_heap(self) -> None:
        q, dq, g, shift = self.q, self.dq, self.g, self.shift
        sq = q - dq
        self.ready = []
        self.buckets = defaultdict(list)
        for j in self.members:
            t = self.rec[j] * q - self.ent[j]
            release = max(-((-t - dq) // self.u[j]), g + 1)
            self.buckets[release].append((((t + sq) // self.u[j]) << shift) | j)
        self.heap_valid = True

    def _fair_scan(self) -> int:
        g, q, dq, u, ent, rec = self.g, self.q, self.dq, self.u, self.ent, self.rec
        sq = q - dq
        best, best_key, fallback, fallback_d = -1, 0, -1, 0
        for j in self.members:
            d = ent[j] + u[j] * g - rec[j] * q
            if d >= dq:
                key = (sq - d) // u[j]
                if best < 0 or key < best_key:
                    best, best_key = j, key
            elif best < 0 and (fallback < 0 or d > fallback_d):
                fallback, fallback_d = j, d
        return best if best >= 0 else fallback

    def _after_pick(self, j: int) -> None:
        self.rec[j] += 1
        self.cursor = self.pos[j]
        if self.rec[j] == self.limit[j]:
            self.blocked += 1

    def _fair_run(self, p: int, end: int) -> int:
        """Allocate leads ``p..end-1`` (one eligible set) until the end or a cap is hit."""
        if end - p == 1:
            self.g += 1
            j = self._fair_scan()
            self.deficits.append(self.ent[j] + self.u[j] * self.g - self.rec[j] * self.q)
            self.picks.append(j)
            self._after_pick(j)
            self.heap_valid = False
            return p + 1
        if not self.heap_valid:
            self._build_heap()
        q, dq, shift = self.q, self.dq, self.shift
        sq, mask = q - dq, (1 << shift) - 1
        ent, rec, u, limit = self.ent, self.rec, self.u, self.limit
        ready, buckets = self.ready, self.buckets
        pop_bucket = buckets.pop
        picks = self.picks.append
        pop, push, pushpop = heappop, heappush, heappushpop
        start = self.g
        first = len(self.picks)
        snapshot = (ent[:], u[:], rec[:])
        j = -1
        g = start
        for g in range(start + 1, start + end - p + 1):
            released = pop_bucket(g, None)
            item: int | None
            if released is None:
                item = pop(ready) if ready else None
            elif len(released) == 1:
                item = pushpop(ready, released[0])
            else:
                for r in released:
                    push(ready, r)
                item = pop(ready)
            if item is None:
                self.g = g
                j = self._fair_scan()
                self.heap_valid = False
            else:
                j = item & mask
            picks(j)
            x = rec[j] + 1
            rec[j] = x
            uj = u[j]
            t = x * q - ent[j]
            nxt = -((-t - dq) // uj)
            buckets[nxt if nxt > g else g + 1].append((((t + sq) // uj) << shift) | j)
            if x == limit[j]:
                self.blocked += 1
                break
            if item is None:
                break
        self.g = g
        self.cursor = self.pos[j]
        self.deficits.extend([0] * (g - start))
        self.runs.append(DeferredRun(first, g - start, start, q, *snapshot))
        return p + g - start

    def _generic(self, lead: LeadProfile) -> None:
        self.g += 1
        g, q, u = self.g, self.q, self.u
        candidates = []
        for j in self.members:
            state = self.cur[j]
            assert state is not None
            d = self.ent[j] + u[j] * g - self.rec[j] * q
            candidates.append(
                Candidate(
                    state,
                    self.pos[j],
                    j,
                    self.weight[j],
                    self.rec[j],
                    self.rec[j] - self.rec0[j],
                    d,
                    u[j],
                    q,
                )
            )
        context = PickContext(lead, tuple(candidates), self.cursor, Fraction(self.dq, q))
        chosen = self.policy.choose(context)
        if not any(chosen is c for c in candidates):
            raise ValueError(f"policy {self.policy.name!r} chose a rep that is not a candidate")
        j = chosen.rank
        self.deficits.append(chosen.deficit_num)
        self.picks.append(j)
        self._after_pick(j)
        state = self.cur[j]
        assert state is not None
        self.cur[j] = attrs.evolve(
            state, today=state.today + 1, owned=state.owned + 1, open_leads=state.open_leads + 1
        )

    def run(self, leads: Sequence[LeadProfile]) -> None:
        """Allocate every lead in order; refused leads are recorded as ``-1``."""
        self.leads = leads = tuple(leads)
        keyfunc: Callable[[LeadProfile], object]
        keyfunc = self._key if self.scoped else attrgetter("zone_id", "skills")
        p = 0
        seg_key: _Key | None = None
        seg_blocked = -1
        for _, group in groupby(leads, keyfunc):
            end = p + len(list(group))
            lead = leads[p]
            key = self._key(lead)
            while p < end:
                if key != seg_key or seg_blocked != self.blocked:
                    members = [j for j in self._static(key, lead) if self.rec[j] < self.limit[j]]
                    if not members:
                        self.picks.extend([-1] * (end - p))
                        self.deficits.extend([0] * (end - p))
                        p = end
                        break
                    if members != self.members:
                        self._materialize()
                        self._start(members, p)
                    seg_key, seg_blocked = key, self.blocked
                if self.fair:
                    p = self._fair_run(p, end)
                else:
                    self._generic(leads[p])
                    p += 1

    def result(self) -> AllocationResult:
        """The new ledger and rep states, with the trace for explanations."""
        self._materialize()
        by_pos = sorted(range(self.k), key=lambda j: self.pos[j])
        entries = tuple(
            LedgerEntry(self.ids[j], self.weight[j], self.ent[j], self.rec[j]) for j in by_pos
        )
        got = [r - r0 for r, r0 in zip(self.rec, self.rec0, strict=True)]
        assigned = sum(got)
        cursor = self.ledger.cursor
        if self.cursor is not None:
            cursor = self.ids[by_pos[self.cursor]]
        ledger = attrs.evolve(
            self.ledger,
            entries=entries,
            denominator=self.q,
            cursor=cursor,
            allocated=self.ledger.allocated + assigned,
        ).normalized()
        index = {rid: j for j, rid in enumerate(self.ids)}
        states = []
        for state in self.states:
            n = got[index[state.rep_id]]
            if n:
                state = attrs.evolve(
                    state,
                    today=state.today + n,
                    owned=state.owned + n,
                    open_leads=state.open_leads + n,
                )
            states.append(state)
        trace = Trace(
            self.leads, self.states, self.ids, self.picks, self.deficits, self.epochs, self.runs
        )
        return AllocationResult(self.policy, ledger, tuple(states), trace)


def run_allocation(
    ledger: FairnessLedger,
    leads: Sequence[LeadProfile],
    reps: Sequence[RepState],
    policy: AllocationPolicy,
    seed: int,
    *,
    equal_shares: bool = False,
    fast: bool = True,
) -> AllocationResult:
    """Run one allocation call (see :func:`leadtocash.allocation.run.allocate`)."""
    engine = _Engine(ledger, reps, policy, seed, equal_shares=equal_shares, fast=fast)
    engine.run(leads)
    return engine.result()
