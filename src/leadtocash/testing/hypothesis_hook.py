"""Registers leadtocash's strategies for its public value types with hypothesis.

Hypothesis runs :func:`_hypothesis_setup_hook` when it is imported (the ``hypothesis`` entry
point of the distribution), so after installing leadtocash::

    from hypothesis import strategies as st
    from leadtocash import Lead, Money

    st.from_type(Money)  # amounts in ISO 4217 currencies with their minor units
    st.from_type(Lead)   # valid leads as intake would store them

Each type draws from the strategy of the same name in :mod:`leadtocash.testing.strategies`.
"""

from __future__ import annotations

import warnings

__all__ = ["register_strategies"]


def register_strategies() -> None:
    """Register a strategy for every public value type (idempotent)."""
    from hypothesis import strategies as st

    from leadtocash.audit import AuditEntry
    from leadtocash.durations import Duration
    from leadtocash.model import Contact, Customer, FollowUp, Lead, SalesRep, Team, Zone
    from leadtocash.money import Money
    from leadtocash.pipeline import Opportunity
    from leadtocash.pool import Pool, PoolRules
    from leadtocash.settings import OrganisationSettings
    from leadtocash.testing import strategies as s

    registry: list[tuple[type, st.SearchStrategy[object]]] = [
        (Money, s.money()),
        (Lead, s.leads()),
        (Customer, s.customers()),
        (Contact, s.contacts()),
        (FollowUp, s.follow_ups()),
        (SalesRep, s.reps()),
        (Team, s.teams()),
        (Zone, s.zones()),
        (Pool, s.pools()),
        (PoolRules, s.pool_rules()),
        (Duration, s.durations()),
        (Opportunity, s.opportunities()),
        (OrganisationSettings, s.organisation_settings()),
        (AuditEntry, s.audit_entries()),
    ]
    for value_type, strategy in registry:
        st.register_type_strategy(value_type, strategy)


def _hypothesis_setup_hook() -> None:
    """The entry point: a broken install warns instead of breaking ``import hypothesis``."""
    try:
        register_strategies()
    except ImportError as exc:  # pragma: no cover - a partial install
        warnings.warn(f"leadtocash: hypothesis strategies not registered: {exc}", stacklevel=2)
