"""Locale resolution, safe template formatting and the message / label / error lookups.

Rules (documented in docs/i18n.md):

* ``None`` or an empty locale means ``DEFAULT_LOCALE`` (zh-CN, like ``Principal.locale``);
  a known language in another spelling (``zh_CN.UTF-8``, ``zh-Hans``, ``en-GB``) maps to its
  catalog; any other locale falls back to ``FALLBACK_LOCALE`` (en), the language a reader of
  neither catalog is likelier to read.
* A code without text in the locale uses the other catalog; an unknown code renders as itself.
* Formatting never raises: a missing detail stays visible as ``{name}``, a bad template is
  returned unformatted, and only plain ``{name}`` fields are looked up (no attribute access).
* Instants in details are UTC; given an org ``timezone``, ``describe_error`` and
  ``describe_notification`` show them as local ``YYYY-MM-DD HH:MM``.
"""

from __future__ import annotations

import enum
import re
import string
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from leadtocash.durations import Duration
from leadtocash.errors import LeadToCashError, ValidationError
from leadtocash.i18n.locales import en, zh_cn

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
    "message",
    "missing_translations",
    "placeholders",
    "resolve_locale",
]

#: Locales with a catalog, in order of preference.
LOCALES: tuple[str, ...] = ("zh-CN", "en")
#: The locale used when none is given (the default of ``Principal.locale``).
DEFAULT_LOCALE = "zh-CN"
#: The locale used for a locale we have no catalog for.
FALLBACK_LOCALE = "en"

_CATALOGS: dict[str, Mapping[str, str]] = {
    "zh-CN": MappingProxyType(zh_cn.MESSAGES),
    "en": MappingProxyType(en.MESSAGES),
}
_LIST_SEP = {"zh-CN": "、", "en": ", "}
_COLON = {"zh-CN": "：", "en": ": "}
_ITEM_SEP = {"zh-CN": "；", "en": "; "}
_EMPTY = "-"


def resolve_locale(locale: str | None) -> str:
    """The catalog locale for a requested one (exact, then by language, else the fallback)."""
    if locale is None or not locale.strip():
        return DEFAULT_LOCALE
    wanted = locale.strip().split(".")[0].replace("_", "-").lower()
    for known in LOCALES:
        if known.lower() == wanted:
            return known
    language = wanted.split("-")[0]
    for known in LOCALES:
        if known.lower().split("-")[0] == language:
            return known
    return FALLBACK_LOCALE


def catalog(locale: str | None = None) -> Mapping[str, str]:
    """The read-only catalog (code → template) of ``locale``."""
    return _CATALOGS[resolve_locale(locale)]


def has_message(code: str, locale: str | None = None) -> bool:
    """True when ``locale``'s own catalog has a text for ``code``."""
    return code in catalog(locale)


def placeholders(code: str, locale: str | None = None) -> frozenset[str]:
    """The detail names the text of ``code`` uses in ``locale`` (empty when unknown)."""
    template = catalog(locale).get(code)
    if template is None:
        return frozenset()
    try:
        return frozenset(name for _, name, _, _ in string.Formatter().parse(template) if name)
    except ValueError:
        return frozenset()


def missing_translations(codes: Iterable[str]) -> dict[str, list[str]]:
    """For each locale lacking some of ``codes``, the sorted missing codes."""
    wanted = set(codes)
    missing = {loc: sorted(wanted - set(_CATALOGS[loc])) for loc in LOCALES}
    return {loc: found for loc, found in missing.items() if found}


def _lookup(code: str, locale: str) -> str | None:
    for candidate in (locale, FALLBACK_LOCALE, DEFAULT_LOCALE):
        found = _CATALOGS[candidate].get(code)
        if found is not None:
            return found
    return None


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
    """``str.format`` that never raises on missing details and knows ``{name:@kind}`` labels."""

    def __init__(self, locale: str) -> None:
        self.locale = locale

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
        try:
            return format(value, format_spec)
        except (ValueError, TypeError):
            return str(value)

    def _join(self, parts: Iterable[str]) -> str:
        return _LIST_SEP[self.locale].join(parts) or _EMPTY


def _render(template: str, locale: str, details: Mapping[str, Any]) -> str:
    try:
        return _SafeFormatter(locale).vformat(template, (), details)
    except (ValueError, IndexError, KeyError, AttributeError, TypeError):
        return template


def message(code: str, locale: str | None = None, /, **details: Any) -> str:
    """The text of ``code`` in ``locale`` with ``details`` filled in (unknown code: the code)."""
    loc = resolve_locale(locale)
    template = _lookup(code, loc)
    return code if template is None else _render(template, loc, details)


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
    template = _lookup(label_key(value, kind), loc)
    if template is None:
        return str(value.value if isinstance(value, enum.Enum) else value)
    return _render(template, loc, {})


def describe_duration(duration: Duration, locale: str | None = None) -> str:
    """A rule duration for people: ``5 个工作日`` / ``5 working days`` (``off`` when 0)."""
    if duration.off:
        return message("label.duration.off", locale)
    return message(f"label.duration.{duration.unit.value}", locale, amount=duration.amount)


_ISO_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def _local_time(value: Any, tz: ZoneInfo) -> Any:
    instant = value
    if isinstance(value, str) and _ISO_INSTANT.match(value):
        try:
            instant = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(instant, datetime) and instant.tzinfo is not None:
        return instant.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    return value


def _localized(details: Mapping[str, Any], timezone: str | None) -> Mapping[str, Any]:
    if timezone is None:
        return details
    tz = ZoneInfo(timezone)
    return {key: _local_time(value, tz) for key, value in details.items()}


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
        template = _lookup(code, loc)
        if template is not None:
            head = _render(template, loc, _localized(exc.details, timezone))
            break
    if not isinstance(exc, ValidationError):
        return head
    items = []
    for error in exc.errors:
        if error.code == exc.code:
            continue
        template = _lookup(error.code, loc)
        text = error.message if template is None else _render(template, loc, {"path": error.path})
        items.append(f"{error.path}{_COLON[loc]}{text}")
    return head + _COLON[loc] + _ITEM_SEP[loc].join(items) if items else head
