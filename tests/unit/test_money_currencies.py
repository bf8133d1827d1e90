"""Currencies come from CLDR (babel) with ISO 4217 minor units; unknown codes fail everywhere."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from babel.numbers import get_currency_precision

from leadtocash.classification.rules import TierRules
from leadtocash.errors import ValidationError
from leadtocash.money import (
    CURRENCIES,
    ISO_4217_MINOR_UNITS_OVER_CLDR,
    MINOR_UNITS,
    UNKNOWN_CURRENCY_CODE,
    Money,
    is_currency,
    minor_unit_digits,
)
from leadtocash.serialization import converter, structure, unstructure
from leadtocash.signals import DemandSignals

#: ISO 4217 list one (published 2026-01-01), minor units of the currencies the issue names
#: and of those where CLDR's display digits differ.
ISO_4217 = {
    "TND": 3, "JPY": 0, "UGX": 0, "BHD": 3, "CNY": 2, "KWD": 3, "OMR": 3, "JOD": 3, "LYD": 3,
    "IQD": 3, "CLF": 4, "UYW": 4, "ISK": 0, "CLP": 0, "KRW": 0, "VND": 0, "HUF": 2, "TWD": 2,
    "IDR": 2, "COP": 2, "AFN": 2, "ALL": 2, "IRR": 2, "KPW": 2, "LAK": 2, "LBP": 2, "MGA": 2,
    "MMK": 2, "SOS": 2, "SYP": 2, "YER": 2, "HKD": 2, "USD": 2, "EUR": 2,
}  # fmt: skip


def _only_error(caught: pytest.ExceptionInfo[ValidationError]) -> tuple[str, str]:
    (error,) = caught.value.errors
    return error.path, error.code


@pytest.mark.parametrize(("code", "digits"), sorted(ISO_4217.items()))
def test_minor_units_are_iso_4217s(code: str, digits: int) -> None:
    assert MINOR_UNITS[code] == minor_unit_digits(code) == digits
    quantum = Decimal(1).scaleb(-digits)
    assert Money("1234.56789", code).amount.as_tuple().exponent == quantum.as_tuple().exponent


def test_iso_wins_only_where_cldr_display_digits_differ() -> None:
    differing = {c for c in CURRENCIES if get_currency_precision(c) != MINOR_UNITS[c]}
    assert differing == set(ISO_4217_MINOR_UNITS_OVER_CLDR)
    assert {"IDR", "HUF", "IQD"} <= differing and "ISK" not in differing
    assert Money("1000.5", "IDR").amount == Decimal("1000.50")  # CLDR would show 1001


def test_every_cldr_currency_is_known_and_nothing_else() -> None:
    assert len(CURRENCIES) > 250  # current and withdrawn codes, not a hand-kept list
    assert {"CNY", "CNH", "HKD", "TWD", "MOP", "USD", "EUR", "DEM", "ZWG"} <= CURRENCIES
    assert not (CURRENCIES & {"XYZ", "RMB", "NTD", "cny"})
    assert is_currency("TND") and not is_currency("XYZ") and not is_currency(None)
    assert MINOR_UNITS.get("XYZ") is None and len(MINOR_UNITS) == len(CURRENCIES)
    with pytest.raises(TypeError):
        MINOR_UNITS["XYZ"] = 2  # type: ignore[index]


def test_money_rejects_an_unknown_currency() -> None:
    with pytest.raises(ValidationError) as caught:
        Money("1", "XYZ")
    assert _only_error(caught) == ("currency", UNKNOWN_CURRENCY_CODE)
    assert "XYZ" in caught.value.message
    for build in (
        lambda: Money.zero("XYZ"),
        lambda: Money.from_minor_units(100, "XYZ"),
        lambda: minor_unit_digits("XYZ"),
    ):
        with pytest.raises(ValidationError) as caught:
            build()
        assert _only_error(caught) == ("currency", UNKNOWN_CURRENCY_CODE)


def test_a_malformed_code_keeps_its_own_code() -> None:
    with pytest.raises(ValidationError) as caught:
        Money("1", "cny")
    assert _only_error(caught) == ("currency", "money.currency")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12.30 CNY", Money("12.30", "CNY")),
        ("  5 JPY ", Money(5, "JPY")),
        ({"amount": "1.2345", "currency": "TND"}, Money("1.234", "TND")),
        ({"amount": 7, "currency": "UGX"}, Money(7, "UGX")),
        (Money(1, "USD"), Money(1, "USD")),
    ],
)
def test_parse_reads_payload_forms(raw: object, expected: Money) -> None:
    assert Money.parse(raw) == expected


@pytest.mark.parametrize(
    ("raw", "errors"),
    [
        ("12.30 XYZ", [("budget.currency", UNKNOWN_CURRENCY_CODE)]),
        (
            {"amount": "lots", "currency": "XYZ"},
            [("budget.currency", UNKNOWN_CURRENCY_CODE), ("budget.amount", "money.not_a_number")],
        ),
        ({"amount": 1.5, "currency": "CNY"}, [("budget.amount", "money.float")]),
        ({"amount": "1"}, [("budget.currency", "field.required")]),
        (
            {"currency": "CNY", "amount": "1", "rate": 2},
            [("budget.rate", "field.unknown")],
        ),
        ("12", [("budget.currency", "field.required")]),
        (12, [("budget", "money.type")]),
    ],
)
def test_parse_reports_every_bad_part(raw: object, errors: list[tuple[str, str]]) -> None:
    with pytest.raises(ValidationError) as caught:
        Money.parse(raw, "budget")
    assert [(e.path, e.code) for e in caught.value.errors] == errors


def test_structure_rejects_an_unknown_currency_with_the_librarys_error() -> None:
    with pytest.raises(ValidationError) as caught:
        structure({"amount": "1.00", "currency": "XYZ"}, Money)
    assert _only_error(caught) == ("currency", UNKNOWN_CURRENCY_CODE)
    with pytest.raises(ValidationError) as caught:
        converter.structure({"amount": "1.00", "currency": "XYZ"}, Money)  # the hook itself
    assert _only_error(caught) == ("currency", UNKNOWN_CURRENCY_CODE)


def test_structure_names_the_nested_field() -> None:
    stored: dict[str, Any] = unstructure(DemandSignals(budget=Money("100", "TND")))
    assert structure(stored, DemandSignals).budget == Money("100.000", "TND")
    stored["budget"]["currency"] = "XYZ"
    with pytest.raises(ValidationError) as caught:
        structure(stored, DemandSignals)
    assert _only_error(caught) == ("budget.currency", UNKNOWN_CURRENCY_CODE)
    stored["budget"] = {"amount": "-1", "currency": "CNY"}
    with pytest.raises(ValidationError) as caught:
        structure(stored, DemandSignals)  # a domain rule keeps its code too
    assert _only_error(caught) == ("budget", "field.negative")


def test_structure_still_reports_other_malformed_data() -> None:
    with pytest.raises(ValidationError) as caught:
        structure({"expected_close": "not a date"}, DemandSignals)
    assert _only_error(caught) == ("DemandSignals", "serialization.malformed")


def test_classification_config_rejects_an_unknown_currency() -> None:
    config: dict[str, Any] = {
        "rules": [{"name": "hot", "tier": "A", "when": {"budget": {"at_least": "100 XYZ"}}}],
    }
    with pytest.raises(ValidationError) as caught:
        TierRules.from_config(config)
    paths = {(e.path, e.code) for e in caught.value.errors}
    assert ("rules.hot.when.budget", "classification.rule_invalid") in paths
    assert "'XYZ' is not a known currency" in caught.value.message
