"""Hypothesis strategies for anti-collision tests: spellings of one company and bad USCCs.

``company_variant_sets()`` draws one company (a Chinese or an English core name, maybe with a
region) and several spellings of it that differ in width (full/half), legal suffix, spacing,
punctuation and case — all of which ``normalize_company_name`` must map to one key.
``uscc_corruptions()`` draws a valid USCC and a copy with exactly one character corrupted.
"""

from __future__ import annotations

import attrs
from hypothesis import strategies as st

from leadtocash.testing.strategies import uscc_codes

__all__ = [
    "CHINESE_SUFFIX_SPELLINGS",
    "ENGLISH_SUFFIX_SPELLINGS",
    "USCC_ALPHABET",
    "CompanySpec",
    "company_name_variants",
    "company_specs",
    "company_variant_sets",
    "corrupt_uscc",
    "to_full_width",
    "uscc_corruptions",
]

#: The 31 characters a USCC may contain (GB 32100-2015: digits and letters without I O S V Z).
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"

#: Interchangeable spellings of a Chinese legal form ("" = written without one).
CHINESE_SUFFIX_SPELLINGS: tuple[str, ...] = (
    "",
    "有限公司",
    "有限责任公司",
    "股份有限公司",
    "公司",
    "股份公司",
)

#: Interchangeable spellings of an English legal form ("" = written without one).
ENGLISH_SUFFIX_SPELLINGS: tuple[str, ...] = (
    "",
    "Co., Ltd.",
    "Co.,Ltd.",
    "Co. Ltd",
    "CO., LTD",
    "Company Limited",
    "Co., Limited",
    "Limited",
    "Ltd.",
    "Inc.",
    "Inc",
    "LLC",
    "L.L.C.",
    "Corp.",
    "Corporation",
    "GmbH",
    "PLC",
    "Pte. Ltd.",
)

# Han characters that appear in company names but never form a legal suffix.
_HAN = (
    "华为技术腾讯科技阿里巴巴京东美团小米网络信息电子软件数据智能新能源汽车医药生物建设工程贸易物流"
)
_REGIONS_HAN = ("深圳", "北京", "上海", "广州", "杭州", "成都", "中国", "香港")
_WORDS = (
    "huawei",
    "tencent",
    "alpha",
    "orient",
    "pacific",
    "dragon",
    "global",
    "bright",
    "star",
    "river",
    "digital",
    "systems",
    "technologies",
    "trading",
    "energy",
    "medical",
)
_REGIONS_EN = ("China", "Shenzhen", "Asia", "Hong Kong", "Europe")
_SPACES = (" ", "  ", "\u3000", "\t", " \u3000 ")
_WORD_JOINERS = (" ", "  ", "\u3000", "-", " - ", "·", "/", " & ", "_")
_WRAPPERS = (("", ""), ("“", "”"), ('"', '"'), ("《", "》"), ("'", "'"), ("", "."), ("*", ""))


@attrs.frozen
class CompanySpec:
    """The parts of one company's name: its core words, script and an optional region."""

    words: tuple[str, ...]
    han: bool
    region: str | None = None


def company_specs() -> st.SearchStrategy[CompanySpec]:
    """Chinese or English companies, some with a region qualifier."""
    han = st.builds(
        CompanySpec,
        words=st.lists(st.text(_HAN, min_size=1, max_size=4), min_size=1, max_size=2).map(tuple),
        han=st.just(True),
        region=st.none() | st.sampled_from(_REGIONS_HAN),
    )
    english = st.builds(
        CompanySpec,
        words=st.lists(st.sampled_from(_WORDS), min_size=1, max_size=3).map(tuple),
        han=st.just(False),
        region=st.none() | st.sampled_from(_REGIONS_EN),
    )
    return han | english


def to_full_width(text: str, mask: list[bool] | None = None) -> str:
    """``text`` with ASCII characters (where ``mask`` is true, default all) in full width."""
    out = []
    for i, ch in enumerate(text):
        wide = mask is None or (i < len(mask) and mask[i])
        if wide and "!" <= ch <= "~":
            out.append(chr(ord(ch) + 0xFEE0))
        elif wide and ch == " ":
            out.append("\u3000")
        else:
            out.append(ch)
    return "".join(out)


@st.composite
def _han_spelling(draw: st.DrawFn, spec: CompanySpec) -> str:
    core_chars = "".join(spec.words)
    # spacing: any run of separators between Han characters
    core = "".join(
        ch + (draw(st.sampled_from(("", *_SPACES))) if i < len(core_chars) - 1 else "")
        for i, ch in enumerate(core_chars)
    )
    suffix = draw(st.sampled_from(CHINESE_SUFFIX_SPELLINGS))
    if spec.region is None:
        gap: str = draw(st.sampled_from(("", *_SPACES)))
        return core + gap + suffix
    open_, close = draw(st.sampled_from((("（", "）"), ("(", ")"), ("【", "】"), ("[", "]"))))
    region = spec.region
    placement = draw(st.integers(0, 2))
    if placement == 0:  # 腾讯科技（深圳）有限公司
        return f"{core}{open_}{region}{close}{suffix}"
    if placement == 1:  # 腾讯科技深圳有限公司
        return f"{core}{region}{suffix}"
    return f"{core}{suffix}{open_}{region}{close}"  # 腾讯科技有限公司（深圳）


@st.composite
def _english_spelling(draw: st.DrawFn, spec: CompanySpec) -> str:
    words = list(spec.words)
    if spec.region is not None:
        region = spec.region
        if draw(st.booleans()):
            words.append(f"({region})")
        else:
            words.append(region)
    text = words[0]
    for word in words[1:]:
        text += draw(st.sampled_from(_WORD_JOINERS)) + word
    suffix = draw(st.sampled_from(ENGLISH_SUFFIX_SPELLINGS))
    if suffix:
        text += draw(st.sampled_from((" ", ", ", "  ", "\u3000", ","))) + suffix
    if draw(st.booleans()):
        text = "The " + text
    # case: per character
    flips = draw(st.lists(st.sampled_from(("keep", "upper", "lower")), min_size=len(text)))
    return "".join(
        ch.upper() if flip == "upper" else ch.lower() if flip == "lower" else ch
        for ch, flip in zip(text, flips, strict=False)
    )


@st.composite
def company_name_variants(draw: st.DrawFn, spec: CompanySpec) -> str:
    """One spelling of ``spec``: width, suffix, spacing, punctuation and case vary."""
    text = draw(_han_spelling(spec) if spec.han else _english_spelling(spec))
    mask = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    text = to_full_width(text, mask)
    before, after = draw(st.sampled_from(_WRAPPERS))
    padding: str = draw(st.sampled_from(("", *_SPACES)))
    return padding + before + text + after + padding


@st.composite
def company_variant_sets(
    draw: st.DrawFn, min_size: int = 2, max_size: int = 5
) -> tuple[CompanySpec, tuple[str, ...]]:
    """One company and ``min_size``..``max_size`` spellings of it."""
    spec = draw(company_specs())
    variants = draw(st.lists(company_name_variants(spec), min_size=min_size, max_size=max_size))
    return spec, tuple(variants)


def corrupt_uscc(code: str, index: int, replacement: str) -> str:
    """``code`` with the character at ``index`` replaced by ``replacement`` ("" deletes it)."""
    return code[:index] + replacement + code[index + 1 :]


@st.composite
def uscc_corruptions(
    draw: st.DrawFn, codes: st.SearchStrategy[str] | None = None
) -> tuple[str, str]:
    """``(valid, corrupted)``: one character substituted (in or out of the alphabet), deleted
    or inserted.

    Inserting a space or a dash is not a corruption (they are accepted separators), and
    changing a letter's case is not one either (codes are upper-cased), so neither is drawn.
    """
    code = draw(codes if codes is not None else uscc_codes())
    index = draw(st.integers(0, len(code) - 1))
    how = draw(st.sampled_from(("substitute", "foreign", "delete", "insert")))
    if how == "substitute":
        other = draw(st.sampled_from(USCC_ALPHABET).filter(lambda c: c != code[index]))
        return code, corrupt_uscc(code, index, other)
    if how == "foreign":
        other = draw(st.sampled_from("IOSVZ*#.@"))
        return code, corrupt_uscc(code, index, other)
    if how == "delete":
        return code, corrupt_uscc(code, index, "")
    extra = draw(st.sampled_from(USCC_ALPHABET))
    return code, code[:index] + extra + code[index:]
