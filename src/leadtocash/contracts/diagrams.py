"""Quote, contract and invoice lifecycles drawn from the live shared machines.

Like the pipeline's and the tickets' diagrams, these read the tables' ``transitions`` machines
(not a copy of their definitions); states are labelled with their zh-CN catalog labels.
Invoice payment states (partly paid, paid, credited) follow from the amounts, not from
triggers, so the invoice table — and its diagram — has only ``issue`` and ``void``.
"""

from __future__ import annotations

import enum

from leadtocash.contracts.contract import CONTRACT_TABLE, ContractStatus
from leadtocash.contracts.invoices import INVOICE_TABLE, InvoiceStatus
from leadtocash.contracts.quotes import QUOTE_TABLE, QuoteStatus
from leadtocash.i18n import label
from leadtocash.pipeline.diagrams import mermaid
from leadtocash.pipeline.machine import StateTable

__all__ = ["contract_diagram", "diagrams", "invoice_diagram", "quote_diagram"]


def _draw(table: StateTable, states: type[enum.StrEnum], title: str) -> str:
    labels = {s.value: label(s, "zh-CN") for s in states}
    return mermaid(table, title=title, labels=labels)


def quote_diagram() -> str:
    """Mermaid ``stateDiagram-v2`` text of the quote table (报价)."""
    return _draw(QUOTE_TABLE, QuoteStatus, "Quote lifecycle")


def contract_diagram() -> str:
    """Mermaid ``stateDiagram-v2`` text of the contract table (合同)."""
    return _draw(CONTRACT_TABLE, ContractStatus, "Contract lifecycle")


def invoice_diagram() -> str:
    """Mermaid ``stateDiagram-v2`` text of the invoice table (发票: issue and void)."""
    return _draw(INVOICE_TABLE, InvoiceStatus, "Invoice lifecycle")


def diagrams() -> dict[str, str]:
    """Every generated contract-to-cash diagram of the docs by block name."""
    return {"quote": quote_diagram(), "contract": contract_diagram(), "invoice": invoice_diagram()}
