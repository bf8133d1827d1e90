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
