"""The PostgreSQL adapter passes an id list as one array literal, read back element by element."""

from __future__ import annotations

from leadtocash_adapters.postgres_store import _text_array


def test_an_empty_list_is_the_empty_array() -> None:
    assert _text_array([]) == "{}"


def test_every_element_is_quoted_and_escaped() -> None:
    assert _text_array(["a"]) == '{"a"}'
    assert _text_array(["a,b", 'say "hi"', "back\\slash", "", "NULL"]) == (
        '{"a,b","say \\"hi\\"","back\\\\slash","","NULL"}'
    )
