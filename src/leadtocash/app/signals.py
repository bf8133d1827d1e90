"""Signals the application emits for the embedding app to log (standard ``logging``).

Logger ``leadtocash.calendar``: a reclaim deadline now rests on a calendar year without
official data (code ``calendar.provisional``); it is recomputed by
``ReclaimService.recompute_provisional`` once the year's notice or package data arrive.
"""

from __future__ import annotations

import logging

from leadtocash.model import Customer

__all__ = ["CALENDAR_LOG", "signal_provisional"]

#: Where provisional-deadline signals go; records carry ``code``, ``customer_id``, ``due_at``.
CALENDAR_LOG = logging.getLogger("leadtocash.calendar")


def signal_provisional(before: Customer, after: Customer) -> None:
    """Log when ``after``'s reclaim deadline became provisional or moved while provisional."""
    if not after.reclaim_provisional or after.reclaim_due_at is None:
        return
    if before.reclaim_provisional and before.reclaim_due_at == after.reclaim_due_at:
        return
    due = after.reclaim_due_at.isoformat()
    CALENDAR_LOG.info(
        "customer %s: reclaim deadline %s (%s) rests on a calendar year without official "
        "data and is provisional",
        after.id,
        due,
        after.reclaim_rule,
        extra={"code": "calendar.provisional", "customer_id": after.id, "due_at": due},
    )
