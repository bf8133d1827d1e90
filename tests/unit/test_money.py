from __future__ import annotations

from decimal import Decimal

import pytest

from leadtocash import Money, ValidationError


def test_amounts_round_half_even_to_minor_units() -> None:
    assert Money("1.005", "CNY").amount == Decimal("1.00")
    assert Money("1.015", "CNY").amount == Decimal("1.02")
    assert Money("2.5", "JPY").amount == Decimal("2")
    assert Money("3.5", "JPY").amount == Decimal("4")
    assert Money("0.0005", "KWD").amount == Decimal("0.000")


def test_floats_are_rejected_with_a_field_error() -> None:
    with pytest.raises(ValidationError) as caught:
        Money(1.5, "CNY")
    assert caught.value.paths == ("amount",)
    assert caught.value.errors[0].code == "money.float"
    with pytest.raises(ValidationError):
        Money("10", "CNY").times(1.1)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["cny", "CN", "ＣＮＹ", "", "CNYY"])
def test_currency_must_be_an_iso_code(bad: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Money("1", bad)
    assert caught.value.paths == ("currency",)


@pytest.mark.parametrize("bad", ["abc", "NaN", "Infinity", object()])
def test_non_numbers_are_rejected(bad: object) -> None:
    with pytest.raises(ValidationError):
        Money(bad, "CNY")


def test_mixing_currencies_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        _ = Money("1", "CNY") + Money("1", "USD")
    assert caught.value.errors[0].code == "money.currency_mismatch"
    with pytest.raises(ValidationError):
        _ = Money("1", "CNY") < Money("1", "USD")


def test_arithmetic_and_comparison() -> None:
    a, b = Money("10.10", "CNY"), Money("0.25", "CNY")
    assert a + b == Money("10.35", "CNY")
    assert a - b == Money("9.85", "CNY")
    assert -b == Money("-0.25", "CNY")
    assert b < a
    assert a >= b
    assert not a < b
    assert Money("100", "CNY").times(Decimal("0.135")) == Money("13.50", "CNY")
    assert Money("1.23", "CNY").minor_units == 123
    assert Money.from_minor_units(-5, "JPY") == Money("-5", "JPY")


def test_split_uses_largest_remainder_and_gives_ties_to_earlier_parts() -> None:
    assert Money("10", "CNY").allocate_evenly(3) == [
        Money("3.34", "CNY"),
        Money("3.33", "CNY"),
        Money("3.33", "CNY"),
    ]
    assert Money("100", "CNY").split([1, 2, 3]) == [
        Money("16.67", "CNY"),
        Money("33.33", "CNY"),
        Money("50.00", "CNY"),
    ]
    assert Money("-0.05", "CNY").allocate_evenly(2) == [
        Money("-0.03", "CNY"),
        Money("-0.02", "CNY"),
    ]


@pytest.mark.parametrize("weights", [[], [0, 0], [-1, 2]])
def test_split_rejects_bad_weights(weights: list[int]) -> None:
    with pytest.raises(ValidationError):
        Money("1", "CNY").split(weights)


def test_sums_stay_on_the_minor_unit_on_the_fast_path_and_past_it() -> None:
    small = Money("0.10", "CNY") + Money("0.20", "CNY") - Money("0.05", "CNY")
    assert (small, small.amount.as_tuple().exponent) == (Money("0.25", "CNY"), -2)
    assert -Money("1.005", "TND") == Money("-1.005", "TND")  # three minor digits kept
    huge = Money("99999999999999999999.99", "CNY") + Money("0.01", "CNY")  # ≥ 10**20: checked
    assert huge.amount == Decimal("100000000000000000000.00")
    assert huge.amount.as_tuple().exponent == -2
    assert Money.zero("JPY") is Money.zero("JPY") and Money.zero("JPY").amount == 0
    with pytest.raises(ValidationError):
        Money.zero("XYZ")


def test_equal_remainders_go_to_the_earlier_part_whatever_the_weights() -> None:
    # 20 fen in 4:1:1 is 13⅓ + 3⅓ + 3⅓: three equal remainders, so the one fen left goes
    # to the first part. Shares computed in Decimal (28 digits) made the remainder of the
    # larger share look smaller and gave 0.13/0.04/0.03.
    assert Money("0.20", "CNY").split([4, 1, 1]) == [
        Money("0.14", "CNY"), Money("0.03", "CNY"), Money("0.03", "CNY")
    ]  # fmt: skip
    assert Money("-0.20", "CNY").split([1, 4, 1]) == [
        Money("-0.04", "CNY"), Money("-0.13", "CNY"), Money("-0.03", "CNY")
    ]  # fmt: skip
    assert Money("1", "JPY").split([Decimal("0.3"), Decimal("0.3"), Decimal("0.3")]) == [
        Money("1", "JPY"), Money("0", "JPY"), Money("0", "JPY")
    ]  # fmt: skip
