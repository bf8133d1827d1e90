"""The indexes the library queries by are declared: what adapters index, all it may query.

Every repository query (``query``, ``index_entries``, ``select``, ``count``) is checked
against its spec's ``queried`` names, so the whole test suite, which runs every list, sweep
and screen, proves the declaration complete; the PostgreSQL adapter builds its expression
indexes from it (tests/integration/test_postgres_indexes.py).
"""

from __future__ import annotations

import pytest

from leadtocash import QUERIED_INDEXES
from leadtocash.app.aggregates import SPECS
from leadtocash.app.listing import CustomerSort, LeadSort
from leadtocash.model import Customer
from leadtocash.ports import IndexQuery
from pool_fixtures import make_world


def test_queried_indexes_are_each_specs_declaration() -> None:
    assert dict(QUERIED_INDEXES) == {spec.kind: spec.queried for spec in SPECS if spec.queried}
    with pytest.raises(TypeError):
        QUERIED_INDEXES["customer"] = frozenset()  # type: ignore[index]
    assert {sort.value for sort in CustomerSort} <= QUERIED_INDEXES["customer"]
    assert {sort.value for sort in LeadSort} <= QUERIED_INDEXES["lead"]


def test_a_repository_refuses_an_index_its_kind_is_not_queried_by() -> None:
    world = make_world(customers=1)
    with world.crm.unit_of_work() as uow:
        customers = uow.repository(Customer)
        assert customers.index_entries("owner", limit=5) == []  # declared
        with pytest.raises(ValueError, match=r"customer\.tag:vip"):
            customers.index_entries("tag:vip")  # a filter-only name
        with pytest.raises(ValueError, match=r"customer\.stage"):
            customers.count(IndexQuery("customer", "stage"))
        with pytest.raises(ValueError, match=r"lead\.owner"):
            customers.select(IndexQuery("lead", "owner"))  # another kind's query
