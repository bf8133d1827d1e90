"""Helpers shared by the pool tests: a small organisation with one pool and three reps."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import attrs

from leadtocash import CustomerId, LeadToCash, PoolId, Principal, RepId, Role, SalesRep, ZoneId
from leadtocash.model import Channel, Contact, ContactId, Lead, LeadId
from leadtocash.pool.rules import PoolRules
from leadtocash.testing import FakeClock, InMemoryStore, SequentialIds

ADMIN = Principal("admin", roles=frozenset({Role.ADMIN}))
SYSTEM = Principal("sweeper", roles=frozenset({Role.SYSTEM}))
MANAGER = Principal("mia", roles=frozenset({Role.ZONE_MANAGER}), zone_id=ZoneId("east"))
# 2026-01-05 is a Monday; 09:00 in Shanghai is 01:00 UTC.
START = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)


def rep_principal(n: int) -> Principal:
    """The principal of rep ``n`` (user ``rep{n}``)."""
    return Principal(
        f"user{n}", roles=frozenset({Role.REP}), rep_id=RepId(f"rep{n}"), zone_id=ZoneId("east")
    )


def other_process(store: InMemoryStore, clock: FakeClock, crm: LeadToCash) -> LeadToCash:
    """A second facade on ``crm``'s store: its own aggregate cache, as another process would
    have (race tests commit through it between one command's reads and its commit)."""
    return LeadToCash(store, clock, crm.ctx.ids)


def meanwhile(
    patch: Any,
    owner: object,
    name: str,
    run: Callable[[], object],
    when: Callable[..., bool] = lambda *args, **kwargs: True,
) -> list[object]:
    """Patch ``owner.name`` (with pytest's ``monkeypatch.setattr``, passed as ``patch``) so
    that the first call ``when`` accepts returns after ``run()`` ran: a race test's other
    command, committed between one command's reads and its commit. Returns ``run``'s results.
    """
    original = getattr(owner, name)
    results: list[object] = []
    started: list[bool] = []  # set before ``run``: it may call the patched function itself

    def patched(*args: Any, **kwargs: Any) -> Any:
        found = original(*args, **kwargs)
        if not started and when(*args, **kwargs):
            started.append(True)
            results.append(run())
        return found

    patch(owner, name, patched)
    return results


@attrs.define
class World:
    """An organisation: store, clock, facade, one pool ``east`` and reps rep1..repN."""

    store: InMemoryStore
    clock: FakeClock
    crm: LeadToCash
    pool_id: PoolId
    customers: list[CustomerId]


def make_world(
    rules: PoolRules | None = None,
    reps: int = 3,
    customers: int = 0,
    store: InMemoryStore | None = None,
) -> World:
    """Build a world; ``customers`` new customers are put in the pool."""
    store, clock = store or InMemoryStore(), FakeClock(START)
    crm = LeadToCash(store, clock, SequentialIds())
    pool = crm.pools.create_pool(
        ADMIN,
        "East pool",
        zone_id=ZoneId("east"),
        rules=rules or PoolRules(),
        pool_id=PoolId("east"),
    )
    for n in range(1, reps + 1):
        crm.reps.register(
            ADMIN, SalesRep(id=RepId(f"rep{n}"), name=f"Rep {n}", zone_id=ZoneId("east"))
        )
    ids = [
        crm.pools.add_customer(ADMIN, f"客户{n}", pool_id=pool.id, phones=[f"+86138{n:08d}"]).id
        for n in range(customers)
    ]
    return World(store, clock, crm, pool.id, ids)


def contact_of(crm: LeadToCash, customer_id: str) -> ContactId:
    """The id of a contact of the customer (``<customer>-contact``), stored on first use: a
    deal names only a contact of its own customer."""
    ident = ContactId(f"{customer_id}-contact")
    with crm.unit_of_work() as uow:
        if uow.contacts.find(ident) is None:
            uow.contacts.add(Contact(ident, CustomerId(customer_id), "联系人"))
            uow.commit()
    return ident


def add_lead(crm: LeadToCash, n: int, *, pool: PoolId | None, **fields: Any) -> LeadId:
    """Store lead ``lead{n}`` (company ``公司{n}`` unless ``fields`` say otherwise), then file
    it in ``pool`` as a manager would (None: in no pool)."""
    fields.setdefault("company_name", f"公司{n}")
    lead = Lead(
        id=LeadId(f"lead{n}"), channel=fields.pop("channel", Channel.WEB_FORM),
        created_at=crm.ctx.clock.now(), **fields,
    )  # fmt: skip
    with crm.unit_of_work() as uow:
        uow.leads.add(lead)
        uow.commit()
    if pool is not None:
        crm.lead_pools.add_lead(ADMIN, lead.id, pool)
    return lead.id
