"""Field converters, validators and small helpers shared by the contract-to-cash aggregates.

Quantities and rates are ``Decimal`` (a float is a ``ValidationError``: no floats near money);
rates lie in [0, 1]; quantities are > 0; amounts are ``Money``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import attrs

from leadtocash.errors import RuleViolation, ValidationError
from leadtocash.money import Money, is_currency
from leadtocash.pipeline.machine import StageChange, StateTable

__all__ = [
    "DEFAULT_TIMEZONE",
    "business_date",
    "check_currency",
    "currency_mismatch",
    "money_non_negative",
    "positive_quantity",
    "rate",
    "start_of_day",
    "step",
    "sum_money",
]

#: Time zone in which calendar dates (due dates, validity) are read when none is given.
DEFAULT_TIMEZONE = "Asia/Shanghai"

T = TypeVar("T")


def _decimal(attribute: attrs.Attribute[Decimal], value: object) -> Decimal:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValidationError.single(
            attribute.name, "contracts.not_decimal", f"expected a finite Decimal, got {value!r}"
        )
    return value


def rate(_inst: object, attribute: attrs.Attribute[Decimal], value: Decimal) -> None:
    """attrs validator: a rate (tax, discount, share) is a Decimal between 0 and 1 inclusive."""
    if not Decimal(0) <= _decimal(attribute, value) <= Decimal(1):
        raise ValidationError.single(
            attribute.name, "contracts.rate_range", "a rate lies between 0 and 1"
        )


def positive_quantity(_inst: object, attribute: attrs.Attribute[Decimal], value: Decimal) -> None:
    """attrs validator: a quantity is a Decimal greater than zero."""
    if _decimal(attribute, value) <= 0:
        raise ValidationError.single(
            attribute.name, "contracts.quantity_positive", "quantity must be > 0"
        )


def money_non_negative(_inst: object, attribute: attrs.Attribute[Money], value: Money) -> None:
    """attrs validator: an amount is Money and not negative."""
    if not isinstance(value, Money) or value.amount < 0:
        raise ValidationError.single(attribute.name, "field.negative", "must be Money >= 0")


def check_currency(_inst: object, attribute: attrs.Attribute[str], value: str) -> None:
    """attrs validator: a known ISO 4217 currency code."""
    if not is_currency(value):
        raise ValidationError.single(
            attribute.name, "money.unknown_currency", f"{value!r} is not a known currency"
        )


def currency_mismatch(what: str, expected: str, found: str, **details: Any) -> RuleViolation:
    """The refusal of an amount in the wrong currency (``contracts.currency_mismatch``)."""
    return RuleViolation(
        f"{what} is in {found}, expected {expected}",
        code="contracts.currency_mismatch",
        details={"what": what, "expected": expected, "found": found, **details},
    )


def sum_money(amounts: Iterable[Money], currency: str) -> Money:
    """The exact sum of ``amounts`` (all in ``currency``); zero when there are none."""
    zero = Money.zero(currency)
    total = zero.amount
    for amount in amounts:
        if not isinstance(amount, Money) or amount.currency != currency:
            zero + amount  # raises Money's own TypeError or currency-mismatch error
        total += amount.amount  # minor-unit amounts add exactly
    return Money(total, currency)


def business_date(now: datetime, timezone: str = DEFAULT_TIMEZONE) -> date:
    """The calendar date ``now`` (UTC) falls on in ``timezone``."""
    return now.astimezone(ZoneInfo(timezone)).date()


def start_of_day(day: date, timezone: str = DEFAULT_TIMEZONE) -> datetime:
    """The UTC instant at which ``day`` begins in ``timezone``."""
    return datetime.combine(day, time(0), ZoneInfo(timezone)).astimezone(UTC)


def step(
    table: StateTable,
    entity: T,
    trigger: str,
    now: datetime,
    actor: str,
    why: str | None = None,
    **changes: Any,
) -> T:
    """``entity`` moved by ``trigger`` (legal per ``table``), its history and updated_at extended.

    ``why`` is the history entry's reason. The entity needs ``status`` (a StrEnum), ``history``
    and ``updated_at`` fields; an illegal trigger raises InvalidTransition naming the allowed
    ones.
    """
    status = getattr(entity, "status")  # noqa: B009 - generic over the aggregates
    dest = table.target(status.value, trigger)
    change = StageChange(status.value, dest, trigger, now, actor, why)
    history = (*getattr(entity, "history"), change)  # noqa: B009
    return attrs.evolve(
        entity,  # type: ignore[misc]
        status=type(status)(dest),
        history=history,
        updated_at=now,
        **changes,
    )
