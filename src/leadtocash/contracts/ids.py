"""Identifiers of the contract-to-cash aggregates (plain strings, typed for mypy)."""

from __future__ import annotations

from typing import NewType

__all__ = [
    "AmendmentId",
    "ContractId",
    "CreditId",
    "DeliveryId",
    "InvoiceId",
    "ProductId",
    "QuoteId",
    "ReceiptId",
    "RefundId",
    "ReversalId",
]

ProductId = NewType("ProductId", str)
QuoteId = NewType("QuoteId", str)
ContractId = NewType("ContractId", str)
AmendmentId = NewType("AmendmentId", str)
DeliveryId = NewType("DeliveryId", str)
InvoiceId = NewType("InvoiceId", str)
ReceiptId = NewType("ReceiptId", str)
ReversalId = NewType("ReversalId", str)
CreditId = NewType("CreditId", str)
RefundId = NewType("RefundId", str)
