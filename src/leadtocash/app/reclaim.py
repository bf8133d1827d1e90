"""The reclaim sweep (回收), reclaim warnings, rule changes and fact updates.

The sweep asks storage for customers whose stored ``reclaim_due_at`` has passed (an indexed
range query) and reclaims them in chunks of up to 50 per unit of work, each re-checked under
its current version and audited on its own (a chunk that keeps conflicting goes one customer
at a time), so its cost grows with what is due, not with the size of the book. Changing a pool's
rules recomputes the schedule of every owned customer of the pool in pages.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

import attrs

from leadtocash.access import Action, Principal
from leadtocash.app.aggregates import sortable_time
from leadtocash.app.context import AppContext, Change
from leadtocash.app.customers import CustomerWrites
from leadtocash.app.documents import batch_size
from leadtocash.app.release_targets import check_release_target
from leadtocash.app.unit_of_work import Page, UnitOfWork
from leadtocash.errors import ConcurrencyConflict
from leadtocash.events import ReclaimWarning
from leadtocash.model import Customer, PoolId, Tier
from leadtocash.pool.book import OwnershipAction, RepBook
from leadtocash.pool.ownership import require_reason, returned_to_pool
from leadtocash.pool.reclaim import ScheduleRecompute
from leadtocash.pool.rules import Pool, PoolRules

__all__ = [
    "UNSET",
    "ReclaimService",
    "RecomputeReport",
    "SweepReport",
    "due_ids",
    "pending_recomputes",
    "request_recompute",
    "run_recompute",
    "run_sweep",
]

_log = logging.getLogger(__name__)

_TICK = timedelta(microseconds=1)
#: The outcome of a customer the sweep skipped because it kept conflicting.
_CONFLICT = "conflict"


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


#: Marker for "leave this fact unchanged" in ``record_facts``.
UNSET = _Unset()


@attrs.frozen
class SweepReport:
    """What one sweep did: customers reclaimed, owners warned, customers skipped (and why)."""

    reclaimed: tuple[str, ...] = ()
    warned: tuple[str, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()


J = TypeVar("J", bound=ScheduleRecompute)


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


R = TypeVar("R", bound=_Identified)


def request_recompute(
    uow: UnitOfWork, job_type: type[J], pool_id: PoolId, now: datetime, reason: str
) -> None:
    """Stage a pending recomputation of ``pool_id``'s schedules (started again from the first
    record if one was under way), in the commit of the rule change that asks for it."""
    jobs = uow.repository(job_type)
    job = jobs.find(pool_id)
    jobs.save(job_type(pool_id, now, reason) if job is None else job.restarted(now, reason))


def pending_recomputes(ctx: AppContext, job_type: type[ScheduleRecompute]) -> list[PoolId]:
    """The pools whose ``job_type`` recomputation is not finished."""
    with ctx.unit_of_work() as uow:
        pending = uow.repository(job_type).index_entries("pending", limit=10_000)
    return [PoolId(ident) for _, ident in pending]


def run_recompute(
    ctx: AppContext,
    principal: Principal,
    action: Action,
    job_type: type[ScheduleRecompute],
    pool_id: PoolId,
    owned: Callable[[UnitOfWork, tuple[str, str] | None], Page[R]],
    restage: Callable[[UnitOfWork, R, str], list[Change]],
    what: str,
    *,
    max_pages: int | None = None,
) -> int:
    """Advance ``pool_id``'s pending ``job_type`` page by page until done (or ``max_pages``):
    each page of the pool's owned records (``owned``: the page after a cursor) is restaged
    (``restage``: record, reason -> audited changes) and committed with the job's progress.
    How many schedules changed. Shared by customer and lead pools (``what`` names the pool
    in the reason)."""
    changed, pages = 0, 0
    while max_pages is None or pages < max_pages:

        def command(uow: UnitOfWork) -> tuple[tuple[int, bool], list[Change]]:
            jobs = uow.repository(job_type)
            job = jobs.find(pool_id)
            if job is None or job.done:
                return (0, True), []
            found = owned(uow, None if job.after is None else (pool_id, job.after))
            why = f"{what} rules changed ({job.reason}): reclaim schedule recomputed"
            changes = [change for record in found.items for change in restage(uow, record, why)]
            last = found.items[-1].id if found.next_cursor is not None else None
            jobs.save(job.advanced(last, len(changes)))
            return (len(changes), last is None), changes

        count, finished = ctx.execute(principal, action, command)
        changed, pages = changed + count, pages + 1
        if finished:
            break
    return changed


def due_ids(
    ctx: AppContext, kind: type[Any], index: str, batch: int, *, due_only: bool = True
) -> list[str]:
    """Ids of ``kind`` in its time ``index`` due by now (every id when not ``due_only``),
    read in pages of ``batch`` (the index, never a scan)."""
    below = sortable_time(ctx.clock.now() + _TICK) if due_only else None
    ids: list[str] = []
    cursor: tuple[str, str] | None = None
    with ctx.unit_of_work() as uow:
        while True:
            hits = uow.repository(kind).index_entries(index, below=below, after=cursor, limit=batch)
            ids.extend(ident for _, ident in hits)
            if len(hits) < batch:
                return ids
            cursor = hits[-1]


#: One record's step of a sweep inside a unit of work: ``(outcome, audited changes)``.
SweepStep = Callable[[UnitOfWork, Principal, str], tuple[Any, list[Change]]]
#: Reads what a chunk's steps will read, in few store calls, before they run.
SweepPreload = Callable[[UnitOfWork, list[str]], None]


def run_sweep(
    ctx: AppContext,
    principal: Principal,
    warn_ids: list[str],
    reclaim_ids: list[str],
    warn: SweepStep,
    reclaim: SweepStep,
    what: str,
    *,
    chunk: int = 1,
    preload_warns: SweepPreload | None = None,
    preload_reclaims: SweepPreload | None = None,
) -> SweepReport:
    """Warn each of ``warn_ids`` (outcome True when warned), then reclaim each of
    ``reclaim_ids`` (outcome ``"reclaimed"``, or why not), ``chunk`` records to a unit of
    work; a record that still conflicts alone is skipped (the next sweep sees it again).
    ``preload_warns`` and ``preload_reclaims`` read a chunk's records (and what their steps
    read) before its steps run. Shared by customers and leads."""
    warns = _in_chunks(ctx, principal, warn_ids, warn, max(1, chunk), preload_warns)
    reclaims = _in_chunks(ctx, principal, reclaim_ids, reclaim, max(1, chunk), preload_reclaims)
    warned = [ident for ident, outcome in warns if outcome is True]
    reclaimed = [ident for ident, outcome in reclaims if outcome == "reclaimed"]
    skipped = [(ident, _CONFLICT) for ident, outcome in warns if outcome == _CONFLICT]
    skipped += [(i, str(outcome)) for i, outcome in reclaims if outcome != "reclaimed"]
    _log.info(
        "%s sweep: %d reclaimed, %d warned, %d skipped",
        what, len(reclaimed), len(warned), len(skipped),
    )  # fmt: skip
    return SweepReport(tuple(reclaimed), tuple(warned), tuple(skipped))


def _in_chunks(
    ctx: AppContext,
    principal: Principal,
    ids: list[str],
    step: SweepStep,
    chunk: int,
    preload: SweepPreload | None = None,
) -> list[tuple[str, Any]]:
    """Each of ``ids`` with the outcome of ``step`` on it, ``chunk`` ids to a unit of work
    (``pool.sweep``); a chunk still conflicting after the retries goes one id at a time
    (``"conflict"`` for an id that still conflicts alone). ``preload`` runs first in each
    chunk of more than one id."""
    outcomes: list[tuple[str, Any]] = []
    for start in range(0, len(ids), chunk):
        part = ids[start : start + chunk]

        def command(uow: UnitOfWork, part: list[str] = part) -> tuple[Any, list[Change]]:
            results, changes = [], []
            if preload is not None and len(part) > 1:
                preload(uow, part)
            for ident in part:
                result, more = step(uow, principal, ident)
                results.append(result)
                changes.extend(more)
            return results, changes

        try:
            results = ctx.execute(principal, Action.POOL_SWEEP, command)
        except ConcurrencyConflict:
            if len(part) == 1:
                outcomes.append((part[0], _CONFLICT))
            else:
                for ident in part:
                    outcomes.extend(_in_chunks(ctx, principal, [ident], step, 1, preload))
            continue
        outcomes.extend(zip(part, results, strict=True))
    return outcomes


def _preload_customers(uow: UnitOfWork, ids: list[str]) -> None:
    """The customers ``ids`` (a warning chunk), in one store call."""
    uow.preload(*((Customer, ident) for ident in ids))


def _preload_reclaims(uow: UnitOfWork, ids: list[str]) -> None:
    """The customers ``ids`` (a reclaim chunk), then their pools and owners' books."""
    _preload_customers(uow, ids)
    due = uow.customers.get_many(ids)
    uow.preload(
        *((Pool, customer.pool_id) for customer in due),
        *((RepBook, customer.owner_id) for customer in due),
    )


@attrs.frozen
class RecomputeReport:
    """What recomputing provisional schedules did after calendar data changed.

    ``checked``: provisional schedules read; ``moved``: customers whose due or warning instant
    changed; ``confirmed``: schedules no longer provisional (their year is now official).
    """

    checked: int = 0
    moved: tuple[str, ...] = ()
    confirmed: tuple[str, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()


@attrs.frozen
class ReclaimService:
    """Sweeps due customers back to their pools and keeps reclaim schedules current."""

    ctx: AppContext
    customers: CustomerWrites = attrs.field(
        init=False, default=attrs.Factory(lambda self: CustomerWrites(self.ctx), takes_self=True)
    )

    def _due_ids(self, index: str, batch: int, *, due_only: bool = True) -> list[str]:
        """Customer ids in ``index`` due by now (every id when not ``due_only``)."""
        return due_ids(self.ctx, Customer, index, batch, due_only=due_only)

    def sweep(self, principal: Principal, *, batch: int = 500, chunk: int = 50) -> SweepReport:
        """Warn owners whose customers are close to reclaim, then reclaim every due customer.

        Customers are handled ``chunk`` to a unit of work (each re-checked under its current
        version, each change audited on its own): a chunk that still conflicts after the
        context's retries is handled one customer at a time, so a customer changed meanwhile
        is skipped alone (the next sweep sees it again). ``chunk=1``: one unit of work each.
        """
        batch_size(batch, "batch")
        batch_size(chunk, "chunk")
        self.ctx.policy.check(principal, Action.POOL_SWEEP)
        self.resume_recomputes(principal, page=batch)  # due dates first follow the rules
        return run_sweep(
            self.ctx, principal, self._due_ids("reclaim_warn", batch),
            self._due_ids("reclaim_due", batch), self._warn, self._reclaim, "reclaim",
            chunk=chunk, preload_warns=_preload_customers, preload_reclaims=_preload_reclaims,
        )  # fmt: skip

    def _warn(
        self, uow: UnitOfWork, principal: Principal, customer_id: str
    ) -> tuple[bool, list[Change]]:
        customer = uow.customers.get(customer_id)
        now = self.ctx.clock.now()
        due, warn = customer.reclaim_due_at, customer.warn_at
        if customer.owner_id is None or due is None or warn is None or warn > now:
            return False, []
        if customer.warned_due_at == due:
            return False, []
        after = attrs.evolve(customer, warned_due_at=due)
        # Only the sweep's own "warned" mark moves: no fact, schedule or book changes,
        # so this one save bypasses the write path (and leaves updated_at alone).
        uow.customers.save(after)
        uow.record(
            ReclaimWarning(
                now,
                customer.id,
                customer.owner_id,
                due,
                customer.reclaim_rule or "",
                customer.reclaim_provisional,
            )
        )
        return True, [Change("customer", customer.id, customer, after, "reclaim warning")]

    def _reclaim(
        self, uow: UnitOfWork, principal: Principal, customer_id: str
    ) -> tuple[str, list[Change]]:
        stored = uow.customers.get(customer_id)
        customer = self.customers.scheduled(uow, stored)
        now = self.ctx.clock.now()
        due = customer.reclaim_due_at
        if customer.owner_id is None:
            return "not_owned", []
        if due is None or due > now:  # the stored schedule was stale: fix it
            why = "reclaim schedule recomputed"
            return "not_due", list(self.customers.stage(uow, stored, customer, reason=why).changes)
        rules = self.customers.rules_of(uow, customer.pool_id)
        target = rules.release_to or customer.pool_id
        assert target is not None  # owned customers with a schedule come from a pool
        after = returned_to_pool(customer, target, now)
        reason = f"reclaimed: {customer.reclaim_rule}"
        _, changes = self.customers.move(
            uow, principal, customer, after, OwnershipAction.RECLAIM, reason=reason
        )
        return "reclaimed", changes

    def recompute_provisional(
        self, principal: Principal, *, batch: int = 500, reason: str | None = None
    ) -> RecomputeReport:
        """Recompute every provisional reclaim schedule under the calendar's current data.

        Run it after loading a year's notice or upgrading the calendar package. Only
        schedules marked provisional are read (an indexed query: cost grows with them, not
        with the book); each change is saved and audited in its own unit of work.
        """
        batch_size(batch, "batch")
        self.ctx.policy.check(principal, Action.POOL_SWEEP)
        why = reason or "calendar data changed: provisional reclaim schedule recomputed"
        ids = self._due_ids("reclaim_provisional", batch, due_only=False)
        moved, confirmed, skipped = [], [], []
        for customer_id in ids:
            try:
                before, after = self._recompute_one(principal, customer_id, why)
            except ConcurrencyConflict:
                skipped.append((customer_id, "conflict"))
                continue
            if (before.reclaim_due_at, before.warn_at) != (after.reclaim_due_at, after.warn_at):
                moved.append(customer_id)
            if before.reclaim_provisional and not after.reclaim_provisional:
                confirmed.append(customer_id)
        return RecomputeReport(len(ids), tuple(moved), tuple(confirmed), tuple(skipped))

    def _recompute_one(
        self, principal: Principal, customer_id: str, reason: str
    ) -> tuple[Customer, Customer]:
        def command(uow: UnitOfWork) -> tuple[tuple[Customer, Customer], list[Change]]:
            customer = uow.customers.get(customer_id)
            staged = self.customers.stage(uow, customer, customer, reason=reason)
            return (customer, staged.after), list(staged.changes)

        return self.ctx.execute(principal, Action.POOL_SWEEP, command)

    def update_rules(
        self,
        principal: Principal,
        pool_id: PoolId,
        rules: PoolRules,
        reason: str,
        *,
        page: int = 500,
        recompute: bool = True,
    ) -> int:
        """Replace a pool's rules and recompute every owned customer's schedule; returns count.

        The rule change and a pending ``ScheduleRecompute`` commit together; the schedules are
        then recomputed page by page, each page committing with the job's progress. If the
        process stops midway (or ``recompute`` is off), ``resume_recomputes`` — which every
        sweep runs first — finishes the job. The count is of schedules this call changed.
        """
        batch_size(page, "page")
        why = require_reason(reason)

        def command(uow: UnitOfWork) -> tuple[Pool, list[Change]]:
            pool = uow.repository(Pool).get(pool_id)
            self.customers.guard_pool(uow, principal, pool, write=True)
            check_release_target(uow, pool.id, rules)
            after = attrs.evolve(pool, rules=rules)
            uow.repository(Pool).save(after)
            request_recompute(uow, ScheduleRecompute, pool_id, self.ctx.clock.now(), why)
            return after, [Change("pool", pool.id, pool, after, why)]

        self.ctx.execute(principal, Action.POOL_MANAGE, command)
        if not recompute:
            return 0
        return self._recompute_pool(principal, pool_id, page, Action.POOL_MANAGE)

    def resume_recomputes(
        self, principal: Principal, *, page: int = 500, max_pages: int | None = None
    ) -> int:
        """Finish every pending schedule recomputation (left by a stopped process); count.

        ``max_pages`` bounds the work of this call (per pool); the rest stays pending. A system
        job like the sweep (action ``pool.sweep``).
        """
        batch_size(page, "page")
        self.ctx.policy.check(principal, Action.POOL_SWEEP)
        return sum(
            self._recompute_pool(principal, pool_id, page, Action.POOL_SWEEP, max_pages=max_pages)
            for pool_id in pending_recomputes(self.ctx, ScheduleRecompute)
        )

    def _recompute_pool(
        self,
        principal: Principal,
        pool_id: PoolId,
        page: int,
        action: Action,
        *,
        max_pages: int | None = None,
    ) -> int:
        return run_recompute(
            self.ctx, principal, action, ScheduleRecompute, pool_id,
            lambda uow, after: uow.customers.query(
                "owned_pool", equals=pool_id, after=after, limit=page
            ),
            lambda uow, customer, why: list(
                self.customers.stage(uow, customer, customer, reason=why).changes
            ),
            "pool", max_pages=max_pages,
        )  # fmt: skip

    def record_facts(
        self,
        principal: Principal,
        customer_id: str,
        *,
        won: bool | _Unset = UNSET,
        open_opportunity_stage: int | _Unset | None = UNSET,
        new_opportunity: bool = False,
        has_active_contract: bool | _Unset = UNSET,
        tier: Tier | _Unset = UNSET,
        reason: str | None = None,
    ) -> Customer:
        """Feed facts from the pipeline, contracts or classification; reschedules reclaim."""

        def command(uow: UnitOfWork) -> tuple[Customer, list[Change]]:
            customer = uow.customers.get(customer_id)
            self.customers.guard(uow, principal, customer, write=True)
            now = self.ctx.clock.now()
            updates: dict[str, object] = {}
            if not isinstance(won, _Unset):
                updates["won"] = won
            if not isinstance(open_opportunity_stage, _Unset):
                updates["open_opportunity_stage"] = open_opportunity_stage
            if new_opportunity:
                updates["last_opportunity_at"] = now
            if not isinstance(has_active_contract, _Unset):
                updates["has_active_contract"] = has_active_contract
            if not isinstance(tier, _Unset):
                updates["tier"] = tier
            candidate = attrs.evolve(customer, **updates)  # type: ignore[arg-type]
            manual_tier = not isinstance(tier, _Unset)  # an explicit tier is not reclassified
            staged = self.customers.stage(
                uow, customer, candidate, reason=reason, classify=False if manual_tier else None
            )
            return staged.after, list(staged.changes)

        return self.customers.visible(
            self.ctx.execute(principal, Action.CUSTOMER_UPDATE, command), principal
        )
