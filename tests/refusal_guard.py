"""A check every test runs: a facade command that refuses raises a LeadToCashError with a
code of its own, names every bad field, and has committed nothing.

The non-negotiable "bad input gets a clear typed error that names the field, and changes
nothing" holds inside one unit of work by construction (nothing commits before the command
returns); what could break it is a public command that commits, then goes on and raises — a
later batch, a second unit of work, a check after the commit. This wraps every public method
of every service on the ``LeadToCash`` facade for the whole test session, counts the units
of work it commits around the outermost call, and fails the test that provoked such a
refusal, naming the command. Commands that commit in resumable batches and report a later
batch's refusal by design are listed in ``BATCHED`` with the reason. It also fails a refusal
without a code of its own, a field error without a path, and any other exception escaping
a command (unless test code raised it: an injected fault).

Commits are counted per facade and thread, on every store.
"""

from __future__ import annotations

import functools
import inspect
import os
import threading
import traceback
from collections.abc import Callable
from typing import Any

from leadtocash import LeadToCash
from leadtocash.app.context import AppContext
from leadtocash.app.unit_of_work import UnitOfWork
from leadtocash.errors import LeadToCashError, ValidationError

#: ``service.method`` → why it may commit and then raise.
BATCHED: dict[str, str] = {
    "collisions.commit_import": (
        "writes a planned import in atomic batches and is resumed with the same import id: "
        "a batch that meets a new duplicate writes none of its rows and refuses, the batches "
        "before it stay written (docs/collision.md)"
    ),
}

#: Per thread: how many units of work each application context (one facade) has committed.
#: Counting per context and thread leaves out what other facades on the same store (the race
#: tests' "other process") and other threads commit meanwhile.
_local = threading.local()


def _committed(ctx: object) -> int:
    counts: dict[int, int] = getattr(_local, "counts", {})
    return counts.get(id(ctx), 0)


def _count_commits() -> None:
    make, commit = AppContext.unit_of_work, UnitOfWork.commit

    @functools.wraps(make)
    def unit_of_work(self: AppContext) -> UnitOfWork:
        uow = make(self)
        uow._guard_ctx = self  # type: ignore[attr-defined]
        return uow

    @functools.wraps(commit)
    def counted(self: UnitOfWork) -> None:
        commit(self)
        ctx = getattr(self, "_guard_ctx", None)
        if ctx is not None:
            counts = _local.__dict__.setdefault("counts", {})
            counts[id(ctx)] = counts.get(id(ctx), 0) + 1

    AppContext.unit_of_work = unit_of_work  # type: ignore[method-assign]
    UnitOfWork.commit = counted  # type: ignore[method-assign]


def _check_refusal(name: str, error: LeadToCashError, committed: int) -> None:
    """A refusal names what went wrong (its own code; for bad input, every field's path)
    and changed nothing."""
    if committed and name not in BATCHED:
        raise AssertionError(
            f"crm.{name} refused ({error.code}) after committing {committed} unit(s) of "
            "work: a refusal must change nothing"
        ) from error
    if error.code == LeadToCashError.code:
        raise AssertionError(f"crm.{name} refused without a code of its own: {error}") from error
    if isinstance(error, ValidationError) and not all(e.path for e in error.errors):
        raise AssertionError(f"crm.{name}: a field error without a path: {error}") from error


def _raised_by_a_test(error: BaseException) -> bool:
    """True when ``error`` comes from test code (a fault a test injects through a double)."""
    frames = traceback.extract_tb(error.__traceback__)
    return bool(frames) and f"{os.sep}tests{os.sep}" in frames[-1].filename


def _guarded(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        ctx = getattr(self, "ctx", None)
        depth = _local.__dict__.setdefault("depth", {})
        outermost = depth.get(id(ctx), 0) == 0
        before = _committed(ctx)
        depth[id(ctx)] = depth.get(id(ctx), 0) + 1
        try:
            return method(self, *args, **kwargs)
        except LeadToCashError as error:
            if outermost:
                _check_refusal(name, error, _committed(ctx) - before)
            raise
        except Exception as other:
            if outermost and not _raised_by_a_test(other):
                raise AssertionError(
                    f"crm.{name} let {type(other).__name__} escape ({other}): a refusal "
                    "must be a LeadToCashError with a stable code"
                ) from other
            raise
        finally:
            depth[id(ctx)] -= 1

    return call


def install() -> None:
    """Wrap every public method of the facade's services (once per test session)."""
    _count_commits()
    for attribute, kind in inspect.get_annotations(LeadToCash, eval_str=True).items():
        if not isinstance(kind, type) or not attribute.isidentifier() or attribute == "ctx":
            continue
        for name, member in list(vars(kind).items()):
            if name.startswith("_") or not inspect.isfunction(member):
                continue
            setattr(kind, name, _guarded(f"{attribute}.{name}", member))
