"""Shared fixtures: a fake clock, sequential ids, an in-memory store and the facade on them."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

from leadtocash import LeadToCash, Principal, Role
from leadtocash.testing import FakeClock, InMemoryStore, SequentialIds

settings.register_profile("ci", max_examples=60, deadline=None)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def crm(store: InMemoryStore, clock: FakeClock) -> LeadToCash:
    return LeadToCash(store=store, clock=clock, ids=SequentialIds())


@pytest.fixture
def rep() -> Principal:
    return Principal("alice", roles=frozenset({Role.REP}), rep_id=None)


@pytest.fixture
def finance() -> Principal:
    return Principal("fred", roles=frozenset({Role.FINANCE}))
