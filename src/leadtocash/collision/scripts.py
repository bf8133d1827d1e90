"""Traditional/simplified conversion (opencc) and pinyin (pypinyin): the optional ``chinese``
extra, loaded on first use. Without the extra each function returns None (or nothing) and the
checks that need it are skipped; keys never depend on what is installed."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import lru_cache

__all__ = ["pinyin_syllables", "readings", "to_simplified", "to_traditional"]

_Converter = Callable[[str], str]


@lru_cache(maxsize=2)
def _opencc_converter(direction: str = "t2s") -> _Converter | None:
    try:
        opencc = importlib.import_module("opencc")
    except ImportError:
        return None
    for config in (direction, f"{direction}.json"):  # builds name their configs differently
        try:
            converter = opencc.OpenCC(config)
        except Exception:
            continue
        convert: _Converter = converter.convert
        return convert
    return None


@lru_cache(maxsize=1)
def _pinyin_module() -> Callable[[str], list[str]] | None:
    try:
        lazy_pinyin = importlib.import_module("pypinyin").lazy_pinyin
    except ImportError:
        return None

    def syllables(text: str) -> list[str]:
        return [str(s) for s in lazy_pinyin(text)]

    return syllables


@lru_cache(maxsize=65536)
def to_simplified(text: str) -> str | None:
    """``text`` in simplified Chinese via ``opencc``; None when opencc is not installed."""
    convert = _opencc_converter()
    return None if convert is None else convert(text)


@lru_cache(maxsize=65536)
def to_traditional(text: str) -> str | None:
    """``text`` in traditional Chinese via ``opencc``; None when opencc is not installed."""
    convert = _opencc_converter("s2t")
    return None if convert is None else convert(text)


@lru_cache(maxsize=65536)
def pinyin_syllables(text: str) -> tuple[str, ...] | None:
    """Toneless pinyin syllables of ``text`` (other runs kept whole); None without pypinyin."""
    convert = _pinyin_module()
    return None if convert is None else tuple(convert(to_simplified(text) or text))


@lru_cache(maxsize=1)
def _readings_module() -> Callable[[str], frozenset[str]] | None:
    try:
        pinyin = importlib.import_module("pypinyin").pinyin
        normal = importlib.import_module("pypinyin").Style.NORMAL
    except ImportError:
        return None

    def readings(ch: str) -> frozenset[str]:
        return frozenset(str(r) for r in pinyin(ch, style=normal, heteronym=True)[0])

    return readings


def readings(ch: str) -> frozenset[str]:
    """Every toneless pinyin reading of one character (a polyphone has several); empty
    without pypinyin."""
    module = _readings_module()
    return frozenset() if module is None else module(ch)
