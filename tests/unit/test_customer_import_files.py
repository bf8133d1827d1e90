"""Customer import from real-shaped files: BOM, GB18030/GBK, Chinese headers, .xlsx, a
malformed row (every bad field named, nothing written in strict mode), batches, resume."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import attrs
import pytest

from leadtocash import RuleViolation, ValidationError
from leadtocash.app.imports import ImportService, customer_id_for, decode, map_headers
from pool_fixtures import ADMIN, World, make_world

USCC = "91110000600037341L"
ROWS = [
    ("华为技术有限公司", "张三", "138 0013 8000", "Sales@Huawei.com", USCC, "展会"),
    ("腾讯科技（深圳）有限公司", "李四", "0755-86013388转123", "", "", "官网"),
    ("深圳市宏达贸易有限公司", "王五", "+86 139 0013 9000", "info@hongda.cn", "", "转介绍"),
]
CHINESE = ("客户名称", "联系人", "手机", "邮箱", "统一社会信用代码", "渠道")


def _csv(headers: tuple[str, ...], rows: Sequence[tuple[str, ...]], sep: str = ",") -> str:
    return "\n".join(sep.join(r) for r in [headers, *rows]) + "\n"


def _state(world: World) -> Any:
    return (dict(world.store._rows), len(world.store._audit))


@pytest.mark.parametrize(
    ("encoding", "prefix", "reported"),
    [
        ("utf-8", b"\xef\xbb\xbf", "utf-8-sig"),
        ("utf-8", b"", "utf-8"),
        ("gb18030", b"", "gb18030"),
        ("gbk", b"", "gb18030"),
    ],
)
def test_encodings_are_detected_and_chinese_headers_mapped(
    encoding: str, prefix: bytes, reported: str
) -> None:
    world = make_world()
    data = prefix + _csv(CHINESE, ROWS).encode(encoding)
    before = _state(world)
    plan = world.crm.collisions.plan_import(ADMIN, data)
    assert _state(world) == before, "a dry run writes nothing"
    assert plan.encoding == reported
    assert [r.status for r in plan.rows] == ["ok", "ok", "ok"]
    assert plan.rows[0].fields["name"] == "华为技术有限公司"
    assert plan.columns["手机"] == "phones"
    report = world.crm.collisions.commit_import(ADMIN, plan, import_id="i1", pool_id=world.pool_id)
    assert report.batches_written == 1
    with world.crm.unit_of_work() as uow:
        huawei = uow.customers.get(customer_id_for("i1", 0))
        tencent = uow.customers.get(customer_id_for("i1", 1))
    assert huawei.phones == ("+8613800138000",)
    assert huawei.uscc == USCC
    assert tencent.phones == ("+8675586013388",)


def test_an_encoding_can_be_given_and_undecodable_bytes_are_refused() -> None:
    assert decode("客户".encode("gb18030"), "gb18030") == ("客户", "gb18030")
    with pytest.raises(ValidationError) as caught:
        decode("客户".encode("gb18030"), "utf-8")
    assert caught.value.paths == ("file",)


def test_english_headers_semicolons_and_a_user_mapping() -> None:
    world = make_world()
    headers = ("Company Name", "Mobile", "E-mail", "Firma-Nr", "Whatever")
    rows = [("Pacific Dragon Trading Co., Ltd.", "13800138001", "a@pd.com", "x", "y")]
    data = _csv(headers, rows, ";").encode()
    plan = world.crm.collisions.plan_import(ADMIN, data, mapping={"Firma-Nr": "address"})
    assert plan.columns == {
        "Company Name": "name", "Mobile": "phones", "E-mail": "emails", "Firma-Nr": "address",
    }  # fmt: skip
    assert plan.unmapped_headers == ("Whatever",)
    with pytest.raises(ValidationError) as caught:
        map_headers(headers, {"Mobile": "fax"})
    assert caught.value.paths == ("mapping.Mobile",)
    with pytest.raises(ValidationError) as caught:
        world.crm.collisions.plan_import(ADMIN, b"foo,bar\n1,2\n")
    assert caught.value.paths == ("headers",)


def test_a_malformed_row_names_every_bad_field_and_strict_mode_writes_nothing() -> None:
    world = make_world()
    rows = [
        *ROWS[:1],
        ("", "赵六", "12345", "not-an-email", "91110000600037341X", ""),
        ROWS[2],
    ]
    plan = world.crm.collisions.plan_import(ADMIN, _csv(CHINESE, rows).encode("gb18030"))
    assert [r.status for r in plan.rows] == ["ok", "rejected", "ok"]
    assert {e.path for e in plan.rows[1].errors} == {
        "rows[1].name", "rows[1].phones[0]", "rows[1].emails[0]", "rows[1].uscc",
    }  # fmt: skip
    assert plan.rows[1].number == 3
    before = _state(world)
    with pytest.raises(ValidationError) as caught:
        world.crm.collisions.commit_import(ADMIN, plan, import_id="i2", pool_id=world.pool_id)
    assert "rows[1].uscc" in caught.value.paths
    assert _state(world) == before
    lenient = world.crm.collisions.commit_import(
        ADMIN, plan, import_id="i2", pool_id=world.pool_id, strict=False
    )
    assert lenient.skipped_rows == (1,)
    assert len(lenient.created) == 2


def test_duplicates_of_the_book_and_of_earlier_rows_are_found_before_writing() -> None:
    world = make_world()
    existing, _ = world.crm.collisions.create_customer(
        ADMIN, "华为技术股份有限公司", pool_id=world.pool_id
    )
    rows = [ROWS[0], ROWS[1], ("腾讯科技深圳有限公司", "", "", "", "", "")]
    plan = world.crm.collisions.plan_import(ADMIN, _csv(CHINESE, rows).encode())
    assert [r.status for r in plan.rows] == ["duplicate", "ok", "duplicate_in_file"]
    assert plan.rows[0].duplicate_of is not None
    assert plan.rows[0].duplicate_of.id == existing.id
    assert plan.rows[2].duplicate_of_row == 1
    report = world.crm.collisions.commit_import(ADMIN, plan, import_id="i3", pool_id=world.pool_id)
    assert report.created == (customer_id_for("i3", 1),)
    assert report.skipped_rows == (0, 2)


def test_xlsx_with_chinese_headers() -> None:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["公司名称（必填）", "电话", "邮箱"])
    sheet.append(["华为技术有限公司", 13800138000, "a@huawei.com"])  # a phone typed as a number
    sheet.append([None, None, None])
    sheet.append(["宏达贸易有限公司", "010-88886666", None])
    buffer = io.BytesIO()
    book.save(buffer)
    world = make_world()
    plan = world.crm.collisions.plan_import(ADMIN, buffer.getvalue(), filename="客户.xlsx")
    assert plan.format == "xlsx"
    assert [r.status for r in plan.rows] == ["ok", "ok"]
    assert plan.rows[0].fields["phones"] == ["13800138000"]
    with pytest.raises(ValidationError):
        world.crm.collisions.plan_import(ADMIN, b"PK\x03\x04 not a workbook")


def test_batches_are_all_or_nothing_and_a_failed_import_resumes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = make_world()
    names = [f"公司{i:02d}科技有限公司" for i in range(5)]
    data = ("客户名称\n" + "\n".join(names) + "\n").encode("gb18030")
    plan = world.crm.collisions.plan_import(ADMIN, data)
    original = ImportService._write
    calls = {"n": 0}

    def flaky(self: ImportService, *args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("connection lost")
        original(self, *args, **kwargs)

    monkeypatch.setattr(ImportService, "_write", flaky)
    with pytest.raises(RuntimeError):
        world.crm.collisions.commit_import(
            ADMIN, plan, import_id="i4", pool_id=world.pool_id, batch_size=2
        )
    with world.crm.unit_of_work() as uow:
        present = [uow.customers.find(customer_id_for("i4", i)) is not None for i in range(5)]
    assert present == [True, True, False, False, False]
    report = world.crm.collisions.commit_import(
        ADMIN, plan, import_id="i4", pool_id=world.pool_id, batch_size=2
    )
    assert (report.batches_skipped, report.batches_written) == (1, 2)
    assert len(report.created) == 5
    with world.crm.unit_of_work() as uow:
        assert all(uow.customers.find(customer_id_for("i4", i)) for i in range(5))


def test_a_batch_that_meets_a_new_duplicate_writes_none_of_its_rows() -> None:
    world = make_world()
    data = "客户名称\n甲科技有限公司\n乙科技有限公司\n丙科技有限公司\n".encode()
    plan = world.crm.collisions.plan_import(ADMIN, data)
    world.crm.collisions.create_customer(ADMIN, "丙科技", pool_id=world.pool_id)  # meanwhile
    with pytest.raises(RuleViolation) as caught:
        world.crm.collisions.commit_import(
            ADMIN, plan, import_id="i5", pool_id=world.pool_id, batch_size=2
        )
    assert caught.value.code == "collision.duplicate"
    with world.crm.unit_of_work() as uow:
        present = [uow.customers.find(customer_id_for("i5", i)) is not None for i in range(3)]
    assert present == [True, True, False]


def test_a_row_naming_a_contact_creates_it_and_unstorable_columns_are_listed() -> None:
    world = make_world()
    headers = (*CHINESE, "备注")
    rows = [(*ROWS[0], "老客户"), ("无联系人有限公司", "", "13900139001", "", "", "官网", "")]
    plan = world.crm.collisions.plan_import(ADMIN, _csv(headers, rows).encode())
    assert plan.unmapped_headers == ("渠道", "备注"), "a customer holds no channel or note"
    report = world.crm.collisions.commit_import(ADMIN, plan, import_id="c1", pool_id=None)
    huawei = customer_id_for("c1", 0)
    contacts = world.crm.contacts.contacts(ADMIN, huawei).items
    assert [(c.name, c.phone, c.email) for c in contacts] == [
        ("张三", "+8613800138000", "sales@huawei.com")
    ]
    assert world.crm.contacts.contacts(ADMIN, customer_id_for("c1", 1)).items == ()
    audited = [e.target_kind for e in world.store.audit_log()[-3:]]
    assert audited.count("contact") == 1, "the contact is audited with its customer"
    again = world.crm.collisions.commit_import(ADMIN, plan, import_id="c1", pool_id=None)
    assert (again.batches_skipped, again.created) == (1, report.created)
    assert len(world.crm.contacts.contacts(ADMIN, huawei).items) == 1, "a resume adds no contact"


def test_a_contact_name_too_long_rejects_its_row_in_the_dry_run() -> None:
    world = make_world()
    rows = [("长联系人有限公司", "张" * 201, "13900139002", "", "", "")]
    plan = world.crm.collisions.plan_import(ADMIN, _csv(CHINESE, rows).encode())
    assert [(e.path, e.code) for e in plan.errors] == [("rows[0].contact_name", "field.too_long")]


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"name": "甲有限公司", "phones": "13900139003"}, [("rows[1].phones", "field.type")]),
        ({"name": 7, "emails": [None]}, [("rows[1].name", "field.type"),
                                        ("rows[1].emails", "field.type")]),
        ({"phones": ["12345"]}, [("rows[1].phones[0]", "phone.invalid"),
                                 ("rows[1].name", "field.required")]),
    ],
)  # fmt: skip
def test_a_hand_made_plan_with_a_bad_row_writes_nothing(
    fields: dict[str, Any], errors: list[tuple[str, str]]
) -> None:
    """A plan is the caller's value between the dry run and the commit: its rows are
    checked again, every bad field named, before the first batch is written."""
    world = make_world()
    data = "客户名称\n甲一有限公司\n乙一有限公司\n丙一有限公司\n".encode()
    plan = world.crm.collisions.plan_import(ADMIN, data)
    forged = attrs.evolve(
        plan, rows=tuple(attrs.evolve(r, fields=fields) if r.index == 1 else r for r in plan.rows)
    )
    before = _state(world)
    with pytest.raises(ValidationError) as caught:
        world.crm.collisions.commit_import(
            ADMIN, forged, import_id="f1", pool_id=None, batch_size=1, strict=False
        )
    assert [(e.path, e.code) for e in caught.value.errors] == errors
    assert _state(world) == before
    bare = attrs.evolve(plan, rows=(attrs.evolve(plan.rows[0], fields={"name": "丁一有限公司"}),))
    report = world.crm.collisions.commit_import(ADMIN, bare, import_id="f2", pool_id=None)
    assert len(report.created) == 1, "absent phones and e-mails are none"
