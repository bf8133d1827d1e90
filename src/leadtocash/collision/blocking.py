"""Blocking keys for fuzzy-name candidates: a bounded lookup instead of a scan of the book.

A fuzzy check must compare a new name with the few stored names that could be similar, not
with the whole book. Every stored customer and lead carries a handful of **blocking keys**
(``blk:<text>``, stored as lookup keys next to the exact dedup keys); a check looks up the
candidate's blocking keys and scores only the records found.

The keys of a normalized name ``s`` are its *deletion neighbourhood over a prefix*:
``s[:k]`` and, for each position ``i < k``, ``s`` without its ``i``-th character cut to ``k``
characters. Two names of at least two characters one edit apart — a character substituted,
dropped, added, or two neighbours swapped, anywhere in the name — always share at least one
key (delete the edited position on both sides; a swap across the cut is covered by ``s[:k]``
against the other name's deletion at ``k - 1``). ``k`` is 4 for a name that starts with a Han
character and 10 otherwise, so a key is specific enough that few names share it (the
guarantee holds for two names that start with the same kind of character).

Before the keys are cut, a leading administrative region (``深圳市``, ``广东省``, ``北京`` …)
is dropped when at least two characters remain, so ``深圳市腾讯计算机系统`` and
``腾讯计算机系统`` share keys and ``北京``-prefixed names do not all share one.

What this finds (the fuzzy scorer then decides whether to warn): one typo anywhere in the name;
a name and a longer name starting with it (parent and branch, a name with a bracketed region);
a region prefix added or dropped. With the optional ``chinese`` extra, ``query_blocks`` also
looks up the simplified and traditional spellings of the candidate and, for a Han name, its
pinyin with and without the region (so a record named in pinyin, ``Tengxun Keji``, is found
from ``腾讯科技``; the other way round is not, and an English translation such as
``Tencent Technology`` is not found at all: keys are stored without the extras, so they do
not depend on what is installed). Names that differ in two or more of their first ``k``
characters (after the region) are not found.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from functools import lru_cache
from typing import TypeVar

from leadtocash.collision.keys import DedupKey, KeyKind
from leadtocash.collision.normalize import (
    normalize_company_name,
    pinyin_syllables,
    to_simplified,
    to_traditional,
)
from leadtocash.collision.regions import (
    REGION_PREFIXES,
    region_steps,
    strip_region,
    without_region_ending,
)

__all__ = [
    "BLOCK_PREFIX",
    "HAN_BLOCK_WIDTH",
    "LATIN_BLOCK_WIDTH",
    "REGION_PREFIXES",
    "blocking_keys",
    "name_blocks",
    "pick_candidates",
    "query_blocks",
    "strip_region",
]

_T = TypeVar("_T", bound=Hashable)

#: The prefix of a blocking key's storage text.
BLOCK_PREFIX = "blk:"
#: Prefix length ``k`` (in characters) for names starting with a Han character.
HAN_BLOCK_WIDTH = 4
#: Prefix length ``k`` for other names (Latin letters and digits carry less per character).
LATIN_BLOCK_WIDTH = 10


def _is_han(ch: str) -> bool:
    cp = ord(ch)
    return 0x2E80 <= cp <= 0x9FFF or 0xF900 <= cp <= 0xFAFF or 0x20000 <= cp <= 0x3FFFF


def _neighbourhood(core: str) -> set[str]:
    width = HAN_BLOCK_WIDTH if _is_han(core[0]) else LATIN_BLOCK_WIDTH
    keys = {core[:width]}
    for i in range(min(width, len(core))):
        cut = (core[:i] + core[i + 1 :])[:width]
        if cut:
            keys.add(cut)
    return keys


def name_blocks(normalized: str) -> frozenset[str]:
    """The blocking keys (storage texts ``blk:…``) of a *normalized* name; none for ``""``."""
    if not normalized:
        return frozenset()
    return frozenset(BLOCK_PREFIX + key for key in _neighbourhood(strip_region(normalized)))


def blocking_keys(keys: Iterable[DedupKey]) -> frozenset[str]:
    """The blocking keys stored with a record: those of its ``name`` key (none without one).

    Storage keeps them as lookup keys next to the exact keys, so an archived merge loser,
    which gives its dedup keys up, gives its blocking keys up too.
    """
    found: set[str] = set()
    for key in keys:
        if key.kind is KeyKind.NAME:
            found |= name_blocks(key.value)
    return frozenset(found)


@lru_cache(maxsize=1)
def _region_sounds() -> frozenset[str]:
    """The pinyin of every Han region prefix (empty without the ``chinese`` extra)."""
    sounds = (pinyin_syllables(region) for region in REGION_PREFIXES if _is_han(region[0]))
    return frozenset("".join(syllables) for syllables in sounds if syllables)


def _sounds_like_region(head: str) -> bool:
    """Whether ``head`` (Han) reads like a region prefix without being one."""
    if head in REGION_PREFIXES or not all(_is_han(ch) for ch in head):
        return False
    syllables = pinyin_syllables(head)
    return syllables is not None and "".join(syllables) in _region_sounds()


def query_blocks(normalized: str) -> frozenset[str]:
    """The keys to look a candidate up by: its own, plus its spelling variants' when the
    optional ``chinese`` extra is installed (simplified, traditional, pinyin of a Han name)."""
    keys = set(name_blocks(normalized))
    if not normalized or not any(_is_han(ch) for ch in normalized):
        return frozenset(keys)
    # Typos near the front can hide a region or make one up. 河河南电气 for 河南电气 hides it:
    # one character fewer may bring it back (the stored name's keys are of the name without
    # its region). 福建筑工程 for 美福建筑工程, or 中国团际 for 中团国际, makes one up: the
    # name is looked up with each region it starts with still on, too.
    for step in region_steps(normalized)[:-1]:
        keys |= {BLOCK_PREFIX + key for key in _neighbourhood(step)}
    for i in range(min(HAN_BLOCK_WIDTH, len(normalized))):
        variant = normalized[:i] + normalized[i + 1 :]
        if strip_region(variant) != variant:
            keys |= name_blocks(variant)
    # A homophone typed for a region's character (江戏 for 江西) hides it the same way: a
    # head that sounds like a region is cut off like one.
    for size in range(2, 5):
        rest = normalized[size:]
        if len(rest) >= 2 and _sounds_like_region(normalized[:size]):
            keys |= name_blocks(rest)
    spellings = {to_simplified(normalized), to_traditional(normalized)}
    for text in {normalized, strip_region(normalized), without_region_ending(normalized)}:
        syllables = pinyin_syllables(text)
        if syllables is not None:
            spellings.add("".join(syllables))
    for spelling in spellings:
        if spelling:
            keys |= name_blocks(normalize_company_name(spelling))
    return frozenset(keys)


def pick_candidates(found: Mapping[str, Sequence[_T]], budget: int) -> list[_T]:
    """At most ``budget`` of the records found by blocking keys, the most likely ones first.

    ``found`` maps each looked-up key to the records holding it (as storage returned them,
    perhaps cut at a limit). A record's weight is the sum over its keys of one over the number
    of records found for that key: a key held by one record is worth one, a key shared by a
    whole family of names (``?达贸易`` for every brand ending in 达) little. So the records of
    the few specific keys are read first, and a frequent key cannot crowd them out; the cost
    of a fuzzy check stays bounded however large the book is. Ties go by first appearance.
    """
    weight: dict[_T, float] = {}
    for holders in found.values():
        share = 1.0 / len(holders) if holders else 0.0
        for holder in holders:
            weight[holder] = weight.get(holder, 0.0) + share
    order = {holder: index for index, holder in enumerate(weight)}
    ranked = sorted(weight, key=lambda holder: (-weight[holder], order[holder]))
    return ranked[: max(budget, 0)]
