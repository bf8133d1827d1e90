"""Dedup keys: phones, e-mails, USCC and names, and their error paths."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from stdnum.cn import uscc as stdnum_uscc

from leadtocash.collision import (
    DedupKey,
    KeyKind,
    candidate_keys,
    customer_keys,
    dedup_keys,
    email_key,
    key_texts,
    lead_keys,
    name_key,
    phone_key,
    uscc_key,
)
from leadtocash.errors import ValidationError
from leadtocash.model import Channel, Customer, CustomerId, Lead, LeadId

NOW = datetime(2025, 3, 1, tzinfo=UTC)
USCC = "91110000600037341L"


@pytest.mark.parametrize(
    "raw", ["138 0013 8000", "+86 138-0013-8000", "0086 13800138000", "13800138000"]
)
def test_mobile_spellings_share_one_key(raw: str) -> None:
    assert phone_key(raw).text == "phone:+8613800138000"


def test_landline_extension_is_dropped() -> None:
    assert phone_key("(010) 6552 9988 ext. 12") == phone_key("010-65529988")
    assert phone_key("(010) 6552 9988 ext. 12").value == "+861065529988"


def test_phone_region_is_configurable() -> None:
    assert phone_key("650 253 0000", region="US").value == "+16502530000"


def test_invalid_phone_names_its_field() -> None:
    with pytest.raises(ValidationError) as info:
        phone_key("12345", path="phones[2]")
    assert info.value.paths == ("phones[2]",)


def test_email_case_and_whitespace_are_ignored() -> None:
    assert email_key("  Zhang.San@Huawei.COM ") == email_key("zhang.san@huawei.com")
    assert email_key("Zhang.San@Huawei.COM").text == "email:zhang.san@huawei.com"


def test_uscc_is_upper_cased_and_validated() -> None:
    assert uscc_key(USCC.lower()).text == f"uscc:{USCC}"
    with pytest.raises(ValidationError) as info:
        uscc_key("91110000600037341M", path="rows[3].uscc")
    assert info.value.paths == ("rows[3].uscc",)
    assert info.value.errors[0].code == "uscc.invalid"


def test_uscc_with_letter_authority_code_is_valid() -> None:
    # GB 32100-2015 allows letter registration-authority codes (Y, A, N, ...).
    body = "Y1110000600037341"
    code = body + stdnum_uscc.calc_check_digit(body)
    assert uscc_key(code).value == code


def test_name_key_is_the_normalized_name() -> None:
    assert name_key("华为技术有限公司").text == "name:华为技术"


def test_name_without_letters_is_rejected() -> None:
    with pytest.raises(ValidationError) as info:
        name_key("（）", path="company_name")
    assert info.value.errors[0].code == "name.empty"
    assert info.value.paths == ("company_name",)


class TestDedupKeyText:
    def test_round_trip(self) -> None:
        key = DedupKey(KeyKind.PHONE, "+8613800138000")
        assert DedupKey.parse(key.text) == key
        assert str(key) == "phone:+8613800138000"

    def test_value_may_contain_colons(self) -> None:
        assert DedupKey.parse("name:a:b") == DedupKey(KeyKind.NAME, "a:b")

    @pytest.mark.parametrize("text", ["", "name", "name:", "fax:123", ":x"])
    def test_malformed(self, text: str) -> None:
        with pytest.raises(ValidationError):
            DedupKey.parse(text)


def test_lead_keys() -> None:
    lead = Lead(
        id=LeadId("l1"),
        channel=Channel.WEB_FORM,
        company_name="华为技术有限公司",
        created_at=NOW,
        phone="+86 138-0013-8000",
        email="Sales@Huawei.com",
        uscc=USCC,
    )
    assert key_texts(lead_keys(lead)) == {
        "name:华为技术",
        "phone:+8613800138000",
        "email:sales@huawei.com",
        f"uscc:{USCC}",
    }
    assert dedup_keys(lead) == lead_keys(lead)


def test_lead_with_bad_fields_lists_every_path() -> None:
    lead = Lead(
        id=LeadId("l1"),
        channel=Channel.WEB_FORM,
        company_name="ACME",
        created_at=NOW,
        phone="123",
        email="nope",
        uscc="91110000600037341M",
    )
    with pytest.raises(ValidationError) as info:
        lead_keys(lead)
    assert set(info.value.paths) == {"phone", "email", "uscc"}


def test_customer_keys_cover_every_phone_and_email() -> None:
    customer = Customer(
        id=CustomerId("c1"),
        name="Huawei Technologies Co., Ltd.",
        created_at=NOW,
        phones=("138 0013 8000", "(010) 6552 9988 ext. 12"),
        emails=("A@x.com", "b@X.com"),
    )
    assert key_texts(customer_keys(customer)) == {
        "name:huaweitechnologies",
        "phone:+8613800138000",
        "phone:+861065529988",
        "email:a@x.com",
        "email:b@x.com",
    }
    assert dedup_keys(customer) == customer_keys(customer)


def test_customer_bad_phone_names_its_index() -> None:
    customer = Customer(
        id=CustomerId("c1"), name="ACME", created_at=NOW, phones=("13800138000", "42")
    )
    with pytest.raises(ValidationError) as info:
        customer_keys(customer)
    assert info.value.paths == ("phones[1]",)


def test_candidate_keys_skip_blank_and_none_values() -> None:
    keys = candidate_keys(name="ACME", phones=[None, " "], emails=[""], uscc="  ")
    assert key_texts(keys) == {"name:acme"}


def test_candidate_keys_collect_all_errors() -> None:
    with pytest.raises(ValidationError) as info:
        candidate_keys(name="!!", phones=["1"], emails=["x"], uscc="1", phones_path="phone")
    assert info.value.paths == ("name", "phone[0]", "emails[0]", "uscc")
