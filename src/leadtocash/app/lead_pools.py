"""Lead pools (线索池): claim, assign, release, follow-up, fair distribution, routing, sweep.

The customer pool's pattern for leads: every command runs through ``AppContext.execute``
(authorized, atomic, audited, retried on conflicts), and every lead change goes through one
write path (``LeadPoolWrites``) that reschedules the lead's reclaim, saves it and, for moves,
writes the outbox event. Counters are aggregates saved in the same commit (the rep's daily
claims from a pool, the rep's ``LeadBook``), so limits and capacity hold under any
interleaving. The sweep reads only what is due (indexed). Pool membership (成员范围) decides
who sees a lead pool and claims from it, as for customer pools.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs

from leadtocash.access import Action, Principal
from leadtocash.allocation.eligibility import LeadProfile, RepState
from leadtocash.allocation.ledger import FairnessLedger
from leadtocash.allocation.outcome import AllocationResult
from leadtocash.allocation.policies import AllocationPolicy, FairPolicy
from leadtocash.allocation.routing import Routing
from leadtocash.allocation.run import allocate, distribute_batch
from leadtocash.app.allocation import AllocationReport, candidate_reps, hand_over, settle
from leadtocash.app.context import AppContext, Change
from leadtocash.app.customers import rep_of
from leadtocash.app.documents import batch_size
from leadtocash.app.lead_writes import (
    LeadPoolWrites,
    all_lead_pools,
    check_lead_member,
    lead_ledger_id,
)
from leadtocash.app.reclaim import (
    SweepReport,
    due_ids,
    pending_recomputes,
    request_recompute,
    run_recompute,
    run_sweep,
)
from leadtocash.app.release_targets import check_release_target
from leadtocash.app.unit_of_work import Page, UnitOfWork
from leadtocash.durations import local_day
from leadtocash.errors import NotFound
from leadtocash.events import LeadReclaimWarning
from leadtocash.model import (
    FollowUp,
    FollowUpId,
    FollowUpKind,
    Lead,
    PoolId,
    RepId,
    SalesRep,
    ZoneId,
)
from leadtocash.pool.book import DailyClaims, OwnershipAction
from leadtocash.pool.leads import (
    LeadOwnershipChange,
    LeadOwnershipFacts,
    LeadPool,
    LeadPoolRules,
    decide_lead_assign,
    decide_lead_claim,
    decide_lead_release,
    decide_lead_transfer,
    lead_claims_id,
    lead_returned,
    lead_taken_by,
)
from leadtocash.pool.membership import PoolMembers, check_member, rep_member, sees_pool
from leadtocash.pool.ownership import (
    check_available_rep,
    check_in_pool,
    check_owned,
    check_unowned,
    require_reason,
)
from leadtocash.pool.reclaim import LeadScheduleRecompute
from leadtocash.scopes import ScopeTarget

__all__ = ["LeadPoolService"]

#: Runs one pure allocation: ledger, profiles and rep states in, result out.
_Allocator = Callable[[FairnessLedger, list[LeadProfile], list[RepState]], AllocationResult]


@attrs.frozen
class LeadPoolService:
    """Lead pools (线索池) and the leads in them: ownership, distribution and reclaim."""

    ctx: AppContext
    #: The lead write path shared with the pipeline (status progress reschedules reclaim).
    leads: LeadPoolWrites = attrs.field(
        init=False, default=attrs.Factory(lambda self: LeadPoolWrites(self.ctx), takes_self=True)
    )

    # -- pools ----------------------------------------------------------------------------------
    def create_pool(
        self,
        principal: Principal,
        name: str,
        *,
        zone_id: ZoneId | None = None,
        product_line: str | None = None,
        rules: LeadPoolRules | None = None,
        pool_id: PoolId | None = None,
        members: PoolMembers | None = None,
    ) -> LeadPool:
        """Create a lead pool of a zone or product line, with its rules and members (default:
        everyone)."""
        pool = LeadPool(
            id=pool_id or PoolId(self.ctx.ids.new_id("lead_pool")),
            name=name,
            zone_id=zone_id,
            product_line=product_line,
            rules=rules or LeadPoolRules(),
            members=members or PoolMembers(),
        )

        def command(uow: UnitOfWork) -> tuple[LeadPool, list[Change]]:
            self.leads.guard_pool(uow, principal, pool, write=True)
            check_release_target(uow, pool.id, pool.rules)
            uow.repository(LeadPool).add(pool)
            return pool, [Change("lead_pool", pool.id, None, pool)]

        return self.ctx.execute(principal, Action.POOL_MANAGE, command)

    def set_members(
        self, principal: Principal, pool_id: PoolId, members: PoolMembers, reason: str
    ) -> LeadPool:
        """Set who may see and claim from a lead pool (成员范围; empty = everyone); reason
        required."""
        why = require_reason(reason)

        def command(uow: UnitOfWork) -> tuple[LeadPool, list[Change]]:
            pool = self.leads.pool(uow, pool_id)
            self.leads.guard_pool(uow, principal, pool, write=True)
            if pool.members == members:
                return pool, []
            after = attrs.evolve(pool, members=members)
            uow.repository(LeadPool).save(after)
            return after, [Change("lead_pool", pool.id, pool, after, why)]

        return self.ctx.execute(principal, Action.POOL_MANAGE, command)

    def update_rules(
        self,
        principal: Principal,
        pool_id: PoolId,
        rules: LeadPoolRules,
        reason: str,
        *,
        page: int = 500,
        recompute: bool = True,
    ) -> int:
        """Replace a lead pool's rules and recompute its owned leads' schedules; returns how
        many changed.

        The rule change and a pending ``LeadScheduleRecompute`` commit together; the schedules
        are then recomputed page by page, each page committing with the job's progress. If the
        process stops midway (or ``recompute`` is off), ``resume_recomputes`` — which every
        lead sweep runs first — finishes the job.
        """
        batch_size(page, "page")
        why = require_reason(reason)

        def command(uow: UnitOfWork) -> tuple[LeadPool, list[Change]]:
            pool = self.leads.pool(uow, pool_id)
            self.leads.guard_pool(uow, principal, pool, write=True)
            check_release_target(uow, pool.id, rules)
            after = attrs.evolve(pool, rules=rules)
            uow.repository(LeadPool).save(after)
            request_recompute(uow, LeadScheduleRecompute, pool_id, self.ctx.clock.now(), why)
            return after, [Change("lead_pool", pool.id, pool, after, why)]

        self.ctx.execute(principal, Action.POOL_MANAGE, command)
        if not recompute:
            return 0
        return self._recompute(principal, pool_id, page, Action.POOL_MANAGE)

    def resume_recomputes(
        self, principal: Principal, *, page: int = 500, max_pages: int | None = None
    ) -> int:
        """Finish every lead pool's pending schedule recomputation (left by a stopped process);
        how many schedules changed. ``max_pages`` bounds the work per pool; a system job like
        the sweep (action ``pool.sweep``)."""
        batch_size(page, "page")
        self.ctx.policy.check(principal, Action.POOL_SWEEP)
        return sum(
            self._recompute(principal, pool_id, page, Action.POOL_SWEEP, max_pages=max_pages)
            for pool_id in pending_recomputes(self.ctx, LeadScheduleRecompute)
        )

    def _recompute(
        self,
        principal: Principal,
        pool_id: PoolId,
        page: int,
        action: Action,
        *,
        max_pages: int | None = None,
    ) -> int:
        return run_recompute(
            self.ctx, principal, action, LeadScheduleRecompute, pool_id,
            lambda uow, after: uow.leads.query(
                "owned_lead_pool", equals=pool_id, after=after, limit=page
            ),
            lambda uow, lead, why: self.leads.stage(uow, lead, lead, reason=why)[1],
            "lead pool", max_pages=max_pages,
        )  # fmt: skip

    def add_lead(
        self, principal: Principal, lead_id: str, pool_id: PoolId, *, reason: str | None = None
    ) -> Lead:
        """Put an unowned open lead into a lead pool (its zone and product line fill the
        lead's when it has none); a lead already in another pool moves."""

        def command(uow: UnitOfWork) -> tuple[Lead, list[Change]]:
            lead = uow.leads.get(lead_id)
            check_unowned(lead, kind="lead")
            pool = self.leads.pool(uow, pool_id)
            self.leads.guard(uow, principal, lead, write=True)
            self.leads.guard_pool(uow, principal, pool, write=True)
            now = self.ctx.clock.now()
            candidate = attrs.evolve(
                lead,
                pool_id=pool.id,
                pool_entered_at=now if lead.pool_id != pool.id else lead.pool_entered_at,
                zone_id=lead.zone_id or pool.zone_id,
                product_line=lead.product_line or pool.product_line,
            )
            return self.leads.stage(uow, lead, candidate, reason=reason or "added to lead pool")

        return self.ctx.execute(principal, Action.POOL_ASSIGN, command)

    def _guard_member(self, uow: UnitOfWork, principal: Principal, pool: LeadPool) -> None:
        """Read-scope check on a lead pool; non-managers must be members (``pool.not_member``)."""
        self.leads.guard_pool(uow, principal, pool, write=False)
        if not principal.is_manager:
            check_member(pool.id, pool.members, self.ctx.member(uow, principal))

    def history(self, principal: Principal, lead_id: str) -> list[LeadOwnershipChange]:
        """The lead's ownership history (线索流转记录), oldest first: whoever may read the lead
        (``crm.leads.get``'s checks) may read it."""

        def query(uow: UnitOfWork) -> list[LeadOwnershipChange]:
            check_lead_member(self.ctx, uow, principal, uow.leads.get(lead_id))
            return uow.repository(LeadOwnershipChange).whole_group("lead", lead_id)

        return self.ctx.read(principal, Action.LEAD_READ, query)

    def get_pool(self, principal: Principal, pool_id: PoolId) -> LeadPool:
        """One lead pool with its rules (members only; managers by their data scope)."""

        def query(uow: UnitOfWork) -> LeadPool:
            pool = self.leads.pool(uow, pool_id)
            self._guard_member(uow, principal, pool)
            return pool

        return self.ctx.read(principal, Action.LEAD_READ, query)

    def list_pool(
        self,
        principal: Principal,
        pool_id: PoolId,
        *,
        after: tuple[str, str] | None = None,
        limit: int = 50,
    ) -> Page[Lead]:
        """One page of the unowned open leads in a lead pool, by id; members only (managers
        by their data scope): others get PermissionDenied ``pool.not_member``."""

        def query(uow: UnitOfWork) -> Page[Lead]:
            self._guard_member(uow, principal, self.leads.pool(uow, pool_id))
            return uow.leads.query("lead_pool", equals=pool_id, after=after, limit=limit)

        return self.ctx.read(principal, Action.LEAD_READ, query)

    def list_pools(self, principal: Principal) -> list[LeadPool]:
        """The lead pools the caller sees, by name: managers those in their data scope,
        everyone else the pools in scope whose membership admits them."""

        def query(uow: UnitOfWork) -> list[LeadPool]:
            positioned = self.ctx.positioned(uow, principal)
            return [
                pool for pool in all_lead_pools(uow)
                if sees_pool(pool.members, positioned)
                and self.ctx.in_scope(
                    uow, principal,
                    ScopeTarget("lead_pool", pool.id, zone=pool.zone_id, in_pool=True),
                )
            ]  # fmt: skip

        return self.ctx.read(principal, Action.LEAD_READ, query)

    # -- ownership ------------------------------------------------------------------------------
    def claim(self, principal: Principal, lead_id: str) -> Lead:
        """A rep claims (领取) an open lead from its pool for themself."""
        rep_id = rep_of(principal)

        def command(uow: UnitOfWork) -> tuple[Lead, list[Change]]:
            lead = uow.leads.get(lead_id)
            pool, counter = None, None
            if lead.pool_id is not None and lead.owner_id is None:
                pool = self.leads.pool(uow, lead.pool_id)
                day = local_day(self.ctx.clock.now(), self.ctx.timezone)
                counter_id = lead_claims_id(pool.id, rep_id, day)
                counter = uow.repository(DailyClaims).find(counter_id) or DailyClaims(
                    counter_id, pool.id, rep_id, day
                )
            facts = self.leads.facts(uow, rep_id)
            rep = uow.reps.find(rep_id)  # the organisation's rep: active? its own daily limit
            if rep is not None and not rep.active:
                check_available_rep(rep)
            limit = rep.daily_claim_limit if rep is not None else None
            claim = decide_lead_claim(
                lead, rep_id, principal.zone_id, pool, counter, facts, rep_limit=limit,
                member=self.ctx.member(uow, principal),
            )  # fmt: skip
            uow.repository(DailyClaims).save(claim.counter)
            return self.leads.move(uow, principal, lead, claim.lead, OwnershipAction.CLAIM)

        return self.ctx.execute(principal, Action.POOL_CLAIM, command)

    def assign(
        self,
        principal: Principal,
        lead_id: str,
        rep_id: RepId,
        *,
        reason: str | None = None,
        override: bool = False,
    ) -> Lead:
        """A manager assigns (分配) an unowned open lead to an active rep not on leave whom the
        lead's pool admits, both inside the manager's scope; ``override`` (permissioned,
        reason required) skips membership and capacity."""
        if override:
            self.ctx.policy.check(principal, Action.POOL_OVERRIDE)
            require_reason(reason)

        def command(uow: UnitOfWork) -> tuple[Lead, list[Change]]:
            lead = uow.leads.get(lead_id)
            check_unowned(lead, kind="lead")
            rep, pool, facts = self._receiver(uow, principal, lead, rep_id)
            after = decide_lead_assign(lead, rep, pool, facts, override=override)
            return self.leads.move(
                uow, principal, lead, after, OwnershipAction.ASSIGN, reason=reason,
                override=override,
            )  # fmt: skip

        return self.ctx.execute(principal, Action.POOL_ASSIGN, command)

    def transfer(
        self,
        principal: Principal,
        lead_id: str,
        to_rep: RepId,
        reason: str,
        *,
        override: bool = False,
    ) -> Lead:
        """A manager moves (转移) an owned open lead to another active rep, both inside the
        manager's scope, in one commit (no window in the pool); reason required, ``override``
        (permissioned) skips the receiver's open-lead capacity."""
        why = require_reason(reason)
        if override:
            self.ctx.policy.check(principal, Action.POOL_OVERRIDE)

        def command(uow: UnitOfWork) -> tuple[Lead, list[Change]]:
            lead = uow.leads.get(lead_id)
            check_owned(lead, kind="lead")
            rep, pool, facts = self._receiver(uow, principal, lead, to_rep)
            after = decide_lead_transfer(lead, rep, pool, facts, override=override)
            return self.leads.move(
                uow, principal, lead, after, OwnershipAction.TRANSFER, reason=why,
                override=override,
            )  # fmt: skip

        return self.ctx.execute(principal, Action.POOL_TRANSFER, command)

    def _receiver(
        self, uow: UnitOfWork, principal: Principal, lead: Lead, rep_id: RepId
    ) -> tuple[SalesRep, LeadPool | None, LeadOwnershipFacts]:
        """Who a manager gives ``lead`` to: the lead and the rep in the manager's scope (the
        rep must exist), the lead's pool and the rep's ownership facts."""
        self.leads.guard(uow, principal, lead, write=True)
        rep = uow.reps.find(rep_id)
        if rep is None:
            raise NotFound("sales_rep", rep_id)
        self.leads.guard_rep(uow, principal, rep)
        pool = self.leads.pool(uow, lead.pool_id) if lead.pool_id else None
        return rep, pool, self.leads.facts(uow, rep.id)

    def release(self, principal: Principal, lead_id: str, reason: str) -> Lead:
        """The owner (or a manager) releases (退回) a lead to its pool; reason required."""
        why = require_reason(reason)

        def command(uow: UnitOfWork) -> tuple[Lead, list[Change]]:
            lead = uow.leads.get(lead_id)
            check_owned(lead, kind="lead")
            self.leads.owner_or_manager(uow, principal, lead)
            rules = self.leads.rules_of(uow, lead.pool_id)
            after = decide_lead_release(lead, rules, self.ctx.clock.now())
            return self.leads.move(uow, principal, lead, after, OwnershipAction.RELEASE, reason=why)

        return self.ctx.execute(principal, Action.POOL_RELEASE, command)

    def log_follow_up(
        self,
        principal: Principal,
        lead_id: str,
        *,
        kind: FollowUpKind = FollowUpKind.CALL,
        note: str = "",
    ) -> FollowUp:
        """The owner logs a follow-up (跟进) on a lead: it restarts the "no follow-up" clock."""
        rep_id = rep_of(principal)

        def command(uow: UnitOfWork) -> tuple[FollowUp, list[Change]]:
            lead = uow.leads.get(lead_id)
            check_owned(lead, kind="lead")
            self.leads.owner_or_manager(uow, principal, lead)
            now = self.ctx.clock.now()
            follow_up = FollowUp(
                id=FollowUpId(self.ctx.ids.new_id("follow_up")), rep_id=rep_id, at=now,
                kind=kind, lead_id=lead.id, note=note,
            )  # fmt: skip
            uow.follow_ups.add(follow_up)
            _, changes = self.leads.stage(
                uow, lead, attrs.evolve(lead, last_follow_up_at=now), follow_ups=(follow_up,)
            )
            return follow_up, [Change("follow_up", follow_up.id, None, follow_up), *changes]

        return self.ctx.execute(principal, Action.FOLLOW_UP_LOG, command)

    # -- fair allocation ------------------------------------------------------------------------
    def _state(self, uow: UnitOfWork, pool: LeadPool, rep: SalesRep) -> RepState:
        rules = pool.rules
        day = local_day(self.ctx.clock.now(), self.ctx.timezone)
        today = uow.repository(DailyClaims).find(lead_claims_id(pool.id, rep.id, day))
        return RepState.from_rep(
            rep,
            zones=(pool.zone_id,) if pool.zone_id and rep.zone_id == pool.zone_id else (),
            owned=self.leads.open_leads(uow, rep.id),
            capacity=rules.capacity or None,
            today=today.count if today else 0,
            daily_cap=rules.daily_claim_limit or None,
            member=pool.members.admits(rep_member(rep)),
        )

    def _run(
        self,
        principal: Principal,
        pool_id: PoolId,
        lead_ids: Sequence[str],
        rep_ids: Sequence[RepId] | None,
        routing: Routing | None,
        allocate_fn: Callable[[Sequence[RepId]], _Allocator],
        reason: str,
    ) -> AllocationReport:
        def command(uow: UnitOfWork) -> tuple[AllocationReport, list[Change]]:
            pool = self.leads.pool(uow, pool_id)
            self.leads.guard_pool(uow, principal, pool, write=True)  # managers: their zone
            ledger_id = lead_ledger_id(pool.id)
            ledger = uow.repository(FairnessLedger).find(ledger_id) or FairnessLedger(ledger_id)
            reps = [
                self._state(uow, pool, rep) for rep in candidate_reps(uow, pool.zone_id, rep_ids)
            ]
            leads: dict[str, Lead] = {}
            profiles = []
            for lead_id in lead_ids:
                lead = uow.leads.get(lead_id)
                check_unowned(lead, kind="lead")
                check_in_pool(lead, pool.id, kind="lead")
                leads[lead.id] = lead
                extra = {"product_line": lead.product_line} if lead.product_line else None
                profile = LeadProfile.from_lead(lead, extra=extra)
                profiles.append(routing.profile(profile) if routing else profile)
            result = allocate_fn([rep.rep_id for rep in reps])(ledger, profiles, reps)
            now = self.ctx.clock.now()

            def give(before: Lead, rep_id: RepId, why: str) -> list[Change]:
                taken = lead_taken_by(before, rep_id, now)
                return self.leads.move(
                    uow, principal, before, taken, OwnershipAction.ASSIGN, reason=why
                )[1]

            changes = hand_over(
                uow, result, leads, give, lead_claims_id, pool.id,
                local_day(now, self.ctx.timezone), reason,
            )  # fmt: skip
            report, settled = settle(uow, ledger, result, reason)
            return report, [*changes, settled]

        return self.ctx.execute(principal, Action.POOL_ASSIGN, command)

    def allocate(
        self,
        principal: Principal,
        pool_id: PoolId,
        lead_ids: Sequence[str],
        *,
        seed: int,
        rep_ids: Sequence[RepId] | None = None,
        routing: Routing | None = None,
        policy: AllocationPolicy | None = None,
    ) -> AllocationReport:
        """Give each pool lead to the eligible rep the policy picks (fair by default); with
        ``routing``, its first matching row decides the eligible reps (channel, zone, product
        line, skills) and every explanation names the row."""
        chosen = policy or FairPolicy()

        def make(everyone: Sequence[RepId]) -> _Allocator:
            used = routing.policy(everyone, then=chosen) if routing else chosen

            def run(
                ledger: FairnessLedger, leads: list[LeadProfile], reps: list[RepState]
            ) -> AllocationResult:
                return allocate(ledger, leads, reps, seed=seed, policy=used)

            return run

        why = f"allocated ({chosen})" + (" with routing" if routing else "")
        return self._run(principal, pool_id, lead_ids, rep_ids, routing, make, why)

    def distribute(
        self,
        principal: Principal,
        pool_id: PoolId,
        lead_ids: Sequence[str],
        rep_ids: Sequence[RepId],
        *,
        seed: int,
    ) -> AllocationReport:
        """批量分配: split the selected pool leads over the selected reps (counts within 1,
        the remainder carried across batches by the pool's ledger)."""

        def make(_everyone: Sequence[RepId]) -> _Allocator:
            def run(
                ledger: FairnessLedger, leads: list[LeadProfile], reps: list[RepState]
            ) -> AllocationResult:
                return distribute_batch(ledger, leads, reps, seed=seed)

            return run

        return self._run(principal, pool_id, lead_ids, rep_ids, None, make, "distributed")

    # -- reclaim sweep --------------------------------------------------------------------------
    def sweep(self, principal: Principal, *, batch: int = 500) -> SweepReport:
        """Warn owners of leads close to reclaim, then send every due lead back to its pool.

        Reads only the due entries of two indexes; each lead is re-checked under its current
        version and reclaimed in its own unit of work. Pending schedule recomputations
        (``update_rules`` left unfinished) are finished first.
        """
        batch_size(batch, "batch")
        self.ctx.policy.check(principal, Action.POOL_SWEEP)
        self.resume_recomputes(principal, page=batch)  # due dates first follow the rules
        return run_sweep(
            self.ctx, principal, due_ids(self.ctx, Lead, "reclaim_warn", batch),
            due_ids(self.ctx, Lead, "reclaim_due", batch), self._warn, self._reclaim,
            "lead pool",
        )  # fmt: skip

    def _warn(
        self, uow: UnitOfWork, principal: Principal, lead_id: str
    ) -> tuple[bool, list[Change]]:
        lead = uow.leads.get(lead_id)
        now = self.ctx.clock.now()
        due, warn = lead.reclaim_due_at, lead.warn_at
        if lead.owner_id is None or due is None or warn is None or warn > now:
            return False, []
        if lead.warned_due_at == due:
            return False, []
        after = attrs.evolve(lead, warned_due_at=due)
        uow.leads.save(after)  # only the sweep's own mark moves: no schedule change
        uow.record(
            LeadReclaimWarning(
                now, lead.id, lead.owner_id, due, lead.reclaim_rule or "",
                lead.reclaim_provisional,
            )
        )  # fmt: skip
        return True, [Change("lead", lead.id, lead, after, "reclaim warning")]

    def _reclaim(
        self, uow: UnitOfWork, principal: Principal, lead_id: str
    ) -> tuple[str, list[Change]]:
        stored = uow.leads.get(lead_id)
        lead = self.leads.scheduled(uow, stored)
        now = self.ctx.clock.now()
        if lead.owner_id is None:
            return "not_owned", []
        due = lead.reclaim_due_at
        if due is None or due > now:  # the stored schedule was stale: fix it
            why = "reclaim schedule recomputed"
            return "not_due", self.leads.stage(uow, stored, lead, reason=why)[1]
        target = self.leads.rules_of(uow, lead.pool_id).release_to or lead.pool_id
        assert target is not None  # owned leads with a schedule come from a pool
        after = lead_returned(lead, target, now)
        reason = f"reclaimed: {lead.reclaim_rule}"
        _, changes = self.leads.move(
            uow, principal, stored, after, OwnershipAction.RECLAIM, reason=reason
        )
        return "reclaimed", changes
