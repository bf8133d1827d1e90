"""Open a store from its URL and make one claim through it (what the wheel check in CI runs).

    python examples/connect_claim.py sqlite:///crm.db
    python examples/connect_claim.py postgresql://crm@localhost/crm

Creates the schema when needed (``leadtocash migrate URL`` does the same), a pool, a rep and a
customer with fresh names, claims the customer for the rep and verifies the audit log.
"""

from __future__ import annotations

import sys

from leadtocash import (
    LeadToCash,
    PoolRules,
    Principal,
    RandomIds,
    RepId,
    Role,
    SalesRep,
    SystemClock,
    ZoneId,
    connect,
    verify_store_audit,
)


def claim_once(url: str) -> str:
    """One claim on the store at ``url``; returns what happened, in one line."""
    store = connect(url, create_schema=True)
    try:
        crm = LeadToCash(store=store, clock=SystemClock(), ids=RandomIds())
        admin = Principal("admin", roles=frozenset({Role.ADMIN}))
        run = RandomIds().new_id("run")[-10:]
        zone = ZoneId("east")
        pool = crm.pools.create_pool(admin, f"East pool {run}", zone_id=zone, rules=PoolRules())
        rep_id = RepId(f"rep-{run}")
        crm.reps.register(admin, SalesRep(id=rep_id, name="Alice", zone_id=zone))
        customer = crm.pools.add_customer(admin, f"华东贸易有限公司{run}", pool_id=pool.id)
        alice = Principal("alice", roles=frozenset({Role.REP}), rep_id=rep_id, zone_id=zone)
        claimed = crm.pools.claim(alice, customer.id)
        assert claimed.owner_id == rep_id, claimed
        report = verify_store_audit(store)
        assert report.ok, report.faults
        return f"claimed {customer.id} for {rep_id}; audit ok ({report.entries} entries)"
    finally:
        store.close()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python examples/connect_claim.py URL")
    print(claim_once(sys.argv[1]))
