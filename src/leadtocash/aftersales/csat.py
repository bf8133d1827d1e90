"""CSAT (客户满意度) per rep, team or month: the share of 4–5 ratings among the ratings given.

Pure: the tickets and the period are passed in; a rating counts for the rep and team the
ticket was assigned to when it was rated, in the period its ``rated_at`` falls in.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

import attrs

from leadtocash.aftersales.satisfaction import Satisfaction
from leadtocash.aftersales.ticket import Ticket
from leadtocash.durations import local_day
from leadtocash.errors import ValidationError

__all__ = ["CsatGrouping", "CsatReport", "CsatRow", "csat_report"]

_TENTH = Decimal("0.1")
_HUNDREDTH = Decimal("0.01")


class CsatGrouping(enum.StrEnum):
    """How a CSAT report groups ratings."""

    REP = "rep"
    TEAM = "team"
    MONTH = "month"


@attrs.frozen
class CsatRow:
    """The ratings of one group: how many, how many satisfied (4–5), and their sum."""

    key: str | None
    responses: int = 0
    satisfied: int = 0
    score_total: int = 0

    @property
    def csat(self) -> Decimal | None:
        """Satisfied ratings as a percentage of all, to one decimal (None without ratings)."""
        if not self.responses:
            return None
        share = Decimal(100 * self.satisfied) / Decimal(self.responses)
        return share.quantize(_TENTH, rounding=ROUND_HALF_EVEN)

    @property
    def average(self) -> Decimal | None:
        """The mean score to two decimals (None without ratings)."""
        if not self.responses:
            return None
        mean = Decimal(self.score_total) / Decimal(self.responses)
        return mean.quantize(_HUNDREDTH, rounding=ROUND_HALF_EVEN)

    def add(self, rating: Satisfaction) -> CsatRow:
        """This row with one more rating."""
        return attrs.evolve(
            self,
            responses=self.responses + 1,
            satisfied=self.satisfied + rating.satisfied,
            score_total=self.score_total + rating.score,
        )


@attrs.frozen
class CsatReport:
    """CSAT of a period, per group (sorted, None last) and overall."""

    since: datetime
    until: datetime
    grouping: CsatGrouping
    rows: tuple[CsatRow, ...]
    total: CsatRow

    def row(self, key: str | None) -> CsatRow:
        """The row of ``key`` (an empty row when it has no ratings)."""
        return next((r for r in self.rows if r.key == key), CsatRow(key))


def _key(rating: Satisfaction, grouping: CsatGrouping, timezone: str) -> str | None:
    if grouping is CsatGrouping.REP:
        return rating.rep_id
    if grouping is CsatGrouping.TEAM:
        return rating.team_id
    day = local_day(rating.rated_at, timezone)
    return f"{day.year:04d}-{day.month:02d}"


def csat_report(
    tickets: Iterable[Ticket],
    *,
    since: datetime,
    until: datetime,
    grouping: CsatGrouping = CsatGrouping.REP,
    timezone: str = "Asia/Shanghai",
) -> CsatReport:
    """CSAT of the ratings given in ``[since, until)``, grouped by rep, team or local month."""
    for name, value in (("since", since), ("until", until)):
        if value.tzinfo is None:  # it cannot be placed against the ratings' UTC instants
            raise ValidationError.single(name, "time.naive", "give a time with its time zone")
    if until < since:
        raise ValidationError.single("until", "csat.period", "the period ends before it starts")
    rows: dict[str | None, CsatRow] = {}
    total = CsatRow(None)
    for ticket in tickets:
        rating = ticket.satisfaction
        if rating is None or not since <= rating.rated_at < until:
            continue
        key = _key(rating, grouping, timezone)
        rows[key] = rows.get(key, CsatRow(key)).add(rating)
        total = total.add(rating)
    ordered = sorted(rows.values(), key=lambda r: (r.key is None, r.key or ""))
    return CsatReport(since, until, CsatGrouping(grouping), tuple(ordered), total)
