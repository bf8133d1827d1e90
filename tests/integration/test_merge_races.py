"""A payment registered on a duplicate while the duplicate is merged away, on every store.

Two facades share one store (two application processes). The receipt's command reads the
duplicate (not merged: accepted), the merge commits, then the receipt's commit comes; or the
merge reads the duplicate's documents, the receipt commits, then the merge's commit comes.
Either way nothing may stay on the archive: in the first order the receipt's commit expects
the duplicate unchanged, conflicts, runs again and is refused (``customer.merged``); in the
second the merge's sweep right after it moves the receipt to the survivor (audited). Without
either, the receipt would stay with the archive until ``complete_merges`` ran.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from contract_fixtures import cash_world
from leadtocash import LeadToCash
from leadtocash.app.auditing import verify_store_audit
from leadtocash.errors import LeadToCashError, StorageUnavailable
from leadtocash.money import Money
from leadtocash.ports import Commit, Store, StoreSession
from leadtocash.testing import InMemoryStore
from pool_fixtures import ADMIN


class _Hooked:
    """``store``, except that ``hook`` runs once, just before the first commit ``when`` picks
    (what another process does between this process's reads and its commit), and a commit
    ``fail`` picks finds the server gone."""

    def __init__(
        self, store: Store, when: Callable[[Commit], bool], fail: Callable[[Commit], bool] | None
    ) -> None:
        self._store, self._when, self._fail = store, when, fail
        self.hook: Callable[[], None] = lambda: None
        self.fired = False

    def session(self) -> StoreSession:
        session = self._store.session()
        hooked = self

        class Session:
            def commit(self, commit: Commit) -> None:
                if not hooked.fired and hooked._when(commit):
                    hooked.fired = True
                    hooked.hook()
                if hooked._fail is not None and hooked._fail(commit):
                    raise StorageUnavailable("the server went away")
                session.commit(commit)

            def __getattr__(self, name: str) -> Any:
                return getattr(session, name)

        return cast(StoreSession, Session())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def _writes(kind: str, test: Callable[[Any], bool] = lambda data: True) -> Callable[[Commit], bool]:
    return lambda commit: any(w.kind == kind and test(w.data) for w in commit.writes)


def _race(store: Store, *, merge_first: bool, sweep_fails: bool = False) -> dict[str, Any]:
    world, kept, dropped = cash_world(customers=2, store=cast(InMemoryStore, store))
    today = world.clock.now().date()
    amount = Money("800", "CNY")
    # the sweep after the merge: it re-files the receipt under the survivor
    sweep = _writes("receipt", lambda data: data["customer_id"] == kept) if sweep_fails else None
    if merge_first:  # the receipt's commit meets a merge committed after its reads
        hooked = _Hooked(store, _writes("receipt"), sweep)
    else:  # the merge's commit meets a receipt committed after its reads
        merging = _writes("customer", lambda data: bool(data.get("merged_into")))
        hooked = _Hooked(store, merging, sweep)
    this = LeadToCash(cast(Store, hooked), world.clock, world.crm.ctx.ids)
    other = world.crm
    outcome = "registered"

    def merge() -> None:
        other.collisions.merge(ADMIN, kept, dropped, "dup")

    def pay() -> None:
        other.billing.register_receipt(ADMIN, dropped, amount, today, "BR-1", "乙公司")

    if merge_first:
        hooked.hook = merge
        try:
            this.billing.register_receipt(ADMIN, dropped, amount, today, "BR-1", "乙公司")
        except LeadToCashError as refused:
            outcome = refused.code
    else:
        hooked.hook = pay
        this.collisions.merge(ADMIN, kept, dropped, "dup")
    receipts = [
        *other.billing.receipts(ADMIN, kept).items,
        *other.billing.receipts(ADMIN, dropped).items,
    ]
    where = sorted(
        ("survivor" if r.customer_id == kept else "archive", str(r.amount)) for r in receipts
    )
    return {
        "fired": hooked.fired,
        "outcome": outcome,
        "receipts_by_customer": where,
        "left_for_complete_merges": other.collisions.complete_merges(ADMIN).moved,
        "moves_audited": sorted(
            e.reason or ""
            for e in store.audit_log(limit=10_000)
            if e.target_kind == "receipt" and e.before is not None
        ),
        "audit_ok": verify_store_audit(store).ok,
    }


def test_a_merge_between_a_receipts_reads_and_its_commit_refuses_the_receipt(
    engine_store: Store,
) -> None:
    figures = _race(engine_store, merge_first=True)
    assert figures["fired"]
    assert figures["outcome"] == "customer.merged"  # re-run on fresh reads, then refused
    assert figures["receipts_by_customer"] == []
    assert figures["left_for_complete_merges"] == {}
    assert figures["moves_audited"] == []
    assert figures["audit_ok"]


def test_a_receipt_committed_inside_a_merge_is_moved_to_the_survivor(
    engine_store: Store,
) -> None:
    figures = _race(engine_store, merge_first=False)
    assert figures["fired"]
    assert figures["outcome"] == "registered"
    assert figures["receipts_by_customer"] == [("survivor", "800.00 CNY")]
    assert figures["left_for_complete_merges"] == {}
    assert len(figures["moves_audited"]) == 1
    assert figures["moves_audited"][0].startswith("merge into ")
    assert figures["audit_ok"]


def test_a_merge_stands_when_its_sweep_fails_and_complete_merges_moves_the_rest(
    engine_store: Store,
) -> None:
    figures = _race(engine_store, merge_first=False, sweep_fails=True)
    assert figures["outcome"] == "registered"  # the merge returned its plan
    assert figures["receipts_by_customer"] == [("archive", "800.00 CNY")]  # before the cleanup
    assert len(figures["left_for_complete_merges"]) == 1  # which then moved it
    assert figures["audit_ok"]
