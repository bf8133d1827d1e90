"""Shared state tables vs one ``transitions.Machine`` per entity: memory and trigger throughput.

Ours: frozen ``Opportunity`` records plus ONE shared machine for the default flow; a trigger
asks the machine, checks the destination's guards and returns an evolved record with a new
history entry. Naive: a mutable model object per opportunity with its own ``Machine`` doing the
same work (quotation guard, lost-reason check, history entry in a callback). Memory is the
tracemalloc growth per entity right after creation (one history entry each); throughput is
triggers per second over a walk of every entity (advance ×3 + win, or advance, lose, reopen,
advance for every fourth), garbage collector on for both. Full mode: 100,000 entities each;
``--quick`` (CI): 10,000 ours and 4,000 naive (per-entity figures; the naive machines are slow
to build). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from transitions import Machine

from leadtocash import Money
from leadtocash.model import ContactId, CustomerId, RepId
from leadtocash.pipeline import (
    DEFAULT_FLOW,
    Opportunity,
    OpportunityId,
    StageChange,
    fire,
    open_opportunity,
)

T0 = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)
STATES = [s.name for s in DEFAULT_FLOW.stages]
WIN_WALK: list[tuple[str, str | None]] = [
    ("advance", None),
    ("advance", None),
    ("advance", None),
    ("win", None),
]
LOSE_WALK: list[tuple[str, str | None]] = [
    ("advance", None),
    ("lose", "price"),
    ("reopen", "back"),
    ("advance", None),
]


def walk_of(n: int) -> list[tuple[str, str | None]]:
    """The triggers entity ``n`` goes through."""
    return LOSE_WALK if n % 4 == 3 else WIN_WALK


def make_ours(n: int) -> Opportunity:
    """One opportunity record (the shared machine already exists)."""
    return open_opportunity(
        opportunity_id=OpportunityId(f"o{n:07d}"), customer_id=CustomerId(f"c{n % 5000}"),
        owner_id=RepId(f"r{n % 50}"), name=f"deal {n}", amount=Money(1000 + n, "CNY"),
        close_date=date(2026, 3, 31), at=T0, actor="bench", contact_id=ContactId(f"k{n}"),
    )  # fmt: skip


class NaiveOpportunity:
    """The naive model: mutable attributes and its own machine, doing the same checks."""

    def __init__(self, n: int) -> None:
        self.id, self.customer_id, self.owner_id = f"o{n:07d}", f"c{n % 5000}", f"r{n % 50}"
        self.name, self.amount = f"deal {n}", Money(1000 + n, "CNY")
        self.close_date, self.created_at, self.flow = date(2026, 3, 31), T0, "default"
        self.contact_id: str | None = f"k{n}"
        self.next_step: str | None = None
        self.lost_reason: str | None = None
        self.closed_at: datetime | None = None
        self.updated_at: datetime | None = T0
        self.custom: dict[str, str] = {}
        self.history = [StageChange(None, "initial_contact", "create", T0, "bench")]
        Machine(
            model=self, states=STATES, initial="initial_contact", model_attribute="stage",
            transitions=[
                {"trigger": s.trigger, "source": s.source, "dest": s.dest,
                 "conditions": ["has_contact"] if s.dest == "quotation" else [],
                 "before": ["check_reason"] if s.dest == "lost" else []}
                for s in DEFAULT_FLOW.steps
            ],
            auto_transitions=False, send_event=True, after_state_change="record",
        )  # fmt: skip

    def has_contact(self, event: Any) -> bool:
        """Quotation guard."""
        return self.contact_id is not None

    def check_reason(self, event: Any) -> None:
        """Lost reason from the list."""
        if event.kwargs.get("reason") not in DEFAULT_FLOW.lost_reasons:
            raise ValueError("lost reason required")

    def record(self, event: Any) -> None:
        """Append the history entry and the closing facts."""
        at, reason = event.kwargs["at"], event.kwargs.get("reason")
        dest = event.transition.dest
        self.history.append(StageChange(event.transition.source, dest, event.event.name, at,
                                        event.kwargs["actor"], reason))  # fmt: skip
        self.lost_reason = reason if dest == "lost" else None
        self.closed_at = at if dest in ("won", "lost") else None
        self.updated_at = at


def bytes_per_entity(make: Callable[[int], Any], count: int) -> float:
    """tracemalloc growth per entity while building ``count`` entities."""
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    kept = [make(n) for n in range(count)]
    used = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    del kept
    gc.collect()
    return used / count


def run_ours(count: int) -> tuple[float, float, int]:
    """Build time per entity, seconds spent walking, transitions fired."""
    t0 = time.perf_counter()
    entities = [make_ours(n) for n in range(count)]
    build = (time.perf_counter() - t0) / count
    fired = 0
    t0 = time.perf_counter()
    for step in range(4):
        at = T0 + timedelta(hours=step + 1)
        for n, opp in enumerate(entities):
            trigger, reason = walk_of(n)[step]
            entities[n] = fire(
                opp, trigger, at=at, actor="bench", flow=DEFAULT_FLOW, reason=reason
            )[0]
            fired += 1
    seconds = time.perf_counter() - t0
    assert all(e.stage in ("won", "needs_analysis") and len(e.history) == 5 for e in entities)
    return build, seconds, fired


def run_naive(count: int) -> tuple[float, float, int]:
    """Build time per entity, seconds spent walking, transitions fired."""
    t0 = time.perf_counter()
    entities = [NaiveOpportunity(n) for n in range(count)]
    build = (time.perf_counter() - t0) / count
    fired = 0
    t0 = time.perf_counter()
    for step in range(4):
        at = T0 + timedelta(hours=step + 1)
        for n, opp in enumerate(entities):
            trigger, reason = walk_of(n)[step]
            assert opp.trigger(trigger, at=at, actor="bench", reason=reason)  # type: ignore[attr-defined]
            fired += 1
    seconds = time.perf_counter() - t0
    assert all(e.stage in ("won", "needs_analysis") and len(e.history) == 5 for e in entities)  # type: ignore[attr-defined]
    return build, seconds, fired


def main() -> None:
    """Measure both approaches and print one JSON object."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="10,000 entities, for CI")
    parser.add_argument("--entities", type=int, help="override the number of opportunities")
    parser.add_argument("--naive-entities", type=int, help="entities for the naive approach")
    args = parser.parse_args()
    count = args.entities or (10_000 if args.quick else 100_000)
    naive_count = args.naive_entities or (4_000 if args.quick else count)
    ours_bytes = bytes_per_entity(make_ours, count)
    naive_bytes = bytes_per_entity(NaiveOpportunity, naive_count)
    ours_build, ours_s, ours_fired = run_ours(count)
    naive_build, naive_s, naive_fired = run_naive(naive_count)
    ours_rate, naive_rate = ours_fired / ours_s, naive_fired / naive_s
    result = {
        "benchmark": "pipeline",
        "mode": "quick" if args.quick else "full",
        "entities": count,
        "transitions": ours_fired,
        "transitions_per_s": round(ours_rate),
        "bytes_per_entity": round(ours_bytes),
        "build_us_per_entity": round(ours_build * 1e6, 2),
        "naive_entities": naive_count,
        "naive_transitions_per_s": round(naive_rate),
        "naive_bytes_per_entity": round(naive_bytes),
        "naive_build_us_per_entity": round(naive_build * 1e6, 2),
        "bytes_ratio_naive_over_ours": round(naive_bytes / ours_bytes, 2),
        "speedup_over_naive": round(ours_rate / naive_rate, 2),
        "targets_met": {
            "bytes_per_entity_le_tenth_of_naive": ours_bytes * 10 <= naive_bytes,
            "transitions_per_s_ge_naive": ours_rate >= naive_rate,
        },
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
