from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from leadtocash import Money
from leadtocash.testing.strategies import money

weights = st.lists(st.integers(0, 10_000), min_size=1, max_size=12).filter(lambda w: sum(w) > 0)


@given(money(), weights)
def test_split_never_creates_or_loses_a_minor_unit(amount: Money, ws: list[int]) -> None:
    parts = amount.split(ws)
    assert len(parts) == len(ws)
    assert sum(p.minor_units for p in parts) == amount.minor_units
    assert all(p.currency == amount.currency for p in parts)
    total = sum(ws)
    for part, w in zip(parts, ws, strict=True):
        exact = Decimal(amount.minor_units) * w / total
        assert abs(Decimal(part.minor_units) - exact) < 1


@given(money(), st.integers(1, 50))
def test_even_allocation_differs_by_at_most_one_unit(amount: Money, n: int) -> None:
    units = [p.minor_units for p in amount.allocate_evenly(n)]
    assert sum(units) == amount.minor_units
    assert max(units) - min(units) <= 1


@given(money())
def test_minor_units_round_trip(amount: Money) -> None:
    assert Money.from_minor_units(amount.minor_units, amount.currency) == amount
    assert Money(str(amount.amount), amount.currency) == amount
