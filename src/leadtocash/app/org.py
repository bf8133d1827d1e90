"""Organisation admin (组织架构): zones (战区), teams and sales reps, audited and authorized.

What the allocator and the data scopes read — a rep's zone, team, weight, skills, availability
and daily caps, a team's zone — is written here and only here (``RepService`` delegates to the
same staging functions). References are checked: a zone or team must exist, a rep's team sits
in the rep's zone, a team lead is a member of the team. Every refusal is typed, names the
field and changes nothing.

A rep who leaves (离职) is deactivated, never deleted (history and audit keep naming them).
While they still own customers or open leads, leaving is refused with ``org.rep_has_book``
and the counts, unless ``handover_to`` names an available rep (离职交接): then every customer
is transferred (转移) through the customer write path and every open lead through the lead
write path (reclaim schedule, lead book, ownership event), in the same commit as the
deactivation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

import attrs

from leadtocash.access import Action, Principal
from leadtocash.app.context import AppContext, Change
from leadtocash.app.customers import CustomerWrites
from leadtocash.app.lead_writes import LeadPoolWrites
from leadtocash.app.unit_of_work import UnitOfWork
from leadtocash.errors import NotFound, PermissionDenied, RuleViolation, ValidationError
from leadtocash.model import (
    Customer,
    Lead,
    RepId,
    SalesRep,
    Team,
    TeamId,
    Zone,
    ZoneId,
)
from leadtocash.pool.book import OwnershipAction, RepBook
from leadtocash.pool.leads import LeadBook, lead_taken_by
from leadtocash.pool.ownership import check_available_rep, require_reason, taken_by
from leadtocash.scopes import DataScope, ScopeTarget, rep_target

__all__ = ["OrgService", "named_rep", "stage_new_rep", "stage_rep_change"]

_PAGE = 500
T = TypeVar("T")


def _duplicate(field: str, kind: str, ident: str) -> ValidationError:
    return ValidationError.single(field, "org.duplicate_id", f"{kind} {ident!r} already exists")


def stage_new_rep(uow: UnitOfWork, rep: SalesRep) -> list[Change]:
    """Stage a new rep (refused with ``org.duplicate_id`` when the id is taken)."""
    if uow.reps.find(rep.id) is not None:
        raise _duplicate("rep_id", "sales_rep", rep.id)
    uow.reps.add(rep)
    return [Change("sales_rep", rep.id, None, rep)]


def stage_rep_change(
    uow: UnitOfWork, before: SalesRep, after: SalesRep, reason: str | None = None
) -> list[Change]:
    """Stage a changed rep and its audit change; nothing when nothing changed."""
    if after == before:
        return []
    uow.reps.save(after)
    return [Change("sales_rep", before.id, before, after, reason)]


def named_rep(
    ctx: AppContext, uow: UnitOfWork, principal: Principal, rep_id: str, field: str = "rep_id"
) -> SalesRep:
    """The rep a caller names to be given work (a conversion, an assignment), checked.

    It must exist (``org.unknown_rep`` on ``field``), be available (``pool.rep_inactive``,
    ``pool.rep_on_leave``) and, unless it is the caller's own rep, sit inside the caller's
    data scope (a zone manager names reps of their zone, a team lead reps of their team).
    """
    rep = uow.reps.find(rep_id)
    if rep is None:
        raise ValidationError.single(field, "org.unknown_rep", f"no rep {rep_id!r}")
    check_available_rep(rep)
    if rep.id != principal.rep_id:
        ctx.guard(uow, principal, rep_target(rep), write=True)
    return rep


def _skills(skills: Iterable[str]) -> frozenset[str]:
    if isinstance(skills, str):
        skills = [skills]  # one skill, not its letters
    cleaned = set()
    for n, skill in enumerate(skills):
        if not isinstance(skill, str) or not skill.strip():
            raise ValidationError.single(f"skills[{n}]", "field.required", "must not be blank")
        cleaned.add(skill.strip())
    return frozenset(cleaned)


def _all(uow: UnitOfWork, kind: type[T], index: str, value: str) -> list[T]:
    """Every aggregate filed under ``value`` in ``index``, page by page."""
    found: list[T] = []
    cursor = None
    while True:
        page = uow.repository(kind).query(index, equals=value, after=cursor, limit=_PAGE)
        found.extend(page.items)
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor


@attrs.frozen
class OrgService:
    """Zones, teams and reps: set up, change, join, leave, on leave and back (audited)."""

    ctx: AppContext
    customers: CustomerWrites = attrs.field(
        init=False, default=attrs.Factory(lambda self: CustomerWrites(self.ctx), takes_self=True)
    )
    leads: LeadPoolWrites = attrs.field(
        init=False, default=attrs.Factory(lambda self: LeadPoolWrites(self.ctx), takes_self=True)
    )

    # -- shared checks --------------------------------------------------------------------------
    def _zone(self, uow: UnitOfWork, zone_id: str, field: str = "zone_id") -> Zone:
        zone = uow.zones.find(zone_id)
        if zone is None:
            raise ValidationError.single(field, "org.unknown_zone", f"no zone {zone_id!r}")
        return zone

    def _team(self, uow: UnitOfWork, team_id: str, field: str = "team_id") -> Team:
        team = uow.teams.find(team_id)
        if team is None:
            raise ValidationError.single(field, "org.unknown_team", f"no team {team_id!r}")
        return team

    def _placement(
        self, uow: UnitOfWork, zone_id: str | None, team_id: str | None
    ) -> tuple[ZoneId | None, TeamId | None]:
        """A checked (zone, team): both exist, the team sits in the zone (its zone by default)."""
        zone = None if zone_id is None else self._zone(uow, zone_id)
        if team_id is None:
            return (None if zone is None else zone.id), None
        team = self._team(uow, team_id)
        if zone is not None and team.zone_id != zone.id:
            raise ValidationError.single(
                "team_id",
                "org.team_not_in_zone",
                f"team {team.id!r} is in zone {team.zone_id!r}, not {zone.id!r}",
            )
        return team.zone_id, team.id

    def _guard_zone(self, uow: UnitOfWork, principal: Principal, kind: str, ident: str,
                    zone_id: ZoneId | None) -> None:  # fmt: skip
        """Zone managers act on reps and teams of their own zone only (not on zone-less ones,
        who would serve every zone); admins on all."""
        if zone_id is None and self.ctx.scopes.scope_of(principal) is not DataScope.ALL:
            raise PermissionDenied(
                f"{kind} {ident} has no zone: only an organisation-wide scope may manage it",
                code="auth.out_of_scope",
                details={"kind": kind, "id": ident, "user_id": principal.user_id, "write": True},
            )
        self.ctx.guard(uow, principal, ScopeTarget(kind, ident, zone=zone_id), write=True)

    def _rep(self, uow: UnitOfWork, principal: Principal, rep_id: str) -> SalesRep:
        rep = uow.reps.get(rep_id)
        self._guard_zone(uow, principal, "sales_rep", rep.id, rep.zone_id)
        return rep

    def _change_rep(
        self,
        principal: Principal,
        rep_id: str,
        edit: Callable[[SalesRep], SalesRep],
        reason: str | None = None,
    ) -> SalesRep:
        def command(uow: UnitOfWork) -> tuple[SalesRep, list[Change]]:
            rep = self._rep(uow, principal, rep_id)
            after = edit(rep)
            return after, stage_rep_change(uow, rep, after, reason)

        return self.ctx.execute(principal, Action.REP_MANAGE, command)

    # -- zones ----------------------------------------------------------------------------------
    def create_zone(
        self, principal: Principal, zone_id: str, name: str, *, timezone: str = "Asia/Shanghai"
    ) -> Zone:
        """Set up a zone (战区) with its IANA time zone (``zone.unknown_timezone`` otherwise)."""
        zone = Zone(ZoneId(zone_id), name, timezone)

        def command(uow: UnitOfWork) -> tuple[Zone, list[Change]]:
            if uow.zones.find(zone.id) is not None:
                raise _duplicate("zone_id", "zone", zone.id)
            uow.zones.add(zone)
            return zone, [Change("zone", zone.id, None, zone)]

        return self.ctx.execute(principal, Action.ORG_MANAGE, command)

    def _change_zone(
        self, principal: Principal, zone_id: str, edit: Callable[[Zone], Zone]
    ) -> Zone:
        def command(uow: UnitOfWork) -> tuple[Zone, list[Change]]:
            zone = uow.zones.get(zone_id)
            after = edit(zone)
            if after == zone:
                return zone, []
            uow.zones.save(after)
            return after, [Change("zone", zone.id, zone, after)]

        return self.ctx.execute(principal, Action.ORG_MANAGE, command)

    def rename_zone(self, principal: Principal, zone_id: str, name: str) -> Zone:
        """Rename a zone."""
        return self._change_zone(principal, zone_id, lambda z: attrs.evolve(z, name=name))

    def set_zone_timezone(self, principal: Principal, zone_id: str, timezone: str) -> Zone:
        """Change a zone's IANA time zone (its day edges)."""
        return self._change_zone(principal, zone_id, lambda z: attrs.evolve(z, timezone=timezone))

    # -- teams ----------------------------------------------------------------------------------
    def create_team(self, principal: Principal, team_id: str, name: str, zone_id: str) -> Team:
        """Set up a team inside an existing zone."""
        team = Team(TeamId(team_id), name, ZoneId(zone_id))

        def command(uow: UnitOfWork) -> tuple[Team, list[Change]]:
            self._zone(uow, zone_id)
            if uow.teams.find(team.id) is not None:
                raise _duplicate("team_id", "team", team.id)
            uow.teams.add(team)
            return team, [Change("team", team.id, None, team)]

        return self.ctx.execute(principal, Action.ORG_MANAGE, command)

    def rename_team(self, principal: Principal, team_id: str, name: str) -> Team:
        """Rename a team."""

        def command(uow: UnitOfWork) -> tuple[Team, list[Change]]:
            team = uow.teams.get(team_id)
            after = attrs.evolve(team, name=name)
            if after == team:
                return team, []
            uow.teams.save(after)
            return after, [Change("team", team.id, team, after)]

        return self.ctx.execute(principal, Action.ORG_MANAGE, command)

    def move_team(self, principal: Principal, team_id: str, zone_id: str) -> Team:
        """Move a team to another zone; its reps move with it (a rep's team is in its zone)."""

        def command(uow: UnitOfWork) -> tuple[Team, list[Change]]:
            team = uow.teams.get(team_id)
            zone = self._zone(uow, zone_id)
            if team.zone_id == zone.id:
                return team, []
            after = attrs.evolve(team, zone_id=zone.id)
            uow.teams.save(after)
            changes = [Change("team", team.id, team, after, f"moved to zone {zone.id}")]
            for rep in _all(uow, SalesRep, "team", team.id):
                moved = attrs.evolve(rep, zone_id=zone.id)
                changes += stage_rep_change(uow, rep, moved, f"team {team.id} moved")
            return after, changes

        return self.ctx.execute(principal, Action.ORG_MANAGE, command)

    def set_team_lead(self, principal: Principal, team_id: str, rep_id: str | None) -> Team:
        """Name the team lead (an active member of the team), or clear it with ``None``."""

        def command(uow: UnitOfWork) -> tuple[Team, list[Change]]:
            team = uow.teams.get(team_id)
            self._guard_zone(uow, principal, "team", team.id, team.zone_id)
            lead = None
            if rep_id is not None:
                rep = uow.reps.find(rep_id)
                if rep is None:
                    raise ValidationError.single("rep_id", "org.unknown_rep", f"no rep {rep_id!r}")
                if rep.team_id != team.id:
                    raise ValidationError.single(
                        "rep_id",
                        "org.lead_not_in_team",
                        f"rep {rep.id!r} is not a member of team {team.id!r}",
                    )
                if not rep.active:
                    check_available_rep(rep)
                lead = rep.id
            after = attrs.evolve(team, lead_rep_id=lead)
            if after == team:
                return team, []
            uow.teams.save(after)
            return after, [Change("team", team.id, team, after)]

        return self.ctx.execute(principal, Action.REP_MANAGE, command)

    # -- reps -----------------------------------------------------------------------------------
    def join(
        self,
        principal: Principal,
        rep_id: str,
        name: str,
        *,
        zone_id: str | None = None,
        team_id: str | None = None,
        email: str | None = None,
        weight: int = 1,
        skills: Iterable[str] = (),
        daily_claim_limit: int | None = None,
        daily_allocation_cap: int | None = None,
    ) -> SalesRep:
        """A rep joins (入职): zone and team checked (the team's zone by default), caps set."""
        cleaned = _skills(skills)
        draft = SalesRep(
            RepId(rep_id), name, email=email, weight=weight, skills=cleaned,
            daily_claim_limit=daily_claim_limit, daily_allocation_cap=daily_allocation_cap,
        )  # fmt: skip

        def command(uow: UnitOfWork) -> tuple[SalesRep, list[Change]]:
            zone, team = self._placement(uow, zone_id, team_id)
            rep = attrs.evolve(draft, zone_id=zone, team_id=team)
            self._guard_zone(uow, principal, "sales_rep", rep.id, rep.zone_id)
            return rep, stage_new_rep(uow, rep)

        return self.ctx.execute(principal, Action.REP_MANAGE, command)

    def move_rep(
        self, principal: Principal, rep_id: str, *, zone_id: str | None, team_id: str | None
    ) -> SalesRep:
        """Move a rep to another zone and/or team (``team_id=None``: no team); a team they led
        loses its lead in the same commit."""

        def command(uow: UnitOfWork) -> tuple[SalesRep, list[Change]]:
            rep = self._rep(uow, principal, rep_id)
            zone, team = self._placement(uow, zone_id, team_id)
            after = attrs.evolve(rep, zone_id=zone, team_id=team)
            self._guard_zone(uow, principal, "sales_rep", rep.id, after.zone_id)
            changes = stage_rep_change(uow, rep, after, "moved")
            if rep.team_id is not None and rep.team_id != team:
                changes += self._depart(uow, rep, "moved")
            return after, changes

        return self.ctx.execute(principal, Action.REP_MANAGE, command)

    def _depart(self, uow: UnitOfWork, rep: SalesRep, how: str) -> list[Change]:
        """``rep`` leaves their (old) team: its ``last_departure_at`` is set and, if they led
        it, its lead cleared. Always saved, so a concurrent ``set_team_lead`` naming ``rep``
        (which saves the team too) conflicts, re-runs and finds them gone."""
        if rep.team_id is None:
            return []
        team = uow.teams.find(rep.team_id)
        if team is None:
            return []
        led = team.lead_rep_id == rep.id
        after = attrs.evolve(
            team,
            lead_rep_id=None if led else team.lead_rep_id,
            last_departure_at=self.ctx.clock.now(),
        )
        uow.teams.save(after)
        reason = f"{'lead' if led else 'member'} {rep.id} {how}"
        return [Change("team", team.id, team, after, reason)]

    def go_on_leave(self, principal: Principal, rep_id: str, reason: str | None = None) -> SalesRep:
        """A rep goes on leave (休假): keeps their book, gets no new allocations or assignments.

        A rep who left cannot go on leave (``pool.rep_inactive``)."""

        def edit(rep: SalesRep) -> SalesRep:
            if not rep.active:
                check_available_rep(rep)
            return attrs.evolve(rep, on_leave=True)

        return self._change_rep(principal, rep_id, edit, reason)

    def return_from_leave(self, principal: Principal, rep_id: str) -> SalesRep:
        """A rep is back from leave and may be given work again."""
        return self._change_rep(principal, rep_id, lambda r: attrs.evolve(r, on_leave=False))

    def set_weight(
        self, principal: Principal, rep_id: str, weight: int, reason: str | None = None
    ) -> SalesRep:
        """Change a rep's allocation weight (their share of fair allocation)."""
        return self._change_rep(principal, rep_id, lambda r: attrs.evolve(r, weight=weight), reason)

    def set_skills(self, principal: Principal, rep_id: str, skills: Iterable[str]) -> SalesRep:
        """Replace a rep's skills (allocation routes leads needing skills to reps having them)."""
        cleaned = _skills(skills)
        return self._change_rep(principal, rep_id, lambda r: attrs.evolve(r, skills=cleaned))

    def set_daily_caps(
        self,
        principal: Principal,
        rep_id: str,
        *,
        daily_claim_limit: int | None,
        daily_allocation_cap: int | None,
    ) -> SalesRep:
        """Set a rep's own daily claim limit and allocation cap (``None`` or 0: off)."""

        def edit(rep: SalesRep) -> SalesRep:
            return attrs.evolve(
                rep, daily_claim_limit=daily_claim_limit, daily_allocation_cap=daily_allocation_cap
            )

        return self._change_rep(principal, rep_id, edit)

    def leave(
        self,
        principal: Principal,
        rep_id: str,
        reason: str,
        *,
        handover_to: str | None = None,
    ) -> SalesRep:
        """A rep leaves (离职): deactivated; their book goes to ``handover_to`` (离职交接).

        Refused with ``org.rep_has_book`` (counts of customers and open leads) when they still
        own any and no handover rep is named. A team they led loses its lead.
        """
        why = require_reason(reason)

        def command(uow: UnitOfWork) -> tuple[SalesRep, list[Change]]:
            rep = self._rep(uow, principal, rep_id)
            if not rep.active:
                return rep, []
            # The books first, before what they count (see _close_books); a book the store
            # does not have yet stays missing for this unit of work.
            uow.preload((RepBook, rep.id), (LeadBook, rep.id))
            customers = _all(uow, Customer, "owner", rep.id)
            # open leads only (new, working, qualified): closed ones keep their owner
            leads = _all(uow, Lead, "open_owner", rep.id)
            changes: list[Change] = []
            if (customers or leads) and handover_to is None:
                raise RuleViolation(
                    f"rep {rep.id} still owns {len(customers)} customers and {len(leads)} "
                    "open leads; name a rep to hand them over to",
                    code="org.rep_has_book",
                    details={"rep_id": rep.id, "customers": len(customers), "leads": len(leads)},
                )
            if handover_to is not None:
                changes += self._handover(uow, principal, rep, handover_to, customers, leads, why)
            self._close_books(uow, rep.id)
            after = attrs.evolve(rep, active=False, on_leave=False)
            changes += stage_rep_change(uow, rep, after, why)
            changes += self._depart(uow, rep, "left the company")
            return after, changes

        return self.ctx.execute(principal, Action.REP_MANAGE, command)

    def _close_books(self, uow: UnitOfWork, rep_id: RepId) -> None:
        """Save the leaving rep's customer and lead books with ``left_at``.

        A claim, assignment or allocation to the rep saves one of them too. The books were
        read before the rep's customers and leads were, so a gain that commits after that
        read makes this commit conflict and re-run (it then sees the new customer or lead and
        hands it over or refuses), and a gain that read the rep as active before this commit
        conflicts, re-runs and is refused: the rep has left.
        """
        now = self.ctx.clock.now()
        book = self.customers.book(uow, rep_id)  # as preloaded, or as the handover left it
        lead_book = uow.repository(LeadBook).find(rep_id) or LeadBook(rep_id)
        uow.repository(RepBook).save(attrs.evolve(book, left_at=now))
        uow.repository(LeadBook).save(attrs.evolve(lead_book, left_at=now))

    def _handover(
        self,
        uow: UnitOfWork,
        principal: Principal,
        rep: SalesRep,
        to_id: str,
        customers: Sequence[Customer],
        leads: Sequence[Lead],
        why: str,
    ) -> list[Change]:
        if to_id == rep.id:
            raise ValidationError.single(
                "handover_to", "org.handover_to_self", "a rep cannot hand over to themself"
            )
        to = uow.reps.find(to_id)
        if to is None:
            raise ValidationError.single("handover_to", "org.unknown_rep", f"no rep {to_id!r}")
        check_available_rep(to)
        self._guard_zone(uow, principal, "sales_rep", to.id, to.zone_id)
        now = self.ctx.clock.now()
        reason = f"handover from {rep.id}: {why}"
        changes: list[Change] = []
        for customer in customers:
            _, audit = self.customers.move(
                uow, principal, customer, taken_by(customer, to.id, now),
                OwnershipAction.TRANSFER, reason=reason,
            )  # fmt: skip
            changes += audit
        for lead in leads:  # through the lead write path: schedule, score, lead book, event
            _, audit = self.leads.move(
                uow, principal, lead, lead_taken_by(lead, to.id, now),
                OwnershipAction.TRANSFER, reason=reason,
            )  # fmt: skip
            changes += audit
        return changes

    # -- reads ----------------------------------------------------------------------------------
    def get_zone(self, principal: Principal, zone_id: str) -> Zone:
        """One zone."""
        return self.ctx.read(principal, Action.ORG_READ, lambda uow: uow.zones.get(zone_id))

    def get_team(self, principal: Principal, team_id: str) -> Team:
        """One team."""
        return self.ctx.read(principal, Action.ORG_READ, lambda uow: uow.teams.get(team_id))

    def get_rep(self, principal: Principal, rep_id: str) -> SalesRep:
        """One rep."""
        return self.ctx.read(principal, Action.ORG_READ, lambda uow: uow.reps.get(rep_id))

    def members(self, principal: Principal, team_id: str) -> tuple[SalesRep, ...]:
        """The reps of a team (inactive ones included), by id."""

        def query(uow: UnitOfWork) -> tuple[SalesRep, ...]:
            if uow.teams.find(team_id) is None:
                raise NotFound("team", team_id)
            return tuple(_all(uow, SalesRep, "team", team_id))

        return self.ctx.read(principal, Action.ORG_READ, query)

    def zone_reps(self, principal: Principal, zone_id: str) -> tuple[SalesRep, ...]:
        """The reps of a zone (inactive ones included), by id."""

        def query(uow: UnitOfWork) -> tuple[SalesRep, ...]:
            if uow.zones.find(zone_id) is None:
                raise NotFound("zone", zone_id)
            return tuple(_all(uow, SalesRep, "zone", zone_id))

        return self.ctx.read(principal, Action.ORG_READ, query)
