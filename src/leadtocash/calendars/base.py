"""What the reference calendars share: the out-of-range error, date checks, port helpers."""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from leadtocash.durations import add_working_days, count_working_days
from leadtocash.errors import FieldError, ValidationError

__all__ = ["CalendarOps", "CalendarOutOfRange", "check_overrides", "dates", "optional_module"]


class CalendarOutOfRange(ValidationError):
    """A date lies outside the years a strict calendar's data covers; nothing is guessed."""

    code = "calendar.out_of_range"

    def __init__(self, day: date, first: date, last: date, source: str) -> None:
        super().__init__(
            [
                FieldError(
                    "day",
                    self.code,
                    f"{day.isoformat()} is outside the {source} data "
                    f"({first.isoformat()} to {last.isoformat()}); update the package",
                )
            ]
        )
        self.day, self.first, self.last, self.source = day, first, last, source
        self.details.update(
            day=day.isoformat(), first=first.isoformat(), last=last.isoformat(), source=source
        )


def dates(values: Iterable[date]) -> frozenset[date]:
    """``values`` as a frozenset of plain dates (date-times and other types refused)."""
    found = frozenset(values)
    if any(isinstance(v, datetime) or not isinstance(v, date) for v in found):
        raise ValidationError.single("dates", "calendar.not_a_date", "expected datetime.date")
    return found


def optional_module(module: str, distribution: str) -> Any:
    """Import an optional data package, or say which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"this calendar needs the optional package {distribution!r}: "
            f"pip install 'leadtocash[calendars]' (or pip install {distribution})"
        ) from exc


def check_overrides(closures: frozenset[date], extra_workdays: frozenset[date]) -> None:
    """Refuse company overrides that close and open the same day."""
    both = sorted(closures & extra_workdays)
    if both:
        raise ValidationError.single(
            "extra_workdays",
            "calendar.conflicting_overrides",
            f"dates both closed and working: {', '.join(d.isoformat() for d in both)}",
        )


class CalendarOps:
    """Port-level helpers shared by the reference calendars (they delegate to durations)."""

    __slots__ = ()

    def is_working_day(self, day: date) -> bool:
        """True when ``day`` is a working day."""
        raise NotImplementedError

    def add_working_days(self, instant: datetime, n: int, timezone: str) -> datetime:
        """Local midnight after the ``n``-th working day following ``instant``'s local day."""
        return add_working_days(instant, n, timezone=timezone, calendar=self)

    def count_working_days(self, start: datetime, end: datetime, timezone: str) -> int:
        """Whole working days after ``start``'s local day that have ended by ``end``."""
        return count_working_days(start, end, timezone=timezone, calendar=self)
