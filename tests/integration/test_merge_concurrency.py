"""Merges of duplicates while other threads file receipts and contacts under them, on every
store: nothing stays on an archive.

One thread merges thirty pairs of duplicates, one pair after another; two others keep
registering receipts and adding contacts on the duplicates about to be merged away, in the
same order, so that their commands and the merges overlap (on PostgreSQL and SQLite the
threads really run together: the driver releases the GIL). A command that meets a merge
re-runs or is refused (``customer.merged``); a merge that meets a command moves what it
filed. Afterwards no receipt or contact is filed under an archive, ``complete_merges``
finds nothing left, and the audit verifies.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import cast

from command_machine import stored
from leadtocash.app.auditing import verify_store_audit
from leadtocash.contracts import Receipt
from leadtocash.errors import LeadToCashError
from leadtocash.model import Contact, Customer, CustomerId
from leadtocash.money import Money
from leadtocash.ports import Store
from leadtocash.testing import InMemoryStore
from pool_fixtures import ADMIN, make_world

PAIRS = 30
FILERS = 2


def test_documents_filed_during_merges_never_stay_on_an_archive(engine_store: Store) -> None:
    world = make_world(customers=2 * PAIRS, store=cast(InMemoryStore, engine_store))
    crm, today = world.crm, world.clock.now().date()
    pairs = [(world.customers[2 * i], world.customers[2 * i + 1]) for i in range(PAIRS)]
    outcomes: Counter[str] = Counter()
    unexpected: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(1 + FILERS)

    def note(outcome: str) -> None:
        with lock:
            outcomes[outcome] += 1

    def merger() -> None:
        start.wait()
        for kept, dropped in pairs:
            try:
                crm.collisions.merge(ADMIN, kept, dropped, "dup", prefer=CustomerId(kept))
                note("merged")
            except LeadToCashError as refused:
                note(f"merge {refused.code}")
            except BaseException as exc:  # surfaced below
                unexpected.append(exc)

    def filer(n: int) -> None:
        start.wait()
        for i, (_kept, dropped) in enumerate(pairs):
            for attempt in range(3):
                try:
                    if attempt % 2 == 0:
                        crm.billing.register_receipt(
                            ADMIN, dropped, Money("10", "CNY"), today, f"BR-{n}-{i}-{attempt}",
                            "乙公司",
                        )  # fmt: skip
                    else:
                        crm.contacts.add_contact(ADMIN, dropped, f"联系人{n}-{i}")
                    note("filed")
                except LeadToCashError as refused:
                    note(refused.code)
                except BaseException as exc:  # surfaced below
                    unexpected.append(exc)

    threads = [threading.Thread(target=merger)]
    threads += [threading.Thread(target=filer, args=(n,)) for n in range(FILERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert unexpected == []
    assert outcomes["merged"] == PAIRS
    assert outcomes["filed"] > 0
    archives = {c.id for c in stored(crm, Customer) if c.merged_into is not None}
    assert len(archives) == PAIRS
    filed: list[Receipt | Contact] = [*stored(crm, Receipt), *stored(crm, Contact)]
    on_archives = [(type(r).__name__, r.id) for r in filed if r.customer_id in archives]
    assert on_archives == []
    assert crm.collisions.complete_merges(ADMIN).moved == {}
    assert verify_store_audit(engine_store).ok
