"""SLA policies (服务级别): first-response and resolution targets per priority and customer tier.

A policy for ``(priority, tier)`` wins over the priority's default (``tier=None``); every
priority needs a default. Targets count business hours of the organisation's calendar (or
plain hours for 24×7 service); ``warn_before`` is counted on each target's own clock, and
``Duration(0)`` switches a target (or its warning) off. A ticket stores the :class:`SlaTerms`
it was opened under, so a later policy change applies only when the app re-applies it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

import attrs

from leadtocash.aftersales.business_time import SLA_UNITS
from leadtocash.aftersales.priority import TicketPriority, parse_priority
from leadtocash.durations import Duration, DurationUnit
from leadtocash.errors import FieldError, ValidationError
from leadtocash.model import Tier

__all__ = [
    "DEFAULT_SLA_POLICIES",
    "WARN_BEFORE",
    "SlaPolicies",
    "SlaPolicy",
    "SlaTarget",
    "SlaTerms",
    "default_sla_policies",
]


#: Default warning: one hour of the target's clock before it falls due.
WARN_BEFORE = Duration(1, DurationUnit.BUSINESS_HOURS)


class SlaTarget(enum.StrEnum):
    """What an SLA promises: a first response, and a resolution."""

    FIRST_RESPONSE = "first_response"
    RESOLUTION = "resolution"


def _unit_errors(where: str, durations: Iterable[tuple[str, Duration]]) -> list[FieldError]:
    return [
        FieldError(
            f"{where}.{name}",
            "sla.unit",
            f"{name} is counted in hours or business hours, not {value.unit}",
        )
        for name, value in durations
        if value.unit not in SLA_UNITS
    ]


@attrs.frozen
class SlaTerms:
    """The targets one ticket runs under (a snapshot of the policy that applied)."""

    first_response: Duration
    resolution: Duration
    warn_before: Duration = WARN_BEFORE
    policy: str = ""

    def __attrs_post_init__(self) -> None:
        errors = _unit_errors("sla", self._durations())
        if errors:
            raise ValidationError(errors)

    def _durations(self) -> tuple[tuple[str, Duration], ...]:
        return (
            ("first_response", self.first_response),
            ("resolution", self.resolution),
            ("warn_before", self.warn_before),
        )

    def target(self, target: SlaTarget) -> Duration:
        """The duration promised for ``target``."""
        return self.first_response if target is SlaTarget.FIRST_RESPONSE else self.resolution


@attrs.frozen
class SlaPolicy:
    """Targets for one priority, for one customer tier or (``tier=None``) for every tier."""

    priority: TicketPriority = attrs.field(converter=parse_priority)
    first_response: Duration
    resolution: Duration
    tier: Tier | None = None
    warn_before: Duration = WARN_BEFORE

    @property
    def name(self) -> str:
        """``P3`` for a default policy, ``P3/A`` for a tier's."""
        return self.priority.value + (f"/{self.tier.value}" if self.tier is not None else "")

    def terms(self) -> SlaTerms:
        """The terms a ticket stores when this policy applies."""
        return SlaTerms(self.first_response, self.resolution, self.warn_before, self.name)


def default_sla_policies() -> tuple[SlaPolicy, ...]:
    """P1 1h/8h, P2 2h/16h, P3 4h/40h, P4 8h/80h (business hours; warn 1h before)."""
    bh = Duration.business_hours
    return (
        SlaPolicy(TicketPriority.P1, bh(1), bh(8)),
        SlaPolicy(TicketPriority.P2, bh(2), bh(16)),
        SlaPolicy(TicketPriority.P3, bh(4), bh(40)),
        SlaPolicy(TicketPriority.P4, bh(8), bh(80)),
    )


def _policies(value: Iterable[SlaPolicy]) -> tuple[SlaPolicy, ...]:
    return tuple(value)


@attrs.frozen
class SlaPolicies:
    """The organisation's SLA table; construction validates it (ValidationError naming the row)."""

    policies: tuple[SlaPolicy, ...] = attrs.field(factory=default_sla_policies, converter=_policies)

    def __attrs_post_init__(self) -> None:
        errors: list[FieldError] = []
        seen: set[tuple[TicketPriority, Tier | None]] = set()
        for policy in self.policies:
            where = f"policies.{policy.name}"
            durations = (
                ("first_response", policy.first_response),
                ("resolution", policy.resolution),
                ("warn_before", policy.warn_before),
            )
            errors += _unit_errors(where, durations)
            key = (policy.priority, policy.tier)
            if key in seen:
                message = f"two policies for {policy.name}"
                errors.append(FieldError(where, "sla.policy_duplicate", message))
            seen.add(key)
        for priority in TicketPriority:
            if (priority, None) not in seen:
                message = f"{priority.value} needs a default policy (tier None)"
                errors.append(
                    FieldError(f"policies.{priority.value}", "sla.policy_missing", message)
                )
        if errors:
            raise ValidationError(errors)

    def policy_for(self, priority: TicketPriority, tier: Tier | None) -> SlaPolicy:
        """The tier's policy for ``priority`` if there is one, else the priority's default."""
        found = {(p.priority, p.tier): p for p in self.policies}
        return found.get((priority, tier)) or found[(priority, None)]

    def terms_for(self, priority: TicketPriority, tier: Tier | None) -> SlaTerms:
        """The terms a ticket of ``priority`` for a ``tier`` customer runs under."""
        return self.policy_for(priority, tier).terms()


#: The default table (see :func:`default_sla_policies`).
DEFAULT_SLA_POLICIES = SlaPolicies()
