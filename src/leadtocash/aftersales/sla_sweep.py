"""The breach sweep's decision for one ticket: which warnings and breaches to raise now.

The app selects the tickets with ``sla_check_at <= now`` (an indexed range query: the cost
grows with what is due, not with the open tickets), passes each here, writes the events to
the outbox and saves the returned ticket in the same commit. A breach is raised exactly once
per target (``Ticket.breaches``), a warning at most once (``Ticket.warned``), and none after
its target breached; an unchanged ticket comes back as the same object.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from leadtocash.aftersales.business_time import SlaCalendar
from leadtocash.aftersales.events import SlaBreached, SlaEvent, SlaWarning
from leadtocash.aftersales.sla_clock import SlaBreach, sla_schedule
from leadtocash.aftersales.sla_policy import SlaTarget
from leadtocash.aftersales.ticket import Ticket, with_sla

__all__ = ["SlaSweep", "sweep_sla"]


@attrs.frozen
class SlaSweep:
    """A ticket after one sweep, and the events to write to the outbox with it."""

    ticket: Ticket
    events: tuple[SlaEvent, ...] = ()
    #: True when the ticket must be saved (events raised, or its derived instants moved).
    changed: bool = False


def sweep_sla(ticket: Ticket, now: datetime, clock: SlaCalendar) -> SlaSweep:
    """The warnings and breaches ``ticket`` has due at ``now``, and the ticket recording them.

    Instants are derived again from the history on ``clock`` (so a calendar that gained
    official data is honoured). A breach is due when its target's elapsed time has reached
    the promise by ``now``; a warning when the warning threshold was reached while the clock
    still runs. A target that breaches is marked warned too, so no late warning follows.
    """
    schedule = sla_schedule(ticket.history, ticket.sla, clock)
    events: list[SlaEvent] = []
    breaches = list(ticket.breaches)
    warned = set(ticket.warned)
    facts = {
        "occurred_at": now,
        "ticket_id": ticket.id,
        "customer_id": ticket.customer_id,
        "priority": ticket.priority,
        "assignee_id": ticket.assignee_id,
        "team_id": ticket.team_id,
        "provisional": schedule.provisional,
    }
    for target in SlaTarget:
        if target in ticket.breached:
            continue
        due = schedule.due_at(target)
        if due is not None and due <= now:
            events.append(SlaBreached(target=target, due_at=due, **facts))  # type: ignore[arg-type]
            breaches.append(SlaBreach(target, due, now))
            warned.add(target)
            continue
        warn = schedule.warn_at(target)
        if (
            due is not None
            and warn is not None
            and warn <= now
            and target not in warned
            and target in schedule.running
        ):
            events.append(SlaWarning(target=target, due_at=due, **facts))  # type: ignore[arg-type]
            warned.add(target)
    if not events:
        fresh = with_sla(ticket, clock)
        return SlaSweep(fresh, changed=fresh is not ticket)
    marked = attrs.evolve(ticket, breaches=tuple(breaches), warned=frozenset(warned))
    return SlaSweep(with_sla(marked, clock), tuple(events), changed=True)
