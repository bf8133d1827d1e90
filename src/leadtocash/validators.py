"""attrs field validators shared by the domain's value classes and aggregates.

Kept in their own module (importing only ``errors``) so that every domain module, including
those ``model`` itself imports, can use the same checks and error codes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar

import attrs

from leadtocash.errors import ValidationError

__all__ = [
    "copyable_fields",
    "non_blank",
    "non_negative",
    "optional_non_negative",
    "replace",
    "utc",
]

T = TypeVar("T")

#: Per class: its fields by name when :func:`replace` may copy it, else None.
_COPY_PLANS: dict[type[Any], dict[str, attrs.Attribute[Any]] | None] = {}


def copyable_fields(cls: type[Any]) -> tuple[attrs.Attribute[Any], ...] | None:
    """The fields of ``cls`` when copying an instance field by field gives what ``__init__``
    gave it: a slotted attrs class whose ``__init__`` takes every field and runs no hook a
    copy would miss (no pre/post-init hook, no cached hash); None otherwise."""
    slots = getattr(cls, "__slots__", None)
    if not attrs.has(cls) or slots is None or "__attrs_cached_hash" in slots:
        return None
    if hasattr(cls, "__attrs_post_init__") or hasattr(cls, "__attrs_pre_init__"):
        return None
    fields = attrs.fields(cls)
    return None if any(not f.init for f in fields) else tuple(fields)


def _copy_plan(cls: type[Any]) -> dict[str, attrs.Attribute[Any]] | None:
    """The fields of ``cls`` by name when changed values may be set directly too: copyable,
    and every field taken under its own name with no converter (only assigned, validated)."""
    fields = copyable_fields(cls)
    if fields is None or any(f.converter is not None or f.alias != f.name for f in fields):
        return None
    return {f.name: f for f in fields}


def replace(instance: T, **changes: Any) -> T:
    """``attrs.evolve(instance, **changes)``, without re-running ``__init__`` on every field.

    The unchanged fields are copied as they are (they were validated when ``instance`` was
    built); the changed ones are validated as ``__init__`` would, after all are set. Classes
    a copy could get wrong (converters, init hooks, aliases, cached hashes, dict classes)
    and unknown field names go through ``attrs.evolve`` itself.
    """
    cls = type(instance)
    try:
        plan = _COPY_PLANS[cls]
    except KeyError:
        plan = _COPY_PLANS[cls] = _copy_plan(cls)
    if plan is None or not changes.keys() <= plan.keys():
        return attrs.evolve(instance, **changes)  # type: ignore[misc]
    copy = object.__new__(cls)
    for name in plan:
        value = changes[name] if name in changes else getattr(instance, name)
        object.__setattr__(copy, name, value)
    if not attrs.validators.get_disabled():
        for name, value in changes.items():
            field = plan[name]
            if field.validator is not None:
                field.validator(copy, field, value)
    return copy


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


#: The most days a rule, term or schedule may count (about a hundred years): beyond it dates
#: leave the calendar (``date`` ends in 9999) and day-by-day counting would not finish.
MAX_DAYS = 36_600


def day_count(_inst: object, attribute: attrs.Attribute[int], value: int) -> None:
    """attrs validator: a number of days, 0 to :data:`MAX_DAYS`."""
    if value < 0:
        raise ValidationError.single(attribute.name, "field.negative", "must be >= 0")
    if value > MAX_DAYS:
        raise ValidationError.single(attribute.name, "field.out_of_range", f"at most {MAX_DAYS}")


def optional_non_negative(
    _inst: object, attribute: attrs.Attribute[int | None], value: int | None
) -> None:
    """attrs validator: an optional cap or limit (``None`` = off) may not be negative."""
    if value is not None and value < 0:
        raise ValidationError.single(attribute.name, "field.negative", "must be >= 0")
