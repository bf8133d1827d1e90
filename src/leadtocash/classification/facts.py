"""The named facts classification rules speak about, and how they are read from a customer.

Each fact has a type and a *polarity*: for a positive fact more is better (a confirmed need,
a bigger budget, a more recent engagement, one more contact field); for a negative fact less is
better (lower after-sales risk, not marked invalid). The polarity is what the rule validator
uses to keep tier rules monotone (docs/classification.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from types import MappingProxyType
from typing import Literal, Protocol

import attrs

from leadtocash.classification.paths import completeness
from leadtocash.durations import local_day
from leadtocash.model import Customer
from leadtocash.money import Money
from leadtocash.signals import DemandSignals, RiskLevel

__all__ = [
    "DEFAULT_COMPLETENESS_FIELDS",
    "FACTS",
    "INFORMATION_FIELDS",
    "FactSource",
    "FactSpec",
    "FactType",
    "FactValue",
    "Facts",
    "facts_of",
]

#: The value kinds a fact can have.
FactType = Literal["flag", "count", "money", "level", "date", "instant", "text"]
#: What a fact holds (None = not known).
FactValue = bool | int | Money | RiskLevel | date | datetime | str | None


@attrs.frozen
class FactSpec:
    """How one named fact behaves: its type, whether more of it is better, and a label."""

    type: FactType
    positive: bool
    label: str


#: Every fact a tier or tag rule may name.
FACTS: Mapping[str, FactSpec] = MappingProxyType(
    {
        "need_confirmed": FactSpec("flag", True, "need confirmed"),
        "decision_maker_identified": FactSpec("flag", True, "decision maker identified"),
        "budget": FactSpec("money", True, "budget"),
        "expected_close": FactSpec("date", True, "expected close"),
        "last_engagement_at": FactSpec("instant", True, "last engagement"),
        "opportunity_stage": FactSpec("count", True, "open opportunity stage"),
        "won": FactSpec("flag", True, "won"),
        "has_phone": FactSpec("flag", True, "phone known"),
        "has_email": FactSpec("flag", True, "e-mail known"),
        "has_uscc": FactSpec("flag", True, "credit code known"),
        "has_address": FactSpec("flag", True, "address known"),
        "zone_count": FactSpec("count", True, "zones involved"),
        "completeness": FactSpec("count", True, "profile completeness (%)"),
        "after_sales_risk": FactSpec("level", False, "after-sales risk"),
        "invalid": FactSpec("flag", False, "marked invalid"),
    }
)

#: Customer field paths that only ever fill up as information is added (never empty again),
#: hence the only ones a tier-rule completeness score may count.
INFORMATION_FIELDS: frozenset[str] = frozenset(
    {
        "phones",
        "emails",
        "uscc",
        "address",
        "zone_id",
        "last_follow_up_at",
        "open_opportunity_stage",
        "last_opportunity_at",
        "won",
        "signals.need_confirmed",
        "signals.budget",
        "signals.decision_maker_identified",
        "signals.expected_close",
        "signals.last_engagement_at",
        "signals.collaborating_zones",
    }
)

#: What the default profile completeness counts (each field 1/8 of the score).
DEFAULT_COMPLETENESS_FIELDS: tuple[str, ...] = (
    "phones",
    "emails",
    "uscc",
    "address",
    "signals.need_confirmed",
    "signals.budget",
    "signals.decision_maker_identified",
    "signals.expected_close",
)


@attrs.frozen
class Facts:
    """The facts of one customer at one instant, as classification rules see them."""

    now: datetime
    today: date
    need_confirmed: bool = False
    decision_maker_identified: bool = False
    budget: Money | None = None
    expected_close: date | None = None
    last_engagement_at: datetime | None = None
    opportunity_stage: int | None = None
    won: bool = False
    has_phone: bool = False
    has_email: bool = False
    has_uscc: bool = False
    has_address: bool = False
    zone_count: int = 0
    completeness: int = 0
    after_sales_risk: RiskLevel = RiskLevel.NONE
    invalid: bool = False

    def value(self, fact: str) -> FactValue:
        """The value of the named fact (see :data:`FACTS`)."""
        found: FactValue = getattr(self, fact)
        return found

    def specs(self) -> Mapping[str, FactSpec]:
        """The facts these are (:data:`FACTS`, the customer facts)."""
        return FACTS


class FactSource(Protocol):
    """What conditions are evaluated on: named facts at one instant, and their specs."""

    @property
    def now(self) -> datetime:
        """The instant the facts were read at."""

    @property
    def today(self) -> date:
        """The organisation's calendar day at ``now``."""

    def value(self, fact: str) -> FactValue:
        """The value of the named fact."""

    def specs(self) -> Mapping[str, FactSpec]:
        """Every fact these facts can name."""


def _latest(*instants: datetime | None) -> datetime | None:
    known = [i for i in instants if i is not None]
    return max(known) if known else None


def facts_of(
    customer: Customer,
    signals: DemandSignals,
    now: datetime,
    *,
    timezone: str,
    completeness_fields: Sequence[str] = DEFAULT_COMPLETENESS_FIELDS,
) -> Facts:
    """The facts of ``customer`` with ``signals`` at ``now`` (``timezone`` sets "today")."""
    same = signals is customer.signals  # the usual case: no copy to make
    profile = customer if same else attrs.evolve(customer, signals=signals)
    zones = set(signals.collaborating_zones)
    if customer.zone_id is not None:
        zones.add(customer.zone_id)
    return Facts(
        now=now,
        today=local_day(now, timezone),
        need_confirmed=signals.need_confirmed,
        decision_maker_identified=signals.decision_maker_identified,
        budget=signals.budget,
        expected_close=signals.expected_close,
        last_engagement_at=_latest(signals.last_engagement_at, customer.last_follow_up_at),
        opportunity_stage=customer.open_opportunity_stage,
        won=customer.won,
        has_phone=bool(customer.phones),
        has_email=bool(customer.emails),
        has_uscc=bool(customer.uscc),
        has_address=bool(customer.address and customer.address.strip()),
        zone_count=len(zones),
        completeness=completeness(profile, completeness_fields),
        after_sales_risk=signals.after_sales_risk,
        invalid=signals.invalid_reason is not None,
    )
