"""Field parsers: phones to E.164, e-mails, and USCC layout + check digit (GB 32100-2015)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadtocash import ValidationError
from leadtocash.fields import parse_email, parse_phone, parse_uscc
from leadtocash.testing.strategies import uscc_codes

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("138 0013 8000", "+8613800138000"),
        ("+86 138-0013-8000", "+8613800138000"),
        ("0086 13800138000", "+8613800138000"),
        ("(010) 6552 9988 ext. 12", "+861065529988"),
        ("+1 650-253-0000", "+16502530000"),
    ],
)
def test_phones_become_e164_without_extensions(raw: str, expected: str) -> None:
    assert parse_phone(raw) == expected


@pytest.mark.parametrize("raw", ["12345", "abc", "+86 000", ""])
def test_bad_phones_name_the_field(raw: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_phone(raw, path="rows[2].phone")
    assert caught.value.paths == ("rows[2].phone",)


def test_emails_are_trimmed_and_lower_cased() -> None:
    assert parse_email("  Buyer@Example.COM ") == "buyer@example.com"
    for bad in ("no-at", "a@b", "@x.com", "a b@c.com"):
        with pytest.raises(ValidationError):
            parse_email(bad)


@given(uscc_codes())
def test_generated_codes_pass_including_letter_authorities(code: str) -> None:
    assert parse_uscc(code) == code
    assert parse_uscc(code.lower()) == code


@given(uscc_codes(), st.integers(0, 17), st.sampled_from(ALPHABET))
def test_any_single_substitution_is_rejected(code: str, position: int, char: str) -> None:
    if code[position] == char:
        return
    corrupted = code[:position] + char + code[position + 1 :]
    with pytest.raises(ValidationError) as caught:
        parse_uscc(corrupted)
    assert caught.value.errors[0].code == "uscc.invalid"


@pytest.mark.parametrize(
    "bad", ["", "91110000600037341", "9111000060003734IL", "91AB0000600037341L"]
)
def test_malformed_codes_are_rejected(bad: str) -> None:
    with pytest.raises(ValidationError):
        parse_uscc(bad)
