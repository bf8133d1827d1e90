"""Quote arithmetic: gross, line and quote discounts, net, VAT and totals, exact to the fen.

Per line: ``gross = quantity × unit price`` and ``line discount = gross × line rate``, each
rounded half-even to the minor unit. The quote discount is ``Σ (gross − line discount) × quote
rate`` rounded once, then split over the lines by largest remainder in proportion to their
discounted amounts, so the lines' shares add up to it exactly. A line's amount is ``gross −
line discount − its share``. Tax-inclusive (含税): that amount is the line total and
``tax = total − total / (1 + rate)`` rounded, ``net = total − tax``. Tax-exclusive: the amount
is the net and ``tax = net × rate`` rounded, ``total = net + tax``. Quote figures are the sums
of the line figures, so the lines add up to the quote total exactly, by construction.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Protocol

import attrs

from leadtocash.contracts.checks import currency_mismatch, sum_money
from leadtocash.money import Money

__all__ = ["PriceableLine", "PricedLine", "QuotePrice", "price_lines", "tax_of"]


class PriceableLine(Protocol):
    """What pricing reads from a line: quantity, unit price, tax rate and line discount."""

    @property
    def quantity(self) -> Decimal:
        """How many units."""

    @property
    def unit_price(self) -> Money:
        """Price of one unit (tax-inclusive when the quote is)."""

    @property
    def tax_rate(self) -> Decimal:
        """VAT rate of the line."""

    @property
    def discount_rate(self) -> Decimal:
        """Line discount rate."""


@attrs.frozen
class PricedLine:
    """The figures of one line: gross, both discounts, net, tax and total."""

    gross: Money
    line_discount: Money
    quote_discount: Money
    net: Money
    tax: Money
    total: Money

    @property
    def discount(self) -> Money:
        """Line discount plus the line's share of the quote discount."""
        return self.line_discount + self.quote_discount


@attrs.frozen
class QuotePrice:
    """The figures of a whole quote: its lines and their exact sums."""

    lines: tuple[PricedLine, ...]
    gross: Money
    discount: Money
    net: Money
    tax: Money
    total: Money

    @property
    def effective_discount(self) -> Decimal:
        """Total discount as a share of the gross (0 for a zero gross), unrounded."""
        if self.gross.amount == 0:
            return Decimal(0)
        return self.discount.amount / self.gross.amount


def tax_of(amount: Money, rate: Decimal, *, inclusive: bool) -> Money:
    """The VAT in (inclusive) or on top of (exclusive) ``amount`` at ``rate``, rounded."""
    if inclusive:
        return Money(amount.amount - amount.amount / (1 + rate), amount.currency)
    return amount.times(rate)


def price_lines(
    lines: Sequence[PriceableLine],
    currency: str,
    *,
    tax_inclusive: bool = True,
    discount_rate: Decimal = Decimal(0),
) -> QuotePrice:
    """Price ``lines`` in ``currency`` with a quote-level ``discount_rate`` (see module doc)."""
    for index, line in enumerate(lines):
        if line.unit_price.currency != currency:
            raise currency_mismatch(
                f"lines[{index}].unit_price", currency, line.unit_price.currency, line=index
            )
    steps = []  # per line: gross, line discount, what is left after it
    for line in lines:
        gross = Money(line.quantity * line.unit_price.amount, currency)
        discount = gross.times(line.discount_rate)
        steps.append((gross, discount, gross - discount))
    quote_discount = sum_money((left for _, _, left in steps), currency).times(discount_rate)
    if quote_discount.amount == 0:  # also every quote without lines: nothing to split
        shares = [Money.zero(currency)] * len(steps)
    else:
        shares = quote_discount.split([left.minor_units for _, _, left in steps])
    priced = []
    for index, line in enumerate(lines):  # by index: the lists have one entry per line
        g, d, left = steps[index]
        share = shares[index]
        amount = left - share
        tax = tax_of(amount, line.tax_rate, inclusive=tax_inclusive)
        if tax_inclusive:
            net, total = amount - tax, amount
        else:
            net, total = amount, amount + tax
        priced.append(PricedLine(g, d, share, net, tax, total))
    return QuotePrice(
        lines=tuple(priced),
        gross=sum_money((p.gross for p in priced), currency),
        discount=sum_money((p.discount for p in priced), currency),
        net=sum_money((p.net for p in priced), currency),
        tax=sum_money((p.tax for p in priced), currency),
        total=sum_money((p.total for p in priced), currency),
    )
