"""Shared builders for the after-sales tests: a Shanghai clock, a ticket, a CST helper."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from leadtocash.aftersales import SlaCalendar, Ticket, TicketId, open_ticket
from leadtocash.durations import BusinessHours, WeekdayCalendar
from leadtocash.model import ContactId, CustomerId

SHANGHAI = ZoneInfo("Asia/Shanghai")
CUSTOMER = CustomerId("cust-1")
CONTACT = ContactId("contact-1")
#: 09:00–18:00 with a 12:00–13:00 lunch break: 8 business hours a working day.
OFFICE = BusinessHours(time(9), time(18), (time(12), time(13)))
WEEKDAYS = SlaCalendar("Asia/Shanghai", WeekdayCalendar(business_hours=OFFICE))


def cst(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A Shanghai wall-clock time as the UTC instant the library works with."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


def new_ticket(
    now: datetime, clock: SlaCalendar = WEEKDAYS, ticket_id: str = "t-1", **changes: Any
) -> Ticket:
    """A P3 phone ticket of CUSTOMER opened at ``now`` (keyword arguments override)."""
    args: dict[str, Any] = {
        "customer_id": CUSTOMER,
        "contact_id": CONTACT,
        "subject": "打印机无法连接",
        "category": "hardware",
        "channel": "phone",
        "priority": "P3",
        "now": now,
        "actor": "agent-1",
        "clock": clock,
    }
    args.update(changes)
    return open_ticket(TicketId(ticket_id), **args)
