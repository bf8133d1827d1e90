"""Demand signals (需求信号) a rep records on a customer; the five-tier classification reads them.

A small module of its own so that :mod:`leadtocash.model` can store the signals on the
customer while :mod:`leadtocash.classification` (which imports the model) interprets them.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import date, datetime

import attrs

from leadtocash.errors import ValidationError
from leadtocash.money import Money
from leadtocash.validators import utc

__all__ = ["DemandSignals", "RiskLevel"]


class RiskLevel(enum.StrEnum):
    """After-sales risk (售后风险) seen on a customer, from none to high."""

    NONE = "none"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        """0 for none up to 3 for high (the order risk comparisons use)."""
        return _RISK_ORDER.index(self)


_RISK_ORDER = (RiskLevel.NONE, RiskLevel.LOW, RiskLevel.MEDIUM, RiskLevel.HIGH)


def _plain_date(_inst: object, attribute: attrs.Attribute[date | None], value: date | None) -> None:
    if value is not None and (isinstance(value, datetime) or not isinstance(value, date)):
        raise ValidationError.single(attribute.name, "field.type", "expected a calendar date")


def _flag(_inst: object, attribute: attrs.Attribute[bool], value: bool) -> None:
    if not isinstance(value, bool):
        raise ValidationError.single(attribute.name, "field.type", "expected True or False")


def _budget(_inst: object, attribute: attrs.Attribute[Money | None], value: Money | None) -> None:
    if value is None:
        return
    if not isinstance(value, Money):
        raise ValidationError.single(attribute.name, "field.type", "expected Money or None")
    if value.amount < 0:
        raise ValidationError.single(attribute.name, "field.negative", "must be >= 0")


def _risk(value: str) -> RiskLevel:
    try:
        return RiskLevel(value)
    except ValueError:
        raise ValidationError.single(
            "after_sales_risk", "field.type", f"{value!r} is not a risk level"
        ) from None


def _zones(value: Iterable[str]) -> frozenset[str]:
    try:
        zones: frozenset[object] = frozenset(value) if not isinstance(value, str) else frozenset()
        valid = not isinstance(value, str) and all(isinstance(z, str) and z for z in zones)
    except TypeError:  # not iterable, or unhashable items
        valid = False
    if not valid:
        raise ValidationError.single(
            "collaborating_zones", "field.type", "expected a collection of zone ids"
        )
    return frozenset(str(z) for z in zones)


def _reason(_inst: object, attribute: attrs.Attribute[str | None], value: str | None) -> None:
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise ValidationError.single(
            attribute.name, "field.required", "give a reason or leave it unset"
        )


@attrs.frozen
class DemandSignals:
    """What is known about a customer's demand; every field defaults to "not known yet".

    ``invalid_reason`` marks the customer invalid or dead (无效/死客户), ``after_sales_risk``
    carries churn signals from after-sales, ``collaborating_zones`` the other zones whose reps
    follow the customer (多战区协同跟进).
    """

    need_confirmed: bool = attrs.field(default=False, validator=_flag)
    budget: Money | None = attrs.field(default=None, validator=_budget)
    decision_maker_identified: bool = attrs.field(default=False, validator=_flag)
    expected_close: date | None = attrs.field(default=None, validator=_plain_date)
    last_engagement_at: datetime | None = attrs.field(default=None, validator=utc)
    after_sales_risk: RiskLevel = attrs.field(default=RiskLevel.NONE, converter=_risk)
    invalid_reason: str | None = attrs.field(default=None, validator=_reason)
    collaborating_zones: frozenset[str] = attrs.field(default=frozenset(), converter=_zones)
