"""The docs' state diagrams are drawn from the live machines and are up to date."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from leadtocash.aftersales.states import TICKET_TABLE
from leadtocash.contracts.contract import CONTRACT_TABLE
from leadtocash.contracts.diagrams import diagrams
from leadtocash.contracts.invoices import INVOICE_TABLE
from leadtocash.contracts.quotes import QUOTE_TABLE
from leadtocash.pipeline import DEFAULT_FLOW, LEAD_TABLE, StateTable, flow_table

ROOT = Path(__file__).resolve().parents[2]
TABLES = {
    "lead": LEAD_TABLE,
    "opportunity": flow_table(DEFAULT_FLOW),
    "quote": QUOTE_TABLE,
    "contract": CONTRACT_TABLE,
    "invoice": INVOICE_TABLE,
    "ticket": TICKET_TABLE,
}


def test_every_generated_diagram_in_docs_is_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/docs_diagrams.py", "--check"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", sorted(TABLES))
def test_the_diagrams_page_draws_every_transition_of_each_machine(name: str) -> None:
    page = (ROOT / "docs" / "diagrams.md").read_text("utf-8")
    block = page.split(f"<!-- generated:{name} -->\n")[1].split(f"<!-- /generated:{name} -->")[0]
    table: StateTable = TABLES[name]
    assert block.startswith("```mermaid\n---\ntitle: ") and "stateDiagram-v2" in block
    for edge in table.edges:
        assert f"{edge.source} --> {edge.dest}: {edge.trigger}" in block
    assert f"[*] --> {table.initial}" in block


def test_contract_to_cash_states_carry_their_chinese_labels() -> None:
    drawn = diagrams()
    assert 'state "已生效 active" as active' in drawn["contract"]
    assert 'state "已被新版本取代 superseded" as superseded' in drawn["quote"]
    assert 'state "已冲红 credited" as credited' in drawn["invoice"]
    assert "draft --> void: void" in drawn["invoice"]
