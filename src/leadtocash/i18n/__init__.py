"""Texts for error codes, notification topics and report labels in zh-CN, zh-Hant and en.

Codes stay stable across releases and locales; only the text is translated. The catalogs are
plain Python dicts in ``leadtocash.i18n.locales`` (one module per locale); a message is a
``str.format`` template or, for a text that depends on a number, a mapping of CLDR plural
category to template. ``register_catalog`` adds a language at run time. Numbers, money and
dates in details are written per locale with babel (CLDR). A test fails when any code used in
the library lacks a text in a shipped catalog.
"""

from __future__ import annotations

from leadtocash.i18n.catalog import (
    DEFAULT_LOCALE,
    FALLBACK_LOCALE,
    LOCALES,
    catalog,
    describe_duration,
    describe_error,
    describe_notification,
    has_message,
    label,
    label_key,
    locales,
    message,
    missing_translations,
    placeholders,
    register_catalog,
    resolve_locale,
    unregister_catalog,
)
from leadtocash.i18n.registry import PLURAL_CATEGORIES, Message, plural_form

__all__ = [
    "DEFAULT_LOCALE",
    "FALLBACK_LOCALE",
    "LOCALES",
    "PLURAL_CATEGORIES",
    "Message",
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
    "plural_form",
    "register_catalog",
    "resolve_locale",
    "unregister_catalog",
]
