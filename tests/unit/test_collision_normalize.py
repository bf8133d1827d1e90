"""Company-name normalization on real-world spellings."""

from __future__ import annotations

import pytest

from leadtocash.collision import mask_name, name_similarity, normalize_company_name


@pytest.mark.parametrize(
    "spelling",
    [
        "华为技术有限公司",
        "华为技术 有限公司",
        "华为技术有限责任公司",
        " 华 为 技 术 有 限 公 司 ",
        "华为技术\u3000有限公司",
        "“华为技术有限公司”",
    ],
)
def test_chinese_spellings_of_one_company_share_a_key(spelling: str) -> None:
    assert normalize_company_name(spelling) == "华为技术"


@pytest.mark.parametrize(
    "spelling",
    [
        "HUAWEI TECHNOLOGIES CO., LTD.",
        "Huawei Technologies Co. Ltd",
        "Huawei Technologies Co.,Ltd.",
        "huawei technologies company limited",
        "Huawei-Technologies Limited",
        "ＨＵＡＷＥＩ　ＴＥＣＨＮＯＬＯＧＩＥＳ ＣＯ．，ＬＴＤ．",
        "The Huawei Technologies Inc.",
        "Huawei Technologies, L.L.C.",
    ],
)
def test_english_spellings_of_one_company_share_a_key(spelling: str) -> None:
    assert normalize_company_name(spelling) == "huaweitechnologies"


def test_full_width_latin_equals_half_width() -> None:
    assert (
        normalize_company_name("ＡＢＣ有限公司") == normalize_company_name("ABC有限公司") == "abc"
    )


def test_chinese_and_english_names_are_different_keys_without_extras() -> None:
    assert normalize_company_name("华为技术有限公司") != normalize_company_name(
        "HUAWEI TECHNOLOGIES CO., LTD."
    )


def test_traditional_chinese_is_not_folded_into_the_key() -> None:
    # The key never depends on optional packages; traditional/simplified only warns (variants).
    assert normalize_company_name("華為技術有限公司") == "華為技術"


class TestBrackets:
    def test_bracket_content_is_kept_and_moved_to_the_end(self) -> None:
        assert normalize_company_name("腾讯科技（深圳）有限公司") == "腾讯科技深圳"
        assert normalize_company_name("腾讯科技(深圳)有限公司") == "腾讯科技深圳"
        assert normalize_company_name("腾讯科技深圳有限公司") == "腾讯科技深圳"
        assert normalize_company_name("华为技术有限公司（深圳）") == "华为技术深圳"

    def test_regional_entities_stay_apart(self) -> None:
        shenzhen = normalize_company_name("腾讯科技（深圳）有限公司")
        beijing = normalize_company_name("腾讯科技（北京）有限公司")
        assert shenzhen != beijing

    def test_bracketed_region_does_not_equal_the_bare_parent(self) -> None:
        assert normalize_company_name("华为技术有限公司（深圳）") != normalize_company_name(
            "华为技术有限公司"
        )

    def test_english_bracket(self) -> None:
        assert normalize_company_name("ABC (China) Co., Ltd.") == "abcchina"
        assert normalize_company_name("ABC China Limited") == "abcchina"

    def test_bracketed_group_qualifier(self) -> None:
        assert normalize_company_name("中国平安保险（集团）股份有限公司") == "中国平安保险集团"
        assert normalize_company_name("中国平安保险集团股份有限公司") == "中国平安保险集团"

    def test_unclosed_bracket_runs_to_the_end(self) -> None:
        assert normalize_company_name("华为技术有限公司（深圳") == "华为技术深圳"

    def test_partnership_form_in_brackets_is_a_legal_form(self) -> None:
        assert (
            normalize_company_name("深圳市前海投资合伙企业（有限合伙）") == "深圳市前海投资合伙企业"
        )


class TestSuffixes:
    @pytest.mark.parametrize(
        ("name", "expected"),
        [
            ("万科企业股份有限公司", "万科企业"),
            ("海尔集团公司", "海尔集团"),
            ("某某股份公司", "某某"),
            ("株式会社ソニー", "ソニー"),
            ("Siemens AG", "siemens"),
            ("Bosch GmbH", "bosch"),
            ("Shell plc", "shell"),
            ("Grab Holdings Pte. Ltd.", "grabholdings"),
            ("Société Générale S.A.", "sociétégénérale"),
            ("The Coca-Cola Company", "cocacola"),
            ("Microsoft Corporation", "microsoft"),
            ("Apple Inc", "apple"),
        ],
    )
    def test_legal_forms_are_stripped(self, name: str, expected: str) -> None:
        assert normalize_company_name(name) == expected

    def test_branch_is_not_its_parent(self) -> None:
        branch = normalize_company_name("华为技术有限公司北京分公司")
        assert branch == "华为技术北京分公司"
        assert branch == normalize_company_name("华为技术北京分公司")
        assert branch != normalize_company_name("华为技术有限公司")

    def test_group_is_kept(self) -> None:
        assert normalize_company_name("美的集团有限公司") == "美的集团"
        assert normalize_company_name("美的集团") == "美的集团"
        assert normalize_company_name("美的有限公司") == "美的"

    def test_suffix_words_inside_a_word_are_not_stripped(self) -> None:
        assert normalize_company_name("Zinc") == "zinc"
        assert normalize_company_name("Costco Wholesale") == "costcowholesale"
        assert normalize_company_name("Incom Ltd") == "incom"

    def test_suffix_only_in_the_middle_stays_for_english(self) -> None:
        assert normalize_company_name("Limited Brands Inc") == "limitedbrands"

    @pytest.mark.parametrize(
        ("name", "expected"),
        [("有限公司", "有限公司"), ("Co., Ltd.", "coltd"), ("Inc.", "inc"), ("公司", "公司")],
    )
    def test_never_collapses_to_empty(self, name: str, expected: str) -> None:
        assert normalize_company_name(name) == expected


def test_punctuation_and_case_are_ignored() -> None:
    assert normalize_company_name("A.B.C. - Trading & Co") == normalize_company_name("abc trading")


def test_digits_are_kept() -> None:
    assert normalize_company_name("360安全科技股份有限公司") == "360安全科技"
    assert normalize_company_name("ABC 2 Ltd") != normalize_company_name("ABC 3 Ltd")


def test_no_letters_gives_empty() -> None:
    assert normalize_company_name(" ,.、（）") == ""


def test_mask_name() -> None:
    assert mask_name("华为技术有限公司") == "华***司"
    assert mask_name("华为") == "华***"
    assert mask_name("X") == "*"
    assert mask_name("  Acme Ltd ") == "A***d"


def test_name_similarity_is_high_for_near_spellings_and_low_for_others() -> None:
    assert name_similarity("华为技术", "华为技术深圳") >= 88
    assert name_similarity("huaweitechnologies", "huaweitechnology") >= 88
    assert name_similarity("腾讯科技深圳", "阿里巴巴网络") < 50
    assert name_similarity("", "abc") == 0.0
