"""Safe template formatting and the message / label / error lookups.

Rules (documented in docs/i18n.md):

* ``None`` or an empty locale means ``DEFAULT_LOCALE`` (zh-CN, like ``Principal.locale``);
  a known language in another spelling (``zh_CN.UTF-8``, ``zh-Hans``, ``en-GB``) maps to its
  catalog; zh-TW / zh-HK / zh-MO / zh-Hant read the Traditional catalog (zh-Hant); any other
  locale falls back to ``FALLBACK_LOCALE`` (en), the language a reader of none of the
  catalogs is likelier to read (see :mod:`leadtocash.i18n.registry`).
* A code without text in the locale uses en, then zh-CN; an unknown code renders as itself.
* A plural message picks its CLDR form (babel's plural rules) by its count detail.
* Formatting never raises: a missing detail stays visible as ``{name}``, a bad template is
  returned unformatted, and only plain ``{name}`` fields are looked up (no attribute access).
* Numbers, money and dates in details are written the locale's way (babel, CLDR); instants
  are UTC, and given an org ``timezone``, ``describe_error`` and ``describe_notification`` show
  them (and ``YYYY-MM-DD`` dates) as local dates and times.
"""

from __future__ import annotations

import enum
import re
import string
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from babel.core import Locale

from leadtocash.durations import Duration
from leadtocash.errors import LeadToCashError, ValidationError
from leadtocash.i18n.formatting import format_fixed, format_value, localize_value
from leadtocash.i18n.registry import (
    DEFAULT_LOCALE,
    FALLBACK_LOCALE,
    LOCALES,
    Message,
    babel_locale,
    catalog,
    count_name,
    locales,
    lookup,
    message_placeholders,
    register_catalog,
    resolve_locale,
    select,
    unregister_catalog,
)

__all__ = [
    "DEFAULT_LOCALE",
    "FALLBACK_LOCALE",
    "LOCALES",
    "catalog",
    "describe_duration",
    "describe_error",
    "describe_notification",
    "has_message",
    "label",
    "label_key",
    "locales",
    "message",
    "missing_translations",
    "placeholders",
    "register_catalog",
    "resolve_locale",
    "unregister_catalog",
]

_LIST_SEP = {"zh": "、", "ja": "、"}
_COLON = {"zh": "：", "ja": "："}
_ITEM_SEP = {"zh": "；", "ja": "；"}
_EMPTY = "-"
_FIXED = re.compile(r"\.(\d)f")


def _language(locale: str) -> str:
    return locale.split("-")[0]


def has_message(code: str, locale: str | None = None) -> bool:
    """True when ``locale``'s own catalog has a text for ``code``."""
    return code in catalog(locale)


def placeholders(code: str, locale: str | None = None) -> frozenset[str]:
    """The detail names the text of ``code`` uses in ``locale`` (empty when unknown)."""
    found = catalog(locale).get(code)
    return frozenset() if found is None else message_placeholders(found)


def missing_translations(codes: Iterable[str]) -> dict[str, list[str]]:
    """For each locale (shipped and registered) lacking some of ``codes``, the missing codes."""
    wanted = set(codes)
    missing = {loc: sorted(wanted - set(catalog(loc))) for loc in locales()}
    return {loc: found for loc, found in missing.items() if found}


class _Missing:
    """A detail the caller did not give; it renders back as its placeholder."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


def _items(value: object) -> list[object]:
    if isinstance(value, list | tuple):
        return list(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    return [value]


class _SafeFormatter(string.Formatter):
    """``str.format`` that never raises on missing details and knows ``{name:@kind}`` labels.

    Without a format spec, numbers, money and dates are written the babel locale's way.
    """

    def __init__(self, locale: str, formats: Locale) -> None:
        self.locale = locale
        self.formats = formats

    def get_field(
        self, field_name: str, args: Sequence[Any], kwargs: Mapping[str, Any]
    ) -> tuple[Any, str]:
        if field_name.isidentifier() and field_name in kwargs:
            return kwargs[field_name], field_name
        return _Missing(field_name), field_name

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        if isinstance(value, _Missing) or conversion not in ("r", "s", "a"):
            return value
        return super().convert_field(value, conversion)

    def format_field(self, value: Any, format_spec: str) -> str:
        if isinstance(value, _Missing):
            return "{" + value.name + (":" + format_spec if format_spec else "") + "}"
        if format_spec.startswith("@"):
            kind = format_spec[1:]
            return self._join(label(item, self.locale, kind=kind) for item in _items(value))
        if isinstance(value, list | tuple | set | frozenset):
            return self._join(self.format_field(item, format_spec) for item in _items(value))
        if value is None:
            return _EMPTY
        fixed = _FIXED.fullmatch(format_spec)
        if fixed and isinstance(value, int | Decimal) and not isinstance(value, bool):
            return format_fixed(value, int(fixed.group(1)), self.formats)
        if not format_spec:
            shown = format_value(value, self.formats)
            if shown is not None:
                return shown
        try:
            return format(value, format_spec)
        except (ValueError, TypeError):
            return str(value)

    def _join(self, parts: Iterable[str]) -> str:
        return _LIST_SEP.get(_language(self.locale), ", ").join(parts) or _EMPTY


def _render(
    found: Message, locale: str, details: Mapping[str, Any], requested: str | None = None
) -> str:
    formats = babel_locale(requested or locale, locale)
    counted = count_name(found)
    template = select(found, details.get(counted) if counted else None, formats)
    try:
        return _SafeFormatter(locale, formats).vformat(template, (), details)
    except (ValueError, IndexError, KeyError, AttributeError, TypeError):
        return template


def message(code: str, locale: str | None = None, /, **details: Any) -> str:
    """The text of ``code`` in ``locale`` with ``details`` filled in (unknown code: the code)."""
    loc = resolve_locale(locale)
    found = lookup(code, loc)
    return code if found is None else _render(found, loc, details, locale)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def label_key(value: object, kind: str | None = None) -> str:
    """The catalog key ``label.<kind>.<value>``; ``kind`` defaults to an enum's snake_case class."""
    if kind is None:
        if not isinstance(value, enum.Enum):
            raise TypeError("label_key needs a kind for values that are not enum members")
        kind = _snake(type(value).__name__)
    raw = value.value if isinstance(value, enum.Enum) else value
    return f"label.{kind}.{raw}"


def label(value: object, locale: str | None = None, *, kind: str | None = None) -> str:
    """The translated label of an enum member (or of ``value`` under ``kind``); else the value."""
    loc = resolve_locale(locale)
    found = lookup(label_key(value, kind), loc)
    if found is None:
        return str(value.value if isinstance(value, enum.Enum) else value)
    return _render(found, loc, {}, locale)


def describe_duration(duration: Duration, locale: str | None = None) -> str:
    """A rule duration for people: ``1 working day`` / ``5 working days`` / ``5 个工作日``."""
    if duration.off:
        return message("label.duration.off", locale)
    return message(f"label.duration.{duration.unit.value}", locale, amount=duration.amount)


def _localized(details: Mapping[str, Any], timezone: str | None) -> Mapping[str, Any]:
    if timezone is None:
        return details
    tz = ZoneInfo(timezone)
    return {key: localize_value(value, tz) for key, value in details.items()}


def describe_notification(
    topic: str,
    payload: Mapping[str, Any],
    locale: str | None = None,
    *,
    timezone: str | None = None,
) -> str:
    """The text of an outbox notification (its topic's template filled from its payload)."""
    return message(topic, locale, **_localized(payload, timezone))


def _codes_of(exc: LeadToCashError) -> list[str]:
    codes = [exc.code]
    for klass in type(exc).__mro__:
        code = vars(klass).get("code")
        if isinstance(code, str) and code not in codes:
            codes.append(code)
    return codes


def describe_error(
    exc: LeadToCashError, locale: str | None = None, *, timezone: str | None = None
) -> str:
    """A reader's text for a library error: its code's text, plus each bad field for validation.

    Falls back to the nearest parent class's code (a custom ``RuleViolation`` code without
    a text reads as a rule violation), then to the error's own English message.
    """
    loc = resolve_locale(locale)
    head = exc.message
    for code in _codes_of(exc):
        found = lookup(code, loc)
        if found is not None:
            head = _render(found, loc, _localized(exc.details, timezone), locale)
            break
    if not isinstance(exc, ValidationError):
        return head
    colon = _COLON.get(_language(loc), ": ")
    items = []
    for error in exc.errors:
        if error.code == exc.code:
            continue
        found = lookup(error.code, loc)
        text = error.message if found is None else _render(found, loc, {"path": error.path})
        items.append(f"{error.path}{colon}{text}")
    separator = _ITEM_SEP.get(_language(loc), "; ")
    return head + colon + separator.join(items) if items else head
