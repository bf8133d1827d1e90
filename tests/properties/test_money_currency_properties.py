"""Every known currency: amounts land on its ISO 4217 minor unit, and splitting conserves it."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import example, given
from hypothesis import strategies as st

from leadtocash.money import CURRENCIES, MINOR_UNITS, Money

NAMED = ("TND", "JPY", "UGX", "BHD", "CNY")
currencies = st.one_of(st.sampled_from(NAMED), st.sampled_from(sorted(CURRENCIES)))
#: Decimal amounts with up to 6 decimals, so most need rounding to the minor unit.
raw_amounts = st.builds(
    lambda units, places: Decimal(units).scaleb(-places),
    st.integers(-(10**15), 10**15),
    st.integers(0, 6),
)
weights = st.lists(st.integers(0, 1_000), min_size=1, max_size=9).filter(lambda w: sum(w) > 0)


def _quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-MINOR_UNITS[currency])


def _on_the_minor_unit(money: Money) -> bool:
    return money.amount % _quantum(money.currency) == 0 and (
        money.amount.as_tuple().exponent == -MINOR_UNITS[money.currency]
    )


@given(raw_amounts, currencies)
@example(Decimal("0.0005"), "TND")
@example(Decimal("2.5"), "JPY")
@example(Decimal("-0.5"), "UGX")
@example(Decimal("1.0005"), "BHD")
@example(Decimal("0.005"), "CNY")
def test_rounding_lands_on_the_minor_unit(raw: Decimal, currency: str) -> None:
    money = Money(raw, currency)
    assert _on_the_minor_unit(money)
    assert abs(money.amount - raw) <= _quantum(currency) / 2  # nearest, half-even
    assert Money.from_minor_units(money.minor_units, currency) == money


@given(raw_amounts, currencies, weights)
@example(Decimal("0.010"), "TND", [1, 1, 1])
@example(Decimal("100"), "JPY", [1, 1, 1])
@example(Decimal("1"), "UGX", [1, 1])
def test_split_never_creates_or_loses_a_minor_unit(
    raw: Decimal, currency: str, ws: list[int]
) -> None:
    whole = Money(raw, currency)
    parts = whole.split(ws)
    assert sum(p.minor_units for p in parts) == whole.minor_units
    assert sum((p for p in parts), Money.zero(currency)) == whole
    assert all(_on_the_minor_unit(p) and p.currency == currency for p in parts)
    assert all(p.amount == 0 for p, w in zip(parts, ws, strict=True) if w == 0)


@given(raw_amounts, currencies, st.integers(1, 40))
@example(Decimal("0.001"), "TND", 3)
@example(Decimal("7"), "JPY", 2)
def test_even_allocation_conserves_and_stays_within_one_unit(
    raw: Decimal, currency: str, n: int
) -> None:
    whole = Money(raw, currency)
    parts = whole.allocate_evenly(n)
    units = [p.minor_units for p in parts]
    assert len(parts) == n and sum(units) == whole.minor_units
    assert max(units) - min(units) <= 1
    assert all(_on_the_minor_unit(p) for p in parts)
