"""Sales-rep use cases: register reps, change availability and weight.

The record-level path (imports, tests, set-ups that reference zones made later); the
organisation admin API is ``OrgService`` (``crm.org``), which checks references. Both stage
their changes through the same functions of ``leadtocash.app.org``.
"""

from __future__ import annotations

import attrs

from leadtocash.access import Action, Principal
from leadtocash.app.context import AppContext, Change
from leadtocash.app.org import stage_new_rep, stage_rep_change
from leadtocash.app.unit_of_work import UnitOfWork
from leadtocash.model import RepId, SalesRep

__all__ = ["RepService"]


@attrs.frozen
class RepService:
    """Register and update sales reps (audited like every other change)."""

    ctx: AppContext

    def register(self, principal: Principal, rep: SalesRep) -> SalesRep:
        """Store a new rep as given (its version must be 0; ``org.duplicate_id`` if taken)."""

        def command(uow: UnitOfWork) -> tuple[SalesRep, list[Change]]:
            return rep, stage_new_rep(uow, rep)

        return self.ctx.execute(principal, Action.REP_MANAGE, command)

    def update(
        self,
        principal: Principal,
        rep_id: RepId,
        *,
        active: bool | None = None,
        on_leave: bool | None = None,
        weight: int | None = None,
        reason: str | None = None,
    ) -> SalesRep:
        """Change a rep's availability or allocation weight."""

        def command(uow: UnitOfWork) -> tuple[SalesRep, list[Change]]:
            rep = uow.reps.get(rep_id)
            after = attrs.evolve(
                rep,
                active=rep.active if active is None else active,
                on_leave=rep.on_leave if on_leave is None else on_leave,
                weight=rep.weight if weight is None else weight,
            )
            # nothing to change: nothing written, nothing audited
            return after, stage_rep_change(uow, rep, after, reason)

        return self.ctx.execute(principal, Action.REP_MANAGE, command)

    def get(self, principal: Principal, rep_id: str) -> SalesRep:
        """One rep."""
        return self.ctx.read(principal, Action.CUSTOMER_READ, lambda uow: uow.reps.get(rep_id))
