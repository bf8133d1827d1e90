"""Deterministic fakes for the clock, id and notifier ports."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime, timedelta

from leadtocash.ports.notify import DeliveryFailed, Notification

__all__ = ["FakeClock", "RecordingNotifier", "SequentialIds"]


class FakeClock:
    """A clock that only moves when told to (thread-safe)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 5, 1, 0, tzinfo=UTC)
        if self._now.tzinfo is None:
            raise ValueError("FakeClock needs a timezone-aware start")
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The fake current instant."""
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move forward by ``delta`` and return the new now."""
        if delta < timedelta(0):
            raise ValueError("time only moves forward")
        with self._lock:
            self._now += delta
            return self._now

    def set(self, instant: datetime) -> None:
        """Jump to ``instant`` (must not be earlier than now)."""
        with self._lock:
            if instant < self._now:
                raise ValueError("time only moves forward")
            self._now = instant


class SequentialIds:
    """Ids ``<kind>-000001``, ``<kind>-000002``… (thread-safe, one counter for all kinds)."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    def new_id(self, kind: str) -> str:
        """The next id for ``kind``."""
        with self._lock:
            return f"{kind}-{next(self._counter):06d}"


class RecordingNotifier:
    """Remembers every notification; can be told to fail the next N sends."""

    def __init__(self, fail_next: int = 0) -> None:
        self.sent: list[Notification] = []
        self.fail_next = fail_next
        self._lock = threading.Lock()

    def send(self, notification: Notification) -> None:
        """Record ``notification`` or raise DeliveryFailed while failures are queued."""
        with self._lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                raise DeliveryFailed("recording notifier told to fail")
            self.sent.append(notification)

    def topics(self) -> list[str]:
        """Topics sent so far, in order."""
        with self._lock:
            return [n.topic for n in self.sent]
