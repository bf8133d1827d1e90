"""A lead's score (线索评分) as stored on the lead: the total, its breakdown, its explanation.

The rules that compute it live in :mod:`leadtocash.classification.lead_score`; this module
holds only the values, so :class:`~leadtocash.model.Lead` can carry a score without the
model importing the rule engine.
"""

from __future__ import annotations

import enum
from datetime import datetime

import attrs

from leadtocash.validators import non_blank, utc

__all__ = ["MAX_SCORE", "ComponentScore", "LeadScore", "ScoreComponent", "ScoredRule"]

#: The highest score; the lowest is 0 (the sum of the rules' points is clamped to 0..100).
MAX_SCORE = 100


class ScoreComponent(enum.StrEnum):
    """What a score rule speaks about; the breakdown gives each component's points."""

    SOURCE = "source"  # channel and campaign (来源质量)
    COMPLETENESS = "completeness"  # which fields are filled (信息完整度)
    ENGAGEMENT = "engagement"  # follow-ups, meetings, recency (互动)
    FIT = "fit"  # industry, region, size, product line (匹配度)


@attrs.frozen
class ScoredRule:
    """One rule that fired: its name, component, the points it added and why (English)."""

    rule: str = attrs.field(validator=non_blank)
    component: ScoreComponent
    points: int
    reason: str = ""


@attrs.frozen
class ComponentScore:
    """The points one component added (the sum of its fired rules; may be negative)."""

    component: ScoreComponent
    points: int


@attrs.frozen
class LeadScore:
    """A lead's score at ``scored_at`` under the rule set ``rules_version``.

    ``total`` is ``raw`` (the sum of every fired rule's points) clamped to 0..100;
    ``components`` lists every component (zeros too) in :class:`ScoreComponent` order;
    ``fired`` lists the rules that fired in table order.
    """

    total: int
    raw: int
    components: tuple[ComponentScore, ...]
    fired: tuple[ScoredRule, ...]
    rules_version: str
    scored_at: datetime = attrs.field(validator=utc)

    def points(self, component: ScoreComponent) -> int:
        """The points ``component`` added (0 when none of its rules fired)."""
        return sum(c.points for c in self.components if c.component is component)

    def explain(self) -> str:
        """A short English explanation: the total, each component, each fired rule."""
        clamped = f" (sum {self.raw}, clamped to 0..{MAX_SCORE})" if self.raw != self.total else ""
        parts = ", ".join(f"{c.component} {c.points:+d}" for c in self.components)
        lines = [f"score {self.total}{clamped}: {parts}"]
        lines += [
            f"  {r.points:+d} {r.component} by rule {r.rule!r}"
            + (f": {r.reason}" if r.reason else "")
            for r in self.fired
        ]
        return "\n".join(lines)
