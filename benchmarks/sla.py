"""SLA breach sweep cost vs open tickets: the sweep is an indexed range query over what is due.

Builds books of open tickets (default 10,000 and 100,000; ``--quick`` 1,000 and 10,000) on the
in-memory store and on SQLite, ten tickets per customer, in which the same number of tickets
(``due``) reaches its first-response target in each of three hourly waves; every other ticket
is due hours later. Times ``crm.tickets.sweep_sla`` — through the facade, as the system runs
it: each due ticket in its own unit of work, with its outbox message, its audit entry and its
customer's churn re-assessment — for each wave (keeping the fastest: the machine is shared and
noisy). ``growth`` is the sweep's time on the larger book over the smaller one, the worse of
the two stores (goal ≤ 2 for 10× the open tickets; the full run fails above it).

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

from leadtocash import Customer, CustomerId, LeadToCash, Principal, Role
from leadtocash.aftersales import (
    SlaPolicies,
    SlaPolicy,
    Ticket,
    TicketId,
    TicketPriority,
    open_ticket,
)
from leadtocash.app import ServicePolicies, sortable_time
from leadtocash.app.service import sla_calendar
from leadtocash.durations import Duration
from leadtocash.model import ContactId
from leadtocash.ports import Store
from leadtocash.testing import FakeClock, InMemoryStore, SequentialIds
from leadtocash_adapters.sqlite_store import SQLiteStore

NOW = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)  # a Monday, 14:00 in Shanghai
SYSTEM = Principal("sweeper", roles=frozenset({Role.SYSTEM}))
WAVES = 3
PER_CUSTOMER = 10
CHUNK = 5_000
_BH = Duration.business_hours
#: First response in 4 business hours, no warnings: one breach per due ticket and wave.
POLICIES = ServicePolicies(
    sla=SlaPolicies(
        tuple(SlaPolicy(level, _BH(4), _BH(40), warn_before=_BH(0)) for level in TicketPriority)
    )
)


def _ticket(n: int, opened: datetime, crm: LeadToCash) -> Ticket:
    return open_ticket(
        TicketId(f"t{n:08d}"), customer_id=CustomerId(f"c{n // PER_CUSTOMER:07d}"),
        contact_id=ContactId("k"), subject="无法登录", category="software", channel="web",
        priority="P3", now=opened, actor="agent", clock=sla_calendar(crm.ctx, POLICIES),
        policies=POLICIES.sla,
    )  # fmt: skip


def build(store: Store, book: int, due: int) -> tuple[LeadToCash, FakeClock]:
    """``book`` open tickets; ``due`` of them reach their target at NOW + k hours, k < WAVES."""
    clock = FakeClock(NOW - timedelta(hours=4))
    crm = LeadToCash(store, clock, SequentialIds(), service=POLICIES)
    later = _ticket(0, NOW, crm)  # opened at 14:00: due at 18:00, after every wave
    for start in range(0, book, CHUNK):
        with crm.unit_of_work() as uow:
            for n in range(start, min(book, start + CHUNK)):
                if n % PER_CUSTOMER == 0:
                    cid = CustomerId(f"c{n // PER_CUSTOMER:07d}")
                    uow.customers.add(Customer(cid, f"customer {n}", created_at=NOW))
                wave, offset = divmod(n, due)
                if wave < WAVES:  # opened 4 business hours (less a few seconds) before its wave
                    opened = NOW + timedelta(hours=wave - 4, seconds=-1 - offset % 3000)
                    ticket = _ticket(n, opened, crm)
                else:
                    ticket = attrs.evolve(
                        later, id=TicketId(f"t{n:08d}"),
                        customer_id=CustomerId(f"c{n // PER_CUSTOMER:07d}"),
                    )  # fmt: skip
                uow.repository(Ticket).add(ticket)
            uow.commit()
    return crm, clock


def sweep_waves(crm: LeadToCash, clock: FakeClock, due: int) -> float:
    """The fastest of the waves' sweeps; each must breach exactly ``due`` tickets."""
    times = []
    for wave in range(WAVES):
        clock.set(NOW + timedelta(hours=wave))
        t0 = time.perf_counter()
        report = crm.tickets.sweep_sla(SYSTEM)
        times.append(time.perf_counter() - t0)
        assert len(report.breached) == due, (len(report.breached), due)
        with crm.unit_of_work() as uow:
            left = uow.repository(Ticket).index_entries(
                "sla_check", below=sortable_time(clock.now()), limit=10
            )
        assert left == [], left
    return min(times)


def figures(make: Callable[[], Store], sizes: list[int], due: int) -> dict[str, object]:
    """Sweep and build seconds per book size on one kind of store, and the growth."""
    sweep: dict[str, float] = {}
    built: dict[str, float] = {}
    for size in sizes:
        t0 = time.perf_counter()
        crm, clock = build(make(), size, due)
        built[str(size)] = round(time.perf_counter() - t0, 3)
        sweep[str(size)] = sweep_waves(crm, clock, due)
    growth = sweep[str(sizes[-1])] / sweep[str(sizes[0])]
    return {
        "sweep_seconds": {k: round(v, 4) for k, v in sweep.items()},
        "per_breach_ms": round(1000 * sweep[str(sizes[-1])] / due, 3),
        "growth": round(growth, 3),
        "build_seconds": built,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small books, for CI")
    args = parser.parse_args()
    sizes = [1_000, 10_000] if args.quick else [10_000, 100_000]
    due = 50 if args.quick else 200
    with tempfile.TemporaryDirectory() as folder:
        made = iter(range(1_000))

        def sqlite() -> Store:
            path = Path(folder) / f"sla-{next(made)}.db"
            return SQLiteStore(path, create_schema=True, synchronous="OFF")

        memory = figures(InMemoryStore, sizes, due)
        on_sqlite = figures(sqlite, sizes, due)
    growth = max(float(memory["growth"]), float(on_sqlite["growth"]))  # type: ignore[arg-type]
    print(
        json.dumps(
            {
                "benchmark": "sla",
                "mode": "quick" if args.quick else "full",
                "open_tickets": sizes,
                "due_per_wave": due,
                "growth": round(growth, 3),
                "book_growth": sizes[-1] // sizes[0],
                "memory": memory,
                "sqlite": on_sqlite,
            }
        )
    )
    return 0 if args.quick or growth <= 2 else 1


if __name__ == "__main__":
    sys.exit(main())
