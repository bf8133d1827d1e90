"""Payment reminders (催款提醒): when each issued invoice is reminded, and what was sent.

Every issued blue invoice gets a :class:`DueReminders` schedule: a reminder ``before`` days
ahead of the due date (``due_soon``) and one ``after`` days past it (``overdue``). The schedule
stores only the next reminder's date, so storage can index it and a sweep reads exactly the
reminders that are due; sending one moves the date to the next kind, or clears it after the
last. A reminder is sent once per invoice and kind (the kinds already sent are recorded), and
a kind whose successor is also due is skipped, never sent late.
"""

from __future__ import annotations

import enum
from datetime import date, datetime, timedelta

import attrs

from leadtocash.contracts.ids import InvoiceId
from leadtocash.model import CustomerId
from leadtocash.validators import day_count, utc

__all__ = [
    "DueReminders",
    "ReminderKind",
    "ReminderPolicy",
    "SentReminder",
    "advance_reminders",
    "schedule_reminders",
]


class ReminderKind(enum.StrEnum):
    """Reminders of one invoice: before the due date, then after it."""

    DUE_SOON = "due_soon"
    OVERDUE = "overdue"


@attrs.frozen
class ReminderPolicy:
    """Days before the due date (``due_soon``) and after it (``overdue``) a reminder goes out."""

    before_days: int = attrs.field(default=3, validator=day_count)
    after_days: int = attrs.field(default=1, validator=day_count)

    def on(self, kind: ReminderKind, due_date: date) -> date:
        """The day ``kind`` is due for an invoice due on ``due_date``."""
        if kind is ReminderKind.DUE_SOON:
            return due_date - timedelta(days=self.before_days)
        return due_date + timedelta(days=self.after_days)


@attrs.frozen
class SentReminder:
    """A reminder kind that was sent (or skipped, ``sent`` False) at ``at``."""

    kind: ReminderKind
    at: datetime = attrs.field(validator=utc)
    sent: bool = True


@attrs.frozen
class DueReminders:
    """The reminder schedule of one invoice (same id): next kind and day, and what was done."""

    id: InvoiceId
    customer_id: CustomerId
    due_date: date
    next_kind: ReminderKind | None = ReminderKind.DUE_SOON
    next_on: date | None = None
    done: tuple[SentReminder, ...] = ()
    version: int = 0


def schedule_reminders(
    invoice_id: InvoiceId, customer_id: CustomerId, due_date: date, policy: ReminderPolicy
) -> DueReminders:
    """The schedule of a newly issued invoice: first the ``due_soon`` reminder."""
    first = ReminderKind.DUE_SOON
    return DueReminders(invoice_id, customer_id, due_date, first, policy.on(first, due_date))


def advance_reminders(
    reminders: DueReminders,
    today: date,
    now: datetime,
    policy: ReminderPolicy,
    *,
    still_open: bool,
) -> tuple[DueReminders, ReminderKind | None]:
    """``(schedule after today's sweep, the kind to send now or None)``.

    Nothing is due before ``next_on``. An invoice no longer open clears its schedule. Of the
    kinds due by ``today`` only the latest is sent; earlier ones are recorded as skipped.
    """
    if reminders.next_kind is None or reminders.next_on is None or reminders.next_on > today:
        return reminders, None
    if not still_open:
        return attrs.evolve(reminders, next_kind=None, next_on=None), None
    kinds = list(ReminderKind)
    due = [
        k
        for k in kinds[kinds.index(reminders.next_kind) :]
        if policy.on(k, reminders.due_date) <= today
    ]
    send = due[-1]
    done = (
        *reminders.done,
        *(SentReminder(k, now, sent=False) for k in due[:-1]),
        SentReminder(send, now),
    )
    following = kinds[kinds.index(send) + 1 :]
    next_kind = following[0] if following else None
    next_on = None if next_kind is None else policy.on(next_kind, reminders.due_date)
    return attrs.evolve(reminders, next_kind=next_kind, next_on=next_on, done=done), send
