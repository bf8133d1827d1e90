"""Bilingual (zh-CN / en) texts for error codes, notification topics and report labels.

Codes stay stable across releases and locales; only the text is translated. The catalogs are
plain Python dicts in ``leadtocash.i18n.locales`` (one module per locale), so a translator edits
one file and a test fails when any code used in the library lacks a text in either language.
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
    message,
    missing_translations,
    placeholders,
    resolve_locale,
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
    "message",
    "missing_translations",
    "placeholders",
    "resolve_locale",
]
