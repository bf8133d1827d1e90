"""Fair allocation benchmark: throughput against a bare heapq loop, and fairness against peers.

Prints ONE JSON object. ``--quick`` (CI, < 30 s) runs small scenarios; the default (full) mode
measures throughput on 1,000,000 leads x 1,000 reps and runs every scenario at that size.

Deviation is ``|received − entitlement|`` with entitlement shared, per lead, among the reps
eligible for it in proportion to weight (the library's definition), measured exactly
(fractions) after every lead — except ``naive_batch_split``, which is measured only at batch
boundaries (its batches are atomic; per-lead it would look far worse).
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import json
import math
import random
import sys
import time
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

from leadtocash.allocation import FairnessLedger, LeadProfile, RepState, allocate, exact_allocate
from leadtocash.model import PoolId, RepId, ZoneId

POOL = PoolId("bench")
ALLOCATORS = ("fair", "round_robin", "random", "odoo_style", "naive_batch_split")


class Scenario:
    """Reps, lead batches (one per day in ``capped``) and per-lead eligible rep indices."""

    def __init__(self, reps: list[RepState], batches: list[list[LeadProfile]], daily: bool):
        self.reps = reps
        self.batches = batches
        self.daily = daily
        self.weights = [r.weight for r in reps]
        self.zone_members: dict[ZoneId | None, list[int]] = {}
        for lead in (lead for batch in batches for lead in batch):
            if lead.zone_id not in self.zone_members:
                self.zone_members[lead.zone_id] = [
                    i
                    for i, r in enumerate(reps)
                    if lead.zone_id is None or r.zone_id == lead.zone_id or lead.zone_id in r.zones
                ]

    def eligible(self, lead: LeadProfile) -> list[int]:
        """Zone-eligible reps of a lead (caps are checked by the allocators)."""
        return self.zone_members[lead.zone_id]


def build(name: str, leads: int, k: int, rng: random.Random) -> Scenario:
    """The four scenarios of the issue."""
    if name in ("equal", "weighted"):
        reps = [
            RepState(RepId(f"r{i}"), weight=1 if name == "equal" else rng.randint(1, 100))
            for i in range(k)
        ]
        per = 100
        batches = [
            [LeadProfile(f"l{b}-{j}") for j in range(min(per, leads - b))]
            for b in range(0, leads, per)
        ]
        return Scenario(reps, batches, daily=False)
    if name == "constrained":
        zones = [ZoneId(f"z{z}") for z in range(5)]
        reps = []
        for i in range(k):
            home = zones[i % len(zones)]
            extra = {rng.choice(zones)} - {home} if rng.random() < 0.2 else set()
            reps.append(RepState(RepId(f"r{i}"), rng.randint(1, 10), home, frozenset(extra)))
        skew = [5, 3, 2, 1, 1]
        lead_zones = rng.choices(zones, weights=skew, k=leads)
        per = 100
        batches = [
            [
                LeadProfile(f"l{b + j}", zone_id=lead_zones[b + j])
                for j in range(min(per, leads - b))
            ]
            for b in range(0, leads, per)
        ]
        return Scenario(reps, batches, daily=False)
    days = 30
    per_day = leads // days
    caps = [rng.randint(per_day // k // 2 + 1, 2 * per_day // k + 2) for _ in range(k)]
    reps = [RepState(RepId(f"r{i}"), 1, daily_cap=caps[i]) for i in range(k)]
    batches = [[LeadProfile(f"l{d}-{j}") for j in range(per_day)] for d in range(days)]
    return Scenario(reps, batches, daily=True)


class Accountant:
    """Exact entitlement per eligibility class (a zone's reps) and the extremes of the deviation.

    Each class keeps a virtual clock ``V`` (the sum of ``1/W`` over its leads, ``W`` its live
    weight); a live member accrues ``w·(V − V_joined)``. A capped rep leaves its classes and
    rejoins at the next day, so every event is O(1) and everything stays exact.
    """

    def __init__(self, weights: Sequence[int], classes: dict[ZoneId | None, list[int]]) -> None:
        self.w = list(weights)
        self.k = len(weights)
        self.classes = classes
        self.base = [Fraction(0)] * self.k
        self.received = [0] * self.k
        self.clock = dict.fromkeys(classes, Fraction(0))
        self.total = dict.fromkeys(classes, 0)
        self.joined: list[dict[ZoneId | None, Fraction]] = [{} for _ in range(self.k)]
        self.worst = Fraction(0)
        self.open_day()

    def open_day(self) -> None:
        """Every rep (re)joins every class it belongs to."""
        for key, members in self.classes.items():
            for i in members:
                if key not in self.joined[i]:
                    self.joined[i][key] = self.clock[key]
                    self.total[key] += self.w[i]

    def leave(self, i: int) -> None:
        """Rep ``i`` is capped: it stops accruing in every class."""
        for key, start in self.joined[i].items():
            self.base[i] += self.w[i] * (self.clock[key] - start)
            self.total[key] -= self.w[i]
        self.joined[i] = {}

    def entitlement(self, i: int) -> Fraction:
        """Rep ``i``'s exact entitlement now."""
        value = self.base[i]
        for key, start in self.joined[i].items():
            value += self.w[i] * (self.clock[key] - start)
        return value

    def lead(self, key: ZoneId | None) -> Fraction:
        """One lead of class ``key`` shared among its live members; returns 1/W (0: nobody)."""
        if not self.total[key]:
            return Fraction(0)
        unit = Fraction(1, self.total[key])
        self.clock[key] += unit
        return unit

    def pick(self, i: int, unit: Fraction, per_lead: bool = True) -> None:
        """Rep ``i`` receives the lead just shared (``unit`` = 1/W of that lead)."""
        if per_lead:
            after = self.entitlement(i)
            before = after - self.w[i] * unit
            self.worst = max(self.worst, before - self.received[i], self.received[i] + 1 - after)
        self.received[i] += 1

    def check_all(self) -> None:
        """Measure every rep now (batch boundaries, and the end)."""
        for i in range(self.k):
            self.worst = max(self.worst, abs(self.received[i] - self.entitlement(i)))

    def jain(self) -> float:
        """Jain's index of received / entitlement over reps with an entitlement."""
        ratios = []
        for i in range(self.k):
            e = self.entitlement(i)
            if e > 0:
                ratios.append(float(self.received[i] / e))
        if not ratios:
            return 1.0
        return sum(ratios) ** 2 / (len(ratios) * sum(r * r for r in ratios))

    def final_max(self) -> Fraction:
        """Largest |received − entitlement| now."""
        return max(abs(self.received[i] - self.entitlement(i)) for i in range(self.k))


class Day:
    """One day (or batch) of counters: who is capped, and each class's live members."""

    def __init__(self, scn: Scenario, acct: Accountant) -> None:
        self.scn = scn
        self.acct = acct
        self.today = [0] * len(scn.reps)
        self.capped: set[int] = set()
        self.live: dict[ZoneId | None, tuple[int, ...]] = {
            key: tuple(members) for key, members in scn.zone_members.items()
        }
        self.version = dict.fromkeys(self.live, 0)
        self.violations = 0

    def bump(self, i: int) -> None:
        """Count a lead for rep ``i``; a rep reaching its cap leaves its classes."""
        self.today[i] += 1
        cap = self.scn.reps[i].daily_cap
        if cap is None:
            return
        if self.today[i] > cap:
            self.violations += 1
        if self.today[i] == cap:
            self.capped.add(i)
            self.acct.leave(i)
            for key, members in self.live.items():
                if i in members:
                    self.live[key] = tuple(m for m in members if m != i)
                    self.version[key] += 1


Pick = Callable[[ZoneId | None, Day], int]


def _peer(scn: Scenario, name: str, seed: int) -> Pick:
    """A per-lead peer allocator: (lead zone, the day's live sets) -> rep index."""
    rng = random.Random(seed)
    w = scn.weights
    k = len(w)
    cache: dict[tuple[ZoneId | None, int, int], Any] = {}

    def cached(key: ZoneId | None, day: Day, build: Callable[[tuple[int, ...]], Any]) -> Any:
        token = (key, id(day), day.version[key])
        found = cache.get(token)
        if found is None:
            cache.clear()
            found = cache[token] = build(day.live[key])
        return found

    if name == "round_robin":
        state = [0]

        def round_robin(key: ZoneId | None, day: Day) -> int:
            allowed = cached(key, day, frozenset)
            i = state[0]
            while i % k not in allowed:
                i += 1
            state[0] = i % k + 1
            return i % k

        return round_robin
    if name == "random":

        def weighted_random(key: ZoneId | None, day: Day) -> int:
            members, cum = cached(
                key, day, lambda m: (m, list(itertools.accumulate(w[i] for i in m)))
            )
            return int(rng.choices(members, cum_weights=cum)[0])

        return weighted_random
    teams = [list(range(t, k, 10)) for t in range(10)]
    cursor = [0] * len(teams)
    total_leads = sum(len(b) for b in scn.batches)
    total = sum(w)
    quota = [math.ceil(1.1 * total_leads * wi / total) for wi in w]
    used = [0] * k

    def team_options(members: tuple[int, ...]) -> tuple[frozenset[int], list[int], list[int]]:
        allowed = frozenset(members)
        options = [t for t, team in enumerate(teams) if any(i in allowed for i in team)]
        cum = list(
            itertools.accumulate(sum(w[i] for i in teams[t] if i in allowed) for t in options)
        )
        return allowed, options, cum

    def odoo(key: ZoneId | None, day: Day) -> int:
        allowed, options, cum = cached(key, day, team_options)
        t: int = rng.choices(options, cum_weights=cum)[0]
        team = teams[t]
        n = len(team)
        for step in range(n):
            i: int = team[(cursor[t] + step) % n]
            if i in allowed and used[i] < quota[i]:
                cursor[t] = (cursor[t] + step + 1) % n
                used[i] += 1
                return i
        least: int = min((m for m in team if m in allowed), key=lambda m: used[m])
        used[least] += 1
        return least

    return odoo


def run_allocator(scn: Scenario, name: str, seed: int) -> tuple[Accountant, int]:
    """Run one allocator over a scenario; returns the accountant and the cap violations."""
    acct = Accountant(scn.weights, scn.zone_members)
    violations = 0
    ledger = FairnessLedger(POOL)
    peer = None if name in ("fair", "naive_batch_split") else _peer(scn, name, seed)
    index = {r.rep_id: i for i, r in enumerate(scn.reps)}
    for number, batch in enumerate(scn.batches):
        day = Day(scn, acct)
        if name == "fair":
            result = allocate(ledger, batch, scn.reps, seed=seed + number)
            ledger = result.ledger
            for lead, rep_id in zip(batch, result.picks, strict=True):
                if rep_id is None:
                    assert not day.live[lead.zone_id]
                    continue
                i = index[rep_id]
                acct.pick(i, acct.lead(lead.zone_id))
                day.bump(i)
        elif name == "naive_batch_split":
            groups: dict[ZoneId | None, list[LeadProfile]] = {}
            for lead in batch:
                groups.setdefault(lead.zone_id, []).append(lead)
            for key, group in groups.items():
                members = scn.zone_members[key]
                total = sum(scn.weights[i] for i in members)
                counts = [len(group) * scn.weights[i] // total for i in members]
                for extra in range(len(group) - sum(counts)):
                    counts[extra] += 1
                for i, count in zip(members, counts, strict=True):
                    for _ in range(count):
                        acct.pick(i, acct.lead(key), per_lead=False)
                        day.bump(i)
            acct.check_all()
        else:
            assert peer is not None
            for lead in batch:
                if not day.live[lead.zone_id]:
                    continue
                i = peer(lead.zone_id, day)
                acct.pick(i, acct.lead(lead.zone_id))
                day.bump(i)
        violations += day.violations
        if scn.daily:
            acct.open_day()
    acct.check_all()
    if name == "fair":
        for i, rep in enumerate(scn.reps):
            assert ledger.received(rep.rep_id) == acct.received[i]
            assert ledger.entitlement(rep.rep_id) == acct.entitlement(i)
    return acct, violations


def baseline(leads: Sequence[LeadProfile], weights: Sequence[int]) -> list[int]:
    """The bare heapq loop: pick the smallest count/weight."""
    heap = [(0.0, i) for i in range(len(weights))]
    counts = [0] * len(weights)
    out: list[int] = []
    append = out.append
    replace = heapq.heapreplace
    for _lead in leads:
        i = heap[0][1]
        counts[i] += 1
        replace(heap, (counts[i] / weights[i], i))
        append(i)
    return out


def throughput(leads: int, k: int, weighted: bool, repeats: int) -> dict[str, float]:
    """Best-of-``repeats`` leads/s of ``allocate`` (fair) and of the baseline, interleaved."""
    rng = random.Random(7)
    weights = [rng.randint(1, 100) if weighted else 1 for _ in range(k)]
    reps = [RepState(RepId(f"r{i}"), weight=w) for i, w in enumerate(weights)]
    batch = [LeadProfile(f"l{i}") for i in range(leads)]
    best_fair = best_base = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        baseline(batch, weights)
        best_base = min(best_base, time.perf_counter() - start)
        start = time.perf_counter()
        allocate(FairnessLedger(POOL), batch, reps, seed=1)
        best_fair = min(best_fair, time.perf_counter() - start)
    return {
        "leads_per_s": round(leads / best_fair),
        "baseline_leads_per_s": round(leads / best_base),
        "ratio_to_baseline": round(best_base / best_fair, 3),
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the benchmark and print the JSON object."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (CI, < 30 s)")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    if args.quick:
        t_leads, t_reps, repeats, s_leads, s_reps = 200_000, 1_000, 3, 12_000, 60
    else:
        t_leads, t_reps, repeats, s_leads, s_reps = 1_000_000, 1_000, 3, 1_000_000, 1_000
    equal = throughput(t_leads, t_reps, weighted=False, repeats=repeats)
    weighted = throughput(t_leads, t_reps, weighted=True, repeats=repeats)
    report: dict[str, Any] = {
        "mode": "quick" if args.quick else "full",
        "leads": t_leads,
        "reps": t_reps,
        **equal,
        "throughput": {"equal": equal, "weighted": weighted},
        "scenario_leads": s_leads,
        "scenario_reps": s_reps,
        "scenarios": {},
    }
    for name in ("equal", "weighted", "constrained", "capped"):
        scn = build(name, s_leads, s_reps, random.Random(11))
        figures: dict[str, Any] = {}
        fair_final = Fraction(0)
        for allocator in ALLOCATORS:
            acct, violations = run_allocator(scn, allocator, seed=3)
            figures[allocator] = {
                "max_abs_deviation": round(float(acct.worst), 4),
                "jain_index": round(acct.jain(), 6),
                "cap_violations": violations,
            }
            if allocator == "fair":
                fair_final = acct.final_max()
        if name == "constrained":
            leads = [lead for batch in scn.batches for lead in batch]
            plan = exact_allocate(FairnessLedger(POOL), leads, scn.reps)
            figures["exact_max_abs_deviation"] = round(float(plan.optimum), 4)
            figures["fair_final_max_abs_deviation"] = round(float(fair_final), 4)
            figures["greedy_gap"] = round(float(fair_final - plan.optimum), 4)
        report["scenarios"][name] = figures
    report["seconds"] = round(time.perf_counter() - began, 1)
    json.dump(report, sys.stdout)
    sys.stdout.write("\n")
    return report


if __name__ == "__main__":
    main()
