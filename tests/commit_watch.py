"""A check every test runs: a commit that files a record under a customer (or a lead) rests
on that customer (lead) as it was read.

A command that creates a record naming a customer (a contact, a deal, an invoice, a ticket…)
or re-points one to another customer decided on that customer — its owner authorized it, it
was not merged away — so its commit must either write the customer or expect it unchanged
(``UnitOfWork.expect_unchanged``): otherwise a merge, release or transfer committed meanwhile
leaves the record on an archive or under a rep who no longer had the right. This wraps
``UnitOfWork.commit`` for the whole test session and fails the commit (the test that made it)
of a command (a unit of work committed inside ``AppContext.execute``; tests that seed records
through a unit of work of their own are left alone) that files such a record without either,
naming the record and the customer.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from leadtocash.app.context import AppContext
from leadtocash.app.unit_of_work import UnitOfWork

#: Per thread: how deep inside ``AppContext.execute`` the current call is.
_local = threading.local()


#: The records others are filed under, and the field that names one.
PARENTS = (("customer", "customer_id"), ("lead", "lead_id"))


def unanchored(uow: UnitOfWork) -> list[str]:
    """The staged records filed under a customer or lead the commit neither writes nor
    checks."""
    found = []
    for (kind, ident), aggregate in uow._staged.items():
        before: Any = uow._loaded.get((kind, ident))
        for parent, field in PARENTS:
            parent_id = getattr(aggregate, field, None)
            if kind == parent or not isinstance(parent_id, str):
                continue
            filed = int(aggregate.version) == 0 or (
                before is not None and getattr(before, field) != parent_id
            )
            key = (parent, parent_id)
            if filed and key not in uow._staged and key not in uow._unchanged:
                found.append(f"{kind} {ident} filed under {parent} {parent_id}")
    return found


def install() -> None:
    """Wrap ``UnitOfWork.commit`` (once per test session)."""
    execute, commit = AppContext.execute, UnitOfWork.commit

    @functools.wraps(execute)
    def executing(self: AppContext, *args: Any, **kwargs: Any) -> Any:
        _local.depth = getattr(_local, "depth", 0) + 1
        try:
            return execute(self, *args, **kwargs)
        finally:
            _local.depth -= 1

    @functools.wraps(commit)
    def watched(self: UnitOfWork) -> None:
        missing = unanchored(self) if getattr(_local, "depth", 0) else []
        if missing:
            more = f" (and {len(missing) - 3} more)" if len(missing) > 3 else ""
            raise AssertionError(
                "a command files records under customers or leads it neither writes nor expects "
                f"unchanged (UnitOfWork.expect_unchanged): {'; '.join(missing[:3])}{more}"
            )
        commit(self)

    AppContext.execute = executing  # type: ignore[method-assign]
    UnitOfWork.commit = watched  # type: ignore[method-assign]
