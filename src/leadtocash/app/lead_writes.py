"""The one write path of a pooled lead (线索池), shared by the lead-pool commands and the
pipeline: reschedule the lead's reclaim under its pool's rules, save it, report its audit
change and, for ownership moves, count the new owner's lead book and write the outbox event.
"""

from __future__ import annotations

import attrs

from leadtocash.access import Principal
from leadtocash.app.context import AppContext, Change
from leadtocash.app.documents import all_pages
from leadtocash.app.lead_scores import LeadScoring
from leadtocash.app.unit_of_work import UnitOfWork
from leadtocash.errors import NotFound, PermissionDenied
from leadtocash.events import LeadOwnershipChanged
from leadtocash.model import FollowUp, Lead, PoolId, RepId, SalesRep
from leadtocash.pool.book import OwnershipAction
from leadtocash.pool.leads import (
    LeadBook,
    LeadOwnershipChange,
    LeadOwnershipFacts,
    LeadPool,
    LeadPoolRules,
    lead_with_schedule,
)
from leadtocash.pool.membership import check_member
from leadtocash.ports.storage import IndexQuery
from leadtocash.scopes import ScopeTarget, lead_target, rep_target

__all__ = ["LeadPoolWrites", "all_lead_pools", "check_lead_member", "lead_ledger_id"]


def lead_ledger_id(pool_id: PoolId) -> PoolId:
    """Id of a lead pool's fairness ledger (apart from any customer pool's of the same id)."""
    return PoolId(f"lead|{pool_id}")


@attrs.frozen
class LeadPoolWrites:
    """The one write path of a pooled lead: reschedule, save, audit change, ownership event."""

    ctx: AppContext

    def pool(self, uow: UnitOfWork, pool_id: PoolId) -> LeadPool:
        """The lead pool, or NotFound ``lead_pool``."""
        found = uow.repository(LeadPool).find(pool_id)
        if found is None:
            raise NotFound("lead_pool", pool_id)
        return found

    def rules_of(self, uow: UnitOfWork, pool_id: PoolId | None) -> LeadPoolRules:
        """The rules of ``pool_id`` (all-off rules for leads outside pools); the commit then
        expects the pool unchanged, as ``CustomerWrites.rules_of`` does (a rule change
        committed meanwhile re-runs the command on the new rules)."""
        if pool_id is None:
            return LeadPoolRules()
        pool = self.pool(uow, pool_id)
        uow.expect_unchanged(pool)
        return pool.rules

    def open_leads(self, uow: UnitOfWork, rep_id: RepId) -> int:
        """How many open leads the rep holds (an indexed count)."""
        return uow.leads.count(IndexQuery("lead", "open_owner", equals=rep_id))

    def facts(self, uow: UnitOfWork, rep_id: RepId) -> LeadOwnershipFacts:
        """Time, calendar and the rep's open leads, as the lead rules read them."""
        return LeadOwnershipFacts(
            now=self.ctx.clock.now(),
            timezone=self.ctx.timezone,
            open_leads=self.open_leads(uow, rep_id),
            calendar=self.ctx.calendar,
        )

    def scheduled(self, uow: UnitOfWork, lead: Lead) -> Lead:
        """``lead`` with its reclaim schedule recomputed under its pool's rules."""
        rules = self.rules_of(uow, lead.pool_id)
        return lead_with_schedule(
            lead, rules, timezone=self.ctx.timezone, calendar=self.ctx.calendar
        )

    def stage(
        self,
        uow: UnitOfWork,
        before: Lead,
        candidate: Lead,
        *,
        reason: str | None = None,
        override: bool = False,
        follow_ups: tuple[FollowUp, ...] = (),
    ) -> tuple[Lead, list[Change]]:
        """Reschedule, rescore and save ``candidate``; its audit change (none when nothing
        changed). ``follow_ups`` staged in this unit of work count for the lead score."""
        after = LeadScoring(self.ctx).rescored(
            uow, before, self.scheduled(uow, candidate), follow_ups
        )
        if after == before:
            return before, []
        now = self.ctx.clock.now()
        if after.updated_at != now:
            after = attrs.evolve(after, updated_at=now)
        uow.leads.save(after)
        return after, [Change("lead", after.id, before, after, reason, override)]

    def progressed(self, uow: UnitOfWork, before: Lead, after: Lead) -> Lead:
        """Save a lead whose status moved (the pipeline): "no progress" restarts, rescheduled.

        Returns the saved lead; the caller audits it as before.
        """
        if after.status is not before.status:
            after = attrs.evolve(after, status_changed_at=self.ctx.clock.now())
        after = self.scheduled(uow, after)
        uow.leads.save(after)
        return after

    def move(
        self,
        uow: UnitOfWork,
        principal: Principal,
        before: Lead,
        after: Lead,
        action: OwnershipAction,
        *,
        reason: str | None = None,
        override: bool = False,
    ) -> tuple[Lead, list[Change]]:
        """Stage an ownership change: the lead, the new owner's lead book, the history line,
        the event."""
        saved, changes = self.stage(uow, before, after, reason=reason, override=override)
        if saved.owner_id is not None and saved.owner_id != before.owner_id:
            books = uow.repository(LeadBook)
            book = books.find(saved.owner_id) or LeadBook(saved.owner_id)
            books.save(book.gained())
        now = self.ctx.clock.now()
        uow.repository(LeadOwnershipChange).add(
            LeadOwnershipChange(
                id=self.ctx.ids.new_id("lead_ownership"), lead_id=saved.id, action=action,
                at=now, actor_id=principal.user_id, from_rep=before.owner_id,
                to_rep=saved.owner_id, from_pool=before.pool_id, to_pool=saved.pool_id,
                reason=reason, override=override,
            )
        )  # fmt: skip
        uow.record(
            LeadOwnershipChanged(
                now, saved.id, action.value, before.owner_id, saved.owner_id, saved.pool_id,
                reason,
            )
        )  # fmt: skip
        return saved, changes

    def guard(self, uow: UnitOfWork, principal: Principal, lead: Lead, *, write: bool) -> str:
        """Data-scope check on one lead (PermissionDenied ``auth.out_of_scope``); a ``write``
        commits only if the lead is unchanged (``AppContext.guard``'s ``record``)."""
        return self.ctx.guard(uow, principal, lead_target(lead), write=write, record=lead)

    def guard_pool(
        self, uow: UnitOfWork, principal: Principal, pool: LeadPool, *, write: bool
    ) -> str:
        """Data-scope check on a lead pool (its zone)."""
        target = ScopeTarget("lead_pool", pool.id, zone=pool.zone_id, in_pool=True)
        return self.ctx.guard(uow, principal, target, write=write)

    def guard_rep(self, uow: UnitOfWork, principal: Principal, rep: SalesRep) -> None:
        """Refuse giving work to a rep outside the assigner's data scope (their zone or team)."""
        self.ctx.guard(uow, principal, rep_target(rep), write=True)

    def owner_or_manager(self, uow: UnitOfWork, principal: Principal, lead: Lead) -> None:
        """Managers within their scope, and the owner (the commit then expects the lead
        unchanged)."""
        uow.expect_unchanged(lead)
        if principal.is_manager:
            self.guard(uow, principal, lead, write=True)
            return
        if principal.rep_id is None or principal.rep_id != lead.owner_id:
            raise PermissionDenied(
                f"{principal.user_id} does not own lead {lead.id}",
                code="lead_pool.not_owner",
                details={"lead_id": lead.id, "user_id": principal.user_id},
            )


def all_lead_pools(uow: UnitOfWork) -> list[LeadPool]:
    """Every lead pool of the organisation, by name (an organisation has tens, not more)."""
    return all_pages(uow.repository(LeadPool), "name", at_least="")


def check_lead_member(ctx: AppContext, uow: UnitOfWork, principal: Principal, lead: Lead) -> None:
    """Read check on one lead: in the data scope, and — when the caller reaches an unowned
    lead only through its lead pool — a member of that pool (``pool.not_member``; managers
    by their data scope alone)."""
    reason = ctx.guard(uow, principal, lead_target(lead), write=False)
    if reason == "pool" and lead.pool_id is not None and not principal.is_manager:
        pool = uow.repository(LeadPool).find(lead.pool_id)
        if pool is not None:
            check_member(pool.id, pool.members, ctx.member(uow, principal))
