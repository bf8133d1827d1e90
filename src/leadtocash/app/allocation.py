"""Fair allocation (分配 / 批量分配) through the unit of work, with the ledger persisted per pool.

One command loads the pool's ``FairnessLedger``, the candidate reps with their counters (rep
book, today's claims), runs the pure allocator, assigns every allocated customer exactly like a
manager's assignment (history, audit, outbox) and saves the new ledger — all in one commit, so
concurrent allocations on one pool conflict on the ledger's version and retry instead of
drifting. Refused customers (nobody eligible) stay in the pool and come back with the reasons.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import TypeVar

import attrs

from leadtocash.access import Action, Principal
from leadtocash.allocation.eligibility import LeadProfile, RepState
from leadtocash.allocation.ledger import FairnessLedger
from leadtocash.allocation.outcome import AllocationResult, Assignment, Refusal
from leadtocash.allocation.policies import AllocationPolicy, FairPolicy
from leadtocash.allocation.run import allocate, distribute_batch
from leadtocash.app.context import AppContext, Change
from leadtocash.app.customers import CustomerWrites
from leadtocash.app.unit_of_work import UnitOfWork
from leadtocash.durations import local_day
from leadtocash.errors import ValidationError
from leadtocash.model import Customer, PoolId, RepId, SalesRep, ZoneId
from leadtocash.pool.book import DailyClaims, OwnershipAction, RepBook, Tiered, daily_claims_id
from leadtocash.pool.membership import rep_member
from leadtocash.pool.ownership import check_in_pool, check_unowned, taken_by
from leadtocash.pool.rules import Pool

__all__ = ["AllocationReport", "AllocationService", "candidate_reps", "settle"]

#: Runs one pure allocation: ledger, leads and rep states in, result out.
Allocator = Callable[[FairnessLedger, list[LeadProfile], list[RepState]], AllocationResult]


@attrs.frozen
class AllocationReport:
    """What an allocation did: assignments with explanations, refusals with reasons."""

    assignments: tuple[Assignment, ...]
    refusals: tuple[Refusal, ...]
    ledger: FairnessLedger

    def counts(self) -> dict[str, int]:
        """Customers assigned per rep."""
        counts: dict[str, int] = {}
        for assignment in self.assignments:
            counts[assignment.rep_id] = counts.get(assignment.rep_id, 0) + 1
        return counts


def candidate_reps(
    uow: UnitOfWork, zone_id: ZoneId | None, rep_ids: Sequence[RepId] | None
) -> list[SalesRep]:
    """The reps named by ``rep_ids``, else every rep of the pool's zone (a pool without a zone
    needs them named: ValidationError on ``rep_ids``)."""
    if rep_ids is not None:
        return [uow.reps.get(rep_id) for rep_id in rep_ids]
    if zone_id is None:
        raise ValidationError.single(
            "rep_ids", "field.required", "pools without a zone need explicit rep_ids"
        )
    return list(uow.reps.query("zone", equals=zone_id, limit=10_000).items)


def settle(
    uow: UnitOfWork, ledger: FairnessLedger, result: AllocationResult, reason: str
) -> tuple[AllocationReport, Change]:
    """Save ``result``'s ledger over the loaded ``ledger`` (keeping its version, so concurrent
    allocations on one pool conflict) and report what was assigned and refused; the ledger's
    audit change. Shared by customer and lead pools."""
    new_ledger = attrs.evolve(result.ledger, version=ledger.version)
    uow.repository(FairnessLedger).save(new_ledger)
    report = AllocationReport(
        tuple(o for o in result.outcomes() if isinstance(o, Assignment)),
        tuple(o for o in result.outcomes() if isinstance(o, Refusal)),
        new_ledger,
    )
    return report, Change("fairness_ledger", new_ledger.id, ledger, new_ledger, reason)


R = TypeVar("R", bound=Tiered)


def hand_over(
    uow: UnitOfWork,
    result: AllocationResult,
    records: Mapping[str, R],
    give: Callable[[R, RepId, str], list[Change]],
    counter_id: Callable[[PoolId, RepId, date], str],
    pool_id: PoolId,
    day: date,
    reason: str,
) -> list[Change]:
    """Give each assigned record to its rep through ``give`` (the record's write path: record,
    rep, reason with the explanation -> audit changes) and count it on the rep's daily counter
    of ``pool_id`` for ``day``. Shared by customer and lead pools."""
    changes: list[Change] = []
    counters = uow.repository(DailyClaims)
    for outcome in result.outcomes():
        if not isinstance(outcome, Assignment):
            continue
        before = records[outcome.lead_id]
        changes.extend(give(before, outcome.rep_id, f"{reason}: {outcome.explanation.text()}"))
        ident = counter_id(pool_id, outcome.rep_id, day)
        counter = counters.find(ident) or DailyClaims(ident, pool_id, outcome.rep_id, day)
        counters.save(counter.counted(before))
    return changes


@attrs.frozen
class AllocationService:
    """Allocates pool customers to reps fairly and explainably."""

    ctx: AppContext
    customers: CustomerWrites = attrs.field(
        init=False, default=attrs.Factory(lambda self: CustomerWrites(self.ctx), takes_self=True)
    )

    def _reps(self, uow: UnitOfWork, pool: Pool, rep_ids: Sequence[RepId] | None) -> list[SalesRep]:
        return candidate_reps(uow, pool.zone_id, rep_ids)

    def _state(self, uow: UnitOfWork, pool: Pool, rep: SalesRep) -> RepState:
        rules = pool.rules
        book = self.customers.book(uow, rep.id)
        counted = book.counted(
            exclude_won=rules.capacity_excludes_won, exclude_locked=rules.capacity_excludes_locked
        )
        day = local_day(self.ctx.clock.now(), self.ctx.timezone)
        today = uow.repository(DailyClaims).find(daily_claims_id(pool.id, rep.id, day))
        return RepState.from_rep(
            rep,
            zones=(pool.zone_id,) if pool.zone_id and rep.zone_id == pool.zone_id else (),
            owned=counted,
            capacity=rules.capacity or None,
            today=today.count if today else 0,
            daily_cap=rules.daily_claim_limit or None,
            member=pool.members.admits(rep_member(rep)),
        )

    def _preload(
        self, uow: UnitOfWork, pool: Pool, reps: Sequence[SalesRep], customer_ids: Sequence[str]
    ) -> None:
        """Read what an allocation reads per rep (book, today's counter) and per customer in
        one store call, instead of one call each."""
        day = local_day(self.ctx.clock.now(), self.ctx.timezone)
        uow.preload(
            *((RepBook, rep.id) for rep in reps),
            *((DailyClaims, daily_claims_id(pool.id, rep.id, day)) for rep in reps),
            *((Customer, customer_id) for customer_id in customer_ids),
        )

    def _run(
        self,
        principal: Principal,
        pool_id: PoolId,
        customer_ids: Sequence[str],
        rep_ids: Sequence[RepId] | None,
        allocate_fn: Allocator,
        reason: str,
    ) -> AllocationReport:
        def command(uow: UnitOfWork) -> tuple[AllocationReport, list[Change]]:
            uow.preload((Pool, pool_id), (FairnessLedger, pool_id))
            pool = uow.repository(Pool).get(pool_id)
            self.customers.guard_pool(uow, principal, pool, write=True)  # managers: their zone
            ledgers = uow.repository(FairnessLedger)
            ledger = ledgers.find(pool_id) or FairnessLedger(pool_id)
            candidates = self._reps(uow, pool, rep_ids)
            self._preload(uow, pool, candidates, customer_ids)
            reps = [self._state(uow, pool, rep) for rep in candidates]
            customers: dict[str, Customer] = {}
            leads = []
            for cid in customer_ids:
                customer = uow.customers.get(cid)
                check_unowned(customer)
                check_in_pool(customer, pool.id)
                customers[customer.id] = customer
                leads.append(
                    LeadProfile(
                        customer.id, zone_id=customer.zone_id, fields={"tier": customer.tier}
                    )
                )
            result: AllocationResult = allocate_fn(ledger, leads, reps)
            now = self.ctx.clock.now()

            def give(before: Customer, rep_id: RepId, why: str) -> list[Change]:
                taken = taken_by(before, rep_id, now)
                return self.customers.move(
                    uow, principal, before, taken, OwnershipAction.ASSIGN, reason=why
                )[1]

            changes = hand_over(
                uow, result, customers, give, daily_claims_id, pool.id,
                local_day(now, self.ctx.timezone), reason,
            )  # fmt: skip
            report, settled = settle(uow, ledger, result, reason)
            return report, [*changes, settled]

        return self.ctx.execute(principal, Action.POOL_ASSIGN, command)

    def allocate(
        self,
        principal: Principal,
        pool_id: PoolId,
        customer_ids: Sequence[str],
        *,
        seed: int,
        rep_ids: Sequence[RepId] | None = None,
        policy: AllocationPolicy | None = None,
    ) -> AllocationReport:
        """Give each customer to the eligible rep the policy picks (fair by default)."""
        chosen = policy or FairPolicy()

        def run(
            ledger: FairnessLedger, leads: list[LeadProfile], reps: list[RepState]
        ) -> AllocationResult:
            return allocate(ledger, leads, reps, seed=seed, policy=chosen)

        return self._run(principal, pool_id, customer_ids, rep_ids, run, f"allocated ({chosen})")

    def distribute(
        self,
        principal: Principal,
        pool_id: PoolId,
        customer_ids: Sequence[str],
        rep_ids: Sequence[RepId],
        *,
        seed: int,
    ) -> AllocationReport:
        """批量分配: split the selected customers over the selected reps (counts within 1)."""

        def run(
            ledger: FairnessLedger, leads: list[LeadProfile], reps: list[RepState]
        ) -> AllocationResult:
            return distribute_batch(ledger, leads, reps, seed=seed)

        return self._run(principal, pool_id, customer_ids, rep_ids, run, "distributed")
