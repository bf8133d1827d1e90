"""Mermaid state diagrams drawn from the live shared machines, so docs cannot drift.

``mermaid`` reads the transitions of a :class:`StateTable`'s machine (not a copy of its
definition) and has ``transitions``' GraphMachine (``graph_engine="mermaid"``, no graphviz
needed) draw them on a throwaway plain object. ``render_blocks`` replaces the generated
blocks of a Markdown page; ``scripts/pipeline_docs.py`` and a unit test use it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from transitions.extensions import GraphMachine

from leadtocash.model import LeadStatus
from leadtocash.pipeline.flows import DEFAULT_FLOW, StageFlow, flow_table
from leadtocash.pipeline.leads import LEAD_TABLE
from leadtocash.pipeline.machine import StateTable

__all__ = ["LEAD_LABELS", "diagrams", "flow_diagram", "mermaid", "render_blocks"]

#: Chinese labels of the lead statuses shown on the diagram.
LEAD_LABELS: Mapping[str, str] = {
    LeadStatus.NEW: "新线索",
    LeadStatus.WORKING: "跟进中",
    LeadStatus.QUALIFIED: "已认定",
    LeadStatus.CONVERTED: "已转化",
    LeadStatus.DISQUALIFIED: "无效",
}


class _Canvas:
    """The throwaway model GraphMachine draws on (frozen attrs entities cannot be models)."""


def _rows(table: StateTable) -> list[dict[str, Any]]:
    rows = []
    for trigger, event in table.machine.events.items():
        for source, found in event.transitions.items():
            for transition in found:
                names = [getattr(c.func, "name", str(c.func)) for c in transition.conditions]
                row: dict[str, Any] = {"trigger": trigger, "source": source}
                row["dest"] = transition.dest
                if names:
                    row["conditions"] = names
                rows.append(row)
    return rows


def mermaid(table: StateTable, *, title: str, labels: Mapping[str, str] | None = None) -> str:
    """Mermaid ``stateDiagram-v2`` text of ``table``'s machine, conditions on the edges."""
    canvas = _Canvas()
    graph = GraphMachine(
        model=canvas,
        states=list(table.machine.states),
        transitions=_rows(table),
        initial=table.initial,
        auto_transitions=False,
        show_conditions=True,
        graph_engine="mermaid",
        title=title,
    )
    text: str = canvas.get_graph().draw(None)  # type: ignore[attr-defined]
    del graph
    # transitions writes the bare title as front matter; mermaid reads YAML (``title: …``).
    text = text.replace(f"---\n{title}\n---", f"---\ntitle: {title}\n---", 1)
    for state, label in (labels or {}).items():
        text = text.replace(f'state "{state}" as {state}', f'state "{label} {state}" as {state}')
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def flow_diagram(flow: StageFlow) -> str:
    """The mermaid diagram of an opportunity stage flow, stages labelled with their labels."""
    labels = {s.name: s.label for s in flow.stages if s.label}
    return mermaid(flow_table(flow), title=f"Opportunity stages ({flow.name})", labels=labels)


def diagrams() -> dict[str, str]:
    """Every generated diagram of the docs by block name."""
    return {
        "lead": mermaid(LEAD_TABLE, title="Lead lifecycle", labels=LEAD_LABELS),
        "opportunity": flow_diagram(DEFAULT_FLOW),
    }


_BLOCK = re.compile(
    r"(<!-- generated:(?P<name>[a-z_]+) -->\n).*?(<!-- /generated:(?P=name) -->)", re.DOTALL
)


def render_blocks(page: str, blocks: Mapping[str, str]) -> str:
    """``page`` with each ``<!-- generated:NAME -->`` block replaced by NAME's mermaid code."""

    def fill(match: re.Match[str]) -> str:
        body = blocks.get(match["name"])
        if body is None:
            return match[0]
        return f"{match[1]}```mermaid\n{body}\n```\n{match[3]}"

    return _BLOCK.sub(fill, page)
