"""The dedup book generator's variants: normalization is idempotent on them, and every format
variant of a company collides with it (blocks) under the default policy; typo and traditional
spellings share a blocking key with it, so the fuzzy check finds them without scanning."""

from __future__ import annotations

import importlib.util
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadtocash.collision import (
    DEFAULT_FUZZY_THRESHOLD,
    DEFAULT_POLICY,
    ExistingRecord,
    RecordKind,
    candidate_keys,
    check_duplicates,
    fuzzy_score,
    name_blocks,
    normalize_company_name,
    query_blocks,
)
from leadtocash.testing.dedup_book import (
    DUPLICATE_KINDS,
    FORMAT_KINDS,
    BookCompany,
    company_duplicate_strategy,
    distinct_company,
    generate_company,
)

EXTRAS = all(importlib.util.find_spec(m) for m in ("opencc", "pypinyin"))


@given(company_duplicate_strategy(DUPLICATE_KINDS))
@settings(max_examples=300)
def test_normalization_is_idempotent_on_generated_names(
    drawn: tuple[BookCompany, str, str],
) -> None:
    company, _, name = drawn
    for text in (name, company.registered_name):
        once = normalize_company_name(text)
        assert normalize_company_name(once) == once


@given(company_duplicate_strategy(FORMAT_KINDS))
@settings(max_examples=400)
def test_every_format_variant_collides_under_the_default_policy(
    drawn: tuple[BookCompany, str, str],
) -> None:
    company, kind, name = drawn
    original = ExistingRecord(
        RecordKind.CUSTOMER, "c1", company.registered_name, None,
        candidate_keys(name=company.registered_name),
    )  # fmt: skip
    report = check_duplicates(candidate_keys(name=name), [original], DEFAULT_POLICY)
    assert report.blocked, (kind, company.registered_name, name)


@pytest.mark.skipif(not EXTRAS, reason="traditional spellings need the chinese extra")
@given(company_duplicate_strategy(("typo", "traditional")))
@settings(max_examples=300)
def test_typos_and_traditional_spellings_share_a_blocking_key(
    drawn: tuple[BookCompany, str, str],
) -> None:
    company, kind, name = drawn
    stored = name_blocks(normalize_company_name(company.registered_name))
    assert stored & query_blocks(normalize_company_name(name)), (kind, company, name)


@pytest.mark.skipif(not EXTRAS, reason="traditional spellings need the chinese extra")
@given(company_duplicate_strategy(("traditional",)))
@settings(max_examples=300)
def test_every_traditional_spelling_warns_under_the_default_policy(
    drawn: tuple[BookCompany, str, str],
) -> None:
    company, _, name = drawn
    original = ExistingRecord(
        RecordKind.CUSTOMER, "c1", company.registered_name, None,
        candidate_keys(name=company.registered_name),
    )  # fmt: skip
    report = check_duplicates(candidate_keys(name=name), [original], DEFAULT_POLICY)
    assert report.blocked or report.warnings, (company.registered_name, name)


@given(st.integers(0, 2**32 - 1), st.sampled_from(("same_brand", "group")))
@settings(max_examples=300)
def test_one_brand_in_another_business_is_not_similar(seed: int, kind: str) -> None:
    rng = random.Random(seed)
    company = generate_company(rng)
    other = distinct_company(rng, company, kind)
    a = normalize_company_name(company.registered_name)
    b = normalize_company_name(other.registered_name)
    if a == b or company.script == "latin":
        return  # the generator's distinct company for a Latin name is a random one
    assert fuzzy_score(a, b) < DEFAULT_FUZZY_THRESHOLD, (a, b)
