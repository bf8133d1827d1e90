"""Ticket lifecycle: open → in_progress → waiting_on_customer → resolved → closed, and reopen.

One shared ``transitions`` machine (:data:`TICKET_TABLE`, a pipeline :class:`StateTable`)
answers legality for every ticket; tickets carry no machine. Which states run which SLA clock
is declared here too: the first-response clock runs while the ticket is open (leaving
``open`` is the first response), the resolution clock while it is open or in progress; it
pauses while waiting on the customer and stops once resolved.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType

from leadtocash.aftersales.sla_policy import SlaTarget
from leadtocash.pipeline.machine import Edge, StateTable

__all__ = ["CREATE_TRIGGER", "RUNS_IN", "TICKET_TABLE", "TicketStatus", "TicketTrigger"]

#: Trigger name of a ticket's first history entry (its creation).
CREATE_TRIGGER = "create"


class TicketStatus(enum.StrEnum):
    """Where a ticket (工单) stands."""

    OPEN = "open"
    IN_PROGRESS = "in_progress"
    WAITING_ON_CUSTOMER = "waiting_on_customer"
    RESOLVED = "resolved"
    CLOSED = "closed"


class TicketTrigger(enum.StrEnum):
    """What moves a ticket."""

    START = "start"
    WAIT_ON_CUSTOMER = "wait_on_customer"
    RESUME = "resume"
    RESOLVE = "resolve"
    CLOSE = "close"
    REOPEN = "reopen"


_O, _P, _W = "open", "in_progress", "waiting_on_customer"

#: The one shared state table of tickets.
TICKET_TABLE = StateTable(
    "ticket",
    [s.value for s in TicketStatus],
    [
        Edge("start", _O, _P),
        *(Edge("wait_on_customer", s, _W) for s in (_O, _P)),
        Edge("resume", _W, _P),
        *(Edge("resolve", s, "resolved") for s in (_O, _P, _W)),
        Edge("close", "resolved", "closed"),
        *(Edge("reopen", s, _P) for s in ("resolved", "closed")),
    ],
    initial=_O,
)

#: The states in which each SLA clock runs (every other state pauses or stops it).
RUNS_IN: Mapping[SlaTarget, frozenset[str]] = MappingProxyType(
    {
        SlaTarget.FIRST_RESPONSE: frozenset({_O}),
        SlaTarget.RESOLUTION: frozenset({_O, _P}),
    }
)
