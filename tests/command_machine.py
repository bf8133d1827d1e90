"""A base for hypothesis state machines that drive facade commands against an in-memory store:
each command either succeeds or is refused without changing anything, and the audit log
verifies after every step."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant

from leadtocash import LeadToCash, LeadToCashError, RepId, verify_audit_chain
from leadtocash.app.aggregates import spec_for
from leadtocash.model import Customer
from leadtocash.pool.book import RepBook
from leadtocash.testing import InMemoryStore


class CommandMachine(RuleBasedStateMachine):
    """Runs commands through :meth:`attempt`; subclasses set ``store`` when they build it."""

    store: InMemoryStore

    def snapshot(self) -> Any:
        """Everything the store holds: records, audit length, outbox."""
        return (dict(self.store._rows), len(self.store._audit), dict(self.store._outbox))

    def attempt(self, what: str, call: Any, *args: Any, **kwargs: Any) -> Any:
        """``call``'s result, or None when it refused (after checking it changed nothing);
        the outcome is a hypothesis event, so ``--hypothesis-show-statistics`` shows how
        often each command got through."""
        before = self.snapshot()
        try:
            result = call(*args, **kwargs)
        except LeadToCashError as error:
            assert self.snapshot() == before, f"a refused {what} changed state"
            event(f"{what} refused: {error.code}")
            return None
        event(f"{what} done")
        return result

    def pick(self, data: st.DataObject, found: Sequence[str]) -> str | None:
        """One of ``found`` drawn by hypothesis, or None when there is none."""
        return data.draw(st.sampled_from(found)) if found else None

    @invariant()
    def audit_verifies(self) -> None:
        assert verify_audit_chain(self.store.audit_log(limit=1_000_000)) is None


T = TypeVar("T")


def stored(crm: LeadToCash, cls: type[T]) -> list[T]:
    """Every stored record of ``cls``, hidden ones (in the recycle bin) included."""
    with crm.unit_of_work() as uow:
        return uow.repository(cls).scan(limit=100_000)


def assert_indexes_exact(crm: LeadToCash, cls: type[Any]) -> None:
    """Every named index of ``cls``'s records holds exactly the entries its spec derives
    from the stored records (nothing stale, nothing missing)."""
    spec = spec_for(cls)
    with crm.unit_of_work() as uow:
        repo = uow.repository(cls)
        records = repo.scan(limit=100_000)
        derived = [(r.id, spec.indexes(r)) for r in records]
        for name in sorted({name for _, indexes in derived for name in indexes}):
            stored = sorted(repo.index_entries(name, limit=100_000))
            expected = sorted(
                (v, i) for i, indexes in derived if (v := indexes.get(name)) is not None
            )
            assert stored == expected, f"{spec.kind} index {name!r}"


def expected_book(rep: str, customers: Iterable[Customer]) -> RepBook:
    """The book rep ``rep`` should have: counts over the ``customers`` they own."""
    mine = [c for c in customers if c.owner_id == rep]
    return RepBook(
        RepId(rep),
        owned=len(mine),
        won=sum(c.won for c in mine),
        locked=sum(c.locked for c in mine),
        won_and_locked=sum(c.won and c.locked for c in mine),
    )
