"""The session-wide refusal guard (tests/refusal_guard.py) catches what it is there for."""

from __future__ import annotations

import itertools
import json

import attrs
import pytest

import refusal_guard
from leadtocash import LeadToCash
from leadtocash.app.context import AppContext
from leadtocash.errors import LeadToCashError, RuleViolation
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


def test_a_refusal_without_its_own_code_or_an_escaping_error_fails() -> None:
    def vague(_self: _Service) -> None:
        raise LeadToCashError("something went wrong")

    def crash(_self: _Service) -> None:
        json.loads("{")  # a ValueError raised outside test code, as library code would

    def injected(_self: _Service) -> None:
        raise ConnectionError("connection lost")  # a fault a test double injects

    service = _guarded_service()
    with pytest.raises(AssertionError, match="without a code of its own"):
        refusal_guard._guarded("demo.vague", vague)(service)
    with pytest.raises(AssertionError, match="let JSONDecodeError escape"):
        refusal_guard._guarded("demo.crash", crash)(service)
    with pytest.raises(ConnectionError):
        refusal_guard._guarded("demo.injected", injected)(service)
