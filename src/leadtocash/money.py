"""Money: a Decimal amount with an ISO 4217 currency, rounded half-even to minor units.

No floats, ever: constructing Money from a float is a ValidationError. Splitting uses the
largest-remainder method, so the parts always add up to the whole, cent for cent.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal, InvalidOperation

import attrs

from leadtocash.errors import ValidationError

__all__ = ["MINOR_UNITS", "Money"]

#: Minor-unit digits per currency (ISO 4217); anything not listed uses 2.
MINOR_UNITS: dict[str, int] = {
    "CNY": 2, "USD": 2, "EUR": 2, "GBP": 2, "HKD": 2, "TWD": 2, "SGD": 2, "AUD": 2,
    "CAD": 2, "CHF": 2, "JPY": 0, "KRW": 0, "VND": 0, "BHD": 3, "KWD": 3, "OMR": 3,
}  # fmt: skip


def _quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-MINOR_UNITS.get(currency, 2))


def _to_decimal(value: object) -> Decimal:
    if isinstance(value, bool | float):
        raise ValidationError.single("amount", "money.float", "money must not be a float")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int | str):
        try:
            result = Decimal(value)
        except InvalidOperation:
            raise ValidationError.single(
                "amount", "money.not_a_number", f"{value!r} is not a number"
            ) from None
    else:
        raise ValidationError.single(
            "amount", "money.type", f"expected Decimal, int or str, got {type(value).__name__}"
        )
    if not result.is_finite():
        raise ValidationError.single("amount", "money.not_finite", "amount must be finite")
    return result


def _check_currency(_inst: object, _attr: object, value: str) -> None:
    if not (isinstance(value, str) and len(value) == 3 and value.isascii() and value.isupper()):
        raise ValidationError.single(
            "currency", "money.currency", f"{value!r} is not an ISO 4217 code"
        )


@attrs.frozen(order=False)
class Money:
    """An amount of one currency, always stored rounded half-even to the currency's minor unit."""

    amount: Decimal = attrs.field(converter=_to_decimal)
    currency: str = attrs.field(validator=_check_currency)

    def __attrs_post_init__(self) -> None:
        rounded = self.amount.quantize(_quantum(self.currency), rounding=ROUND_HALF_EVEN)
        object.__setattr__(self, "amount", rounded)

    @classmethod
    def zero(cls, currency: str) -> Money:
        """The zero amount of ``currency``."""
        return cls(Decimal(0), currency)

    @property
    def minor_units(self) -> int:
        """The amount as an integer count of minor units (fen, cents)."""
        return int(self.amount.scaleb(MINOR_UNITS.get(self.currency, 2)))

    @classmethod
    def from_minor_units(cls, units: int, currency: str) -> Money:
        """Build from an integer count of minor units."""
        return cls(Decimal(units).scaleb(-MINOR_UNITS.get(currency, 2)), currency)

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise ValidationError.single(
                "currency",
                "money.currency_mismatch",
                f"cannot combine {self.currency} with {other.currency}",
            )

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.amount >= other.amount

    def times(self, factor: Decimal | int) -> Money:
        """Multiply by a Decimal or int factor (rate, quantity), rounding half-even."""
        if isinstance(factor, float | bool):
            raise ValidationError.single("factor", "money.float", "factor must not be a float")
        return Money(self.amount * Decimal(factor), self.currency)

    def split(self, weights: Sequence[Decimal | int]) -> list[Money]:
        """Split into parts proportional to ``weights`` (largest remainder; sums exactly).

        Ties in the remainders go to the earlier part, so the result is deterministic.
        """
        if not weights:
            raise ValidationError.single("weights", "money.split_empty", "need at least one weight")
        ws = [_to_decimal(w) for w in weights]
        if any(w < 0 for w in ws) or sum(ws) <= 0:
            raise ValidationError.single(
                "weights", "money.split_weights", "weights must be >= 0 with a positive sum"
            )
        total = self.minor_units
        sign = -1 if total < 0 else 1
        magnitude = abs(total)
        weight_sum = sum(ws)
        exact = [Decimal(magnitude) * w / weight_sum for w in ws]
        floors = [int(e.to_integral_value(rounding=ROUND_FLOOR)) for e in exact]
        short = magnitude - sum(floors)
        order = sorted(range(len(ws)), key=lambda i: (-(exact[i] - floors[i]), i))
        for i in order[:short]:
            floors[i] += 1
        return [Money.from_minor_units(sign * units, self.currency) for units in floors]

    def allocate_evenly(self, parts: int) -> list[Money]:
        """Split into ``parts`` near-equal amounts (differing by at most one minor unit)."""
        if parts <= 0:
            raise ValidationError.single("parts", "money.split_empty", "parts must be positive")
        return self.split([1] * parts)

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"
