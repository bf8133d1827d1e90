"""Opening opportunities and firing stage triggers: pure functions returning evolved entities.

Every function checks legality with the flow's shared state table, evaluates the destination
stage's required fields and guards, and returns a new frozen opportunity whose history ends
with the new :class:`StageChange`. The input is never modified; a refused trigger raises.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime

from leadtocash.errors import InvalidTransition, ValidationError
from leadtocash.model import ContactId, CustomerId, LeadId, RepId
from leadtocash.money import Money
from leadtocash.pipeline.flows import DEFAULT_FLOW, StageFlow, StageKind, flow_table
from leadtocash.pipeline.leads import require_reason
from leadtocash.pipeline.machine import RequiredFields, StageChange
from leadtocash.pipeline.opportunity import Opportunity, OpportunityId, moved

__all__ = [
    "CREATE_TRIGGER",
    "advance",
    "fire",
    "lose",
    "open_opportunity",
    "open_stage_rank",
    "reopen",
    "replay",
    "trigger_to",
    "win",
]

#: The trigger recorded in the first history entry of every opportunity.
CREATE_TRIGGER = "create"


def open_opportunity(
    *,
    opportunity_id: OpportunityId,
    customer_id: CustomerId,
    owner_id: RepId,
    name: str,
    amount: Money,
    close_date: date,
    at: datetime,
    actor: str,
    flow: StageFlow = DEFAULT_FLOW,
    contact_id: ContactId | None = None,
    lead_id: LeadId | None = None,
    next_step: str | None = None,
    custom: Mapping[str, str] | None = None,
) -> Opportunity:
    """A new opportunity in the flow's initial stage, its creation recorded in the history."""
    initial = flow.stage(flow.initial)
    opportunity = Opportunity(
        id=opportunity_id,
        customer_id=customer_id,
        owner_id=owner_id,
        name=name,
        amount=amount,
        close_date=close_date,
        created_at=at,
        stage=initial.name,
        flow=flow.name,
        history=(StageChange(None, initial.name, CREATE_TRIGGER, at, actor),),
        contact_id=contact_id,
        lead_id=lead_id,
        next_step=next_step,
        custom=dict(custom or {}),
        updated_at=at,
    )
    missing = RequiredFields(initial.name, initial.required_fields).problems(opportunity)
    if missing:
        raise ValidationError(missing)
    return opportunity


def _check_flow(opportunity: Opportunity, flow: StageFlow) -> None:
    if opportunity.flow != flow.name:
        raise ValidationError.single(
            "flow",
            "pipeline.wrong_flow",
            f"opportunity {opportunity.id} follows flow {opportunity.flow!r}, not {flow.name!r}",
        )


def fire(
    opportunity: Opportunity,
    trigger: str,
    *,
    at: datetime,
    actor: str,
    flow: StageFlow = DEFAULT_FLOW,
    reason: str | None = None,
) -> tuple[Opportunity, StageChange]:
    """Fire ``trigger``: the evolved opportunity and its new history entry.

    Entering the lost stage needs a reason from the flow's ``lost_reasons`` (any non-blank
    text when that list is empty); winning or losing sets ``closed_at``; leaving the lost
    stage (reopen) clears the lost reason and ``closed_at``.
    """
    _check_flow(opportunity, flow)
    source = opportunity.stage
    dest = flow_table(flow).target(source, trigger, opportunity)
    kind = flow.stage(dest).kind
    lost_reason, closed_at = opportunity.lost_reason, opportunity.closed_at
    if kind is StageKind.LOST:
        reason = lost_reason = require_reason(reason, flow.lost_reasons)
        closed_at = at
    elif kind is StageKind.WON:
        lost_reason, closed_at = None, at
    else:
        lost_reason, closed_at = None, None
    change = StageChange(source, dest, trigger, at, actor, reason)
    return moved(opportunity, dest, change, lost_reason, closed_at), change


def trigger_to(opportunity: Opportunity, dest: str, flow: StageFlow, attempted: str) -> str:
    """The trigger leading from the current stage to ``dest``; InvalidTransition if none."""
    table = flow_table(flow)
    found = table.triggers_to(opportunity.stage, dest)
    if not found:
        raise InvalidTransition(
            "opportunity", opportunity.stage, attempted, table.allowed(opportunity.stage)
        )
    return found[0]


def advance(
    opportunity: Opportunity,
    *,
    at: datetime,
    actor: str,
    flow: StageFlow = DEFAULT_FLOW,
    trigger: str = "advance",
) -> tuple[Opportunity, StageChange]:
    """Move to the next stage (or along any named open-stage ``trigger``)."""
    return fire(opportunity, trigger, at=at, actor=actor, flow=flow)


def win(
    opportunity: Opportunity, *, at: datetime, actor: str, flow: StageFlow = DEFAULT_FLOW
) -> tuple[Opportunity, StageChange]:
    """Close as won (赢单) through whichever trigger leads to the won stage."""
    _check_flow(opportunity, flow)
    trigger = trigger_to(opportunity, flow.won_stage, flow, "win")
    return fire(opportunity, trigger, at=at, actor=actor, flow=flow)


def lose(
    opportunity: Opportunity,
    reason: str,
    *,
    at: datetime,
    actor: str,
    flow: StageFlow = DEFAULT_FLOW,
) -> tuple[Opportunity, StageChange]:
    """Close as lost (输单) with a reason from the flow's list."""
    _check_flow(opportunity, flow)
    trigger = trigger_to(opportunity, flow.lost_stage, flow, "lose")
    return fire(opportunity, trigger, at=at, actor=actor, flow=flow, reason=reason)


def reopen(
    opportunity: Opportunity,
    *,
    at: datetime,
    actor: str,
    flow: StageFlow = DEFAULT_FLOW,
    reason: str | None = None,
) -> tuple[Opportunity, StageChange]:
    """Reopen a lost deal through the flow's explicit trigger out of the lost stage."""
    _check_flow(opportunity, flow)
    table = flow_table(flow)
    if opportunity.stage != flow.lost_stage:
        raise InvalidTransition(
            "opportunity", opportunity.stage, "reopen", table.allowed(opportunity.stage)
        )
    triggers = table.allowed(opportunity.stage)
    if not triggers:
        raise InvalidTransition("opportunity", opportunity.stage, "reopen", ())
    return fire(opportunity, triggers[0], at=at, actor=actor, flow=flow, reason=reason)


def replay(opportunity: Opportunity, flow: StageFlow = DEFAULT_FLOW) -> str:
    """Re-run the history against the flow's table and return the stage it ends in.

    Raises ValidationError naming the first inconsistent entry; for a consistent opportunity
    the result equals ``opportunity.stage``.
    """
    _check_flow(opportunity, flow)
    return flow_table(flow).replay(opportunity.history)


def open_stage_rank(
    opportunities: Iterable[Opportunity], flow_of: Callable[[str], StageFlow]
) -> int | None:
    """The highest open-stage rank among ``opportunities`` (None when none is open).

    This is the customer's ``open_opportunity_stage`` fact that pool reclaim exemptions use;
    ``flow_of`` maps a flow name to its flow.
    """
    ranks = [r for o in opportunities if (r := flow_of(o.flow).rank(o.stage)) is not None]
    return max(ranks) if ranks else None
