"""The in-memory reference store passes the storage conformance suite."""

from __future__ import annotations

from leadtocash.ports import Store
from leadtocash.testing import InMemoryStore, StoreConformance


class TestInMemoryStore(StoreConformance):
    def make_store(self) -> Store:
        return InMemoryStore()
