"""Renewals (续约): a contract nearing its end becomes a renewal opportunity for its owner, once.

:func:`plan_renewals` is the sweep's decision: for each contract whose end date is within the
policy's lead time and that has no renewal yet, a :class:`RenewalDraft` — the marker aggregate
:class:`Renewal` (id derived from the contract id, so a second insert collides) and the
opportunity to open in the flow's first stage (:func:`renewal_opportunity`). The app saves
both in one commit; contracts already marked are skipped, so running the sweep twice creates
nothing twice.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import date, datetime

import attrs

from leadtocash.aftersales.ids import RenewalId
from leadtocash.contracts.checks import start_of_day
from leadtocash.contracts.contract import Contract, ContractStatus
from leadtocash.contracts.ids import ContractId
from leadtocash.durations import Duration, DurationUnit, WorkingCalendar, earlier
from leadtocash.model import CustomerId, RepId
from leadtocash.money import Money
from leadtocash.pipeline.flows import DEFAULT_FLOW, StageFlow
from leadtocash.pipeline.operations import open_opportunity
from leadtocash.pipeline.opportunity import Opportunity, OpportunityId
from leadtocash.validators import utc

__all__ = [
    "LEAD_TIME",
    "Renewal",
    "RenewalCandidate",
    "RenewalDraft",
    "RenewalPlan",
    "RenewalPolicy",
    "plan_renewals",
    "renewal_candidate",
    "renewal_id",
    "renewal_opens_at",
    "renewal_opportunity",
    "renewal_opportunity_id",
]

#: Default lead time: 60 calendar days before the contract ends.
LEAD_TIME = Duration(60, DurationUnit.CALENDAR_DAYS)


def _statuses(value: Iterable[ContractStatus]) -> frozenset[ContractStatus]:
    return frozenset(ContractStatus(v) for v in value)


@attrs.frozen
class RenewalPolicy:
    """How long before a contract ends its renewal is opened, and which contracts renew."""

    lead_time: Duration = LEAD_TIME
    statuses: frozenset[ContractStatus] = attrs.field(
        default=frozenset({ContractStatus.ACTIVE, ContractStatus.COMPLETED}), converter=_statuses
    )
    name_prefix: str = "Renewal"


@attrs.frozen
class RenewalCandidate:
    """What the sweep needs to know about one contract (its end date comes from the app)."""

    contract_id: ContractId
    customer_id: CustomerId
    title: str
    amount: Money
    ends_on: date
    status: ContractStatus
    owner_id: RepId | None = None


def renewal_candidate(
    contract: Contract, ends_on: date, *, owner_id: RepId | None = None
) -> RenewalCandidate:
    """``contract`` as a candidate ending on ``ends_on``; ``owner_id`` overrides its owner."""
    return RenewalCandidate(
        contract_id=contract.id,
        customer_id=contract.customer_id,
        title=contract.title,
        amount=contract.total,
        ends_on=ends_on,
        status=contract.status,
        owner_id=owner_id or contract.owner_id,
    )


def renewal_id(contract_id: ContractId) -> RenewalId:
    """The id of a contract's renewal marker (one per contract)."""
    return RenewalId(f"renewal:{contract_id}")


def renewal_opportunity_id(contract_id: ContractId) -> OpportunityId:
    """The id of a contract's renewal opportunity (deterministic: a retry collides)."""
    return OpportunityId(f"renewal:{contract_id}")


@attrs.frozen
class Renewal:
    """The marker that a contract's renewal opportunity was created (stored by the app)."""

    id: RenewalId
    contract_id: ContractId
    customer_id: CustomerId
    owner_id: RepId
    opportunity_id: OpportunityId
    ends_on: date
    created_at: datetime = attrs.field(validator=utc)
    version: int = 0


@attrs.frozen
class RenewalDraft:
    """A renewal to create: its marker and the opportunity's name, amount and close date."""

    renewal: Renewal
    name: str
    amount: Money

    @property
    def close_date(self) -> date:
        """The expected close date: the day the contract ends."""
        return self.renewal.ends_on


@attrs.frozen
class RenewalPlan:
    """The renewals to create now, and the due contracts that cannot get one (and why)."""

    drafts: tuple[RenewalDraft, ...] = ()
    skipped: tuple[tuple[ContractId, str], ...] = ()


def renewal_opens_at(
    ends_on: date,
    policy: RenewalPolicy,
    *,
    timezone: str,
    calendar: WorkingCalendar | None = None,
) -> datetime:
    """The instant a contract ending on ``ends_on`` is due for renewal (lead time before it)."""
    end = start_of_day(ends_on, timezone)
    return earlier(end, policy.lead_time, timezone=timezone, calendar=calendar)


def plan_renewals(
    candidates: Iterable[RenewalCandidate],
    *,
    done: Collection[ContractId],
    now: datetime,
    policy: RenewalPolicy | None = None,
    timezone: str = "Asia/Shanghai",
    calendar: WorkingCalendar | None = None,
) -> RenewalPlan:
    """The renewals due at ``now`` for contracts not in ``done`` (those already renewed).

    A contract is due from ``renewal_opens_at`` on, if its status renews (active or completed
    by default). A due contract without an owner is skipped with ``no_owner``.
    """
    rules = policy or RenewalPolicy()
    drafts: list[RenewalDraft] = []
    skipped: list[tuple[ContractId, str]] = []
    for candidate in candidates:
        if candidate.contract_id in done or candidate.status not in rules.statuses:
            continue
        opens = renewal_opens_at(candidate.ends_on, rules, timezone=timezone, calendar=calendar)
        if now < opens:
            continue
        if candidate.owner_id is None:
            skipped.append((candidate.contract_id, "no_owner"))
            continue
        marker = Renewal(
            id=renewal_id(candidate.contract_id),
            contract_id=candidate.contract_id,
            customer_id=candidate.customer_id,
            owner_id=candidate.owner_id,
            opportunity_id=renewal_opportunity_id(candidate.contract_id),
            ends_on=candidate.ends_on,
            created_at=now,
        )
        name = f"{rules.name_prefix}: {candidate.title}"
        drafts.append(RenewalDraft(marker, name, candidate.amount))
    return RenewalPlan(tuple(drafts), tuple(skipped))


def renewal_opportunity(
    draft: RenewalDraft, *, at: datetime, actor: str, flow: StageFlow = DEFAULT_FLOW
) -> Opportunity:
    """The draft's opportunity, opened in ``flow``'s first stage for the contract's owner."""
    marker = draft.renewal
    return open_opportunity(
        opportunity_id=marker.opportunity_id,
        customer_id=marker.customer_id,
        owner_id=marker.owner_id,
        name=draft.name,
        amount=draft.amount,
        close_date=marker.ends_on,
        at=at,
        actor=actor,
        flow=flow,
        custom={"renewal_of": marker.contract_id},
    )
