"""The ticket aggregate (工单) and its commands: open, move, assign, reprioritise, rate.

A ticket belongs to a customer and a contact, optionally to a contract and a product. Every
state change goes through the shared :data:`TICKET_TABLE` (an illegal trigger raises
InvalidTransition naming the allowed ones) and appends a history entry (who, when, from, to,
reason). After every change the SLA fields are derived again from the history
(:func:`with_sla`): ``first_response_due_at``, ``resolution_due_at``, ``sla_check_at`` (the
next instant a warning or breach is pending — the one column the breach sweep indexes) and
``sla_provisional``. ``warned`` and ``breaches`` record what was raised, so each is raised
once. Commands are pure: they return a new ticket and leave the input untouched.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import attrs

from leadtocash.aftersales.business_time import SlaCalendar
from leadtocash.aftersales.ids import TicketId
from leadtocash.aftersales.priority import TicketPriority, parse_priority
from leadtocash.aftersales.satisfaction import Satisfaction, check_score
from leadtocash.aftersales.sla_clock import SlaBreach, sla_schedule
from leadtocash.aftersales.sla_policy import DEFAULT_SLA_POLICIES, SlaPolicies, SlaTarget, SlaTerms
from leadtocash.aftersales.states import CREATE_TRIGGER, TICKET_TABLE, TicketStatus, TicketTrigger
from leadtocash.contracts.ids import ContractId, ProductId
from leadtocash.durations import Duration, DurationUnit, deadline
from leadtocash.errors import RuleViolation, ValidationError
from leadtocash.model import ContactId, CustomerId, RepId, TeamId, Tier
from leadtocash.pipeline.machine import StageChange
from leadtocash.validators import non_blank, utc

__all__ = [
    "DEFAULT_TICKET_POLICY",
    "REOPEN_WINDOW",
    "Ticket",
    "TicketChannel",
    "TicketPolicy",
    "assign_ticket",
    "change_priority",
    "close_ticket",
    "fire_ticket",
    "open_ticket",
    "rate_ticket",
    "reopen_ticket",
    "resolve_ticket",
    "resume_work",
    "start_work",
    "wait_on_customer",
    "with_sla",
]


class TicketChannel(enum.StrEnum):
    """Where a ticket came in."""

    PHONE = "phone"
    EMAIL = "email"
    WEB = "web"
    CHAT = "chat"
    WECHAT = "wechat"
    ONSITE = "onsite"
    OTHER = "other"


def _channel(value: object) -> TicketChannel:
    if isinstance(value, TicketChannel):
        return value
    try:
        return TicketChannel(str(value).strip().lower())
    except ValueError:
        raise ValidationError.single(
            "channel", "ticket.unknown_channel", f"{value!r} is not a ticket channel"
        ) from None


def _priority(value: object) -> TicketPriority:
    return parse_priority(value)


def _targets(value: Iterable[SlaTarget]) -> frozenset[SlaTarget]:
    return frozenset(SlaTarget(v) for v in value)


def _breaches(value: Iterable[SlaBreach]) -> tuple[SlaBreach, ...]:
    return tuple(value)


def _history(value: Iterable[StageChange]) -> tuple[StageChange, ...]:
    return tuple(value)


#: Default reopen window: 7 calendar days after the resolution.
REOPEN_WINDOW = Duration(7, DurationUnit.CALENDAR_DAYS)


@attrs.frozen
class TicketPolicy:
    """Lifecycle settings: how long after its resolution a ticket may be reopened.

    ``reopen_window`` None allows reopening at any time; ``Duration(0)`` never.
    """

    reopen_window: Duration | None = REOPEN_WINDOW


#: Reopen within 7 calendar days of the resolution.
DEFAULT_TICKET_POLICY = TicketPolicy()


@attrs.frozen
class Ticket:
    """A service ticket: who, what, how urgent, who works it, where it stands, its SLA clock.

    ``tier`` is the customer's tier the SLA policy was chosen for. The fields after
    ``history`` are derived or recorded by the commands; never set them by hand.
    """

    id: TicketId
    customer_id: CustomerId
    contact_id: ContactId
    subject: str = attrs.field(validator=non_blank)
    category: str = attrs.field(validator=non_blank)
    channel: TicketChannel = attrs.field(converter=_channel)
    priority: TicketPriority = attrs.field(converter=_priority)
    opened_at: datetime = attrs.field(validator=utc)
    sla: SlaTerms
    tier: Tier | None = None
    contract_id: ContractId | None = None
    product_id: ProductId | None = None
    assignee_id: RepId | None = None
    team_id: TeamId | None = None
    description: str | None = None
    status: TicketStatus = TicketStatus.OPEN
    history: tuple[StageChange, ...] = attrs.field(default=(), converter=_history)
    first_responded_at: datetime | None = attrs.field(default=None, validator=utc)
    resolved_at: datetime | None = attrs.field(default=None, validator=utc)
    closed_at: datetime | None = attrs.field(default=None, validator=utc)
    reopen_count: int = 0
    first_response_due_at: datetime | None = attrs.field(default=None, validator=utc)
    resolution_due_at: datetime | None = attrs.field(default=None, validator=utc)
    sla_check_at: datetime | None = attrs.field(default=None, validator=utc)
    sla_provisional: bool = False
    warned: frozenset[SlaTarget] = attrs.field(default=frozenset(), converter=_targets)
    breaches: tuple[SlaBreach, ...] = attrs.field(default=(), converter=_breaches)
    satisfaction: Satisfaction | None = None
    updated_at: datetime | None = attrs.field(default=None, validator=utc)
    version: int = 0

    def __attrs_post_init__(self) -> None:
        if self.history and self.history[-1].stage_to != self.status.value:
            raise ValidationError.single(
                "history", "pipeline.history_inconsistent", "the history ends in another state"
            )

    @property
    def breached(self) -> frozenset[SlaTarget]:
        """The targets whose breach was raised."""
        return frozenset(b.target for b in self.breaches)

    @property
    def last_change_at(self) -> datetime:
        """When the ticket last changed state (its opening if never)."""
        return self.history[-1].at if self.history else self.opened_at


def with_sla(ticket: Ticket, clock: SlaCalendar) -> Ticket:
    """``ticket`` with its SLA fields derived again from its history (same object if equal)."""
    schedule = sla_schedule(ticket.history, ticket.sla, clock)
    derived = {
        "first_response_due_at": schedule.first_response_due_at,
        "resolution_due_at": schedule.resolution_due_at,
        "sla_check_at": schedule.check_at(ticket.breached, ticket.warned),
        "sla_provisional": schedule.provisional,
    }
    if all(getattr(ticket, name) == value for name, value in derived.items()):
        return ticket
    return attrs.evolve(ticket, **derived)  # type: ignore[arg-type]


def open_ticket(
    ticket_id: TicketId,
    *,
    customer_id: CustomerId,
    contact_id: ContactId,
    subject: str,
    category: str,
    channel: TicketChannel | str,
    priority: TicketPriority | str,
    now: datetime,
    actor: str,
    clock: SlaCalendar,
    policies: SlaPolicies = DEFAULT_SLA_POLICIES,
    tier: Tier | None = None,
    contract_id: ContractId | None = None,
    product_id: ProductId | None = None,
    assignee_id: RepId | None = None,
    team_id: TeamId | None = None,
    description: str | None = None,
) -> Ticket:
    """A new open ticket under the SLA policy of its priority and the customer's ``tier``.

    An unknown priority is a ValidationError on ``priority`` (``ticket.unknown_priority``),
    an unknown channel one on ``channel``.
    """
    level = parse_priority(priority)
    ticket = Ticket(
        id=ticket_id,
        customer_id=customer_id,
        contact_id=contact_id,
        subject=subject,
        category=category,
        channel=_channel(channel),
        priority=level,
        opened_at=now,
        sla=policies.terms_for(level, tier),
        tier=tier,
        contract_id=contract_id,
        product_id=product_id,
        assignee_id=assignee_id,
        team_id=team_id,
        description=description,
        history=(StageChange(None, TicketStatus.OPEN.value, CREATE_TRIGGER, now, actor),),
        updated_at=now,
    )
    return with_sla(ticket, clock)


def _in_order(ticket: Ticket, now: datetime) -> None:
    if now < ticket.last_change_at:
        raise ValidationError.single(
            "now",
            "ticket.out_of_order",
            f"{now.isoformat()} is before the ticket's last change "
            f"({ticket.last_change_at.isoformat()})",
        )


def _check_reopen(ticket: Ticket, now: datetime, policy: TicketPolicy, clock: SlaCalendar) -> None:
    window, resolved = policy.reopen_window, ticket.resolved_at
    if window is None or resolved is None:
        return
    ends = deadline(
        resolved,
        window,
        timezone=clock.timezone,
        calendar=clock.calendar,
        business_hours=clock.business_hours,
    )
    if window.off or now > ends:
        raise RuleViolation(
            f"ticket {ticket.id} was resolved at {resolved.isoformat()}; the reopen window "
            f"ended at {ends.isoformat()}",
            code="ticket.reopen_window_passed",
            details={
                "id": ticket.id,
                "resolved_at": resolved.isoformat(),
                "window_ends_at": ends.isoformat(),
            },
        )


def fire_ticket(
    ticket: Ticket,
    trigger: TicketTrigger | str,
    now: datetime,
    actor: str,
    *,
    clock: SlaCalendar,
    reason: str | None = None,
    policy: TicketPolicy = DEFAULT_TICKET_POLICY,
) -> Ticket:
    """``ticket`` moved by ``trigger`` at ``now``, its history extended and its SLA re-derived.

    Illegal from the current state: InvalidTransition with the allowed triggers. ``now``
    before the last change: ValidationError (``ticket.out_of_order``). Reopening needs a
    reason and must fall within the policy's window (``ticket.reopen_window_passed``).
    """
    source = ticket.status.value
    dest = TICKET_TABLE.target(source, str(trigger))
    _in_order(ticket, now)
    why = reason.strip() if reason is not None and reason.strip() else None
    changes: dict[str, Any] = {"status": TicketStatus(dest), "updated_at": now}
    if dest == TicketStatus.RESOLVED:
        changes["resolved_at"] = now
    elif dest == TicketStatus.CLOSED:
        changes["closed_at"] = now
    if source == TicketStatus.OPEN and ticket.first_responded_at is None:
        changes["first_responded_at"] = now
    if trigger == TicketTrigger.REOPEN:
        if why is None:
            raise ValidationError.single("reason", "field.required", "a reason is required")
        _check_reopen(ticket, now, policy, clock)
        changes.update(resolved_at=None, closed_at=None, reopen_count=ticket.reopen_count + 1)
    change = StageChange(source, dest, str(trigger), now, actor, why)
    moved = attrs.evolve(ticket, history=(*ticket.history, change), **changes)
    return with_sla(moved, clock)


def start_work(ticket: Ticket, now: datetime, actor: str, *, clock: SlaCalendar) -> Ticket:
    """open → in_progress (the first response)."""
    return fire_ticket(ticket, TicketTrigger.START, now, actor, clock=clock)


def wait_on_customer(
    ticket: Ticket, now: datetime, actor: str, *, clock: SlaCalendar, reason: str | None = None
) -> Ticket:
    """open/in_progress → waiting_on_customer: the resolution clock pauses."""
    return fire_ticket(
        ticket, TicketTrigger.WAIT_ON_CUSTOMER, now, actor, clock=clock, reason=reason
    )


def resume_work(ticket: Ticket, now: datetime, actor: str, *, clock: SlaCalendar) -> Ticket:
    """waiting_on_customer → in_progress (the customer answered): the clock runs again."""
    return fire_ticket(ticket, TicketTrigger.RESUME, now, actor, clock=clock)


def resolve_ticket(
    ticket: Ticket, now: datetime, actor: str, *, clock: SlaCalendar, reason: str | None = None
) -> Ticket:
    """→ resolved: the resolution clock stops."""
    return fire_ticket(ticket, TicketTrigger.RESOLVE, now, actor, clock=clock, reason=reason)


def close_ticket(
    ticket: Ticket,
    now: datetime,
    actor: str,
    *,
    clock: SlaCalendar,
    score: int | None = None,
    comment: str | None = None,
) -> Ticket:
    """resolved → closed, with the customer's satisfaction score (1–5) and comment if given.

    Closing a closed ticket is InvalidTransition (allowed: reopen); a bad score is checked
    first, so a refusal changes nothing.
    """
    if score is not None:
        check_score(score)
    closed = fire_ticket(ticket, TicketTrigger.CLOSE, now, actor, clock=clock)
    if score is None:
        return closed
    return rate_ticket(closed, score, now, actor, comment=comment)


def reopen_ticket(
    ticket: Ticket,
    now: datetime,
    actor: str,
    *,
    clock: SlaCalendar,
    reason: str,
    policy: TicketPolicy = DEFAULT_TICKET_POLICY,
) -> Ticket:
    """resolved/closed → in_progress within the reopen window; the resolution clock resumes."""
    return fire_ticket(
        ticket, TicketTrigger.REOPEN, now, actor, clock=clock, reason=reason, policy=policy
    )


def rate_ticket(
    ticket: Ticket, score: int, now: datetime, actor: str, *, comment: str | None = None
) -> Ticket:
    """``ticket`` with the customer's rating (the latest rating replaces an earlier one).

    A score outside 1–5 is a ValidationError (``satisfaction.score_range``); a ticket not
    resolved or closed is ``ticket.not_rateable``.
    """
    check_score(score)
    if ticket.status not in (TicketStatus.RESOLVED, TicketStatus.CLOSED):
        raise RuleViolation(
            f"ticket {ticket.id} is {ticket.status.value}; only resolved or closed tickets "
            "are rated",
            code="ticket.not_rateable",
            details={"id": ticket.id, "status": ticket.status.value},
        )
    text = comment.strip() if comment is not None and comment.strip() else None
    rating = Satisfaction(score, now, actor, text, ticket.assignee_id, ticket.team_id)
    return attrs.evolve(ticket, satisfaction=rating, updated_at=now)


def assign_ticket(
    ticket: Ticket, now: datetime, *, assignee_id: RepId | None, team_id: TeamId | None
) -> Ticket:
    """``ticket`` assigned to a rep and a team (None clears either)."""
    return attrs.evolve(ticket, assignee_id=assignee_id, team_id=team_id, updated_at=now)


def change_priority(
    ticket: Ticket,
    priority: TicketPriority | str,
    now: datetime,
    *,
    clock: SlaCalendar,
    policies: SlaPolicies = DEFAULT_SLA_POLICIES,
    tier: Tier | None = None,
) -> Ticket:
    """``ticket`` under a new priority (and the customer's current ``tier`` if given).

    The SLA terms are chosen again and the due instants re-derived from the whole history;
    breaches and warnings already raised stay raised.
    """
    level = parse_priority(priority)
    use_tier = ticket.tier if tier is None else tier
    terms = policies.terms_for(level, use_tier)
    changed = attrs.evolve(ticket, priority=level, tier=use_tier, sla=terms, updated_at=now)
    return with_sla(changed, clock)
