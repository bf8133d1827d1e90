"""pytest plugin of leadtocash (registered through the ``pytest11`` entry point).

Installed with the library, it gives every test session these fixtures (each test its own):

* ``leadtocash_clock`` — a :class:`~leadtocash.testing.FakeClock` (moves only when told);
* ``leadtocash_ids`` — :class:`~leadtocash.testing.SequentialIds` (``lead-000001`` …);
* ``leadtocash_store`` — an empty :class:`~leadtocash.testing.InMemoryStore`;
* ``leadtocash_notifier`` — a :class:`~leadtocash.testing.RecordingNotifier`;
* ``leadtocash_crm`` — a :class:`~leadtocash.LeadToCash` over those three.

The storage conformance suite is one class: subclass
:class:`~leadtocash.testing.StoreConformance` and give it ``make_store`` (see
docs/adapters/conformance.md); this plugin makes pytest rewrite its asserts, so a failing
contract test shows the values compared. Needs only pytest; the suite also needs hypothesis
(``pip install 'leadtocash[test]'``).

pytest loads this module in every session of an environment where leadtocash is installed, so
it imports the library only when a fixture is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from leadtocash.app import LeadToCash
    from leadtocash.testing.fakes import FakeClock, RecordingNotifier, SequentialIds
    from leadtocash.testing.memory import InMemoryStore

__all__ = [
    "leadtocash_clock",
    "leadtocash_crm",
    "leadtocash_ids",
    "leadtocash_notifier",
    "leadtocash_store",
]

pytest.register_assert_rewrite("leadtocash.testing.conformance")


@pytest.fixture
def leadtocash_clock() -> FakeClock:
    """A fake clock at 2026-01-05 01:00 UTC (a Monday morning in Shanghai)."""
    from leadtocash.testing.fakes import FakeClock

    return FakeClock()


@pytest.fixture
def leadtocash_ids() -> SequentialIds:
    """Sequential, readable ids: ``<kind>-000001``, ``<kind>-000002`` …"""
    from leadtocash.testing.fakes import SequentialIds

    return SequentialIds()


@pytest.fixture
def leadtocash_store() -> InMemoryStore:
    """An empty in-memory store (the reference implementation of the storage port)."""
    from leadtocash.testing.memory import InMemoryStore

    return InMemoryStore()


@pytest.fixture
def leadtocash_notifier() -> RecordingNotifier:
    """A notifier that records what it is sent (``.sent``, ``.topics()``)."""
    from leadtocash.testing.fakes import RecordingNotifier

    return RecordingNotifier()


@pytest.fixture
def leadtocash_crm(
    leadtocash_store: InMemoryStore, leadtocash_clock: FakeClock, leadtocash_ids: SequentialIds
) -> LeadToCash:
    """The facade over ``leadtocash_store`` with the fake clock and sequential ids."""
    from leadtocash.app import LeadToCash

    return LeadToCash(store=leadtocash_store, clock=leadtocash_clock, ids=leadtocash_ids)
