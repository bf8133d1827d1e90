"""The duplicate checker: policies, masking, fuzzy warnings, leads against customers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from leadtocash.collision import (
    DUPLICATE_CODE,
    MASK,
    CollisionPolicy,
    CollisionReport,
    DedupKey,
    ExistingRecord,
    KeyKind,
    MatchKind,
    Outcome,
    RecordKind,
    RecordRef,
    candidate_keys,
    check_duplicates,
    hits_by_record,
    lead_keys,
    raise_if_blocked,
)
from leadtocash.errors import RuleViolation, ValidationError
from leadtocash.model import Channel, Customer, CustomerId, Lead, LeadId, RepId

NOW = datetime(2025, 3, 1, tzinfo=UTC)
USCC = "91110000600037341L"


def huawei_customer(**changes: object) -> Customer:
    base: dict[str, object] = {
        "id": CustomerId("c-1"),
        "name": "华为技术有限公司",
        "created_at": NOW,
        "uscc": USCC,
        "phones": ("+8613800138000",),
        "emails": ("sales@huawei.com",),
        "owner_id": RepId("rep-bob"),
    }
    base.update(changes)
    return Customer(**base)  # type: ignore[arg-type]


def existing_huawei(**changes: object) -> ExistingRecord:
    return ExistingRecord.from_customer(huawei_customer(**changes))


def test_exact_name_blocks_and_names_the_record_and_owner() -> None:
    keys = candidate_keys(name="华为技术 有限公司")
    report = check_duplicates(keys, [existing_huawei()], viewer_may_see=True)
    assert report.blocked
    (hit,) = report.blocking
    assert hit.match is MatchKind.EXACT
    assert hit.key == DedupKey(KeyKind.NAME, "华为技术")
    assert hit.record.kind is RecordKind.CUSTOMER
    assert hit.record.id == "c-1"
    assert hit.record.owner_id == "rep-bob"
    assert hit.record.display_name == "华为技术有限公司"
    assert not hit.record.masked


def test_uscc_blocks_even_under_another_name() -> None:
    keys = candidate_keys(name="Totally Different Ltd", uscc=USCC.lower())
    report = check_duplicates(keys, [existing_huawei()])
    assert report.blocked
    assert [h.key for h in report.blocking] == [DedupKey(KeyKind.USCC, USCC)]


def test_phone_and_email_only_warn_by_default() -> None:
    keys = candidate_keys(
        name="Other Company", phones=["138 0013 8000"], emails=["SALES@huawei.com"]
    )
    report = check_duplicates(keys, [existing_huawei()])
    assert not report.blocked
    assert {h.key.kind for h in report.warnings if h.key} == {KeyKind.PHONE, KeyKind.EMAIL}
    assert all(h.outcome is Outcome.WARN for h in report.warnings)


def test_policy_can_block_phones_and_allow_names() -> None:
    policy = CollisionPolicy(phone=Outcome.BLOCK, name=Outcome.ALLOW, fuzzy_threshold=None)
    phone_only = candidate_keys(name="Other", phones=["13800138000"])
    assert check_duplicates(phone_only, [existing_huawei()], policy).blocked
    same_name = candidate_keys(name="华为技术有限公司")
    report = check_duplicates(same_name, [existing_huawei()], policy)
    assert not report.blocked
    assert not report.warnings
    assert report.clean
    assert [h.outcome for h in report.hits] == [Outcome.ALLOW]


def test_policy_accepts_plain_strings_and_rejects_bad_thresholds() -> None:
    assert CollisionPolicy(name="warn").name is Outcome.WARN
    with pytest.raises(ValueError, match="nope"):
        CollisionPolicy(email="nope")
    with pytest.raises(ValidationError):
        CollisionPolicy(fuzzy_threshold=0)
    with pytest.raises(ValidationError):
        CollisionPolicy(fuzzy_threshold=101)


def test_unique_keys_are_the_blocking_kinds() -> None:
    keys = customer_keys_of(huawei_customer())
    assert CollisionPolicy().unique_keys(keys) == {"name:华为技术", f"uscc:{USCC}"}
    strict = CollisionPolicy(phone=Outcome.BLOCK, email=Outcome.BLOCK)
    assert len(strict.unique_keys(keys)) == 4


def customer_keys_of(customer: Customer) -> frozenset[DedupKey]:
    return ExistingRecord.from_customer(customer).keys


class TestFuzzy:
    def test_similar_name_only_warns(self) -> None:
        keys = candidate_keys(name="华为技术（深圳）有限公司")
        report = check_duplicates(keys, [existing_huawei()])
        assert not report.blocked
        (hit,) = report.warnings
        assert hit.match is MatchKind.FUZZY
        assert hit.key is None
        assert hit.score >= 88

    def test_fuzzy_never_blocks_even_when_every_exact_kind_blocks(self) -> None:
        policy = CollisionPolicy(
            uscc=Outcome.BLOCK, name=Outcome.BLOCK, phone=Outcome.BLOCK, email=Outcome.BLOCK
        )
        keys = candidate_keys(name="Huawei Technology Ltd")
        existing = existing_huawei(name="Huawei Technologies Co., Ltd.")
        report = check_duplicates(keys, [existing], policy)
        assert [h.match for h in report.hits] == [MatchKind.FUZZY]
        assert not report.blocked

    def test_threshold_is_configurable_and_can_be_disabled(self) -> None:
        keys = candidate_keys(name="华为技术（深圳）有限公司")
        assert check_duplicates(
            keys, [existing_huawei()], CollisionPolicy(fuzzy_threshold=99)
        ).clean
        assert check_duplicates(
            keys, [existing_huawei()], CollisionPolicy(fuzzy_threshold=None)
        ).clean

    def test_unrelated_names_do_not_warn(self) -> None:
        keys = candidate_keys(name="阿里巴巴网络技术有限公司")
        assert check_duplicates(keys, [existing_huawei()]).clean

    def test_no_fuzzy_hit_on_top_of_an_exact_name_hit(self) -> None:
        report = check_duplicates(candidate_keys(name="华为技术"), [existing_huawei()])
        assert [h.match for h in report.hits] == [MatchKind.EXACT]


class TestMasking:
    def test_hidden_owner_and_name_are_masked_but_id_is_shown(self) -> None:
        report = check_duplicates(candidate_keys(name="华为技术"), [existing_huawei()])
        (hit,) = report.hits
        assert hit.record.masked
        assert hit.record.owner_id == MASK
        assert hit.record.display_name == "华***司"
        assert hit.record.id == "c-1"

    def test_pool_record_has_no_owner_to_mask(self) -> None:
        report = check_duplicates(candidate_keys(name="华为技术"), [existing_huawei(owner_id=None)])
        assert report.hits[0].record.owner_id is None

    def test_visibility_predicate_is_asked_per_record(self) -> None:
        mine = existing_huawei(id=CustomerId("c-mine"), owner_id=RepId("me"))
        theirs = existing_huawei(id=CustomerId("c-theirs"))
        report = check_duplicates(
            candidate_keys(name="华为技术"),
            [mine, theirs],
            viewer_may_see=lambda record: record.owner_id == "me",
        )
        views = {h.record.id: h.record for h in report.hits}
        assert views["c-mine"].owner_id == "me"
        assert not views["c-mine"].masked
        assert views["c-theirs"].owner_id == MASK
        assert views["c-theirs"].masked


def test_leads_and_customers_are_checked_against_each_other() -> None:
    lead = Lead(
        id=LeadId("l-9"),
        channel=Channel.CALL,
        company_name="HUAWEI TECHNOLOGIES CO., LTD.",
        created_at=NOW,
        phone="138 0013 8000",
        owner_id=RepId("rep-carol"),
    )
    existing_lead = ExistingRecord.from_lead(lead)
    customer_candidate = candidate_keys(
        name="Huawei Technologies Co. Ltd", phones=["+86 138-0013-8000"]
    )
    report = check_duplicates(customer_candidate, [existing_lead], viewer_may_see=True)
    assert report.blocked
    assert {h.record.kind for h in report.hits} == {RecordKind.LEAD}
    assert report.records() == (RecordRef(RecordKind.LEAD, "l-9"),)
    assert {h.key.kind for h in report.hits if h.key} == {KeyKind.NAME, KeyKind.PHONE}

    # and a lead candidate against an existing customer
    lead_report = check_duplicates(lead_keys(lead), [existing_huawei(phones=("13800138000",))])
    assert not lead_report.blocked  # different names, only the phone is shared
    exact = [h for h in lead_report.warnings if h.match is MatchKind.EXACT]
    assert [(h.record.kind, h.key) for h in exact] == [
        (RecordKind.CUSTOMER, DedupKey(KeyKind.PHONE, "+8613800138000"))
    ]


def test_hits_are_ordered_block_first_and_records_deduplicated() -> None:
    record = existing_huawei()
    keys = candidate_keys(name="华为技术", phones=["13800138000"], uscc=USCC)
    report = check_duplicates(keys, [record, record])
    assert [h.outcome for h in report.hits] == [Outcome.BLOCK, Outcome.BLOCK, Outcome.WARN]
    assert [h.key.kind for h in report.hits if h.key] == [
        KeyKind.NAME,
        KeyKind.USCC,
        KeyKind.PHONE,
    ]
    assert list(hits_by_record(report)) == [RecordRef(RecordKind.CUSTOMER, "c-1")]


def test_exclude_skips_the_record_being_updated() -> None:
    record = existing_huawei()
    report = check_duplicates(
        record.keys, [record], exclude=[RecordRef(RecordKind.CUSTOMER, "c-1")]
    )
    assert report.hits == ()


def test_no_existing_records_is_clean() -> None:
    report = check_duplicates(candidate_keys(name="华为技术"), [])
    assert report.clean
    assert raise_if_blocked(report) is report


class TestRaiseIfBlocked:
    def test_raises_with_stable_code_and_masked_details(self) -> None:
        report = check_duplicates(candidate_keys(name="华为技术", uscc=USCC), [existing_huawei()])
        with pytest.raises(RuleViolation) as info:
            raise_if_blocked(report)
        error = info.value
        assert error.code == DUPLICATE_CODE == "collision.duplicate"
        assert "customer 'c-1'" in error.message
        assert "华***司" in error.message
        assert "rep-bob" not in error.message
        assert "华为技术有限公司" not in str(error.details)
        blocking = error.details["blocking"]
        assert [b["record_id"] for b in blocking] == ["c-1", "c-1"]
        assert {b["key"] for b in blocking} == {"name:华为技术", f"uscc:{USCC}"}
        assert all(b["owner_id"] == MASK and b["masked"] for b in blocking)
        assert "and 1 more" in error.message

    def test_visible_details_name_the_owner(self) -> None:
        report = check_duplicates(
            candidate_keys(name="华为技术"), [existing_huawei()], viewer_may_see=True
        )
        with pytest.raises(RuleViolation) as info:
            raise_if_blocked(report)
        assert "owner rep-bob" in info.value.message
        assert info.value.details["blocking"][0]["display_name"] == "华为技术有限公司"

    def test_warnings_do_not_raise(self) -> None:
        keys = candidate_keys(name="Someone Else", phones=["13800138000"])
        report = check_duplicates(keys, [existing_huawei()])
        assert raise_if_blocked(report) is report
        assert len(report.warnings) == 1


def test_report_details_are_plain_data() -> None:
    keys = candidate_keys(name="华为技术深圳", phones=["13800138000"])
    details = check_duplicates(keys, [existing_huawei()]).details()
    assert details["blocked"] is False
    assert details["blocking"] == []
    assert {w["match"] for w in details["warnings"]} == {"exact", "fuzzy"}
    empty = CollisionReport()
    assert empty.details() == {"blocked": False, "blocking": [], "warnings": []}


def test_a_record_without_a_name_key_is_matched_on_its_exact_keys_only() -> None:
    phone = DedupKey(KeyKind.PHONE, "+8613800138000")
    nameless = ExistingRecord(RecordKind.LEAD, "l-9", "(no name)", None, {phone})
    assert nameless.normalized_name is None
    keys = candidate_keys(name="华为技术有限公司", phones=["138 0013 8000"])
    report = check_duplicates(keys, [nameless])
    assert [(h.match, h.key, h.outcome) for h in report.hits] == [
        (MatchKind.EXACT, phone, Outcome.WARN)
    ]  # no fuzzy or variant comparison without a name to compare
