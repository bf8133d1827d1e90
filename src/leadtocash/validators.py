"""attrs field validators shared by the domain's value classes and aggregates.

Kept in their own module (importing only ``errors``) so that every domain module, including
those ``model`` itself imports, can use the same checks and error codes.
"""

from __future__ import annotations

from datetime import UTC, datetime

import attrs

from leadtocash.errors import ValidationError

__all__ = ["non_blank", "non_negative", "optional_non_negative", "utc"]


def utc(_inst: object, attribute: attrs.Attribute[datetime], value: datetime | None) -> None:
    """attrs validator: datetimes inside the library are timezone-aware UTC."""
    if value is None or (isinstance(value, datetime) and value.tzinfo is UTC):
        return  # the common case, checked first: aggregates carry many datetimes
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValidationError.single(
            attribute.name, "time.naive", "datetimes must be timezone-aware (UTC inside)"
        )
    if value.utcoffset() != UTC.utcoffset(None):
        raise ValidationError.single(attribute.name, "time.not_utc", "datetimes must be in UTC")


def non_blank(_inst: object, attribute: attrs.Attribute[str], value: str) -> None:
    """attrs validator: a required text field may not be empty or whitespace."""
    if not value or not value.strip():
        raise ValidationError.single(attribute.name, "field.required", "must not be blank")


def non_negative(_inst: object, attribute: attrs.Attribute[int], value: int) -> None:
    """attrs validator: a count or weight may not be negative."""
    if value < 0:
        raise ValidationError.single(attribute.name, "field.negative", "must be >= 0")


def optional_non_negative(
    _inst: object, attribute: attrs.Attribute[int | None], value: int | None
) -> None:
    """attrs validator: an optional cap or limit (``None`` = off) may not be negative."""
    if value is not None and value < 0:
        raise ValidationError.single(attribute.name, "field.negative", "must be >= 0")
