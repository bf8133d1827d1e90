"""Test support shipped with the library: fakes, the in-memory store, hypothesis strategies.

This package's top level needs only the library itself. ``StoreConformance`` (the storage
conformance suite) and ``leadtocash.testing.strategies`` need pytest and hypothesis: install
the ``test`` extra (``pip install 'leadtocash[test]'``). Without it,
``from leadtocash.testing import StoreConformance`` raises :class:`~leadtocash.MissingExtra`
(an ``ImportError`` naming the extra) and ``from leadtocash.testing import *`` imports the rest.
The pytest plugin (``leadtocash.testing.pytest_plugin``, registered through ``pytest11``) adds
fixtures; see docs/adapters/conformance.md.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING

from leadtocash.errors import MissingExtra
from leadtocash.testing.fakes import FakeClock, RecordingNotifier, SequentialIds
from leadtocash.testing.memory import InMemoryStore

if TYPE_CHECKING:
    from leadtocash.testing.conformance import StoreConformance


def _has_test_extra() -> bool:
    try:
        return all(importlib.util.find_spec(name) is not None for name in ("pytest", "hypothesis"))
    except (ImportError, ValueError):  # a blocked or half-imported module
        return False


__all__ = ["FakeClock", "InMemoryStore", "RecordingNotifier", "SequentialIds"]
if _has_test_extra():
    __all__ += ["StoreConformance"]


def __getattr__(name: str) -> object:
    """``StoreConformance`` on first use (it imports pytest and hypothesis)."""
    if name != "StoreConformance":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        from leadtocash.testing.conformance import StoreConformance
    except ImportError as exc:
        raise MissingExtra(
            "test", needed_for="leadtocash.testing.StoreConformance", module=exc.name
        ) from exc
    return StoreConformance
