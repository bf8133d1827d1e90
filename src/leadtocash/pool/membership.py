"""Pool membership (成员范围): who may see a pool and claim from it.

Customer pools (:class:`~leadtocash.pool.rules.Pool`) and lead pools
(:class:`~leadtocash.pool.leads.LeadPool`) carry the same value and the same check. A pool's
:class:`PoolMembers` lists zones, teams, roles and named reps; a caller is a member
when any one of them matches (empty lists: everyone is a member, the behaviour before
membership existed). Membership only narrows: a zone's pool still refuses reps of other zones
(``pool.zone_mismatch``, :func:`leadtocash.pool.ownership.check_pool_zone`), and membership
additionally refuses everyone it does not list — including reps with no zone, whom the zone
rule lets through, and anyone at all for pools without a zone (product-line pools).

Claims are decided on membership for every caller. Reads are not: managers (admin, zone
managers, team leads, the system) keep their data-scope view of every pool. Records handed
out by a manager — assignment (分配), fair allocation and batch distribution — go only to
reps the pool admits, judged by :func:`rep_member`.
"""

from __future__ import annotations

import attrs

from leadtocash.access import Principal, Role
from leadtocash.errors import PermissionDenied
from leadtocash.model import PoolId, RepId, SalesRep, TeamId, ZoneId

__all__ = ["Member", "PoolMembers", "check_member", "claimer", "rep_member", "sees_pool"]


@attrs.frozen
class Member:
    """Who asks to use a pool: the rep, and the zone, team and roles membership looks at."""

    rep_id: RepId | None
    zone_id: ZoneId | None = None
    team_id: TeamId | None = None
    roles: frozenset[Role] = frozenset()

    @classmethod
    def of(cls, principal: Principal) -> Member:
        """The member a principal is (its rep, zone, team and roles)."""
        return cls(principal.rep_id, principal.zone_id, principal.team_id, principal.roles)


@attrs.frozen
class PoolMembers:
    """Who belongs to a pool: these zones, teams, roles or named reps; all empty = everyone."""

    zones: frozenset[ZoneId] = frozenset()
    teams: frozenset[TeamId] = frozenset()
    roles: frozenset[Role] = frozenset()
    reps: frozenset[RepId] = frozenset()

    @property
    def everyone(self) -> bool:
        """True when the pool is open to everyone (no dimension lists anybody)."""
        return not (self.zones or self.teams or self.roles or self.reps)

    def admits(self, member: Member) -> bool:
        """True when ``member`` matches one listed zone, team, role or rep (or all are empty)."""
        return (
            self.everyone
            or (member.zone_id is not None and member.zone_id in self.zones)
            or (member.team_id is not None and member.team_id in self.teams)
            or bool(member.roles & self.roles)
            or (member.rep_id is not None and member.rep_id in self.reps)
        )


def check_member(pool_id: PoolId, members: PoolMembers, member: Member) -> None:
    """Refuse a non-member of ``pool_id``: PermissionDenied ``pool.not_member`` naming both."""
    if members.admits(member):
        return
    who = member.rep_id or "-"
    raise PermissionDenied(
        f"{who} is not a member of pool {pool_id}",
        code="pool.not_member",
        details={"pool_id": pool_id, "rep_id": member.rep_id},
    )


def claimer(rep_id: RepId, rep_zone: ZoneId | None, member: Member | None) -> Member:
    """Who claims: ``member`` (which must be rep ``rep_id``), else the rep with its zone only
    (then team and role memberships do not admit it)."""
    who = member or Member(rep_id, rep_zone)
    if who.rep_id != rep_id:
        raise ValueError(f"the claiming member {who.rep_id} is not the claiming rep {rep_id}")
    return who


def rep_member(rep: SalesRep) -> Member:
    """A rep receiving records from a pool, as membership judges them: the zone and team the
    organisation model gives them and the REP role (a rep's other roles belong to its logins,
    which a manager handing out records does not act as)."""
    return Member(rep.id, rep.zone_id, rep.team_id, frozenset({Role.REP}))


def sees_pool(members: PoolMembers, principal: Principal) -> bool:
    """Whether ``principal`` sees the pool: managers by their data scope, others as members."""
    return principal.is_manager or members.admits(Member.of(principal))
