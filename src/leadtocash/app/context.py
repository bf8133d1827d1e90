"""What every application service needs: ports, policy and the command runner.

``AppContext.execute`` is the one path for state changes: it authorizes, runs the command in
a unit of work, writes the audit entry, commits, and retries storage conflicts a bounded time.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

import attrs

from leadtocash.access import Action, Principal, RolePolicy
from leadtocash.aftersales import Ticket
from leadtocash.app.cache import AggregateCache
from leadtocash.app.unit_of_work import UnitOfWork, run_with_retries
from leadtocash.audit import AuditEntry, new_salts
from leadtocash.classification import RequiredFields, TagRules, TierRules
from leadtocash.collision import CollisionPolicy
from leadtocash.durations import WorkingCalendar
from leadtocash.fields import PERSONAL_FIELDS
from leadtocash.intake import IntakeRules
from leadtocash.model import Contact, Customer, FollowUp, Lead
from leadtocash.pool.membership import Member
from leadtocash.ports.clock import Clock, IdSource
from leadtocash.ports.storage import Store
from leadtocash.scopes import DataScope, ScopePolicy, ScopeTarget
from leadtocash.settings import OrganisationSettings

__all__ = ["AppContext", "Change", "SettingsCell"]

R = TypeVar("R")

#: Snapshot types whose personal fields audit entries commit to (salted hashes) instead.
_PERSONAL: dict[type, tuple[str, ...]] = {
    Customer: PERSONAL_FIELDS["customer"],
    Contact: PERSONAL_FIELDS["contact"],
    Lead: PERSONAL_FIELDS["lead"],
    FollowUp: PERSONAL_FIELDS["follow_up"],
    Ticket: PERSONAL_FIELDS["ticket"],
}


def _salts(
    fields: tuple[str, ...],
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    entropy: Callable[[int], bytes],
) -> dict[str, str] | None:
    """Fresh salts for the personal fields that hold a value in either snapshot, or None."""
    present = [f for f in fields if (before and before.get(f)) or (after and after.get(f))]
    return new_salts(present, entropy) if present else None


@attrs.frozen
class Change:
    """What a command reports for its audit entry: target, before → after and reason."""

    target_kind: str
    target_id: str
    before: Any = None
    after: Any = None
    reason: str | None = None
    override: bool = False


class SettingsCell:
    """The settings one process runs with; replaced whole when they change (never mutated)."""

    def __init__(self, settings: OrganisationSettings) -> None:
        self.current = settings

    def __repr__(self) -> str:
        return f"SettingsCell(version={self.current.version})"


@attrs.frozen
class AppContext:
    """Ports and policies shared by the application services."""

    store: Store
    clock: Clock
    ids: IdSource
    policy: RolePolicy = attrs.field(factory=RolePolicy)
    scopes: ScopePolicy = attrs.field(factory=ScopePolicy)
    timezone: str = "Asia/Shanghai"
    calendar: WorkingCalendar | None = None
    max_attempts: int = 5
    #: The organisation's settings in force (stored ones, loaded by the facade); every
    #: service reads the rules below from here, so one update reaches every path.
    cell: SettingsCell = attrs.field(factory=lambda: SettingsCell(OrganisationSettings()))
    #: Random bytes for the salts of personal fields in audit entries (docs/audit.md,
    #: "Erasure"): the OS CSPRNG. Never a predictable source outside tests.
    entropy: Callable[[int], bytes] = os.urandom
    #: Aggregates kept between this process's units of work, reused while their stored
    #: version and document are unchanged (app/cache.py): reads skip most cattrs work.
    cache: AggregateCache = attrs.field(factory=AggregateCache)

    @property
    def settings(self) -> OrganisationSettings:
        """The organisation's settings in force."""
        return self.cell.current

    @property
    def intake(self) -> IntakeRules:
        """Lead intake rules (channels, required fields)."""
        return self.cell.current.intake

    @property
    def collision(self) -> CollisionPolicy:
        """The anti-collision policy (block / warn / allow per key)."""
        return self.cell.current.collision

    @property
    def tier_rules(self) -> TierRules:
        """The five-tier rules every customer change is classified with."""
        return self.cell.current.tier_rules

    @property
    def tag_rules(self) -> TagRules:
        """The system-tag rules."""
        return self.cell.current.tag_rules

    @property
    def required_fields(self) -> RequiredFields:
        """Required fields per entity, tier and stage."""
        return self.cell.current.required_fields

    def unit_of_work(self) -> UnitOfWork:
        """A fresh unit of work on this context's store."""
        return UnitOfWork(self.store, self.ids, collision=self.collision, cache=self.cache)

    def guard(
        self,
        uow: UnitOfWork,
        principal: Principal,
        target: ScopeTarget,
        *,
        write: bool,
        record: Any = None,
    ) -> str:
        """Check ``target`` is inside the principal's data scope; returns the reason.

        Raises PermissionDenied ``auth.out_of_scope`` otherwise. The owner's team is looked up
        only when a team scope needs it; the principal's zone and team are the organisation
        model's (:meth:`positioned`). ``record`` is the aggregate ``target`` was made from (a
        customer, a lead): a ``write`` judged on it commits only if it is unchanged then
        (``UnitOfWork.expect_unchanged``), so the scope it was judged on still holds.
        """
        principal = self.positioned(uow, principal)
        reason = self.scopes.check(principal, self._resolved(uow, principal, target), write=write)
        if write and record is not None:
            uow.expect_unchanged(record)
        return reason

    def in_scope(
        self, uow: UnitOfWork, principal: Principal, target: ScopeTarget, *, write: bool = False
    ) -> bool:
        """Whether ``target`` is inside the principal's data scope (for filtering lists)."""
        principal = self.positioned(uow, principal)
        return self.scopes.allows(principal, self._resolved(uow, principal, target), write=write)

    def member(self, uow: UnitOfWork, principal: Principal) -> Member:
        """``principal`` as a pool member, placed where the organisation model says (so pool
        membership by zone or team follows a rep who moved, like the data scope does)."""
        return Member.of(self.positioned(uow, principal))

    def positioned(self, uow: UnitOfWork, principal: Principal) -> Principal:
        """``principal`` placed where the organisation model (``crm.org``) says its rep works.

        The stored rep's zone and team win over what authentication said, so a rep moved to
        another zone or team is scoped there at once; a principal without a registered rep,
        or a rep without a zone or team, keeps the authenticator's.
        """
        if principal.rep_id is None:
            return principal
        rep = uow.reps.find(principal.rep_id)
        if rep is None:
            return principal
        zone, team = rep.zone_id or principal.zone_id, rep.team_id or principal.team_id
        if (zone, team) == (principal.zone_id, principal.team_id):
            return principal
        return attrs.evolve(principal, zone_id=zone, team_id=team)

    def _resolved(self, uow: UnitOfWork, principal: Principal, target: ScopeTarget) -> ScopeTarget:
        """``target`` with its owner's team filled in, when a team scope needs it."""
        scope = self.scopes.scope_of(principal)
        if scope is DataScope.TEAM and target.owner_rep and target.owner_team is None:
            owner = uow.reps.find(target.owner_rep)
            if owner is not None:
                return attrs.evolve(target, owner_team=owner.team_id)
        return target

    def read(self, principal: Principal, action: Action, query: Callable[[UnitOfWork], R]) -> R:
        """Authorize ``action`` then run a read-only ``query`` in a unit of work."""
        self.policy.check(principal, action)
        with self.unit_of_work() as uow:
            return query(uow)

    def execute(
        self,
        principal: Principal,
        action: Action,
        command: Callable[[UnitOfWork], tuple[R, list[Change]]],
    ) -> R:
        """Authorize, run ``command``, audit each Change it reports, and commit atomically.

        ``command`` stages its changes on the unit of work and returns its result plus the
        changes to audit. A command that raises commits nothing. Storage conflicts re-run
        the whole command (fresh reads) up to ``max_attempts`` times.
        """
        self.policy.check(principal, action)

        def attempt(uow: UnitOfWork) -> R:
            result, changes = command(uow)
            now = self.clock.now()
            for change in changes:
                before = None if change.before is None else uow.plain(change.before)
                after = None if change.after is None else uow.plain(change.after, change.before)
                fields = _PERSONAL.get(
                    type(change.after if change.before is None else change.before)
                )
                uow.audit(
                    AuditEntry(
                        id=self.ids.new_id("audit"),
                        at=now,
                        actor_id=principal.user_id,
                        action=action.value,
                        target_kind=change.target_kind,
                        target_id=change.target_id,
                        before=before,
                        after=after,
                        reason=change.reason,
                        override=change.override,
                        personal=None
                        if fields is None
                        else _salts(fields, before, after, self.entropy),
                    )
                )
            uow.commit()
            return uow.as_committed(result)

        return run_with_retries(self.unit_of_work, attempt, attempts=self.max_attempts)
