"""Message catalogs: every code used in the library has text in every shipped locale
(zh-CN, zh-Hant, en); plural forms follow CLDR; formatting is safe and locale-aware (babel).

The completeness tests read the source with ``ast`` so a new error code, field code,
eligibility reason, event topic or enum member fails here until both catalogs have its text.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from babel.core import Locale

from leadtocash import RuleViolation
from leadtocash.access import Action
from leadtocash.allocation import Explanation, Reason
from leadtocash.calendars import CalendarOutOfRange
from leadtocash.durations import Duration
from leadtocash.errors import FieldError, InvalidTransition, NotFound, ValidationError
from leadtocash.events import ReclaimWarning
from leadtocash.i18n import (
    DEFAULT_LOCALE,
    LOCALES,
    PLURAL_CATEGORIES,
    catalog,
    describe_duration,
    describe_error,
    describe_notification,
    has_message,
    label,
    label_key,
    locales,
    message,
    missing_translations,
    placeholders,
    plural_form,
    register_catalog,
    resolve_locale,
    unregister_catalog,
)
from leadtocash.i18n.locales import en
from leadtocash.model import Channel, CustomerId, RepId, Tier
from leadtocash.money import Money
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


def _texts(found: object) -> list[str]:
    if isinstance(found, str):
        return [found]
    assert isinstance(found, dict)
    return [v for k, v in found.items() if k != "count"]


def test_every_shipped_catalog_has_the_same_keys_and_placeholders() -> None:
    english = catalog("en")
    for loc in LOCALES:
        other = catalog(loc)
        assert sorted(set(other) ^ set(english)) == [], loc
        differ = [k for k in other if placeholders(k, loc) != placeholders(k, "en")]
        assert differ == [], loc
        assert all(text.strip() for found in other.values() for text in _texts(found)), loc


def _sample(name: str) -> object:
    return 2 if name in ("amount", "count") else f"<{name}>"


@pytest.mark.parametrize("loc", LOCALES)
def test_every_code_renders_in_every_shipped_locale(loc: str) -> None:
    """Each code of every catalog has its own text here and renders with no placeholder left."""
    codes = sorted({code for shipped in LOCALES for code in catalog(shipped)})
    own = catalog(loc)
    missing = [code for code in codes if code not in own]
    assert missing == [], f"{loc} lacks {missing}: add them to src/leadtocash/i18n/locales/"
    tags = Locale.parse(loc.replace("-", "_")).plural_form.tags
    for code in codes:
        found = own[code]
        if isinstance(found, dict):  # every form the language's plural rules can pick
            assert set(found) <= {*PLURAL_CATEGORIES, "count"} and "other" in found, code
            assert tags <= set(found), (loc, code, tags)
        rendered = message(code, loc, **{n: _sample(n) for n in placeholders(code, loc)})
        assert rendered != code and rendered.strip(), (loc, code)
        assert "{" not in rendered.replace("{name}", ""), (loc, code, rendered)


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
    assert LOCALES == ("zh-CN", "zh-Hant", "en") and DEFAULT_LOCALE == "zh-CN"
    assert resolve_locale(None) == resolve_locale("") == "zh-CN"
    for spelling in ("zh-CN", "zh_CN", "zh-cn", "zh_CN.UTF-8", "zh-Hans-CN", "zh", "zh-SG"):
        assert resolve_locale(spelling) == "zh-CN", spelling
    for spelling in ("zh-Hans-HK", "zh_Hans_TW"):  # the script wins over the region
        assert resolve_locale(spelling) == "zh-CN", spelling
    for spelling in ("zh-TW", "zh_TW.UTF-8", "zh-HK", "ZH_hk", "zh-MO", "zh-Hant", "zh-Hant-HK"):
        assert resolve_locale(spelling) == "zh-Hant", spelling
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
        "今日领取已达上限（1/1），将于 2026年1月6日 00:00 重置。"
    )
    assert describe_error(caught.value, "en", timezone="Europe/London") == (
        "Daily claim limit reached (1/1); it resets at Jan 5, 2026, 4:00\u202fPM."
    )
    assert describe_error(caught.value, "en-GB", timezone="Europe/London") == (
        "Daily claim limit reached (1/1); it resets at 5 Jan 2026, 16:00."
    )
    assert describe_error(caught.value, "zh-TW", timezone="Asia/Taipei") == (
        "今日領取已達上限（1/1），將於 2026年1月6日 午夜12:00 重置。"
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
        "客户 c1 将于 2026年2月27日 00:00 被回收到公海（未跟进），请及时跟进"
    )
    assert describe_notification(event.topic, payload, "en").startswith(
        "Customer c1 goes back to the pool at 2026-02-26T16:00:00"
    )
    text = message("pool.lock_changed", "zh-CN", customer_id="c1", locked=True)
    assert text == "客户 c1 已锁定"


# -- plural forms (CLDR via babel) -----------------------------------------------------------


def test_durations_pick_their_plural_form() -> None:
    assert describe_duration(Duration.working_days(1), "en") == "1 working day"
    assert describe_duration(Duration.working_days(2), "en") == "2 working days"
    assert describe_duration(Duration.days(1), "en-GB") == "1 day"
    assert describe_duration(Duration.hours(1), "en") == "1 hour"
    assert describe_duration(Duration.business_hours(1), "en") == "1 business hour"
    assert describe_duration(Duration.business_hours(1000), "en") == "1,000 business hours"
    assert describe_duration(Duration.working_days(1), "zh-CN") == "1 个工作日"  # one form
    assert describe_duration(Duration.working_days(2), "zh-TW") == "2 個工作日"


def test_plural_forms_follow_each_languages_rules() -> None:
    en_locale, ru, zh = Locale("en"), Locale("ru"), Locale("zh")
    assert [plural_form(n, en_locale) for n in (0, 1, 2)] == ["other", "one", "other"]
    assert plural_form(Decimal("1.0"), en_locale) == "other"  # "1.0 days"
    assert plural_form("1", en_locale) == "one" and plural_form(-1, en_locale) == "one"
    assert [plural_form(n, ru) for n in (1, 2, 5, 21)] == ["one", "few", "many", "one"]
    assert {plural_form(n, zh) for n in (0, 1, 2, 5)} == {"other"}
    assert plural_form(None, en_locale) == plural_form("lots", en_locale) == "other"
    assert plural_form(True, en_locale) == "other"


# -- Traditional Chinese ---------------------------------------------------------------------


def test_taiwan_and_hong_kong_read_the_traditional_catalog() -> None:
    for loc in ("zh-TW", "zh-HK", "zh_TW.UTF-8", "zh-Hant"):
        assert message("pool.already_owned", loc, customer_id="c1") == "客戶 c1 已有負責人。"
    assert message("pool.already_owned", "zh-CN", customer_id="c1") == "客户 c1 已有负责人。"
    assert label(Tier.A, "zh-HK") == "A 類（近期成交）"
    assert label(Channel.IMPORT, "zh-TW") == "匯入"  # Taiwan/HK wording, not 導入
    error = ValidationError([FieldError("currency", "money.unknown_currency", "x")])
    assert (
        describe_error(error, "zh-TW")
        == "輸入有誤：currency：未知幣別：沒有貨幣使用此 ISO 4217 代碼。"
    )


def test_the_traditional_catalog_is_plain_data() -> None:
    source = (SRC / "i18n" / "locales" / "zh_hant.py").read_text("utf-8")
    assert "opencc" not in source.split('"""', 2)[2].lower()  # no runtime conversion
    simplified_only = set("户线资设数据录导认")
    texts = "".join(text for found in catalog("zh-Hant").values() for text in _texts(found))
    assert simplified_only & set(texts) == set()


# -- run-time catalogs -----------------------------------------------------------------------


@pytest.fixture
def registered() -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    for name in names:
        unregister_catalog(name)


def test_an_app_adds_a_language(registered: list[str]) -> None:
    name = register_catalog(
        "ja_JP",
        {
            "pool.already_owned": "顧客 {customer_id} にはすでに担当者がいます。",
            "label.duration.working_days": "{amount} 営業日",
            "app.greeting": "{who} さん、こんにちは",
        },
    )
    registered.append(name)
    assert name == "ja-JP" and "ja-JP" in locales() and resolve_locale("ja-jp") == "ja-JP"
    assert resolve_locale("ja") == "ja-JP"  # by language
    assert message("pool.already_owned", "ja-JP", customer_id="c1") == (
        "顧客 c1 にはすでに担当者がいます。"
    )
    assert describe_duration(Duration.working_days(1), "ja-JP") == "1 営業日"
    assert message("app.greeting", "ja-JP", who="Sato") == "Sato さん、こんにちは"
    # a code it lacks falls back to English, never to a missing key
    assert message("pool.not_owner", "ja-JP", customer_id="c1") == "You do not own customer c1."
    assert missing_translations(["pool.already_owned", "pool.not_owner"]) == {
        "ja-JP": ["pool.not_owner"]
    }


def test_registered_plural_forms_use_the_languages_rules(registered: list[str]) -> None:
    forms = {
        "count": "n",
        "one": "{n} день",
        "few": "{n} дня",
        "many": "{n} дней",
        "other": "{n} дня",
    }
    registered.append(register_catalog("ru", {"app.days": forms}))
    assert [message("app.days", "ru-RU", n=n) for n in (1, 3, 5, 21)] == [
        "1 день",
        "3 дня",
        "5 дней",
        "21 день",
    ]


def test_a_registration_overrides_texts_and_falls_back_to_its_base(
    registered: list[str],
) -> None:
    registered.append(
        register_catalog("en", {"pool.not_owner": "Customer {customer_id} is not yours."})
    )
    assert message("pool.not_owner", "en-US", customer_id="c1") == "Customer c1 is not yours."
    assert message("pool.already_owned", "en", customer_id="c1") == (
        "Customer c1 already has an owner."
    )
    registered.append(
        register_catalog("zh-TW", {"pool.not_owner": "客戶 {customer_id} 不是您的。"})
    )
    assert resolve_locale("zh-TW") == "zh-TW" and resolve_locale("zh-HK") == "zh-Hant"
    assert message("pool.already_owned", "zh-TW", customer_id="c1") == "客戶 c1 已有負責人。"
    unregister_catalog("en")
    assert message("pool.not_owner", "en", customer_id="c1") == "You do not own customer c1."


@pytest.mark.parametrize(
    ("messages", "code"),
    [
        ({"pool.already_owned": "顧客 {customer} は担当済み"}, "i18n.unknown_placeholder"),
        ({"pool.already_owned": "顧客 {customer_id"}, "i18n.bad_template"),
        ({"pool.already_owned": "顧客 {customer_id.__class__}"}, "i18n.bad_template"),
        ({"pool.already_owned": "顧客 {0}"}, "i18n.bad_template"),
        ({"pool.already_owned": ""}, "i18n.bad_message"),
        ({"pool.already_owned": 5}, "i18n.bad_message"),
        ({"label.duration.hours": {"one": "{amount} 時間"}}, "i18n.bad_message"),
        ({"label.duration.hours": {"other": "{amount}", "several": "x"}}, "i18n.bad_message"),
        ({"label.duration.hours": {"count": "n-1", "other": "{amount}"}}, "i18n.bad_message"),
        ({"label.duration.hours": {"count": "n", "other": "{n} 時間"}}, "i18n.unknown_placeholder"),
    ],
)
def test_a_registration_that_could_break_rendering_is_refused(
    messages: dict[str, object], code: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        register_catalog("ja", {"app.fine": "ok", **messages})  # type: ignore[dict-item]
    assert [e.code for e in caught.value.errors] == [code]
    assert caught.value.errors[0].path == f"messages[{next(iter(messages))}]"
    assert "ja" not in locales() and resolve_locale("ja") == "en"  # nothing registered


def test_a_locale_cldr_does_not_know_is_refused() -> None:
    for bad in ("klingon", "xx-YY", ""):
        with pytest.raises(ValidationError) as caught:
            register_catalog(bad, {"app.x": "x"})
        assert [(e.path, e.code) for e in caught.value.errors] == [
            ("locale", "i18n.unknown_locale")
        ]


# -- explanations ----------------------------------------------------------------------------


def _explanation() -> Explanation:
    reasons = (
        Reason("availability.ok", "available"),
        Reason("zone.match", "zone east", (("zone", "east"),)),
        Reason("skills.ok", "skills solar, wind", (("skills", ("solar", "wind")),)),
    )
    return Explanation(
        "fair",
        RepId("r7"),
        reasons,
        str(Fraction(5, 6)),
        ("12/20 today", "1234/2000 owned"),
        "vip",
        (("today", 12, 20), ("owned", 1234, 2000)),
    )


def test_explanations_render_in_the_callers_locale() -> None:
    explanation = _explanation()
    english = (
        "rep r7: deficit 0.83, eligible by zone east, skills solar, wind, rule vip, "
        "12/20 today, 1,234/2,000 owned (fair)"
    )
    assert explanation.text() == explanation.text("en") == english
    assert explanation.text("zh-CN") == (
        "销售 r7：欠额 0.83，符合条件：战区 east、技能 solar、wind，规则 vip，"
        "今日 12/20，已拥有 1,234/2,000（公平分配）"
    )
    assert explanation.text("zh-TW").startswith("銷售 r7：欠額 0.83，符合條件：戰區 east")


def test_explanations_without_details_keep_their_english_facts() -> None:
    bare = Explanation(
        "custom_policy",
        RepId("r1"),
        (Reason("zone.match", "zone west"),),
        "-1/8",
        ("3/5 today",),
    )
    assert (
        bare.text("zh-CN") == "销售 r1：欠额 -0.12，符合条件：zone west，3/5 today（custom_policy）"
    )


# -- numbers, money and dates ----------------------------------------------------------------


def test_numbers_money_and_dates_are_written_the_locales_way(registered: list[str]) -> None:
    text = message("pool.capacity_reached", "en", rep_id="r1", counted=12345, capacity=20000)
    assert text == "Capacity reached: r1 owns 12,345 of 20,000 allowed customers."
    registered.append(register_catalog("de", {"app.total": "Summe {total} am {day}"}))
    registered.append(register_catalog("en", {"app.total": "Total {total} on {day}"}))
    registered.append(register_catalog("zh-CN", {"app.total": "合计 {total}，日期 {day}"}))
    day = date(2027, 1, 4)
    assert message("app.total", "en", total=Money("1234.5", "CNY"), day=day) == (
        "Total CN¥1,234.50 on Jan 4, 2027"
    )
    assert message("app.total", "zh-CN", total=Money("1234.5", "CNY"), day=day) == (
        "合计 ¥1,234.50，日期 2027年1月4日"
    )
    assert message("app.total", "de-DE", total=Money("1234.5", "EUR"), day=day) == (
        "Summe 1.234,50\xa0€ am 04.01.2027"
    )
    # ISO 4217 minor units, not CLDR's display digits
    assert message("app.total", "en", total=Money(100, "JPY"), day=None) == "Total ¥100 on -"
    assert "1.250" in message("app.total", "en", total=Money("1.25", "TND"))
    assert "1,000.50" in message("app.total", "en", total=Money("1000.5", "IDR"))
    payload = {"amount": "99.5", "currency": "USD"}  # money as an outbox payload carries it
    assert message("app.total", "en", total=payload).startswith("Total $99.50 on {day}")
    assert message("app.total", "en", total=Decimal("0.125")).startswith("Total 0.125 ")
    instant = datetime(2026, 1, 5, 16, 0, tzinfo=UTC)
    assert message("app.total", "en-GB", total=1, day=instant) == "Total 1 on 5 Jan 2026, 16:00 UTC"
