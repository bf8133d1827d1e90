"""Test support shipped with the library: fakes, the in-memory store, hypothesis strategies.

``leadtocash.testing.strategies`` holds the hypothesis strategies (importing it needs
hypothesis installed); this package's top level needs only the library itself.
"""

import contextlib

from leadtocash.testing.fakes import FakeClock, RecordingNotifier, SequentialIds
from leadtocash.testing.memory import InMemoryStore

with contextlib.suppress(ImportError):  # the suite needs pytest + hypothesis (``test`` extra)
    from leadtocash.testing.conformance import StoreConformance

__all__ = ["FakeClock", "InMemoryStore", "RecordingNotifier", "SequentialIds", "StoreConformance"]
