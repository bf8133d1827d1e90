"""Official holiday notices (放假调休) loaded as data: formats, validation, precedence."""

from __future__ import annotations

from datetime import date

import pytest

from leadtocash.calendars import (
    ChinaStatutoryCalendar,
    Festival,
    NoticeInvalid,
    StatutoryNotice,
)
from leadtocash.errors import ValidationError

pytest.importorskip("chinese_calendar")

# Illustrative days, not the State Council's: take real ones from the notice itself.
NOTICE_2027 = """\
year = 2027
source = "example notice"

[[holiday]]
name = "元旦"
off = ["2027-01-01..2027-01-03"]

[[holiday]]
name = "春节"
off = ["2027-02-05..2027-02-12"]
work = ["2027-02-14", 2027-02-20]
"""


def _codes(error: ValidationError) -> list[str]:
    return [e.code for e in error.errors]


def test_a_toml_notice_lists_days_off_and_make_up_workdays() -> None:
    notice = StatutoryNotice.from_toml(NOTICE_2027)
    assert notice.year == 2027 and notice.source == "example notice"
    assert notice.holidays == {date(2027, 1, d) for d in (1, 2, 3)} | {
        date(2027, 2, d) for d in range(5, 13)
    }
    assert notice.workdays == {date(2027, 2, 14), date(2027, 2, 20)}
    assert notice.festival_of(date(2027, 2, 14)) == "春节"
    assert notice.festival_of(date(2027, 3, 1)) is None
    assert notice.is_working_day(date(2027, 2, 14))  # Sunday, 调休上班
    assert not notice.is_working_day(date(2027, 2, 8))  # Monday in the festival
    assert notice.is_working_day(date(2027, 2, 15)) and not notice.is_working_day(date(2027, 2, 13))


def test_a_loaded_notice_wins_over_the_provisional_answer() -> None:
    china = ChinaStatutoryCalendar(fallback=None)
    monday = date(2027, 2, 8)
    assert china.is_provisional(monday) and 2027 not in china.published_years
    assert china.load_notice(StatutoryNotice.from_toml(NOTICE_2027)) is None
    assert not china.is_provisional(monday) and not china.is_working_day(monday)
    assert china.is_working_day(date(2027, 2, 14))
    assert 2027 in china.published_years
    assert china.source_of(monday) == "notice 2027 (example notice)"
    assert not china.provisional_between(date(2026, 12, 1), date(2027, 12, 31))
    assert china.provisional_between(date(2027, 12, 1), date(2028, 1, 3))
    # Given at construction, the same notice answers the same way.
    built = ChinaStatutoryCalendar(notices=[StatutoryNotice.from_toml(NOTICE_2027)])
    assert not built.is_working_day(monday) and not built.is_provisional(monday)


def test_a_notice_wins_over_the_package_and_company_overrides_win_over_both() -> None:
    tuesday = date(2026, 3, 3)  # a working day in the package's 2026 data
    correction = StatutoryNotice(2026, [Festival("closure", off=frozenset({tuesday}))])
    china = ChinaStatutoryCalendar(extra_workdays={date(2026, 3, 4)})
    assert china.is_working_day(tuesday)
    replaced = china.load_notice(correction)
    assert replaced is None and not china.is_working_day(tuesday)
    # The notice replaces the whole year: weekdays it does not list are working days.
    assert china.is_working_day(date(2026, 3, 4)) and china.source_of(date(2026, 3, 4)) == "company"
    assert china.load_notice(StatutoryNotice(2026, [])) == correction
    assert china.is_working_day(tuesday)


def test_csv_notices_from_excel_exports_with_a_bom_and_chinese_kinds() -> None:
    text = "\ufeffdate,kind,name\n2027-02-05..2027-02-12,休,春节\n\n2027-02-14,班,春节\n"
    notice = StatutoryNotice.from_csv(text, source="excel")
    assert notice.year == 2027 and notice.source == "excel"
    assert notice.workdays == {date(2027, 2, 14)} and len(notice.holidays) == 8
    same = StatutoryNotice.from_csv("Date,Kind\n2027-01-01,holiday\n2027-02-14,workday\n")
    assert same.holidays == {date(2027, 1, 1)} and same.workdays == {date(2027, 2, 14)}


def test_a_dict_notice_names_each_bad_field() -> None:
    good = StatutoryNotice.from_dict(
        {"year": 2027, "holiday": [{"name": "元旦", "off": [date(2027, 1, 1)]}]}, source="api"
    )
    assert good.holidays == {date(2027, 1, 1)} and good.source == "api"
    with pytest.raises(NoticeInvalid) as caught:
        StatutoryNotice.from_dict(
            {"year": 2027, "holiday": [{"off": ["2027-13-01", 7]}, {"work": "2028-01-01"}]}
        )
    assert caught.value.paths == ("holiday[0].off[0]", "holiday[0].off[1]", "holiday[1].work")
    assert _codes(caught.value) == [
        "calendar.notice_date",
        "calendar.notice_date",
        "calendar.notice_wrong_year",
    ]
    with pytest.raises(NoticeInvalid) as caught:
        StatutoryNotice.from_dict({"year": "2027", "holiday": {}})
    assert caught.value.paths == ("year", "holiday")


@pytest.mark.parametrize(
    ("bad_line", "code", "line"),
    [
        ('work = ["2027-02-14", "2027-02-12"]', "calendar.notice_conflict", 11),
        ('work = ["2028-02-14"]', "calendar.notice_wrong_year", 11),
        ('work = ["2027-02-30"]', "calendar.notice_date", 11),
        ('work = ["2027-02-20..2027-02-14"]', "calendar.notice_range", 11),
        ("work = [2027-02-14", "calendar.notice_syntax", 11),
    ],
)
def test_bad_toml_notices_name_the_line_and_change_nothing(
    bad_line: str, code: str, line: int
) -> None:
    text = NOTICE_2027.replace('work = ["2027-02-14", 2027-02-20]', bad_line)
    china = ChinaStatutoryCalendar()
    with pytest.raises(NoticeInvalid) as caught:
        china.load_notice(StatutoryNotice.from_toml(text))
    error = caught.value
    assert error.code == "calendar.notice_invalid" and isinstance(error, ValidationError)
    assert _codes(error) == [code]
    assert error.lines == (line,) and error.details["lines"] == [line]
    assert f"line {line}" in str(error)
    assert china.is_provisional(date(2027, 2, 8)) and 2027 not in china.published_years


def test_bad_csv_notices_name_every_bad_line() -> None:
    text = (
        "date,kind,name\n"
        "2027-02-05..2027-02-12,off,春节\n"
        "2027-02-31,off,春节\n"
        "2027-02-14,maybe,春节\n"
        "2027-02-15,work,春节\n"
    )
    with pytest.raises(NoticeInvalid) as caught:
        StatutoryNotice.from_csv(text)
    assert caught.value.paths == ("line 3", "line 4")
    assert _codes(caught.value) == ["calendar.notice_date", "calendar.notice_kind"]
    both = "date,kind\n2027-02-05..2027-02-12,off\n2027-02-10,work\n"
    with pytest.raises(NoticeInvalid) as caught:
        StatutoryNotice.from_csv(both)
    assert caught.value.paths == ("line 3",) and caught.value.lines == (3,)
    assert _codes(caught.value) == ["calendar.notice_conflict"]
    with pytest.raises(NoticeInvalid) as caught:
        StatutoryNotice.from_csv("date,kind\n2027-01-01,off\n2028-01-01,off\n")
    assert caught.value.paths == ("line 3",) and _codes(caught.value) == [
        "calendar.notice_wrong_year"
    ]
    with pytest.raises(NoticeInvalid) as caught:
        StatutoryNotice.from_csv("2027-01-01,off\n")
    assert caught.value.paths == ("line 1",)
    with pytest.raises(NoticeInvalid) as caught:
        StatutoryNotice.from_csv("date,kind\n")
    assert _codes(caught.value) == ["calendar.notice_empty"]


def test_notices_built_directly_are_validated_too() -> None:
    day = date(2027, 2, 14)
    with pytest.raises(NoticeInvalid) as caught:
        StatutoryNotice(
            2027, [Festival("a", off=frozenset({day})), Festival("b", work=frozenset({day}))]
        )
    assert _codes(caught.value) == ["calendar.notice_conflict"]
    with pytest.raises(NoticeInvalid):
        StatutoryNotice(2026, [Festival("a", off=frozenset({day}))])
    with pytest.raises(ValidationError) as year:
        StatutoryNotice(True, [])
    assert year.value.paths == ("year",)
