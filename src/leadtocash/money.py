"""Money: a Decimal amount with an ISO 4217 currency, rounded half-even to minor units.

No floats, ever: constructing Money from a float is a ValidationError. Splitting uses the
largest-remainder method, so the parts always add up to the whole, cent for cent.

Currencies come from real data, not a hand-kept list: the codes are every currency Unicode
CLDR knows (through ``babel``, current and withdrawn codes, plus ``CNH``), and an unknown
code (``XYZ``) is a ``ValidationError`` on ``currency`` with code ``money.unknown_currency``.

Minor units are **ISO 4217's**, because invoices and payments follow ISO 4217. CLDR's
``digits`` say how many decimals to *display* and differ from ISO's minor units for a few
currencies (CLDR shows IDR, HUF, COP, IQD … without decimals, ISO 4217 has 2 — 3 for IQD).
Those are the only corrections, listed in :data:`ISO_4217_MINOR_UNITS_OVER_CLDR` (ISO 4217
list one, published 2026-01-01; a test pins them). Codes whose ISO minor unit is "N.A."
(precious metals XAU/XAG/XPD/XPT, XDR, bond units XBA–XBD, XSU, XUA, XTS, XXX) and withdrawn
codes use CLDR's digits (2 unless CLDR says otherwise).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from fractions import Fraction
from types import MappingProxyType

import attrs
from babel.core import get_global
from babel.numbers import list_currencies

from leadtocash.errors import FieldError, ValidationError

__all__ = [
    "CURRENCIES",
    "ISO_4217_MINOR_UNITS_OVER_CLDR",
    "MINOR_UNITS",
    "UNKNOWN_CURRENCY_CODE",
    "Money",
    "is_currency",
    "minor_unit_digits",
]

#: Stable code of a well-formed currency code that no currency has (``XYZ``).
UNKNOWN_CURRENCY_CODE = "money.unknown_currency"

#: ISO 4217 minor units of the current currencies whose CLDR ``digits`` differ (CLDR shows
#: them with fewer decimals for cash or display; ISO 4217 is what invoices need).
ISO_4217_MINOR_UNITS_OVER_CLDR: Mapping[str, int] = MappingProxyType({
    "AFN": 2, "ALL": 2, "COP": 2, "HUF": 2, "IDR": 2, "IQD": 3, "IRR": 2, "KPW": 2,
    "LAK": 2, "LBP": 2, "MGA": 2, "MMK": 2, "SOS": 2, "SYP": 2, "YER": 2,
})  # fmt: skip


def _minor_units() -> Mapping[str, int]:
    fractions = get_global("currency_fractions")
    default = int(fractions["DEFAULT"][0])
    table = {code: int(fractions.get(code, (default,))[0]) for code in list_currencies()}
    table.update(ISO_4217_MINOR_UNITS_OVER_CLDR)
    return MappingProxyType(dict(sorted(table.items())))


#: Minor-unit digits of every known currency (CLDR's codes, ISO 4217's minor units), read-only.
MINOR_UNITS: Mapping[str, int] = _minor_units()
#: Every currency code Money accepts.
CURRENCIES: frozenset[str] = frozenset(MINOR_UNITS)


def is_currency(code: object) -> bool:
    """True when ``code`` is a known currency code (exact spelling: three capital letters)."""
    return isinstance(code, str) and code in MINOR_UNITS


def _currency_error(value: object, path: str = "currency") -> FieldError:
    """The field error of a currency code that is not known (``is_currency`` is False)."""
    if isinstance(value, str) and len(value) == 3 and value.isascii() and value.isupper():
        return FieldError(path, UNKNOWN_CURRENCY_CODE, f"{value!r} is not a known currency")
    return FieldError(path, "money.currency", f"{value!r} is not an ISO 4217 code")


def minor_unit_digits(currency: str) -> int:
    """ISO 4217 minor-unit digits of ``currency`` (JPY 0, CNY 2, TND 3); unknown: an error."""
    digits = MINOR_UNITS.get(currency)
    if digits is None:
        raise ValidationError([_currency_error(currency)])
    return digits


def _quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_unit_digits(currency))


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


@functools.cache
def _zero(currency: str) -> Money:
    return Money(Decimal(0), currency)


#: Sums below 10**20 stay exact on the minor unit without re-rounding (far inside the 28
#: significant digits of Decimal's default context, for every currency's minor unit).
_FAST_DIGITS = 20


def _check_currency(_inst: object, _attr: object, value: str) -> None:
    if not is_currency(value):
        raise ValidationError([_currency_error(value)])


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
        """The zero amount of ``currency`` (one shared instance per currency: it is immutable)."""
        return _zero(currency)

    @property
    def minor_units(self) -> int:
        """The amount as an integer count of minor units (fen, cents)."""
        return int(self.amount.scaleb(MINOR_UNITS[self.currency]))

    @classmethod
    def from_minor_units(cls, units: int, currency: str) -> Money:
        """Build from an integer count of minor units."""
        return cls(Decimal(units).scaleb(-minor_unit_digits(currency)), currency)

    @classmethod
    def parse(cls, raw: object, path: str = "") -> Money:
        """Money from a payload: ``Money``, ``"12.30 CNY"`` or ``{"amount": …, "currency": …}``.

        Every bad part is reported at once, under ``path`` (``"budget"`` → ``budget.amount``,
        ``budget.currency``); an unknown currency is ``money.unknown_currency``.
        """
        prefix = f"{path}." if path else ""
        if isinstance(raw, Money):
            return raw
        if isinstance(raw, str):
            number, _, code = raw.strip().partition(" ")
            parts: Mapping[str, object] = {"amount": number, "currency": code.strip()}
        elif isinstance(raw, Mapping):
            parts = raw
        else:
            message = f"expected an amount like '12.30 CNY' or a mapping, got {type(raw).__name__}"
            raise ValidationError.single(path or "amount", "money.type", message)
        errors = [
            FieldError(f"{prefix}{key}", "field.required", f"{key} is required")
            for key in ("amount", "currency")
            if parts.get(key) in (None, "")
        ]
        errors += [
            FieldError(f"{prefix}{key}", "field.unknown", "not a part of an amount")
            for key in sorted(set(map(str, parts)) - {"amount", "currency"})
        ]
        if errors:
            raise ValidationError(errors)
        currency = parts["currency"]
        if not is_currency(currency):
            errors.append(_currency_error(currency, f"{prefix}currency"))
        amount = Decimal(0)
        try:
            amount = _to_decimal(parts["amount"])
        except ValidationError as exc:
            errors += [attrs.evolve(e, path=f"{prefix}{e.path}") for e in exc.errors]
        if errors:
            raise ValidationError(errors)
        return cls(amount, str(currency))

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise ValidationError.single(
                "currency",
                "money.currency_mismatch",
                f"cannot combine {self.currency} with {other.currency}",
            )

    def _exact(self, amount: Decimal) -> Money:
        """Money of this currency for a sum or difference of its amounts: already on the minor
        unit, so no conversion, check or rounding is needed (the hot path of every ledger),
        unless it nears the 28 digits of Decimal's default precision."""
        if amount.adjusted() >= _FAST_DIGITS:
            return Money(amount, self.currency)
        money = object.__new__(Money)
        object.__setattr__(money, "amount", amount)
        object.__setattr__(money, "currency", self.currency)
        return money

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return self._exact(self.amount + other.amount)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return self._exact(self.amount - other.amount)

    def __neg__(self) -> Money:
        return self._exact(-self.amount)

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
        # Exact shares as fractions: Decimal division rounds at 28 digits, which made equal
        # remainders of shares of different size compare unequal (and broke the tie order).
        weight_sum = sum((Fraction(w) for w in ws), Fraction(0))
        exact = [magnitude * Fraction(w) / weight_sum for w in ws]
        floors = [math.floor(e) for e in exact]
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
