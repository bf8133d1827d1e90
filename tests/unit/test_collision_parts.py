"""Name parts and the brand-aware fuzzy score: one brand in two trades, two brands in one trade."""

from __future__ import annotations

import pytest

from leadtocash.collision import (
    DEFAULT_FUZZY_THRESHOLD,
    NameParts,
    fuzzy_score,
    name_parts,
    normalize_company_name,
    pick_candidates,
)


def score(a: str, b: str) -> float:
    return fuzzy_score(normalize_company_name(a), normalize_company_name(b))


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        (
            "深圳市腾讯计算机系统有限公司",
            NameParts("深圳市", "腾讯", "计算机系统", "", ("计算机", "系统")),
        ),
        (
            "宏达网络科技（深圳）有限公司",
            NameParts("", "宏达", "网络科技", "深圳", ("网络", "科技")),
        ),
        ("华为技术有限公司北京分公司", NameParts("", "华为", "技术", "北京分公司", ("技术",))),
        ("宏达集团有限公司", NameParts("", "宏达", "集团", "", ("集团",))),
        (
            "Huawei Technologies Co., Ltd.",
            NameParts("", "huawei", "technologies", "", ("technology",)),
        ),
    ],
)
def test_a_name_is_cut_into_region_brand_industry_and_rest(name: str, parts: NameParts) -> None:
    normalized = normalize_company_name(name)
    assert name_parts(normalized) == parts
    assert parts.region + parts.brand + parts.industry + parts.rest == normalized


def test_a_name_without_a_known_industry_has_no_parts() -> None:
    assert name_parts(normalize_company_name("阿里巴巴")) is None
    assert name_parts("科技") is None  # the brand needs two characters


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("腾讯科技有限公司", "腾讯音乐有限公司"),  # one brand, two businesses
        ("宏达科技有限公司", "宏达集团有限公司"),
        ("宏达兴企业管理咨询有限公司", "宏达旺企业管理咨询有限公司"),  # two brands, one long trade
        ("深圳市宏达兴供应链管理有限公司", "深圳市宏达隆供应链管理有限公司"),
        ("Apex Summit Trading Co., Ltd.", "Apex Sunrise Trading Co., Ltd."),
    ],
)
def test_different_companies_that_share_most_of_their_name_do_not_warn(a: str, b: str) -> None:
    assert score(a, b) < DEFAULT_FUZZY_THRESHOLD


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("腾讯科技有限公司", "腾迅科技有限公司"),  # a homophone typed by the pinyin IME
        ("深圳市宏达兴供应链管理有限公司", "深圳市宏兴达供应链管理有限公司"),  # two swapped
        ("宏达贸易有限公司", "宏达贸贸易有限公司"),  # a doubled character
        ("华为技术有限公司", "华为技术有限公司北京分公司"),  # parent and branch still warn
        ("Huawei Technologies Co., Ltd.", "Huawei Technology Ltd"),  # singular and plural
        ("Pacific Dragon Trading Co., Ltd.", "Pacifc Dragon Trading Ltd"),
    ],
)
def test_typos_and_branches_still_warn(a: str, b: str) -> None:
    assert score(a, b) >= DEFAULT_FUZZY_THRESHOLD


def test_pick_candidates_reads_specific_keys_first_and_stays_in_budget() -> None:
    found = {
        "blk:达贸易": [f"c{i}" for i in range(16)],  # a family of names: little weight each
        "blk:宏达贸易": ["c99"],  # one holder: read first
        "blk:宏贸易": ["c3", "c98"],
    }
    picked = pick_candidates(found, 3)
    assert picked == ["c99", "c3", "c98"]
    assert pick_candidates(found, 0) == []
    assert sorted(pick_candidates(found, 100)) == sorted({*found["blk:达贸易"], "c99", "c98"})


@pytest.mark.parametrize(
    ("han", "latin", "warns"),
    [
        ("华为技术有限公司", "Huawei Technologies Co., Ltd.", True),  # an English translation
        ("坚俊电力工程有限公司青岛分公司", "Jianjun Dianligongcheng Qingdao Branch Ltd", True),
        ("深圳市腾讯科技有限公司", "Shenzhen Tengxun Keji Co., Ltd.", True),
        ("丰城环保科技有限公司", "Fengcheng Guangdiankeji Co., Ltd.", False),  # another trade
    ],
)
def test_a_pinyin_name_warns_for_the_same_trade_only(han: str, latin: str, warns: bool) -> None:
    pytest.importorskip("pypinyin")
    from leadtocash.collision import variant_similarity

    found = variant_similarity(normalize_company_name(han), normalize_company_name(latin))
    assert (found is not None) is warns


def test_all_han_names_are_variants_only_character_by_character() -> None:
    pytest.importorskip("opencc")
    pytest.importorskip("pypinyin")
    from leadtocash.collision import variant_similarity

    assert variant_similarity("騰訊科技", "腾讯科技") == 100.0
    assert variant_similarity("华为技术", "华维技术") == 100.0  # 为/维 share the reading wei
    assert variant_similarity("腾讯科技", "腾讯科技深圳") is None  # another length
    assert variant_similarity("腾讯科技", "腾飞科技") is None  # 讯/飞: no shared reading
