"""Spelling variants of one name: traditional and simplified, homophones, pinyin against Latin.

``variant_similarity`` needs the optional ``chinese`` extra (opencc, pypinyin); variants only
ever warn.
"""

from __future__ import annotations

from functools import lru_cache

from leadtocash.collision.normalize import _classes, _has_han, name_similarity
from leadtocash.collision.parts import name_parts
from leadtocash.collision.regions import strip_region, without_region_ending
from leadtocash.collision.scripts import pinyin_syllables, readings, to_simplified

__all__ = ["variant_similarity"]

_MIN_PINYIN_PREFIX = 6


def _all_han(text: str) -> bool:
    return _classes(text) == "h" * len(text)


@lru_cache(maxsize=65536)
def _char_variants(x: str, y: str) -> bool:
    """Whether two Han characters may be one character's spellings: the same after
    traditional → simplified, or sharing a reading (any reading of a polyphone)."""
    sx, sy = to_simplified(x), to_simplified(y)
    if sx is not None and sx == sy:
        return True
    return bool(readings(sx or x) & readings(sy or y))


def _may_be_variants(a: str, b: str) -> bool:
    """A cheap necessary test before converting whole names: two all-Han names can only be
    traditional/simplified or homophone spellings of each other when they have one length
    and every character that differs is a variant of the other one (``_char_variants``)."""
    if not (_all_han(a) and _all_han(b)):
        return True  # mixed or Latin: the full comparison decides
    if len(a) != len(b):
        return False
    return all(x == y or _char_variants(x, y) for x, y in zip(a, b, strict=True))


def variant_similarity(a: str, b: str) -> float | None:
    """A score when two *normalized* names are spelling variants of each other, else None.

    Needs the optional extras (``opencc`` for traditional → simplified, ``pypinyin``); without
    them it always returns None. Variants are: equal after traditional → simplified (100);
    equal pinyin (homophones, 100); or, for a Han name against a Latin one, the pinyin of the
    Han name's first two or more syllables (at least six letters) starting the Latin name
    (``华为技术`` vs ``huaweitechnologies``; scored by WRatio on the pinyin), both without a
    leading region (``深圳市宏达贸易`` vs ``Shenzhen Hongda Trading``), and refused when both
    name a region and the regions differ. Variants only warn.
    """
    if a == b or not (_has_han(a) or _has_han(b)):
        return None
    if not _may_be_variants(a, b):
        return None
    sa, sb = to_simplified(a), to_simplified(b)
    if sa is not None and sb is not None and sa == sb:
        return 100.0
    pa, pb = pinyin_syllables(a), pinyin_syllables(b)
    if pa is None or pb is None:
        return None
    ja, jb = "".join(pa), "".join(pb)
    if ja == jb:
        return 100.0
    if _has_han(a) == _has_han(b):
        return None
    han_name, latin_name = (a, b) if _has_han(a) else (b, a)
    han_core, latin_core = strip_region(han_name), strip_region(latin_name)
    han_region = han_name[: len(han_name) - len(han_core)]
    latin_region = latin_name[: len(latin_name) - len(latin_core)]
    if han_region and latin_region:  # 深圳市宏达 is not "Beijing Hongda"
        region = pinyin_syllables(without_region_ending(han_region)) or ()
        if "".join(region) != latin_region:
            return None
    han = pinyin_syllables(han_core) or ()
    for count in range(len(han), 1, -1):
        prefix = "".join(han[:count])
        if len(prefix) >= _MIN_PINYIN_PREFIX and latin_core.startswith(prefix):
            score = name_similarity("".join(han), latin_core)
            if score >= _PINYIN_SCORE or _same_trade(han_core, latin_core):
                return score
            return None
    return None


#: A pinyin spelling scoring at least this against a Han name's pinyin is a variant of it.
_PINYIN_SCORE = 88.0


def _same_trade(han_core: str, latin_core: str) -> bool:
    """Whether a Latin name that starts with a Han name's pinyin brand names the same trade:
    it spells the Han brand and industry in pinyin (``jianjundianligongchengqingdaobranch``
    for ``坚俊电力工程青岛分公司``), or it names a trade in English (``huaweitechnologies``:
    a translation). ``Fengcheng guangdiankeji`` is not ``丰城环保科技``: one brand, two trades."""
    if name_parts(latin_core) is not None:
        return True
    parts = name_parts(han_core)
    if parts is None:
        return False
    trade = pinyin_syllables(parts.brand + parts.industry)
    return trade is not None and latin_core.startswith("".join(trade))
