"""The pipeline docs embed diagrams generated from the live machines; they must not drift."""

from __future__ import annotations

from pathlib import Path

from leadtocash.pipeline import DEFAULT_FLOW, LEAD_TABLE, flow_table
from leadtocash.pipeline.diagrams import diagrams, render_blocks

PAGE = Path(__file__).resolve().parents[2] / "docs" / "pipeline.md"


def test_docs_diagrams_are_up_to_date() -> None:
    current = PAGE.read_text("utf-8")
    assert render_blocks(current, diagrams()) == current, "run python scripts/pipeline_docs.py"


def test_every_transition_of_the_machines_is_drawn() -> None:
    drawn = diagrams()
    for name, table in (("lead", LEAD_TABLE), ("opportunity", flow_table(DEFAULT_FLOW))):
        for edge in table.edges:
            assert f"{edge.source} --> {edge.dest}: {edge.trigger}" in drawn[name]
    assert "stateDiagram-v2" in drawn["lead"] and "[requires contact_id]" in drawn["opportunity"]


def test_render_blocks_leaves_unknown_blocks_alone() -> None:
    page = "x\n<!-- generated:other -->\nkeep\n<!-- /generated:other -->\n"
    assert render_blocks(page, {"lead": "stateDiagram-v2"}) == page
