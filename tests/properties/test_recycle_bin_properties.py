"""Recycle bin properties (issue #27): soft deletes never let two live records share a key.

Any sequence of creations, deletions, restores and purges of customers with a few colliding
names and phones keeps at most one live holder per unique (blocking) key; every refused step
changes nothing; the customer list and its count hold exactly the live customers.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadtocash import LeadToCashError
from leadtocash.collision import name_key
from leadtocash.model import Customer
from leadtocash.serialization import structure
from pool_fixtures import ADMIN, SYSTEM, World, make_world

NAMES = ("星辰科技有限公司", "星辰科技", "月光贸易有限公司")
PHONES = ("+8613800000001", "+8613800000002")

steps = st.lists(
    st.one_of(
        st.tuples(st.just("create"), st.integers(0, len(NAMES) - 1), st.integers(0, 1)),
        st.tuples(st.just("delete"), st.integers(0, 5), st.just(0)),
        st.tuples(st.just("restore"), st.integers(0, 5), st.just(0)),
        st.tuples(st.just("purge"), st.just(0), st.just(0)),
    ),
    max_size=14,
)


def _customers(world: World) -> list[Customer]:
    rows = [row for (kind, _), row in world.store._rows.items() if kind == "customer"]
    return [structure({**json.loads(row.text), "version": row.version}, Customer) for row in rows]


def _snapshot(world: World) -> object:
    return (dict(world.store._rows), len(world.store._audit), dict(world.store._outbox))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)  # fmt: skip
@given(steps)
def test_any_delete_restore_create_sequence_keeps_one_live_holder_per_key(
    sequence: list[tuple[str, int, int]],
) -> None:
    world = make_world()
    crm = world.crm
    created: list[str] = []
    for op, n, m in sequence:
        before = _snapshot(world)
        try:
            if op == "create":
                customer = crm.pools.add_customer(
                    ADMIN, NAMES[n], pool_id=world.pool_id, phones=[PHONES[m]]
                )
                created.append(customer.id)
            elif op == "delete" and created:
                crm.recycle_bin.delete(ADMIN, "customer", created[n % len(created)], "test")
            elif op == "restore" and created:
                crm.recycle_bin.restore(ADMIN, "customer", created[n % len(created)])
            elif op == "purge":
                world.clock.advance(timedelta(days=31))
                crm.recycle_bin.purge_due(SYSTEM)
        except LeadToCashError:
            assert _snapshot(world) == before  # a refusal changes nothing
        live = [c for c in _customers(world) if c.deleted is None]
        holders = Counter(name_key(c.name).text for c in live)
        assert all(count == 1 for count in holders.values()), holders
        assert crm.customers.count(ADMIN) == len(live)
        listed = {c.id for c in crm.customers.list(ADMIN, limit=200).items}
        assert listed == {c.id for c in live}
        binned = {e.id for e in crm.recycle_bin.list(ADMIN, "customer", limit=200).items}
        restorable = {
            c.id for c in _customers(world) if c.deleted is not None and c.deleted.purged_at is None
        }
        assert binned == restorable
