"""The named facts lead score rules speak about, and how they are read from a lead.

Like the customer facts (:mod:`leadtocash.classification.facts`), each fact has a type and a
polarity (positive: more is better), which the score rule validator uses to keep the
components the rules declare monotone. Engagement is counted from the lead's follow-ups.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from types import MappingProxyType

import attrs

from leadtocash.classification.facts import FactSpec, FactValue
from leadtocash.classification.paths import completeness
from leadtocash.durations import local_day
from leadtocash.model import FollowUp, FollowUpKind, Lead, LeadStatus

__all__ = [
    "DEFAULT_LEAD_COMPLETENESS_FIELDS",
    "LEAD_FACTS",
    "MEETING_KINDS",
    "Engagement",
    "LeadFacts",
    "lead_facts",
]

#: Every fact a lead score rule may name.
LEAD_FACTS: Mapping[str, FactSpec] = MappingProxyType(
    {
        # source quality
        "channel": FactSpec("text", True, "channel"),
        "campaign": FactSpec("text", True, "campaign"),
        "duplicate": FactSpec("flag", False, "duplicate of a known record"),
        # completeness
        "has_contact_name": FactSpec("flag", True, "contact name known"),
        "has_phone": FactSpec("flag", True, "phone known"),
        "has_email": FactSpec("flag", True, "e-mail known"),
        "has_uscc": FactSpec("flag", True, "credit code known"),
        "completeness": FactSpec("count", True, "lead completeness (%)"),
        # engagement
        "follow_ups": FactSpec("count", True, "follow-ups"),
        "meetings": FactSpec("count", True, "visits and meetings"),
        "last_follow_up_at": FactSpec("instant", True, "last follow-up"),
        "qualified": FactSpec("flag", True, "qualified"),
        # fit
        "region": FactSpec("text", True, "region (zone)"),
        "industry": FactSpec("text", True, "industry"),
        "employees": FactSpec("count", True, "employees"),
        "product_line": FactSpec("text", True, "product line"),
    }
)

#: What the default lead completeness counts (each field 1/8 of the percentage).
DEFAULT_LEAD_COMPLETENESS_FIELDS: tuple[str, ...] = (
    "contact_name",
    "phone",
    "email",
    "uscc",
    "zone_id",
    "campaign",
    "industry",
    "employees",
)

#: Follow-up kinds that count as a response from the prospect (they met the rep).
MEETING_KINDS: frozenset[FollowUpKind] = frozenset({FollowUpKind.VISIT, FollowUpKind.MEETING})


@attrs.frozen
class Engagement:
    """What the lead's follow-ups say: how many, how many were meetings, the latest."""

    follow_ups: int = 0
    meetings: int = 0
    last_follow_up_at: datetime | None = None

    @classmethod
    def of(cls, follow_ups: Iterable[FollowUp]) -> Engagement:
        """Count ``follow_ups`` (the lead's follow-up records)."""
        found = list(follow_ups)
        return cls(
            follow_ups=len(found),
            meetings=sum(1 for f in found if f.kind in MEETING_KINDS),
            last_follow_up_at=max((f.at for f in found), default=None),
        )


_QUALIFIED = frozenset({LeadStatus.QUALIFIED, LeadStatus.CONVERTED})


@attrs.frozen
class LeadFacts:
    """The facts of one lead at one instant, as lead score rules see them."""

    now: datetime
    today: date
    channel: str | None = None
    campaign: str | None = None
    duplicate: bool = False
    has_contact_name: bool = False
    has_phone: bool = False
    has_email: bool = False
    has_uscc: bool = False
    completeness: int = 0
    follow_ups: int = 0
    meetings: int = 0
    last_follow_up_at: datetime | None = None
    qualified: bool = False
    region: str | None = None
    industry: str | None = None
    employees: int | None = None
    product_line: str | None = None

    def value(self, fact: str) -> FactValue:
        """The value of the named fact (see :data:`LEAD_FACTS`)."""
        found: FactValue = getattr(self, fact)
        return found

    def specs(self) -> Mapping[str, FactSpec]:
        """The facts these are (:data:`LEAD_FACTS`)."""
        return LEAD_FACTS


def _text(value: str | None) -> str | None:
    return value.strip() if value and value.strip() else None


def lead_facts(
    lead: Lead,
    engagement: Engagement,
    now: datetime,
    *,
    timezone: str,
    completeness_fields: Sequence[str] = DEFAULT_LEAD_COMPLETENESS_FIELDS,
) -> LeadFacts:
    """The facts of ``lead`` with ``engagement`` at ``now`` (``timezone`` sets "today")."""
    return LeadFacts(
        now=now,
        today=local_day(now, timezone),
        channel=lead.channel.value,
        campaign=_text(lead.campaign),
        duplicate=lead.duplicate_of is not None,
        has_contact_name=_text(lead.contact_name) is not None,
        has_phone=_text(lead.phone) is not None,
        has_email=_text(lead.email) is not None,
        has_uscc=_text(lead.uscc) is not None,
        completeness=completeness(lead, completeness_fields),
        follow_ups=engagement.follow_ups,
        meetings=engagement.meetings,
        last_follow_up_at=engagement.last_follow_up_at,
        qualified=lead.status in _QUALIFIED,
        region=lead.zone_id,
        industry=_text(lead.industry),
        employees=lead.employees,
        product_line=_text(lead.product_line),
    )
