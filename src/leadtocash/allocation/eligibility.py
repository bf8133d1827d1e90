"""Who may receive a lead: zone, skills, availability, weight, owned capacity and daily cap.

Zone rule: a lead without a zone fits every rep; a rep without a zone covers every zone; a
rep covers its own zone plus the extra ``zones`` it is assigned to (cross-zone reps).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

from leadtocash.model import Lead, RepId, SalesRep, ZoneId, stricter_limit
from leadtocash.validators import optional_non_negative

__all__ = ["LeadProfile", "Reason", "RepEligibility", "RepState", "check_eligibility"]


def _fields(
    value: Mapping[str, object] | Iterable[tuple[str, object]],
) -> tuple[tuple[str, str], ...]:
    items = value.items() if isinstance(value, Mapping) else value
    return tuple(sorted((str(k), str(v)) for k, v in items))


def _strs(value: Iterable[str]) -> frozenset[str]:
    return frozenset(value)


def _zones(value: Iterable[ZoneId]) -> frozenset[ZoneId]:
    return frozenset(value)


@attrs.frozen
class LeadProfile:
    """What allocation needs to know about a lead: zone, required skills and rule fields."""

    lead_id: str
    zone_id: ZoneId | None = None
    skills: frozenset[str] = attrs.field(default=frozenset(), converter=_strs)
    fields: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_fields)

    def field(self, name: str) -> str | None:
        """The value of one rule field, or ``None`` when the lead does not have it."""
        for key, value in self.fields:
            if key == name:
                return value
        return None

    @classmethod
    def from_lead(
        cls, lead: Lead, *, skills: Iterable[str] = (), extra: Mapping[str, object] | None = None
    ) -> LeadProfile:
        """Profile of a core-model lead: zone, channel, tier and campaign as rule fields."""
        fields: dict[str, object] = {"channel": lead.channel.value, "tier": lead.tier.value}
        if lead.campaign:
            fields["campaign"] = lead.campaign
        if lead.zone_id:
            fields["zone"] = lead.zone_id
        fields.update(extra or {})
        return cls(lead.id, lead.zone_id, frozenset(skills), fields)


@attrs.frozen
class RepState:
    """A rep as allocation sees them now: weight, territory, skills, availability and counters.

    ``capacity`` caps ``owned`` and ``daily_cap`` caps ``today``; ``None`` means no cap. A
    negative cap is a ValidationError naming the field (``field.negative``).
    """

    rep_id: RepId
    weight: int = 1
    zone_id: ZoneId | None = None
    zones: frozenset[ZoneId] = attrs.field(default=frozenset(), converter=_zones)
    skills: frozenset[str] = attrs.field(default=frozenset(), converter=_strs)
    active: bool = True
    on_leave: bool = False
    owned: int = 0
    capacity: int | None = attrs.field(default=None, validator=optional_non_negative)
    today: int = 0
    daily_cap: int | None = attrs.field(default=None, validator=optional_non_negative)
    open_leads: int = 0
    #: Whether the pool's membership (成员范围) admits the rep; a non-member is never chosen.
    member: bool = True

    @classmethod
    def from_rep(
        cls,
        rep: SalesRep,
        *,
        zones: Iterable[ZoneId] = (),
        owned: int = 0,
        capacity: int | None = None,
        today: int = 0,
        daily_cap: int | None = None,
        open_leads: int = 0,
        member: bool = True,
    ) -> RepState:
        """State of a core-model rep with the pool's counters and caps.

        ``daily_cap`` is the pool's; the rep's own ``daily_allocation_cap`` applies as well
        and the stricter of the two wins (0 or ``None``: off).
        """
        return cls(
            rep.id,
            rep.weight,
            rep.zone_id,
            frozenset(zones),
            rep.skills,
            rep.active,
            rep.on_leave,
            owned,
            capacity,
            today,
            stricter_limit(daily_cap, rep.daily_allocation_cap),
            open_leads,
            member,
        )

    @property
    def available(self) -> bool:
        """Active and not on leave."""
        return self.active and not self.on_leave

    def room(self) -> int | None:
        """How many more leads the caps allow now (``None`` when uncapped)."""
        rooms = [
            cap - used
            for cap, used in ((self.capacity, self.owned), (self.daily_cap, self.today))
            if cap is not None
        ]
        return max(0, min(rooms)) if rooms else None


@attrs.frozen
class Reason:
    """One eligibility fact: a stable ``code``, a short English message and its details.

    ``details`` (name, value) pairs fill the translated text of ``explanation.<code>``.
    """

    code: str
    message: str
    details: tuple[tuple[str, str | tuple[str, ...]], ...] = ()


@attrs.frozen
class RepEligibility:
    """Whether one rep may receive one lead, with every reason that decided it."""

    rep_id: RepId
    eligible: bool
    reasons: tuple[Reason, ...]


def static_reasons(lead: LeadProfile, rep: RepState) -> tuple[bool, tuple[Reason, ...]]:
    """Zone, skills, availability, weight and pool membership (the facts that do not change
    within a batch)."""
    reasons: list[Reason] = []
    ok = True
    if not rep.active:
        ok = False
        reasons.append(Reason("availability.inactive", "inactive"))
    elif rep.on_leave:
        ok = False
        reasons.append(Reason("availability.on_leave", "on leave"))
    else:
        reasons.append(Reason("availability.ok", "available"))
    if lead.zone_id is None:
        reasons.append(Reason("zone.any", "lead has no zone"))
    elif rep.zone_id is None:
        reasons.append(
            Reason(
                "zone.unrestricted",
                f"covers every zone incl. {lead.zone_id}",
                (("zone", lead.zone_id),),
            )
        )
    elif rep.zone_id == lead.zone_id:
        reasons.append(Reason("zone.match", f"zone {lead.zone_id}", (("zone", lead.zone_id),)))
    elif lead.zone_id in rep.zones:
        reasons.append(
            Reason("zone.cross", f"cross-zone {lead.zone_id}", (("zone", lead.zone_id),))
        )
    else:
        ok = False
        reasons.append(
            Reason(
                "zone.mismatch",
                f"zone {rep.zone_id} does not cover {lead.zone_id}",
                (("rep_zone", rep.zone_id), ("zone", lead.zone_id)),
            )
        )
    missing = lead.skills - rep.skills
    if missing:
        ok = False
        reasons.append(
            Reason(
                "skills.missing",
                "missing " + ", ".join(sorted(missing)),
                (("skills", tuple(sorted(missing))),),
            )
        )
    elif lead.skills:
        reasons.append(
            Reason(
                "skills.ok",
                "skills " + ", ".join(sorted(lead.skills)),
                (("skills", tuple(sorted(lead.skills))),),
            )
        )
    if rep.weight <= 0:
        ok = False
        reasons.append(Reason("weight.zero", "weight 0"))
    if not rep.member:
        ok = False
        reasons.append(Reason("membership.not_member", "not a member of the pool"))
    return ok, tuple(reasons)


def cap_reasons(rep: RepState) -> tuple[bool, tuple[Reason, ...]]:
    """Owned capacity (库容) and daily cap, as counted now."""
    reasons: list[Reason] = []
    ok = True
    if rep.capacity is not None:
        full = rep.owned >= rep.capacity
        ok = ok and not full
        code = "capacity.full" if full else "capacity.ok"
        reasons.append(Reason(code, f"{rep.owned}/{rep.capacity} owned"))
    if rep.daily_cap is not None:
        full = rep.today >= rep.daily_cap
        ok = ok and not full
        code = "daily_cap.reached" if full else "daily_cap.ok"
        reasons.append(Reason(code, f"{rep.today}/{rep.daily_cap} today"))
    return ok, tuple(reasons)


def check_eligibility(
    lead: LeadProfile, rep: RepState, allowed: frozenset[RepId] | None = None
) -> RepEligibility:
    """Every reason one rep may or may not receive one lead (``allowed``: a rule's rep set)."""
    ok, reasons = static_reasons(lead, rep)
    caps_ok, caps = cap_reasons(rep)
    extra: tuple[Reason, ...] = ()
    if allowed is not None:
        if rep.rep_id in allowed:
            extra = (Reason("rule.included", "named by the matching rule"),)
        else:
            ok = False
            extra = (Reason("rule.excluded", "not named by the matching rule"),)
    return RepEligibility(rep.rep_id, ok and caps_ok, reasons + caps + extra)
