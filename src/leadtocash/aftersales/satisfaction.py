"""Satisfaction (满意度): a 1–5 score and an optional comment, given on a resolved ticket."""

from __future__ import annotations

from datetime import datetime

import attrs

from leadtocash.errors import ValidationError
from leadtocash.model import RepId, TeamId
from leadtocash.validators import utc

__all__ = ["SATISFIED_FROM", "SCORE_RANGE_CODE", "Satisfaction", "check_score"]

#: Error code of a score that is not a whole number from 1 to 5.
SCORE_RANGE_CODE = "satisfaction.score_range"
#: Scores from this one up count as satisfied in CSAT (4 and 5 of 5).
SATISFIED_FROM = 4


def check_score(value: object, *, path: str = "score") -> int:
    """``value`` if it is an int from 1 to 5, else a ValidationError naming ``path``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        raise ValidationError.single(
            path, SCORE_RANGE_CODE, f"{value!r} is not a score from 1 to 5"
        )
    return value


def _score(_inst: object, attribute: attrs.Attribute[int], value: int) -> None:
    check_score(value, path=attribute.name)


@attrs.frozen
class Satisfaction:
    """A customer's rating of a ticket, with the rep and team it was assigned to then."""

    score: int = attrs.field(validator=_score)
    rated_at: datetime = attrs.field(validator=utc)
    rated_by: str
    comment: str | None = None
    rep_id: RepId | None = None
    team_id: TeamId | None = None

    @property
    def satisfied(self) -> bool:
        """True for a 4 or a 5."""
        return self.score >= SATISFIED_FROM
