"""Test support shipped with the library: fakes, the in-memory store, hypothesis strategies.

``leadtocash.testing.strategies`` holds the hypothesis strategies (importing it needs
hypothesis installed); this package's top level needs only the library itself.
"""

from leadtocash.testing.fakes import FakeClock, RecordingNotifier, SequentialIds
from leadtocash.testing.memory import InMemoryStore

__all__ = ["FakeClock", "InMemoryStore", "RecordingNotifier", "SequentialIds"]
