"""Details as people of a locale write them: numbers, money and dates through babel (CLDR).

* integers and decimals: the locale's digits grouping and decimal sign (``12,345.5`` in en,
  ``12.345,5`` in de); decimals keep every digit they have;
* :class:`~leadtocash.money.Money` (and ``{"amount", "currency"}`` payloads): the locale's
  currency pattern with the currency's **ISO 4217** minor units (``¥1,234.50``, ``TND 1.250``,
  ``¥100`` for JPY), not CLDR's display digits;
* dates: the locale's medium date (``Jan 4, 2027``, ``2027年1月4日``);
* date-times: medium date + short time in the given zone; without a zone, in UTC marked "UTC".
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from functools import lru_cache

from babel.core import Locale
from babel.dates import format_date, format_time
from babel.numbers import NumberPattern, format_decimal, parse_pattern

from leadtocash.errors import ValidationError
from leadtocash.money import MINOR_UNITS, Money

__all__ = [
    "format_date_value",
    "format_datetime_value",
    "format_fixed",
    "format_money",
    "format_number",
]

_ISO_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def format_number(value: int | Decimal | float, locale: Locale) -> str:
    """``value`` with the locale's grouping and decimal sign, every given digit kept."""
    if isinstance(value, int) and 0 <= value < 1000:  # no sign, separator or grouping to place
        return str(value)
    return str(format_decimal(value, locale=locale, decimal_quantization=False))


def format_fixed(value: int | Decimal, places: int, locale: Locale) -> str:
    """``value`` rounded half-even to ``places`` decimals, written the locale's way."""
    return str(_fixed_pattern(places).apply(value, locale))


@lru_cache(maxsize=16)
def _fixed_pattern(places: int) -> NumberPattern:
    return parse_pattern("#,##0." + "0" * places if places > 0 else "#,##0")


@lru_cache(maxsize=512)
def _currency_pattern(locale: Locale, digits: int) -> NumberPattern:
    pattern: NumberPattern = copy.copy(locale.currency_formats["standard"])
    pattern.frac_prec = (digits, digits)
    return pattern


def format_money(money: Money, locale: Locale) -> str:
    """``money`` in the locale's currency format with the currency's ISO 4217 minor units."""
    pattern = _currency_pattern(locale, MINOR_UNITS[money.currency])
    return str(pattern.apply(money.amount, locale, currency=money.currency, currency_digits=False))


def format_date_value(value: date, locale: Locale) -> str:
    """A calendar date in the locale's medium form (``Jan 4, 2027`` / ``2027年1月4日``)."""
    return str(format_date(value, "medium", locale=locale))


def format_datetime_value(value: datetime, locale: Locale, zone: tzinfo | None = None) -> str:
    """An aware instant as the locale's medium date + short time in ``zone`` (else UTC, marked)."""
    shown = value.astimezone(zone or UTC)
    joined = (
        str(locale.datetime_formats["medium"])
        .replace("'", "")
        .format(
            format_time(shown.time(), "short", locale=locale),
            format_date(shown.date(), "medium", locale=locale),
        )
    )
    return joined if zone is not None else f"{joined} UTC"


def money_of(value: object) -> Money | None:
    """``value`` as Money when it is Money or a ``{"amount", "currency"}`` payload, else None."""
    if isinstance(value, Money):
        return value
    if isinstance(value, Mapping) and set(value) == {"amount", "currency"}:
        try:
            return Money.parse(value)
        except ValidationError:
            return None
    return None


def localize_value(value: object, zone: tzinfo) -> object:
    """An ISO instant or date text (as stored in details) parsed for local display in ``zone``.

    Instants become aware datetimes in ``zone``; ``YYYY-MM-DD`` becomes a date; anything else
    is returned unchanged.
    """
    if isinstance(value, str) and _ISO_INSTANT.match(value):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    elif isinstance(value, str) and _ISO_DATE.match(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(zone)
    return value


def format_value(value: object, locale: Locale) -> str | None:
    """The locale's text of a number, Money, date or date-time detail; None for other values.

    Date-times keep the zone they carry (the one ``localize_value`` put them in); those still
    in UTC (``datetime.UTC``, how the library stores instants) are marked "UTC".
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int | Decimal):
        return format_number(value, locale)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return None
        return format_datetime_value(value, locale, None if value.tzinfo is UTC else value.tzinfo)
    if isinstance(value, date):
        return format_date_value(value, locale)
    money = money_of(value)
    if money is not None:
        return format_money(money, locale)
    return None
