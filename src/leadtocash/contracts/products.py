"""Products and their list prices (产品与价目表): what quote lines reference."""

from __future__ import annotations

from decimal import Decimal

import attrs

from leadtocash.contracts.checks import money_non_negative, rate
from leadtocash.contracts.ids import ProductId
from leadtocash.money import Money
from leadtocash.validators import non_blank

__all__ = ["VAT_RATES", "Product"]

#: The common Chinese VAT rates (增值税): goods 13%, transport/construction 9%, services 6%, 0.
VAT_RATES: tuple[Decimal, ...] = (Decimal("0.13"), Decimal("0.09"), Decimal("0.06"), Decimal(0))


@attrs.frozen
class Product:
    """A sellable product: code, name, unit, list price (含税 by default) and VAT rate."""

    id: ProductId
    code: str = attrs.field(validator=non_blank)
    name: str = attrs.field(validator=non_blank)
    unit: str = attrs.field(validator=non_blank)
    list_price: Money = attrs.field(validator=money_non_negative)
    tax_rate: Decimal = attrs.field(default=Decimal("0.13"), validator=rate)
    active: bool = True
    version: int = 0
