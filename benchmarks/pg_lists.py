"""Customer list pages and their counts on PostgreSQL, with the filters the screens offer.

A customer list is one index query (``leadtocash.app.listing.customer_query``): an order
(the rep's customers newest first, everyone by creation, …) narrowed by ``where`` filters on
the record's other indexes (tier, pool, zone, tag, a rep's data scope). This times one page
of 50 and the list's count for each filter, on customers whose index values are the
library's own (``AggregateSpec.indexes``), against the same rep's page without any filter
in the same run (``baseline``), and reports each as a ratio of it. Decision 0009 has the
figures of PostgreSQL schema version 8 (index values as ``index_entries`` rows, each filter
an ``EXISTS`` probe) against version 9 (expression indexes, filters read from the row)::

    bash scripts/with-postgres.sh python benchmarks/pg_lists.py [--quick]

Prints one JSON object; without ``LEADTOCASH_PG_DSN`` PostgreSQL is reported skipped.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))

from leadtocash.app.aggregates import spec_for  # noqa: E402
from leadtocash.app.listing import CustomerFilter, CustomerSort, customer_query  # noqa: E402
from leadtocash.model import Customer, CustomerId, PoolId, RepId, Tier, ZoneId  # noqa: E402
from leadtocash.ports import Commit, IndexFilter, IndexQuery, RecordWrite  # noqa: E402

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
REPS, ZONES, TAGS, PAGE = 20, 3, 7, 50


def customers(count: int) -> list[Customer]:
    """Three in four owned (by 20 reps), the rest in one pool; five tiers, seven tags, each
    spread over every rep."""
    tiers = list(Tier)
    found = []
    for n in range(count):
        owner = RepId(f"rep{n % REPS:02d}") if n % 4 else None
        created = START + timedelta(minutes=7 * n)
        customer = Customer(
            id=CustomerId(f"cust-{n:06d}"),
            name=f"星辰科技{n}有限公司",
            created_at=created,
            zone_id=ZoneId(f"z{n % ZONES}"),
            owner_id=owner,
            pool_id=None if owner else PoolId("p1"),
            tier=tiers[(n // 3) % len(tiers)],
            tags=frozenset({f"t{(n // 2) % TAGS}"}),
            updated_at=created + timedelta(days=n % 30),
            reclaim_due_at=created + timedelta(days=30) if owner else None,
        )
        found.append(customer)
    return found


def queries() -> dict[str, IndexQuery]:
    """The pages timed, by name: what a screen asks for, as ``customer_query`` builds it."""
    rep, sort, pool, zone = RepId("rep03"), CustomerSort.CREATED, PoolId("p1"), ZoneId("z1")
    scope = (
        (
            IndexFilter("owner", equals=rep),
            IndexFilter(f"collab:{rep}", at_least=""),
            IndexFilter("pool_zone", one_of=("z1",)),
        ),
    )
    lists = {
        "baseline": customer_query(CustomerFilter(owner=rep), sort, None),
        "rep_by_tier": customer_query(CustomerFilter(owner=rep, tier=Tier.B), sort, None),
        "pool_in_zone": customer_query(CustomerFilter(pool=pool, zone=zone), sort, None),
        "tagged": customer_query(CustomerFilter(tag="t3"), sort, None),
        "tier_in_rep_scope": customer_query(CustomerFilter(tier=Tier.A), sort, scope),
        "recent_by_tier": customer_query(CustomerFilter(tier=Tier.C), CustomerSort.RECENT, None),
    }  # fmt: skip
    return {name: attrs.evolve(query, limit=PAGE) for name, query in lists.items()}


def best_ms(call: Callable[[], object], repeat: int, rounds: int = 5) -> float:
    """The fastest of ``rounds`` means of ``repeat`` calls, in milliseconds."""
    call()
    means = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(repeat):
            call()
        means.append((time.perf_counter() - started) / repeat * 1000)
    return round(min(means), 3)


def measure(dsn: str, count: int, repeat: int) -> dict[str, Any]:
    """Store ``count`` customers in a fresh schema, then time every page and count."""
    import psycopg

    from leadtocash_adapters.postgres_store import PostgresStore

    schema = f"bench_lists_{uuid.uuid4().hex[:8]}"
    spec = spec_for(Customer)
    store = PostgresStore.connect(dsn, schema=schema, create_schema=True, max_size=2)
    try:
        written = [
            RecordWrite("customer", str(c.id), 0, {"name": c.name, "pad": "x" * 600},
                        spec.indexes(c))
            for c in customers(count)
        ]  # fmt: skip
        for start in range(0, len(written), 500):
            store.session().commit(Commit(tuple(written[start : start + 500])))
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'VACUUM ANALYZE "{schema}".records')
        session = store.session()
        figures: dict[str, Any] = {}
        for name, query in queries().items():
            page = session.query(query)
            figures[name] = {
                "rows": len(page),
                "count": session.count(query),
                "page_ms": best_ms(functools.partial(session.query, query), repeat),
                "count_ms": best_ms(functools.partial(session.count, query), max(1, repeat // 5)),
            }
        base = figures["baseline"]
        for found in figures.values():
            found["page_over_baseline"] = round(found["page_ms"] / base["page_ms"], 1)
            found["count_over_baseline"] = round(found["count_ms"] / base["count_ms"], 1)
        return figures
    finally:
        store.close()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a small store, few repeats (CI)")
    args = parser.parse_args()
    count, repeat = (2_000, 5) if args.quick else (20_000, 100)
    figures: dict[str, Any] = {
        "benchmark": "pg_lists",
        "mode": "quick" if args.quick else "full",
        "customers": count,
        "page": PAGE,
    }
    dsn = os.environ.get("LEADTOCASH_PG_DSN")
    if not dsn:
        figures["postgres"] = {"skipped": "LEADTOCASH_PG_DSN not set"}
    else:
        figures["postgres"] = measure(dsn, count, repeat)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
