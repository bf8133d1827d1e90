"""Production defaults for the clock and id ports (the domain never imports this module)."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime

__all__ = ["RandomIds", "SystemClock"]


class SystemClock:
    """The wall clock, in UTC."""

    def now(self) -> datetime:
        """The current instant."""
        return datetime.now(UTC)


class RandomIds:
    """Time-ordered random ids (48-bit millisecond prefix + 80 random bits, hex), like UUIDv7."""

    def new_id(self, kind: str) -> str:
        """A fresh id; ids made later sort after ids made earlier (to the millisecond)."""
        millis = time.time_ns() // 1_000_000
        return f"{millis:012x}{secrets.token_hex(10)}"
