"""Which catalogs exist, how a requested locale picks one, and plural forms (CLDR via babel).

A catalog maps a stable code to a **message**: a ``str.format`` template, or for a text that
depends on a number, a mapping of CLDR plural category (``zero one two few many other``) to
template plus an optional ``"count"`` entry naming the detail that picks the form (default
``count``)::

    "label.duration.working_days": {
        "count": "amount", "one": "{amount} working day", "other": "{amount} working days",
    }

The shipped catalogs are zh-CN, zh-Hant (Taiwan, Hong Kong, Macau) and en.
:func:`register_catalog` adds a language (or overrides texts of one) at run time, validated
so a registered text can never break rendering.
"""

from __future__ import annotations

import string
import threading
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from types import MappingProxyType
from typing import TypeAlias

from babel.core import Locale, UnknownLocaleError

from leadtocash.errors import FieldError, ValidationError
from leadtocash.i18n.locales import en, zh_cn, zh_hant

__all__ = [
    "DEFAULT_LOCALE",
    "FALLBACK_LOCALE",
    "LOCALES",
    "PLURAL_CATEGORIES",
    "Message",
    "babel_locale",
    "catalog",
    "chain",
    "locales",
    "message_placeholders",
    "plural_form",
    "register_catalog",
    "resolve_locale",
    "unregister_catalog",
]

#: A catalog entry: one template, or plural category → template (plus ``"count"``).
Message: TypeAlias = str | Mapping[str, str]

#: Locales shipped with the library, in order of preference.
LOCALES: tuple[str, ...] = ("zh-CN", "zh-Hant", "en")
#: The locale used when none is given (the default of ``Principal.locale``).
DEFAULT_LOCALE = "zh-CN"
#: The locale used for a locale we have no catalog for.
FALLBACK_LOCALE = "en"
#: CLDR plural categories a plural message may use (``other`` is required).
PLURAL_CATEGORIES: tuple[str, ...] = ("zero", "one", "two", "few", "many", "other")
#: The key of a plural message naming the detail that selects the form.
COUNT_KEY = "count"

_TRADITIONAL_REGIONS = frozenset({"tw", "hk", "mo"})
_SHIPPED: dict[str, Mapping[str, Message]] = {
    "zh-CN": zh_cn.MESSAGES,
    "zh-Hant": zh_hant.MESSAGES,
    "en": en.MESSAGES,
}
#: The babel locale each shipped catalog formats with when the request names no region.
_BABEL_NAMES = {"zh-CN": "zh_Hans_CN", "zh-Hant": "zh_Hant", "en": "en"}

_lock = threading.Lock()
_registered: dict[str, dict[str, Message]] = {}
_parents: dict[str, str] = {}
#: Requested locale → catalog, for the current set of catalogs (replaced on registration).
_resolved: dict[str, str] = {}


def locales() -> tuple[str, ...]:
    """Every locale with a catalog: the shipped ones, then those registered at run time."""
    return LOCALES + tuple(loc for loc in _registered if loc not in LOCALES)


def _subtags(locale: str) -> list[str]:
    cleaned = locale.strip().split(".")[0].split("@")[0].replace("_", "-").lower()
    return [part for part in cleaned.split("-") if part]


def _chinese(tags: list[str]) -> str:
    if "hant" in tags:
        return "zh-Hant"
    if "hans" in tags:
        return "zh-CN"
    return "zh-Hant" if any(t in _TRADITIONAL_REGIONS for t in tags[1:]) else "zh-CN"


def _resolve(locale: str, known: tuple[str, ...]) -> str:
    tags = _subtags(locale)
    if not tags:
        return DEFAULT_LOCALE
    lowered = {k.lower(): k for k in known}
    for end in range(len(tags), 0, -1):  # most specific first: zh-hant-tw, zh-hant, zh
        found = lowered.get("-".join(tags[:end]))
        if found is not None:
            return found
    if tags[0] == "zh" and "zh-CN" in known:
        return _chinese(tags)
    for k in known:
        if k.lower().split("-")[0] == tags[0]:
            return k
    return FALLBACK_LOCALE


def resolve_locale(locale: str | None) -> str:
    """The catalog for a requested locale: exact, Chinese script/region, language, else en.

    ``zh-TW``, ``zh-HK``, ``zh-MO``, ``zh-Hant`` (any spelling, ``zh_TW.UTF-8`` too) read the
    Traditional catalog; ``zh``, ``zh-CN``, ``zh-SG``, ``zh-Hans`` the Simplified one.
    """
    if locale is None or not locale.strip():
        return DEFAULT_LOCALE
    cache = _resolved
    found = cache.get(locale)
    if found is None:
        found = _resolve(locale, locales())
        if len(cache) < 1024:
            cache[locale] = found
    return found


def catalog(locale: str | None = None) -> Mapping[str, Message]:
    """The read-only catalog (code → message) of ``locale``, registered texts included."""
    loc = resolve_locale(locale)
    shipped = _SHIPPED.get(loc, {})
    added = _registered.get(loc)
    return MappingProxyType({**shipped, **added} if added else dict(shipped))


def chain(locale: str) -> tuple[str, ...]:
    """The catalogs a code is looked up in, in order, for the catalog locale ``locale``."""
    order = [locale, _parents.get(locale, locale), FALLBACK_LOCALE, DEFAULT_LOCALE]
    return tuple(dict.fromkeys(order))


def lookup(code: str, locale: str) -> Message | None:
    """The message of ``code`` for catalog ``locale``, falling back along :func:`chain`."""
    for candidate in chain(locale):
        added = _registered.get(candidate)
        if added is not None and code in added:
            return added[code]
        found = _SHIPPED.get(candidate, {}).get(code)
        if found is not None:
            return found
    return None


@lru_cache(maxsize=256)
def _babel(name: str) -> Locale | None:
    try:
        return Locale.parse(name.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        return None


@lru_cache(maxsize=1024)
def babel_locale(requested: str | None, catalog_locale: str) -> Locale:
    """The babel locale that formats numbers and dates: the request's own when it speaks the
    catalog's language (``en-GB`` dates for an en-GB reader), else the catalog's."""
    own = _babel(_BABEL_NAMES.get(catalog_locale, catalog_locale))
    fallback = own if own is not None else Locale("en")
    if requested is None or not requested.strip():
        return fallback
    tags = _subtags(requested)
    asked = _babel("_".join(tags)) if tags else None
    if asked is not None and asked.language == fallback.language:
        if asked.language == "zh" and (asked.script or "Hans") != (fallback.script or "Hans"):
            return fallback
        return asked
    return fallback


def plural_form(count: object, locale: Locale) -> str:
    """The CLDR plural category of ``count`` in ``locale`` (``other`` when not a number)."""
    if isinstance(count, bool):
        return "other"
    number: int | Decimal
    if isinstance(count, int | Decimal):
        number = count
    elif isinstance(count, str | float):
        try:
            number = Decimal(str(count).strip())
        except InvalidOperation:
            return "other"
    else:
        return "other"
    if isinstance(number, Decimal) and not number.is_finite():
        return "other"
    return str(locale.plural_form(abs(Decimal(number))))


def select(message: Message, count: object, locale: Locale) -> str:
    """The template of ``message`` for ``count`` (plain templates ignore the count)."""
    if isinstance(message, str):
        return message
    form = plural_form(count, locale)
    found = message.get(form) or message.get("other")
    if found is None:
        found = next((v for k, v in message.items() if k != COUNT_KEY), "")
    return found


def count_name(message: Message) -> str | None:
    """The detail a plural message is selected by (None for a plain template)."""
    if isinstance(message, str):
        return None
    return message.get(COUNT_KEY, COUNT_KEY)


def _templates(message: Message) -> list[str]:
    if isinstance(message, str):
        return [message]
    return [v for k, v in message.items() if k != COUNT_KEY]


def message_placeholders(message: Message) -> frozenset[str]:
    """The detail names a message uses (every plural form's, and its count detail)."""
    names: set[str] = set()
    for template in _templates(message):
        try:
            names.update(n for _, n, _, _ in string.Formatter().parse(template) if n)
        except ValueError:
            continue
    counted = count_name(message)
    return frozenset(names | ({counted} if counted else set()))


# -- run-time registration --------------------------------------------------------------------


def _shape_problem(message: object) -> str | None:
    if isinstance(message, str):
        return None if message.strip() else "the text is empty"
    if not isinstance(message, Mapping):
        return f"expected a text or a plural mapping, got {type(message).__name__}"
    keys = set(message)
    unknown = sorted(str(k) for k in keys - set(PLURAL_CATEGORIES) - {COUNT_KEY})
    if unknown:
        return f"unknown plural categories {unknown} (CLDR: {', '.join(PLURAL_CATEGORIES)})"
    if "other" not in keys:
        return "a plural message needs an 'other' form"
    if not all(isinstance(v, str) and v.strip() for v in message.values()):
        return "every plural form must be a non-empty text"
    if not str(message.get(COUNT_KEY, COUNT_KEY)).isidentifier():
        return "'count' must name a detail"
    return None


def _template_problem(message: Message) -> str | None:
    for template in _templates(message):
        try:
            fields = [n for _, n, _, _ in string.Formatter().parse(template) if n is not None]
        except ValueError as exc:
            return f"broken template {template!r}: {exc}"
        odd = [n for n in fields if not n.isidentifier()]
        if odd:
            return f"only {{name}} placeholders are allowed, not {odd}"
    return None


def _problems(code: object, message: object) -> list[FieldError]:
    path = f"messages[{code}]"
    if not isinstance(code, str) or not code.strip():
        return [FieldError(path, "i18n.bad_message", "codes are non-empty strings")]
    shape = _shape_problem(message)
    if shape is not None or not isinstance(message, str | Mapping):
        return [FieldError(path, "i18n.bad_message", shape or "not a message")]
    broken = _template_problem(message)
    if broken is not None:
        return [FieldError(path, "i18n.bad_template", broken)]
    reference = _SHIPPED[FALLBACK_LOCALE].get(code)
    if reference is None:
        return []  # the app's own code: any details it likes
    extra = sorted(message_placeholders(message) - message_placeholders(reference))
    if extra:
        allowed = sorted(message_placeholders(reference)) or "none"
        text = f"unknown placeholders {extra}; the English text has {allowed}"
        return [FieldError(path, "i18n.unknown_placeholder", text)]
    return []


def register_catalog(locale: str, messages: Mapping[str, Message]) -> str:
    """Add a language, or override some texts of one, for the whole process; returns its name.

    Validated first, all or nothing: the locale must be one CLDR knows (for plural rules); a
    message is a non-empty template or a plural mapping with ``other``; templates parse and use
    only ``{name}`` fields; a code the library knows may use only the details its English text
    uses (fewer is fine), so a translation can never print a raw ``{placeholder}``. Codes the
    library does not know (an app's own) are free. Missing codes fall back to the catalog the
    locale resolved to before (``zh-TW`` → zh-Hant), then en, then zh-CN.
    """
    if not isinstance(locale, str) or _babel("_".join(_subtags(locale))) is None:
        raise ValidationError.single(
            "locale", "i18n.unknown_locale", f"{locale!r} is not a locale CLDR knows"
        )
    if not isinstance(messages, Mapping):
        raise ValidationError.single("messages", "i18n.bad_message", "expected a mapping")
    errors = [e for code, text in messages.items() for e in _problems(code, text)]
    if errors:
        raise ValidationError(errors)
    global _registered, _parents, _resolved
    tags = _subtags(locale)
    with _lock:  # copy on write: readers always see a whole catalog set
        known = locales()
        name = next((k for k in known if k.lower() == "-".join(tags)), None)
        if name is None:
            name = "-".join([tags[0], *(t.title() if len(t) == 4 else t.upper() for t in tags[1:])])
            _parents = {**_parents, name: _resolve(locale, known)}
        _registered = {**_registered, name: {**_registered.get(name, {}), **messages}}
        _resolved = {}
    return name


def unregister_catalog(locale: str) -> None:
    """Forget the texts registered for ``locale`` (shipped texts stay); unknown: no-op."""
    global _registered, _parents, _resolved
    with _lock:
        name = next((k for k in _registered if k.lower() == "-".join(_subtags(locale))), None)
        if name is not None:
            _registered = {k: v for k, v in _registered.items() if k != name}
            _parents = {k: v for k, v in _parents.items() if k != name}
            _resolved = {}


def shipped_codes() -> Iterable[str]:
    """Every code of every shipped catalog (for completeness checks)."""
    return sorted({code for messages in _SHIPPED.values() for code in messages})
