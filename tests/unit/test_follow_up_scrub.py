"""What an erasure takes out of a follow-up note: the person's values, however typed."""

from __future__ import annotations

import pytest

from leadtocash.app.erasure import scrub_text
from leadtocash.ports.storage import ERASED

VALUES = ("+8613700001111", "wang.fang@example.cn", "王芳")


@pytest.mark.parametrize(
    ("note", "kept"),
    [
        ("王芳说周五再打 13700001111", "说周五再打"),
        ("call 137 0000 1111 after lunch", "after lunch"),
        ("手机 +86-137-0000-1111。", "手机"),
        ("mail Wang.Fang@EXAMPLE.cn please", "please"),
        ("8613700001111", ""),
    ],
)
def test_every_typed_form_of_the_persons_values_is_erased(note: str, kept: str) -> None:
    scrubbed = scrub_text(note, VALUES)
    assert ERASED in scrubbed and kept in scrubbed
    assert not any(ch.isdigit() for ch in scrubbed)
    assert "王芳" not in scrubbed and "wang" not in scrubbed.lower()


def test_other_text_and_other_numbers_stay() -> None:
    note = "回访李雷 13800001234, 报价 5000 元"
    assert scrub_text(note, VALUES) == note
    assert scrub_text("", VALUES) == ""
    assert scrub_text(note, ()) == note
