"""Identifiers of the after-sales aggregates (plain strings, typed for mypy)."""

from __future__ import annotations

from typing import NewType

__all__ = ["RenewalId", "TicketId"]

TicketId = NewType("TicketId", str)
RenewalId = NewType("RenewalId", str)
