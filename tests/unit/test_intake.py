"""Lead capture validation: every bad field path reported at once, nothing stored."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from leadtocash import Channel, IntakeRules, LeadId, LeadToCash, Principal, ValidationError
from leadtocash.intake import lead_from_payload
from leadtocash.testing import InMemoryStore

NOW = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)
GOOD: dict[str, Any] = {
    "channel": "web_form",
    "company_name": " 深圳市腾讯计算机系统有限公司 ",
    "contact_name": "马先生",
    "phone": "+86 138-0013-8000 ext. 12",
    "email": "Pony@Example.COM",
    "uscc": "91110000600037341l",
}


def test_a_good_web_form_payload_becomes_a_normalized_lead(crm: LeadToCash, rep: Principal) -> None:
    lead = crm.leads.capture(rep, GOOD)
    assert lead.channel is Channel.WEB_FORM
    assert lead.company_name == "深圳市腾讯计算机系统有限公司"
    assert lead.phone == "+8613800138000"
    assert lead.email == "pony@example.com"
    assert lead.uscc == "91110000600037341L"
    assert lead.version == 1
    assert crm.leads.get(rep, lead.id) == lead


@pytest.mark.parametrize(
    ("payload", "paths"),
    [
        ({**GOOD, "channel": "fax"}, ["channel"]),
        ({k: v for k, v in GOOD.items() if k != "channel"}, ["channel"]),
        ({**GOOD, "company_name": "   "}, ["company_name"]),
        ({**GOOD, "company_name": 42}, ["company_name"]),
        ({**GOOD, "email": "no-at-sign"}, ["email"]),
        ({**GOOD, "email": ["a@b.com"]}, ["email"]),
        ({**GOOD, "phone": "12345"}, ["phone"]),
        ({**GOOD, "uscc": "91110000600037341X"}, ["uscc"]),
        ({**GOOD, "budget": 10}, ["budget"]),
        ({"channel": "call", "company_name": "X"}, ["phone"]),
        (
            {"channel": 7, "company_name": None, "email": "bad", "phone": "x", "uscc": "1"},
            ["channel", "company_name", "email", "phone", "uscc"],
        ),
    ],
)
def test_bad_payloads_list_every_field_and_change_nothing(
    crm: LeadToCash, store: InMemoryStore, rep: Principal, payload: dict[str, Any], paths: list[str]
) -> None:
    with pytest.raises(ValidationError) as caught:
        crm.leads.capture(rep, payload)
    assert sorted(caught.value.paths) == sorted(paths)
    assert caught.value.code == "validation.invalid"
    assert all(e.code for e in caught.value.errors)
    assert store.commits == 0
    assert store.audit_log() == []


def test_a_non_mapping_payload_is_a_validation_error(crm: LeadToCash, rep: Principal) -> None:
    with pytest.raises(ValidationError) as caught:
        crm.leads.capture(rep, ["not", "a", "dict"])  # type: ignore[arg-type]
    assert caught.value.paths == ("payload",)


def test_required_fields_are_configurable_per_channel(store: InMemoryStore, rep: Principal) -> None:
    from leadtocash.testing import FakeClock, SequentialIds

    rules = IntakeRules(required={Channel.EVENT: frozenset({"contact_name", "campaign"})})
    crm = LeadToCash(store, FakeClock(), SequentialIds(), intake=rules)
    with pytest.raises(ValidationError) as caught:
        crm.leads.capture(rep, {"channel": "event", "company_name": "A", "phone": "13800138000"})
    assert sorted(caught.value.paths) == ["campaign", "contact_name"]
    lead = crm.leads.capture(rep, {"channel": "web_form", "company_name": "A", "email": "a@b.co"})
    assert lead.channel is Channel.WEB_FORM


def test_unknown_required_field_in_rules_is_rejected_at_load_time() -> None:
    with pytest.raises(ValidationError) as caught:
        IntakeRules(required={Channel.CALL: frozenset({"budgett"})})
    assert caught.value.paths == ("required[call]",)


def test_import_reports_each_row_and_keeps_good_rows(
    crm: LeadToCash, store: InMemoryStore, rep: Principal
) -> None:
    admin = Principal("root", roles=frozenset({__import__("leadtocash").Role.ADMIN}))
    rows = [
        {"company_name": "甲公司", "phone": "13800138000"},
        {"company_name": "", "email": "broken"},
        {"company_name": "乙公司", "email": "b@yi.cn"},
    ]
    report = crm.leads.import_rows(admin, rows)
    assert (report.created, report.rejected) == (2, 1)
    assert report.rows[1].lead_id is None
    assert sorted(e.path for e in report.rows[1].errors) == [
        "rows[1].company_name",
        "rows[1].email",
    ]
    assert crm.leads.get(admin, report.rows[2].lead_id or "").channel is Channel.IMPORT
    assert len(store.audit_log()) == 2


def _lead(payload: dict[str, Any], **kw: Any) -> Any:
    return lead_from_payload(payload, lead_id=LeadId("l1"), now=NOW, **kw)


def test_text_longer_than_the_limit_is_refused_after_trimming() -> None:
    assert _lead({**GOOD, "contact_name": " " + "马" * 200 + " "}).contact_name == "马" * 200
    with pytest.raises(ValidationError) as caught:
        _lead({**GOOD, "contact_name": "马" * 201, "note": "x" * 2001}, path_prefix="rows[7].")
    assert [(e.path, e.code) for e in caught.value.errors] == [
        ("rows[7].contact_name", "field.too_long"),
        ("rows[7].note", "field.too_long"),
    ]


def test_unknown_fields_are_ignored_when_the_rules_allow_them() -> None:
    extra = {**GOOD, "budget": 10, "source_page": "/pricing"}
    with pytest.raises(ValidationError) as caught:
        _lead(extra)
    assert caught.value.paths == ("budget", "source_page")
    assert {e.code for e in caught.value.errors} == {"field.unknown"}
    lenient = _lead(extra, rules=IntakeRules(reject_unknown_fields=False))
    assert lenient.company_name == "深圳市腾讯计算机系统有限公司"


def test_a_head_count_is_digits_int_reads_and_anything_else_is_refused() -> None:
    """Full-width digits (１２０, common in Chinese input) count; superscripts such as ``¹``
    are digits to ``str.isdigit`` but not numbers, and escaped as a ValueError (the command
    fuzzer found it): now ``field.type`` on the field."""
    assert _lead({**GOOD, "employees": " １２０ "}).employees == 120
    for odd in ("¹", "²³", "12¹"):
        with pytest.raises(ValidationError) as caught:
            _lead({**GOOD, "employees": odd})
        assert [(e.path, e.code) for e in caught.value.errors] == [("employees", "field.type")]
