"""Message catalogs: every code used in the library has zh-CN and en text; formatting is safe.

The completeness tests read the source with ``ast`` so a new error code, field code,
eligibility reason, event topic or enum member fails here until both catalogs have its text.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from leadtocash import RuleViolation
from leadtocash.access import Action
from leadtocash.calendars import CalendarOutOfRange
from leadtocash.durations import Duration
from leadtocash.errors import FieldError, InvalidTransition, NotFound, ValidationError
from leadtocash.events import ReclaimWarning
from leadtocash.i18n import (
    DEFAULT_LOCALE,
    LOCALES,
    catalog,
    describe_duration,
    describe_error,
    describe_notification,
    has_message,
    label,
    label_key,
    message,
    missing_translations,
    placeholders,
    resolve_locale,
)
from leadtocash.i18n.locales import en
from leadtocash.model import Channel, CustomerId, RepId, Tier
from leadtocash.pool.rules import PoolRules
from leadtocash.serialization import unstructure
from pool_fixtures import make_world, rep_principal

SRC = Path(__file__).resolve().parents[2] / "src" / "leadtocash"
_ENUM_BASES = {"Enum", "StrEnum", "IntEnum", "enum.Enum", "enum.StrEnum", "enum.IntEnum"}


def _trees() -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(SRC.rglob("*.py")):
        yield path, ast.parse(path.read_text("utf-8"), filename=str(path))


def _string_constants() -> dict[str, str]:
    """Module-level ``NAME = "text"`` constants of the package (for ``code=NAME``)."""
    found: dict[str, str] = {}
    for _, tree in _trees():
        for node in tree.body:
            target: ast.expr | None = None
            if isinstance(node, ast.AnnAssign):
                target = node.target
            elif isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
            value = getattr(node, "value", None)
            text = value.value if isinstance(value, ast.Constant) else None
            if isinstance(target, ast.Name) and isinstance(text, str):
                found[target.id] = text
    return found


def _strings(node: ast.expr | None, constants: dict[str, str]) -> list[str]:
    """The code(s) an expression can evaluate to: literals, ``a if c else b``, constants."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _strings(node.body, constants) + _strings(node.orelse, constants)
    if isinstance(node, ast.Name) and node.id in constants:
        return [constants[node.id]]
    if isinstance(node, ast.Attribute) and node.attr in constants:
        return [constants[node.attr]]
    return []


def _is_code_name(target: ast.expr) -> bool:
    return isinstance(target, ast.Name) and (
        target.id in ("code", "topic") or target.id.endswith("_CODE")
    )


def scan_codes() -> dict[str, list[str]]:
    """Every code in src/leadtocash, with where it is used.

    Found: ``code=`` keywords, assignments to ``code`` / ``topic`` / ``*_CODE`` (class-level
    error codes and event topics included), the code argument of ``FieldError(path, code, …)``
    and ``ValidationError.single(path, code, …)``, and ``Reason(code, …)``.
    """
    constants = _string_constants()
    found: dict[str, list[str]] = {}
    for path, tree in _trees():
        for node in ast.walk(tree):
            codes: list[str] = []
            if (
                (isinstance(node, ast.keyword) and node.arg == "code")
                or (isinstance(node, ast.Assign) and any(_is_code_name(t) for t in node.targets))
                or (isinstance(node, ast.AnnAssign) and _is_code_name(node.target))
            ):
                codes = _strings(node.value, constants)
            elif isinstance(node, ast.Call):
                func = ast.unparse(node.func)
                if func.endswith(("FieldError", "ValidationError.single")) and len(node.args) > 1:
                    codes = _strings(node.args[1], constants)
                elif func.split(".")[-1] == "Reason" and node.args:
                    codes = _strings(node.args[0], constants)
            where = f"{path.relative_to(SRC)}:{getattr(node, 'lineno', '?')}"
            for code in codes:
                found.setdefault(code, []).append(where)
    return found


def scan_enum_labels() -> dict[str, str]:
    """``label.<kind>.<value>`` of every string enum member defined in src/leadtocash."""
    found: dict[str, str] = {}
    for path, tree in _trees():
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef):
                continue
            if not any(ast.unparse(base) in _ENUM_BASES for base in node.bases):
                continue
            kind = "".join("_" + c.lower() if c.isupper() else c for c in node.name).lstrip("_")
            for item in node.body:
                value = item.value if isinstance(item, ast.Assign) else None
                if isinstance(value, ast.Constant) and isinstance(value.value, str | int):
                    key = f"label.{kind}.{value.value}"
                    found[key] = f"{path.relative_to(SRC)}:{item.lineno} {node.name}"
    return found


# -- completeness ----------------------------------------------------------------------------


def test_the_scanner_sees_every_kind_of_code() -> None:
    codes = scan_codes()
    for code in (
        "pool.daily_limit_reached",  # code="..." keyword
        "storage.concurrency_conflict",  # class-level code = "..."
        "allocation.no_eligible_rep",  # code=CONSTANT
        "capacity.full",  # code = "a" if c else "b"
        "field.required",  # FieldError / ValidationError.single
        "zone.mismatch",  # Reason("...")
        "pool.reclaim_warning",  # topic: ClassVar[str] = "..."
        "calendar.out_of_range",
    ):
        assert code in codes, code
    assert len(codes) > 60


def test_every_code_used_in_the_source_has_both_translations() -> None:
    codes = scan_codes()
    missing = missing_translations(codes)
    report = {
        loc: [f"{code} ({', '.join(codes[code][:2])})" for code in found]
        for loc, found in missing.items()
    }
    assert report == {}, f"add texts to src/leadtocash/i18n/locales/: {report}"


def test_every_enum_member_has_a_label_in_both_languages() -> None:
    labels = scan_enum_labels()
    assert "label.duration_unit.business_hours" in labels and "label.tier.A" in labels
    missing = missing_translations(labels)
    report = {loc: [f"{key} ({labels[key]})" for key in found] for loc, found in missing.items()}
    assert report == {}, f"add labels to src/leadtocash/i18n/locales/: {report}"


def test_both_catalogs_have_the_same_keys_and_placeholders() -> None:
    zh, english = catalog("zh-CN"), catalog("en")
    assert sorted(set(zh) ^ set(english)) == []
    differ = [k for k in zh if placeholders(k, "zh-CN") != placeholders(k, "en")]
    assert differ == []
    assert all(text.strip() for text in (*zh.values(), *english.values()))


def test_error_codes_and_topics_do_not_collide() -> None:
    topics: set[str] = set()
    for _, tree in _trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.AnnAssign) and ast.unparse(node.target) == "topic":
                topics.update(_strings(node.value, {}))
    errors = set(scan_codes()) - topics
    assert "lead.captured" in topics and topics & errors == set()


# -- lookups and formatting ------------------------------------------------------------------


def test_locales_resolve_exactly_by_language_or_fall_back_to_english() -> None:
    assert LOCALES == ("zh-CN", "en") and DEFAULT_LOCALE == "zh-CN"
    assert resolve_locale(None) == resolve_locale("") == "zh-CN"
    for spelling in ("zh-CN", "zh_CN", "zh-cn", "zh_CN.UTF-8", "zh-Hans-CN", "zh-TW", "zh"):
        assert resolve_locale(spelling) == "zh-CN", spelling
    for spelling in ("en", "en-US", "en_GB", "EN"):
        assert resolve_locale(spelling) == "en", spelling
    assert resolve_locale("fr-FR") == resolve_locale("C") == "en"


def test_messages_format_details_in_both_languages() -> None:
    details = {"count": 20, "limit": 20, "resets_at": "2026-01-05T16:00:00+00:00"}
    assert message("pool.daily_limit_reached", "zh-CN", **details) == (
        "今日领取已达上限（20/20），将于 2026-01-05T16:00:00+00:00 重置。"
    )
    assert message("pool.daily_limit_reached", "en", **details) == (
        "Daily claim limit reached (20/20); it resets at 2026-01-05T16:00:00+00:00."
    )
    assert message("pool.capacity_reached", "en-US", rep_id="rep1", counted=5, capacity=5) == (
        "Capacity reached: rep1 owns 5 of 5 allowed customers."
    )


def test_formatting_never_crashes(monkeypatch: pytest.MonkeyPatch) -> None:
    assert message("pool.daily_limit_reached", "en", count=3) == (
        "Daily claim limit reached (3/{limit}); it resets at {resets_at}."
    )
    assert message("no.such.code", "zh-CN", x=1) == "no.such.code"
    monkeypatch.setitem(en.MESSAGES, "test.bad", "{oops")
    monkeypatch.setitem(en.MESSAGES, "test.attr", "{x.__class__} {y[0]} {} {z:>5} {w:%Y}")
    assert message("test.bad", "en") == "{oops"
    rendered = message("test.attr", "en", x=1, y=[2], z="ab", w="not a date")
    assert rendered == "{x.__class__} {y[0]} {0}    ab not a date"
    assert message("test.bad", "fr") == "{oops"  # unknown locale, English text
    assert message("test.attr", "zh-CN", z=None, w=None).endswith("- -")  # missing zh: en text


def test_labels_translate_enum_members_and_list_details() -> None:
    assert label(Tier.A, "zh-CN") == "A 类（近期成交）" and label(Tier.A, "en") == "A (hot)"
    assert label(Action.POOL_CLAIM, "zh-CN") == "领取客户"
    assert label_key(Channel.WEB_FORM) == "label.channel.web_form"
    assert label("no_follow_up", "en", kind="reclaim_rule") == "no follow-up"
    assert label("unheard_of", "en", kind="reclaim_rule") == "unheard_of"
    with pytest.raises(TypeError):
        label_key("claim")
    error = InvalidTransition("lead", "new", "convert", ["work", "disqualify"])
    assert describe_error(error, "zh-CN") == (
        "lead 处于 new 状态，不能执行 convert；当前允许：work、disqualify。"
    )
    assert describe_error(error, "en").endswith("allowed now: work, disqualify.")
    assert describe_error(NotFound("customer", "c9"), "zh-CN") == "未找到客户 c9。"
    assert describe_error(NotFound("gizmo", "g1"), "en") == "gizmo g1 was not found."


def test_durations_read_naturally() -> None:
    assert describe_duration(Duration.working_days(5), "zh-CN") == "5 个工作日"
    assert describe_duration(Duration.working_days(5), "en") == "5 working days"
    assert describe_duration(Duration.business_hours(8), "zh-CN") == "8 个工作小时"
    assert describe_duration(Duration.days(0), "en") == "off"


def test_a_real_refusal_reads_in_the_principals_language() -> None:
    world = make_world(PoolRules(daily_claim_limit=1), customers=2)
    rep = rep_principal(1)
    world.crm.pools.claim(rep, world.customers[0])
    with pytest.raises(RuleViolation) as caught:
        world.crm.pools.claim(rep, world.customers[1])
    assert caught.value.code == "pool.daily_limit_reached"  # the code never changes
    assert describe_error(caught.value, rep.locale, timezone="Asia/Shanghai") == (
        "今日领取已达上限（1/1），将于 2026-01-06 00:00 重置。"
    )
    assert describe_error(caught.value, "en", timezone="Europe/London") == (
        "Daily claim limit reached (1/1); it resets at 2026-01-05 16:00."
    )


def test_validation_errors_list_every_field() -> None:
    error = ValidationError(
        [
            FieldError("company_name", "field.required", "company_name is required"),
            FieldError("rows[2].phone", "phone.invalid", "'123' is not a valid number"),
            FieldError("x", "vendor.custom", "custom vendor check failed"),
        ]
    )
    assert describe_error(error, "zh-CN") == (
        "输入有误：company_name：必填。；rows[2].phone：不是有效的电话号码。；"
        "x：custom vendor check failed"
    )
    assert describe_error(error, "en") == (
        "Invalid input: company_name: Required.; rows[2].phone: Not a valid phone number.; "
        "x: custom vendor check failed"
    )
    beyond = CalendarOutOfRange(date(2027, 1, 4), date(2004, 1, 1), date(2026, 12, 31), "cc 1.11")
    assert describe_error(beyond, "zh-CN") == (
        "日期 2027-01-04 超出日历数据范围（2004-01-01 至 2026-12-31，cc 1.11），请更新日历数据包。"
    )


def test_unknown_codes_fall_back_to_the_parent_class_then_the_message() -> None:
    custom = RuleViolation("too many open quotes", code="quote.too_many_open")
    assert not has_message("quote.too_many_open")
    assert describe_error(custom, "zh-CN") == "该操作违反业务规则，已被拒绝。"

    class VendorError(ValidationError):
        code = "vendor.unknown"

    odd = VendorError([FieldError("a", "vendor.unknown", "vendor says no")])
    assert describe_error(odd, "en") == "Invalid input"


def test_notifications_read_from_their_outbox_payload() -> None:
    event = ReclaimWarning(
        datetime(2026, 2, 25, 16, 0, tzinfo=UTC),
        CustomerId("c1"),
        RepId("rep1"),
        datetime(2026, 2, 26, 16, 0, tzinfo=UTC),
        "no_follow_up",
    )
    payload = unstructure(event)
    assert describe_notification(event.topic, payload, "zh-CN", timezone="Asia/Shanghai") == (
        "客户 c1 将于 2026-02-27 00:00 被回收到公海（未跟进），请及时跟进"
    )
    assert describe_notification(event.topic, payload, "en").startswith(
        "Customer c1 goes back to the pool at 2026-02-26T16:00:00"
    )
    text = message("pool.lock_changed", "zh-CN", customer_id="c1", locked=True)
    assert text == "客户 c1 已锁定"
