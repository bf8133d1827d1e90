"""The ticket lifecycle drawn from the live shared machine (like the pipeline's diagrams)."""

from __future__ import annotations

from collections.abc import Mapping

from leadtocash.aftersales.states import TICKET_TABLE, TicketStatus
from leadtocash.pipeline.diagrams import mermaid

__all__ = ["TICKET_LABELS", "diagrams", "ticket_diagram"]

#: Chinese labels of the ticket states shown on the diagram.
TICKET_LABELS: Mapping[str, str] = {
    TicketStatus.OPEN: "待处理",
    TicketStatus.IN_PROGRESS: "处理中",
    TicketStatus.WAITING_ON_CUSTOMER: "待客户回复",
    TicketStatus.RESOLVED: "已解决",
    TicketStatus.CLOSED: "已关闭",
}


def ticket_diagram() -> str:
    """Mermaid ``stateDiagram-v2`` text of :data:`TICKET_TABLE`."""
    return mermaid(TICKET_TABLE, title="Ticket lifecycle", labels=TICKET_LABELS)


def diagrams() -> dict[str, str]:
    """Every generated after-sales diagram of the docs by block name."""
    return {"ticket": ticket_diagram()}
