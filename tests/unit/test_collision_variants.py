"""Traditional/simplified and pinyin variants (optional extras: opencc, pypinyin): warn only."""

from __future__ import annotations

import importlib.util

import pytest

from leadtocash.collision import (
    CollisionPolicy,
    ExistingRecord,
    MatchKind,
    Outcome,
    RecordKind,
    candidate_keys,
    check_duplicates,
    normalize_company_name,
    variant_similarity,
)

HAS_OPENCC = importlib.util.find_spec("opencc") is not None
HAS_PINYIN = importlib.util.find_spec("pypinyin") is not None
needs_opencc = pytest.mark.skipif(not HAS_OPENCC, reason="optional extra opencc not installed")
needs_pinyin = pytest.mark.skipif(not HAS_PINYIN, reason="optional extra pypinyin not installed")

STRICT = CollisionPolicy(
    uscc=Outcome.BLOCK, name=Outcome.BLOCK, phone=Outcome.BLOCK, email=Outcome.BLOCK
)


def existing(name: str) -> ExistingRecord:
    return ExistingRecord(RecordKind.CUSTOMER, "c-1", name, "bob", candidate_keys(name=name))


def test_variants_never_change_the_key() -> None:
    assert normalize_company_name("華為技術有限公司") == "華為技術"


def test_latin_pair_is_never_a_variant() -> None:
    assert variant_similarity("huawei", "huaweitechnologies") is None
    assert variant_similarity("华为技术", "华为技术") is None


@pytest.mark.skipif(HAS_OPENCC or HAS_PINYIN, reason="extras installed")
def test_without_extras_there_are_no_variant_hits() -> None:
    assert variant_similarity("華為技術", "华为技术") is None
    report = check_duplicates(
        candidate_keys(name="華為技術有限公司"), [existing("华为技术有限公司")]
    )
    assert report.clean


@needs_opencc
def test_traditional_name_warns_against_simplified_one() -> None:
    report = check_duplicates(
        candidate_keys(name="華為技術有限公司"), [existing("华为技术有限公司")], STRICT
    )
    assert not report.blocked
    (hit,) = report.warnings
    assert hit.match is MatchKind.VARIANT
    assert hit.score == 100.0


@needs_pinyin
def test_pinyin_brand_warns_against_english_name() -> None:
    report = check_duplicates(
        candidate_keys(name="HUAWEI TECHNOLOGIES CO., LTD."), [existing("华为技术有限公司")], STRICT
    )
    assert not report.blocked
    assert [h.match for h in report.warnings] == [MatchKind.VARIANT]


@needs_pinyin
def test_homophone_warns() -> None:
    assert variant_similarity("华为技术", "华维技术") == 100.0


@needs_pinyin
def test_unrelated_pinyin_does_not_warn() -> None:
    assert variant_similarity("腾讯科技", "huaweitechnologies") is None
    assert variant_similarity("华", "huaweitechnologies") is None  # one syllable is too short


def test_variants_can_be_switched_off() -> None:
    policy = CollisionPolicy(variants=False, fuzzy_threshold=None)
    report = check_duplicates(
        candidate_keys(name="華為技術有限公司"), [existing("华为技术有限公司")], policy
    )
    assert report.clean
