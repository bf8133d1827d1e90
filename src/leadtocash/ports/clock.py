"""Clock and id-source ports: the only ways the library learns the time or makes ids."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

__all__ = ["Clock", "IdSource"]


class Clock(Protocol):
    """Tells the current time as a timezone-aware UTC datetime."""

    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


class IdSource(Protocol):
    """Makes new unique ids; ``kind`` lets an implementation prefix or partition them."""

    def new_id(self, kind: str) -> str:
        """A fresh id that was never returned before for any kind."""
        ...
