"""Store maintenance: rebuild what the store derives from the aggregates (indexes and keys).

Every write stores a record's indexes, unique keys and lookup keys next to its document
(:class:`~leadtocash.app.aggregates.AggregateSpec`). When an upgrade of the library changes
what an aggregate indexes — a new list index, a changed key — records written before keep the
old derived rows until they are written again: a list that filters on the new index misses
them. :meth:`MaintenanceService.reindex` writes every record again, unchanged, so the store
derives everything afresh. It pages through each kind by id (``StoreSession.scan``), one unit
of work per batch: versions are checked as for any write (a record changed meanwhile makes the
batch retry), each batch is one audit entry (``store.reindex``: kind, first and last id,
count), and a run that stops part-way is simply run again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from leadtocash.access import Action, Principal
from leadtocash.app.aggregates import SPECS, AggregateSpec
from leadtocash.app.context import AppContext, Change
from leadtocash.app.unit_of_work import UnitOfWork
from leadtocash.errors import FieldError, ValidationError

__all__ = ["MaintenanceService", "ReindexReport"]

#: Records rewritten per unit of work unless the caller says otherwise.
DEFAULT_BATCH = 200
_MAX_BATCH = 1000


@attrs.frozen
class ReindexReport:
    """What a reindex rewrote: records per kind, in the order the kinds were done."""

    records: Mapping[str, int]

    @property
    def total(self) -> int:
        """Records rewritten, all kinds together."""
        return sum(self.records.values())


@attrs.frozen
class MaintenanceService:
    """Keeps what the store derives from the aggregates current (admin and system)."""

    ctx: AppContext

    def reindex(
        self,
        principal: Principal,
        *,
        kinds: Sequence[str] | None = None,
        batch: int = DEFAULT_BATCH,
    ) -> ReindexReport:
        """Write every record of ``kinds`` (default: every aggregate kind) again, unchanged,
        so its indexes, unique keys and lookup keys are derived afresh (after an upgrade).

        ``batch`` records per unit of work (1-1000), each batch audited (``store.reindex``).
        An unknown kind or a bad batch size is a ValidationError naming the field, before
        anything is written. A key that two records now claim fails that batch with
        DuplicateKey (earlier batches stay done; fix the records and run again).
        """
        self.ctx.policy.check(principal, Action.STORE_REINDEX)
        specs = _chosen(kinds, batch)
        done: dict[str, int] = {}
        for spec in specs:
            done[spec.kind] = self._reindex_kind(principal, spec, batch)
        return ReindexReport(done)

    def _reindex_kind(self, principal: Principal, spec: AggregateSpec[Any], batch: int) -> int:
        count, cursor = 0, None
        while True:
            page = self._rewrite(principal, spec, cursor, batch)
            count += len(page)
            if len(page) < batch:
                return count
            cursor = str(page[-1].id)

    def _rewrite(
        self, principal: Principal, spec: AggregateSpec[Any], after: str | None, batch: int
    ) -> list[Any]:
        """One batch: the next ``batch`` records of ``spec.kind`` after ``after``, saved."""

        def command(uow: UnitOfWork) -> tuple[list[Any], list[Change]]:
            repo = uow.repository(spec.type)
            page = repo.scan(after=after, limit=batch)
            for aggregate in page:
                repo.save(aggregate)
            if not page:
                return page, []
            record = {
                "kind": spec.kind,
                "first": str(page[0].id),
                "last": str(page[-1].id),
                "records": len(page),
            }
            return page, [Change("store", spec.kind, None, record, reason="reindex")]

        return self.ctx.execute(principal, Action.STORE_REINDEX, command)


def _chosen(kinds: Sequence[str] | None, batch: int) -> list[AggregateSpec[Any]]:
    """The specs of ``kinds`` (all when None), or a ValidationError naming every bad field."""
    by_kind = {spec.kind: spec for spec in SPECS}
    wanted = list(by_kind) if kinds is None else list(dict.fromkeys(kinds))
    errors = [
        FieldError(f"kinds[{n}]", "field.unknown", f"no aggregate kind {kind!r}")
        for n, kind in enumerate(wanted)
        if kind not in by_kind
    ]
    if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= _MAX_BATCH:
        errors.append(FieldError("batch", "field.out_of_range", f"1 to {_MAX_BATCH} records"))
    if errors:
        raise ValidationError(errors)
    return [by_kind[kind] for kind in wanted]
