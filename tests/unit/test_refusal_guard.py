"""The session-wide refusal guard (tests/refusal_guard.py) catches what it is there for."""

from __future__ import annotations

import itertools

import attrs
import pytest

import refusal_guard
from leadtocash import LeadToCash
from leadtocash.app.context import AppContext
from leadtocash.errors import RuleViolation
from leadtocash.model import RepId, SalesRep
from leadtocash.testing import FakeClock, InMemoryStore, SequentialIds

_REPS = itertools.count()


@attrs.define
class _Service:
    """A stand-in service: commits a rep through its context, then (maybe) refuses."""

    ctx: AppContext
    other: AppContext | None = None

    def commit_then_refuse(self, refuse: bool) -> None:
        with (self.other or self.ctx).unit_of_work() as uow:
            uow.reps.add(SalesRep(RepId(f"rep{next(_REPS)}"), "someone"))
            uow.commit()
        if refuse:
            raise RuleViolation("refused after a commit", code="demo.refused")


def _guarded_service(other: bool = False) -> _Service:
    store = InMemoryStore()
    ctx = LeadToCash(store, FakeClock(), SequentialIds()).ctx
    second = LeadToCash(store, FakeClock(), SequentialIds()).ctx if other else None
    return _Service(ctx, second)


GUARDED = refusal_guard._guarded("demo.commit_then_refuse", _Service.commit_then_refuse)


def test_a_refusal_after_a_commit_fails_the_test_naming_the_command() -> None:
    with pytest.raises(AssertionError, match=r"crm\.demo\.commit_then_refuse refused"):
        GUARDED(_guarded_service(), True)


def test_a_command_that_commits_and_succeeds_passes() -> None:
    GUARDED(_guarded_service(), False)


def test_what_another_facade_commits_meanwhile_is_not_the_commands() -> None:
    with pytest.raises(RuleViolation):  # the refusal itself, not the guard's assertion
        GUARDED(_guarded_service(other=True), True)
