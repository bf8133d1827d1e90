"""An erasure finds a person's phone number in free text however it was typed.

Notes, ticket texts and a lead's note are written by people: a number appears with or
without the country code (+86, 86, 0086, (+86)), grouped by spaces, dashes, dots, an
ideographic space or a full-width dash, in ASCII or full-width digits. ``scrub_text`` must
take every such form out, and leave other numbers alone.
"""

from __future__ import annotations

import re
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from leadtocash.app.erasure import scrub_text
from leadtocash.ports.storage import ERASED

SEPARATORS = ("", " ", "-", ".", "\u3000", "\uff0d")  # ideographic space, full-width dash
PREFIXES = ("", "+86", "86", "0086", "(+86)", "+86 ", "86-", "(+86) ")
mobiles = st.from_regex(r"\A1[3-9][0-9]{9}\Z")
#: Text around the number: letters and CJK, no digits (a digit next to it would make another
#: number), ending and starting with a space or a CJK character.
around = st.text(st.sampled_from("abcxyz 说请打电话，。:"), max_size=8)


def _full_width(text: str, mask: list[bool]) -> str:
    return "".join(
        chr(0xFF10 + int(ch)) if ch.isdigit() and wide else ch
        for ch, wide in zip(text, mask, strict=False)
    )


@st.composite
def typed(draw: st.DrawFn) -> tuple[str, str]:
    """(E.164 value, the number as a person typed it)."""
    national = draw(mobiles)
    cut = sorted(draw(st.sets(st.integers(1, 10), max_size=3)))
    groups = [national[a:b] for a, b in zip([0, *cut], [*cut, 11], strict=True)]
    body = "".join(
        group + (draw(st.sampled_from(SEPARATORS)) if i < len(groups) - 1 else "")
        for i, group in enumerate(groups)
    )
    text = draw(st.sampled_from(PREFIXES)) + body
    mask = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "+86" + national, _full_width(text, mask)


def _digits(text: str) -> str:
    return "".join(str(unicodedata.digit(ch)) for ch in text if ch.isdigit())


@given(typed(), around, around)
def test_a_phone_number_typed_any_usual_way_is_erased(
    number: tuple[str, str], before: str, after: str
) -> None:
    value, as_typed = number
    scrubbed = scrub_text(before + as_typed + after, (value,))
    assert ERASED in scrubbed
    assert value[3:] not in _digits(scrubbed)  # no trace of the national number
    assert scrubbed.startswith(before.rstrip()) or before.strip() == ""


@given(mobiles, mobiles, around)
def test_another_number_stays(mine: str, other: str, text: str) -> None:
    if mine == other:
        return
    note = f"{text}{other}{text}"
    assert scrub_text(note, ("+86" + mine,)) == note


def test_the_separator_set_is_what_the_pattern_reads() -> None:
    # one example per separator and prefix, so a shrunk failure above reads plainly
    for sep in SEPARATORS:
        for prefix in PREFIXES:
            note = f"请打{prefix}137{sep}0000{sep}1111谢谢"
            assert re.sub(r"\D", "", scrub_text(note, ("+8613700001111",))) == "", note
