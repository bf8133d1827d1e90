"""Ticket priority (P1 most urgent … P4), read strictly: an unknown value names its field."""

from __future__ import annotations

import enum

from leadtocash.errors import ValidationError

__all__ = ["UNKNOWN_PRIORITY_CODE", "TicketPriority", "parse_priority"]

#: Error code of a priority that is not P1–P4.
UNKNOWN_PRIORITY_CODE = "ticket.unknown_priority"


class TicketPriority(enum.StrEnum):
    """How urgent a ticket is: P1 (critical) to P4 (low)."""

    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"


def parse_priority(value: object, *, path: str = "priority") -> TicketPriority:
    """``value`` as a priority; anything but P1–P4 is a ValidationError naming ``path``."""
    if isinstance(value, TicketPriority):
        return value
    text = value.strip().upper() if isinstance(value, str) else ""
    if text in TicketPriority.__members__:
        return TicketPriority(text)
    raise ValidationError.single(
        path, UNKNOWN_PRIORITY_CODE, f"{value!r} is not a priority (P1, P2, P3 or P4)"
    )
