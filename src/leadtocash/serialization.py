"""The one cattrs converter adapters and the unit of work use to turn aggregates into JSON.

Datetimes become ISO-8601 text (UTC, microseconds kept), Decimals become text (exact),
frozensets become sorted lists, enums their values. ``structure(unstructure(x)) == x`` holds
for every aggregate (property-tested).
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

import cattrs
from cattrs.preconf.json import make_converter

from leadtocash.errors import FieldError, ValidationError

__all__ = ["converter", "structure", "unstructure"]

T = TypeVar("T")


def _make() -> cattrs.Converter:
    conv = make_converter()
    conv.register_unstructure_hook(datetime, lambda d: d.isoformat())
    conv.register_structure_hook(datetime, lambda v, _: datetime.fromisoformat(v))
    conv.register_unstructure_hook(Decimal, str)
    conv.register_structure_hook(Decimal, lambda v, _: Decimal(v))
    conv.register_unstructure_hook_func(
        lambda t: isinstance(t, type) and issubclass(t, enum.Enum), lambda v: v.value
    )
    conv.register_unstructure_hook_func(
        lambda t: getattr(t, "__origin__", None) is frozenset,
        lambda v: sorted(conv.unstructure(x) for x in v),
    )
    return conv


#: The shared converter; adapters use it through :func:`structure` / :func:`unstructure`.
converter: cattrs.Converter = _make()


def unstructure(value: object) -> Any:
    """JSON-compatible form of an aggregate, event or value."""
    return converter.unstructure(value)


def structure(data: Any, cls: type[T]) -> T:
    """Rebuild a ``cls`` from its JSON form; malformed data is a ValidationError."""
    try:
        return converter.structure(data, cls)
    except ValidationError:
        raise
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
        raise ValidationError(
            [FieldError(cls.__name__, "serialization.malformed", f"cannot read: {exc}")]
        ) from exc
