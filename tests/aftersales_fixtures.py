"""Shared builders for the after-sales tests: a Shanghai clock, a ticket, a CST helper."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from leadtocash import LeadToCash, Principal, RepId, Role, SalesRep
from leadtocash.aftersales import SlaCalendar, Ticket, TicketId, open_ticket
from leadtocash.durations import BusinessHours, WeekdayCalendar
from leadtocash.model import Contact, ContactId, CustomerId, Team, TeamId
from pool_fixtures import ADMIN, World, make_world, rep_principal

SHANGHAI = ZoneInfo("Asia/Shanghai")
CUSTOMER = CustomerId("cust-1")
CONTACT = ContactId("contact-1")
#: 09:00–18:00 with a 12:00–13:00 lunch break: 8 business hours a working day.
OFFICE = BusinessHours(time(9), time(18), (time(12), time(13)))
WEEKDAYS = SlaCalendar("Asia/Shanghai", WeekdayCalendar(business_hours=OFFICE))
#: A service agent in team t1, registered as rep agent1 by :func:`service_world`.
AGENT = Principal(
    "agent1", roles=frozenset({Role.SERVICE}), rep_id=RepId("agent1"), team_id=TeamId("t1")
)


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


def service_world(calendar: Any = None, **facade: Any) -> tuple[World, CustomerId]:
    """Customer 0 owned by rep1 with contact k1; agent1 (a service agent) registered as a rep
    in team t1. ``calendar`` and ``facade`` arguments rebuild the facade on the same store."""
    world = make_world(customers=3)
    if calendar is not None or facade:
        world.crm = LeadToCash(
            world.store, world.clock, world.crm.ctx.ids, calendar=calendar, **facade
        )
    cid = world.customers[0]
    world.crm.pools.claim(rep_principal(1), cid)
    with world.crm.unit_of_work() as uow:
        uow.contacts.add(
            Contact(ContactId("k1"), cid, "王经理", phone="+8613800001111", email="wang@a.cn")
        )
        uow.contacts.add(Contact(ContactId("k2"), world.customers[1], "李"))
        uow.teams.add(Team(TeamId("t1"), "Support"))
        uow.commit()
    world.crm.reps.register(ADMIN, SalesRep(RepId("agent1"), "Agent 1", team_id=TeamId("t1")))
    return world, cid
