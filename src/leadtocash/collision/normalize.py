"""Company-name normalization for duplicate detection (防撞单).

``normalize_company_name`` maps the many spellings of one registered name onto one key:

1. Unicode NFKC (full width → half width, ``（`` → ``(``, ideographic space → space), then case
   folding, then NFKC again (case folding can leave non-NFKC text).
2. **Brackets are kept, moved to the end.** The text inside ``() [] {} 【】 〔〕 〖〗`` (after
   NFKC the full-width forms are these) is kept and appended after the rest of the name, without
   the bracket characters. Chinese registered names put a region or qualifier in brackets:
   ``腾讯科技（深圳）有限公司`` and ``腾讯科技（北京）有限公司`` are different legal entities, so
   dropping the bracket would make exact (blocking) keys collide. Moving it to the end makes the
   usual spellings agree: ``腾讯科技（深圳）有限公司``, ``腾讯科技深圳有限公司`` and
   ``腾讯科技有限公司（深圳）`` all give ``腾讯科技深圳``; ``ABC (China) Co., Ltd.`` and
   ``ABC China Limited`` both give ``abcchina``. An unclosed bracket runs to the end of the name.
3. Whitespace and punctuation (Unicode categories P, S, Z, C) are removed; letters, digits and
   combining marks stay. Runs of Han/kana/hangul characters ignore separators
   (``华为技术 有限 公司`` is one run), Latin/digit words are split at separators and at the
   boundary with Han text, so suffixes are only recognised as whole words.
4. Legal-form suffixes are stripped, repeatedly:

   * Chinese legal forms anywhere in a Han run: 股份有限公司, 有限责任公司 (also 有限責任公司),
     有限公司, 股份公司, 特殊普通合伙, 普通合伙, 有限合伙, and the Japanese 株式会社, 有限会社,
     合同会社; plus a trailing 公司 (``海尔集团公司`` → ``海尔集团``).
   * **分公司 is kept**: a branch is not the same customer as its parent, so
     ``华为技术有限公司北京分公司`` → ``华为技术北京分公司`` (the parent's legal form is removed,
     the branch marker stays). Fuzzy matching still warns about parent and branch.
   * **集团 is kept**: ``XX集团有限公司`` (the group company) and ``XX有限公司`` (an operating
     company) are usually two legal entities; blocking on them would be a false block. Both
     ``XX集团`` and ``XX集团有限公司`` give ``xx集团``.
   * English legal words at the end of the name: co, company, corp, corporation, inc,
     incorporated, llc, llp, ltd, limited, plc, gmbh, ag, pte, pty, sa, bv, nv, srl, spa, and the
     dotted forms ``L.L.C.``, ``S.A.``, ``B.V.``, ``N.V.``, ``S.r.l.``, ``S.p.A.``; a leading
     "the" is dropped. So ``Co., Ltd.``, ``Co. Ltd``, ``Company Limited`` and ``Inc.`` all go.
     Group/holdings words are kept, for the same reason as 集团.

5. The result is the words concatenated without separators. If stripping would leave nothing
   (the name *is* a legal form, e.g. ``有限公司``), the unstripped normalized text is kept, so a
   key is never empty.

The function is idempotent (it iterates its single pass to a fixed point) and pure.
Traditional → simplified Chinese is **not** part of the key (it would need an optional
dependency and keys must not depend on what is installed); ``variant_similarity`` uses it,
with pinyin, for warnings only.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from rapidfuzz import fuzz
from rapidfuzz.distance import OSA

from leadtocash.collision.scripts import pinyin_syllables, to_simplified, to_traditional

__all__ = [
    "CHINESE_LEGAL_FORMS",
    "ENGLISH_LEGAL_SUFFIXES",
    "mask_name",
    "name_similarity",
    "normalize_company_name",
    "pinyin_syllables",
    "to_simplified",
    "to_traditional",
    "typo_similarity",
]

#: Chinese (and Japanese) legal forms removed wherever they occur in a Han run, longest first.
CHINESE_LEGAL_FORMS: tuple[str, ...] = (
    "股份有限公司",
    "有限责任公司",
    "有限責任公司",
    "特殊普通合伙",
    "有限公司",
    "股份公司",
    "普通合伙",
    "有限合伙",
    "株式会社",
    "有限会社",
    "合同会社",
)

#: English legal-form words (as case-folded word sequences) stripped from the end of a name.
ENGLISH_LEGAL_SUFFIXES: tuple[tuple[str, ...], ...] = (
    ("co",),
    ("company",),
    ("corp",),
    ("corporation",),
    ("inc",),
    ("incorporated",),
    ("llc",),
    ("llp",),
    ("ltd",),
    ("limited",),
    ("plc",),
    ("gmbh",),
    ("ag",),
    ("pte",),
    ("pty",),
    ("sa",),
    ("bv",),
    ("nv",),
    ("srl",),
    ("spa",),
    ("l", "l", "c"),
    ("l", "l", "p"),
    ("s", "a"),
    ("b", "v"),
    ("n", "v"),
    ("s", "r", "l"),
    ("s", "p", "a"),
)

_OPEN = frozenset("([{【〔〖")
_CLOSE = frozenset(")]}】〕〗")
_TRAILING_COMPANY = "公司"
_BRANCH_MARK = "分"
_MAX_PASSES = 8


class _ClassTable(dict[int, str]):
    """Code point → class letter, filled on first sight (used with ``str.translate``).

    ``o``/``c`` open/close bracket, ``s`` separator (not a letter, digit or mark), ``h`` Han,
    kana or hangul, ``m`` another combining mark, ``w`` another letter or digit.
    """

    def __missing__(self, cp: int) -> str:
        ch = chr(cp)
        if ch in _OPEN:
            value = "o"
        elif ch in _CLOSE:
            value = "c"
        elif unicodedata.category(ch)[0] not in "LNM":
            value = "s"
        elif (
            0x2E80 <= cp <= 0x9FFF  # radicals, kana, CJK unified ideographs …
            or 0xAC00 <= cp <= 0xD7AF  # hangul syllables
            or 0xF900 <= cp <= 0xFAFF  # CJK compatibility ideographs
            or 0x20000 <= cp <= 0x3FFFF  # CJK extensions B+
        ):
            value = "h"
        elif unicodedata.category(ch)[0] == "M":
            value = "m"
        else:
            value = "w"
        self[cp] = value
        return value


_CLASSES = _ClassTable()
# A Han run swallows separators between Han characters and the marks that follow it; a word
# is letters/digits with their marks. Everything else separates.
_TOKEN = re.compile(r"h(?:m|s*h)*|[wm]+")


def _classes(text: str) -> str:
    return text.translate(_CLASSES)


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


def _split_brackets(text: str, classes: str) -> tuple[str, str]:
    """Text outside brackets and text inside them (bracket characters become spaces)."""
    if "o" not in classes and "c" not in classes:
        return text, ""
    outside: list[str] = []
    inside: list[str] = []
    depth = 0
    for ch, cls in zip(text, classes, strict=True):
        if cls in "oc":
            depth = depth + 1 if cls == "o" else max(depth - 1, 0)
            outside.append(" ")
            inside.append(" ")
        else:
            (inside if depth else outside).append(ch)
    return "".join(outside), "".join(inside)


def _tokenize(text: str, classes: str | None = None) -> list[str]:
    """Han runs (separators inside them ignored) and Latin/digit words."""
    if classes is None:
        classes = _classes(text)
    tokens: list[str] = []
    for match in _TOKEN.finditer(classes):
        start, end = match.span()
        token = text[start:end]
        if "s" in match.group():
            token = "".join(ch for ch, cls in zip(token, match.group(), strict=True) if cls != "s")
        tokens.append(token)
    return tokens


def _is_han(token: str) -> bool:
    return _CLASSES[ord(token[0])] == "h"


def _merge_han(tokens: list[str]) -> list[str]:
    """Adjacent Han runs become one run (as they would when the joined text is re-read)."""
    merged: list[str] = []
    for token in tokens:
        if merged and _is_han(token) and _is_han(merged[-1]):
            merged[-1] += token
        else:
            merged.append(token)
    return merged


def _strip_han(token: str, *, last: bool) -> str:
    changed = True
    while changed and token:
        changed = False
        for form in CHINESE_LEGAL_FORMS:
            if form in token:
                token = token.replace(form, "")
                changed = True
        if (
            last
            and token.endswith(_TRAILING_COMPANY)
            and not token[: -len(_TRAILING_COMPANY)].endswith(_BRANCH_MARK)
        ):
            token = token[: -len(_TRAILING_COMPANY)]
            changed = True
    return token


def _by_last_word(
    suffixes: tuple[tuple[str, ...], ...],
) -> dict[str, tuple[tuple[str, ...], ...]]:
    index: dict[str, tuple[tuple[str, ...], ...]] = {}
    for suffix in suffixes:
        index[suffix[-1]] = (*index.get(suffix[-1], ()), suffix)
    return index


_SUFFIXES_BY_LAST = _by_last_word(ENGLISH_LEGAL_SUFFIXES)
# Every Chinese legal form (and the trailing 公司) ends with one of these.
_HAN_FORM_ENDINGS = ("公司", "合伙", "会社")


def _strip_english(tokens: list[str]) -> bool:
    """Drop one legal suffix (or a leading "the") in place; True when something was dropped."""
    if len(tokens) > 1 and tokens[0] == "the":
        del tokens[0]
        return True
    for suffix in _SUFFIXES_BY_LAST.get(tokens[-1], ()):
        n = len(suffix)
        if len(tokens) >= n and tuple(tokens[-n:]) == suffix:
            del tokens[-n:]
            return True
    return False


def _strip(tokens: list[str]) -> list[str]:
    tokens = list(tokens)
    while tokens:
        while tokens and _strip_english(tokens):
            pass
        if not tokens:
            break
        changed = False
        last = len(tokens) - 1
        stripped: list[str] = []
        for index, token in enumerate(tokens):
            if _is_han(token) and any(end in token for end in _HAN_FORM_ENDINGS):
                new = _strip_han(token, last=index == last)
                if new != token:
                    changed = True
                    if not new:
                        continue
                    token = new
            stripped.append(token)
        if not changed:
            break
        tokens = _merge_han(stripped)
    return tokens


def _normalize_once(text: str) -> str:
    folded = _fold(text)
    classes = _classes(folded)
    outside, inside = _split_brackets(folded, classes)
    outside_tokens = _tokenize(outside, None if inside else classes)
    inside_tokens = _tokenize(inside) if inside else []
    stripped = _strip(_merge_han(_strip(outside_tokens) + inside_tokens))
    if stripped:
        return "".join(stripped)
    return "".join(outside_tokens) + "".join(inside_tokens)


@lru_cache(maxsize=65536)
def normalize_company_name(name: str) -> str:
    """The comparison key of a company name (see the module docstring for every rule).

    Returns ``""`` only when ``name`` has no letters or digits at all. Memoized: it is a pure
    function of ``name``, every save of a customer needs its name key, and every duplicate
    check compares dozens of stored names (as many entries as the other name caches, so a
    book of tens of thousands of names is normalized once, not at each check).
    """
    current = name
    for _ in range(_MAX_PASSES):
        result = _normalize_once(current)
        if result == current or _settled(result):
            return result
        current = result
    return current


def _settled(result: str) -> bool:
    """Whether another pass would give ``result`` back, without making it: an all-Han result
    (one Han run, no bracket, separator or Latin word) in which no legal form can start (none
    ends in it) and which folding leaves as it is goes through a pass unchanged. Most Chinese
    names are such, so they are normalized in one pass instead of two."""
    return (
        _classes(result) == "h" * len(result)
        and not any(end in result for end in _HAN_FORM_ENDINGS)
        and _fold(result) == result
    )


def mask_name(name: str) -> str:
    """A partly hidden display name: first and last character kept (``华***司``)."""
    text = name.strip()
    if len(text) <= 1:
        return "*"
    if len(text) == 2:
        return text[0] + "***"
    return text[0] + "***" + text[-1]


def name_similarity(a: str, b: str) -> float:
    """Similarity 0–100 of two *normalized* names (rapidfuzz ``WRatio``)."""
    if not a or not b:
        return 0.0
    return float(fuzz.WRatio(a, b))


#: The score of two names one typo apart (see ``typo_similarity``).
TYPO_SCORE = 90.0
_MIN_TYPO_LENGTH = 4


def typo_similarity(a: str, b: str) -> float:
    """``TYPO_SCORE`` (90) when two *normalized* names of at least four characters are one edit
    apart (a character substituted, dropped or added, or two neighbours swapped), else 0.

    WRatio scores one wrong character in a four-character name at 75 (``腾讯科技`` vs
    ``腾迅科技``), below any useful threshold; short Chinese names are common, so one typo in
    them is scored as such.
    """
    if min(len(a), len(b)) < _MIN_TYPO_LENGTH or abs(len(a) - len(b)) > 1:
        return 0.0
    if OSA.distance(a, b, score_cutoff=1) != 1:
        return 0.0
    if len(a) == len(b):
        differ = [(x, y) for x, y in zip(a, b, strict=True) if x != y]
        if len(differ) == 1 and _has_han("".join(differ[0])):
            # One Han character replaced: a typo only when it sounds the same (拼音输入法 picks
            # the wrong homophone: 腾讯/腾迅); 嘉民音乐 and 嘉绣音乐 are two companies.
            x, y = differ[0]
            px, py = pinyin_syllables(x), pinyin_syllables(y)
            if px is None or py is None or px != py:
                return 0.0
    return TYPO_SCORE


def _has_han(text: str) -> bool:
    return "h" in _classes(text)
