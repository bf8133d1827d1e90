"""Blocking keys: one edit apart always shares a key; regions are dropped; phones and e-mails."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadtocash.collision import (
    email_key,
    name_blocks,
    normalize_company_name,
    query_blocks,
    strip_region,
)
from leadtocash.collision.regions import (
    LATIN_REGIONS,
    REGION_ENDINGS,
    REGION_PREFIXES,
    without_region_ending,
)
from leadtocash.fields import parse_phone

han = st.text("华为技术腾讯科技宏达贸易深圳北京有限音乐物流", min_size=2, max_size=12)
latin = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=2, max_size=16)


@st.composite
def one_edit(draw: st.DrawFn, names: st.SearchStrategy[str]) -> tuple[str, str]:
    name = draw(names)
    i = draw(st.integers(0, len(name)))
    ch = draw(st.sampled_from("华为科技宏大达abcxyz"))
    how = draw(st.sampled_from(("substitute", "delete", "insert", "swap")))
    if how == "substitute" and i < len(name):
        return name, name[:i] + ch + name[i + 1 :]
    if how == "delete" and i < len(name) and len(name) > 1:
        return name, name[:i] + name[i + 1 :]
    if how == "swap" and i < len(name) - 1:
        return name, name[:i] + name[i + 1] + name[i] + name[i + 2 :]
    return name, name[:i] + ch + name[i:]


@given(one_edit(han) | one_edit(latin) | one_edit(han | latin))
@settings(max_examples=500)
def test_names_one_edit_apart_share_a_blocking_key(pair: tuple[str, str]) -> None:
    a, b = pair
    if min(len(a), len(b)) < 2:
        return  # a one-character name has no key shorter than itself to share
    if a[0].isascii() != b[0].isascii():
        return  # the width k follows the first character's script
    if strip_region(a) != a or strip_region(b) != b:
        return  # a region was dropped from one side only: not a one-edit pair any more
    assert name_blocks(a) & name_blocks(b), (a, b)


@pytest.mark.parametrize(
    ("name", "other"),
    [
        ("深圳市腾讯计算机系统有限公司", "腾讯计算机系统有限公司"),
        ("华为技术有限公司", "华为技术有限公司北京分公司"),
        ("腾讯科技（深圳）有限公司", "腾讯科技有限公司"),
        ("腾讯科技有限公司", "腾迅科技有限公司"),
        ("Pacific Dragon Trading Co., Ltd.", "Pacifc Dragon Trading Ltd"),
    ],
)
def test_related_names_share_a_blocking_key(name: str, other: str) -> None:
    a, b = normalize_company_name(name), normalize_company_name(other)
    assert name_blocks(a) & name_blocks(b)


def test_same_brand_other_business_shares_no_key() -> None:
    a, b = normalize_company_name("腾讯科技有限公司"), normalize_company_name("腾讯音乐有限公司")
    assert not name_blocks(a) & name_blocks(b)


def test_traditional_and_pinyin_spellings_are_looked_up_with_the_extras() -> None:
    pytest.importorskip("opencc")
    pytest.importorskip("pypinyin")
    simplified = normalize_company_name("腾讯科技有限公司")
    assert name_blocks(normalize_company_name("騰訊科技有限公司")) <= query_blocks(simplified)
    pinyin = normalize_company_name("Shenzhen Tengxun Keji Co., Ltd.")
    assert name_blocks(pinyin) & query_blocks(normalize_company_name("深圳市腾讯科技有限公司"))


def test_regions_are_dropped_when_enough_remains() -> None:
    assert strip_region("广东省深圳市宏达贸易") == "宏达贸易"
    assert strip_region("北京银行") == "银行"
    assert strip_region("北京") == "北京"
    assert strip_region("shenzhenhongdatrading") == "hongdatrading"
    assert name_blocks("") == frozenset()


@pytest.mark.parametrize(
    "raw",
    ["010-88886666转123", "010-88886666-123", "010 8888 6666 分机 12", "(010) 8888 6666"],
)
def test_chinese_extensions_are_dropped(raw: str) -> None:
    assert parse_phone(raw) == "+861088886666"


def test_email_key_ignores_case_and_plus_tags() -> None:
    assert email_key(" Sales+CRM@Example.COM ").value == "sales@example.com"
    assert email_key("+tag@example.com").value == "+tag@example.com"


def test_fuzzy_score_needs_the_brand_to_agree_not_just_city_and_industry() -> None:
    from leadtocash.collision import fuzzy_score

    def score(a: str, b: str) -> float:
        return fuzzy_score(normalize_company_name(a), normalize_company_name(b))

    assert score("南京市网新生物科技有限公司", "南京市豪新生物科技有限公司") < 88
    assert score("深圳市宏达贸易有限公司", "北京市宏达贸易有限公司") < 88
    assert score("华为技术有限公司", "华为技术有限公司北京分公司") >= 88
    assert (
        score("深圳市腾讯计算机系统有限公司", "深圳市腾讯计算系统有限公司") >= 88
    )  # a dropped character


def test_stored_keys_take_canonical_phones_as_they_are_and_skip_bad_values() -> None:
    from leadtocash.collision import KeyKind, stored_keys

    keys = stored_keys("华为技术有限公司", ("+8613800138000", "garbage"), ("A+x@B.com",), "bad")
    assert {(k.kind, k.value) for k in keys} == {
        (KeyKind.NAME, "华为技术"),
        (KeyKind.PHONE, "+8613800138000"),
        (KeyKind.EMAIL, "a@b.com"),
    }


def _strip_region_by_loop(normalized: str) -> str:
    """The reference: every region prefix tried in turn, longest first (the script of what is
    left picks the prefixes, the script of the whole name how much must remain)."""
    minimum = 6 if normalized[:1].isascii() else 2
    current = normalized
    while True:
        latin = current[:1].isascii()
        prefixes = LATIN_REGIONS if latin else REGION_PREFIXES
        rest = current
        for region in prefixes:
            if current.startswith(region):
                rest = current[len(region) :]
                if not latin:
                    for ending in REGION_ENDINGS:
                        if rest.startswith(ending):
                            rest = rest[len(ending) :]
                            break
                break
        if rest == current or len(rest) < minimum:
            return current
        current = rest


def _without_region_ending_by_loop(name: str) -> str:
    for region in REGION_PREFIXES:
        if name.startswith(region):
            rest = name[len(region) :]
            for ending in REGION_ENDINGS:
                if rest.startswith(ending):
                    return region + rest[len(ending) :]
            return name
    return name


region_names = st.builds(
    lambda parts, tail: "".join(parts) + tail,
    st.lists(
        st.one_of(
            st.sampled_from(REGION_PREFIXES),
            st.sampled_from(REGION_ENDINGS),
            st.sampled_from(LATIN_REGIONS),
        ),
        max_size=3,
    ),
    st.one_of(han, latin, st.just("")),
)


@given(st.one_of(region_names, han, latin))
def test_region_stripping_matches_trying_every_prefix(name: str) -> None:
    assert strip_region.__wrapped__(name) == _strip_region_by_loop(name)
    assert without_region_ending(name) == _without_region_ending_by_loop(name)


@pytest.mark.parametrize(
    ("name", "stripped", "without_ending"),
    [
        ("宏达贸易", "宏达贸易", "宏达贸易"),  # no region: the startswith test answers
        ("深圳市宏达贸易", "宏达贸易", "深圳宏达贸易"),
        ("内蒙古自治区宏达", "宏达", "内蒙古宏达"),
        ("香港特别行政区宏达贸易", "宏达贸易", "香港宏达贸易"),
        ("中国广东省深圳市宏达", "宏达", "中国广东省深圳市宏达"),
        ("北京市北", "北京市北", "北京北"),  # too little would remain
        ("xianggangtrading", "trading", "xianggangtrading"),
        ("hongkongshenzhenhongda", "hongda", "hongkongshenzhenhongda"),
        ("xiangtan", "xiangtan", "xiangtan"),  # not a region, though it starts like one
    ],
)
def test_region_prefixes(name: str, stripped: str, without_ending: str) -> None:
    assert strip_region.__wrapped__(name) == stripped
    assert without_region_ending(name) == without_ending


@pytest.mark.parametrize(
    ("stored", "typed"),
    [
        ("河南电气有限公司", "河河南电气有限责任公司"),  # a doubled character hides the region
        ("美福建筑工程（青岛）有限公司", "福建筑工程（青岛）公司"),  # a dropped one makes one up
        ("中团国际贸易有限公司", "中国团际贸易公司"),  # so does a swap
        ("南聚通信技术有限公司", "天津市南通聚信技术有限公司"),  # a city before a made-up one
    ],
)
def test_typos_that_hide_or_make_up_a_region_still_share_a_blocking_key(
    stored: str, typed: str
) -> None:
    """Found by the book property: one typo near the front of a name changes what region
    stripping sees, so the typed name is also looked up as it would read either way."""
    keys = name_blocks(normalize_company_name(stored))
    assert keys & query_blocks(normalize_company_name(typed))


def test_a_homophone_typed_for_a_region_still_shares_a_blocking_key() -> None:
    pytest.importorskip("pypinyin")
    keys = name_blocks(normalize_company_name("江西泰数据科技有限公司"))  # brand 江西泰
    assert keys & query_blocks(normalize_company_name("江戏泰数据科技股份有限公司"))
