"""Field paths on attrs entities (``"signals.budget"``): checking them, reading them, filling.

Required fields and the completeness score speak about the same thing, "is this field filled",
so both use :func:`is_filled` here.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Collection, Sequence
from typing import Any

import attrs

__all__ = ["completeness", "is_filled", "path_error", "value_at"]


def _attrs_type(hint: Any) -> type[Any] | None:
    """The attrs class behind a type hint (``X`` or ``X | None``), else None."""
    if isinstance(hint, type) and attrs.has(hint):
        return hint
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        found = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(found) == 1:
            return _attrs_type(found[0])
    return None


def path_error(entity: type[Any], path: str) -> str | None:
    """Why ``path`` does not name a field of ``entity`` (None when it does)."""
    if not isinstance(path, str) or not path.strip():
        return "a field path must be non-blank text"
    current: type[Any] | None = entity
    parts = path.split(".")
    for depth, part in enumerate(parts):
        if current is None or part not in attrs.fields_dict(current):
            where = ".".join(parts[:depth]) or entity.__name__
            return f"{where} has no field {part!r}"
        current = _attrs_type(typing.get_type_hints(current)[part])
    return None


def value_at(entity: object, path: str) -> Any:
    """The value at a dotted attribute path (None when an intermediate value is None)."""
    value: Any = entity
    for part in path.split("."):
        if value is None:
            return None
        value = getattr(value, part)
    return value


def is_filled(value: object) -> bool:
    """True when a field holds information: not None, not blank text, not an empty collection.

    A boolean counts as filled only when True (a confirmed signal); numbers (0 included),
    dates and money are filled whenever present.
    """
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, Collection):
        return len(value) > 0
    return True


def completeness(entity: object, paths: Sequence[str]) -> int:
    """Share of ``paths`` that are filled on ``entity``, 0–100 rounded down (100 when none)."""
    if not paths:
        return 100
    filled = sum(1 for path in paths if is_filled(value_at(entity, path)))
    return filled * 100 // len(paths)
