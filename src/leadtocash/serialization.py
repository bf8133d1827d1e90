"""The one cattrs converter adapters and the unit of work use to turn aggregates into JSON.

Datetimes become ISO-8601 text (UTC, microseconds kept), Decimals become text (exact),
frozensets become sorted lists, enums their values. ``structure(unstructure(x)) == x`` holds
for every aggregate (property-tested).

Money is read through :meth:`Money.parse`, so stored or received amounts obey the same rules
as new ones: an unknown currency is a ``ValidationError`` (``money.unknown_currency``) whose
path names the field (``budget.currency``), never a cattrs exception.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.errors import AttributeValidationNote, IterableValidationNote
from cattrs.preconf.json import make_converter

from leadtocash.errors import FieldError, ValidationError
from leadtocash.money import Money

__all__ = ["converter", "structure", "unstructure"]

T = TypeVar("T")


def _make() -> cattrs.Converter:
    conv = make_converter()
    conv.register_unstructure_hook(datetime, lambda d: d.isoformat())
    conv.register_structure_hook(datetime, lambda v, _: datetime.fromisoformat(v))
    conv.register_unstructure_hook(Decimal, str)
    conv.register_structure_hook(Decimal, lambda v, _: Decimal(v))
    conv.register_structure_hook(Money, lambda v, _: Money.parse(v))
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


def _where(exc: BaseException, path: str) -> str:
    for note in getattr(exc, "__notes__", ()):
        if isinstance(note, AttributeValidationNote):
            return f"{path}.{note.name}" if path else note.name
        if isinstance(note, IterableValidationNote):
            return f"{path}[{note.index}]"
    return path


def _domain_errors(exc: BaseException, path: str = "") -> list[FieldError]:
    """The library's own field errors inside a cattrs error tree, with their full paths."""
    if isinstance(exc, ValidationError):
        return [attrs.evolve(e, path=f"{path}.{e.path}" if path else e.path) for e in exc.errors]
    if isinstance(exc, cattrs.BaseValidationError):
        return [error for sub in exc.exceptions for error in _domain_errors(sub, _where(sub, path))]
    return []


def structure(data: Any, cls: type[T]) -> T:
    """Rebuild a ``cls`` from its JSON form; malformed data is a ValidationError.

    When the data breaks a domain rule (an unknown currency, a negative budget), the error
    keeps that rule's code and names the field's path; other malformed data is
    ``serialization.malformed``.
    """
    try:
        return converter.structure(data, cls)
    except ValidationError:
        raise
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
        found = _domain_errors(exc)
        if found:
            raise ValidationError(found) from exc
        raise ValidationError(
            [FieldError(cls.__name__, "serialization.malformed", f"cannot read: {exc}")]
        ) from exc
