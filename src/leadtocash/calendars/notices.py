"""Official holiday notices (放假调休通知) as data: one year's days off and make-up workdays.

The State Council publishes each year's schedule around November of the year before; packages
that carry it (``chinesecalendar``) follow weeks later and users upgrade later still. A
``StatutoryNotice`` lets an organisation load the year itself, from a small TOML or CSV text or
a dict, validated line by line; a calendar that holds it answers that year from the notice.

TOML (one ``[[holiday]]`` table per festival; ``off`` and ``work`` take dates, ``"a..b"``
ranges, or TOML dates)::

    year = 2027
    source = "国务院办公厅关于2027年部分节假日安排的通知"

    [[holiday]]
    name = "春节"
    off = ["2027-02-05..2027-02-11"]
    work = ["2027-02-14"]

CSV (header ``date,kind,name``; kind ``off``/``work``, also ``holiday``/``workday``, ``休``/``班``;
a date cell may be a range)::

    date,kind,name
    2027-02-05..2027-02-11,off,春节
    2027-02-14,work,春节

The texts are parsed, not read from disk: the domain does no I/O (``Path(...).read_text()``).
"""

from __future__ import annotations

import csv
import io
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

import attrs

from leadtocash.errors import FieldError, ValidationError

__all__ = ["Festival", "NoticeInvalid", "StatutoryNotice"]

_KINDS = {
    "off": "off", "holiday": "off", "rest": "off", "休": "off", "放假": "off",
    "work": "work", "workday": "work", "班": "work", "上班": "work", "调休上班": "work",
}  # fmt: skip
_LINE_IN_TOML_ERROR = re.compile(r"at line (\d+)")


class NoticeInvalid(ValidationError):
    """A holiday notice is malformed; every bad entry is named (field path and line)."""

    code = "calendar.notice_invalid"

    def __init__(self, errors: Sequence[FieldError], lines: Sequence[int | None]) -> None:
        super().__init__(errors, code=self.code)
        self.lines = tuple(lines)
        self.details["lines"] = [line for line in self.lines if line is not None]


@attrs.frozen
class Festival:
    """One festival's days off (放假) and make-up working days (调休上班)."""

    name: str
    off: frozenset[date] = frozenset()
    work: frozenset[date] = frozenset()


def _check_festivals(instance: StatutoryNotice, _attr: object, value: tuple[Festival, ...]) -> None:
    problems = _problems(instance.year, [(f.name, f.off, f.work) for f in value])
    if problems:
        raise NoticeInvalid([p for p, _ in problems], [None] * len(problems))


def _problems(
    year: int, festivals: Sequence[tuple[str, Iterable[date], Iterable[date]]]
) -> list[tuple[FieldError, date]]:
    """Days outside ``year`` and days that are both off and work, with the day at fault."""
    found: list[tuple[FieldError, date]] = []
    kinds: dict[date, str] = {}
    for index, (_name, off, work) in enumerate(festivals):
        for kind, days in (("off", off), ("work", work)):
            for day in sorted(days):
                path = f"holiday[{index}].{kind}"
                if day.year != year:
                    message = f"{day.isoformat()} is not in {year}"
                    found.append((FieldError(path, "calendar.notice_wrong_year", message), day))
                elif kinds.setdefault(day, kind) != kind:
                    message = f"{day.isoformat()} is both a day off and a working day"
                    found.append((FieldError(path, "calendar.notice_conflict", message), day))
    return found


def _festivals(values: Iterable[Festival]) -> tuple[Festival, ...]:
    return tuple(values)


def _year(_inst: object, _attr: object, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1949 < value < 2200:
        raise ValidationError.single(
            "year", "calendar.notice_year", f"{value!r} is not a year (1950-2199)"
        )


@attrs.frozen
class StatutoryNotice:
    """One year's official schedule: which days are off and which weekend days are worked."""

    year: int = attrs.field(validator=_year)
    festivals: tuple[Festival, ...] = attrs.field(converter=_festivals, validator=_check_festivals)
    source: str = ""

    @property
    def holidays(self) -> frozenset[date]:
        """Every day off the notice declares."""
        return frozenset().union(*(f.off for f in self.festivals))

    @property
    def workdays(self) -> frozenset[date]:
        """Every make-up working day (调休上班) the notice declares."""
        return frozenset().union(*(f.work for f in self.festivals))

    def is_working_day(self, day: date) -> bool:
        """The notice's answer for a day of its year: weekdays work unless off, weekends rest."""
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def festival_of(self, day: date) -> str | None:
        """The festival a day off or make-up workday belongs to, if any."""
        for festival in self.festivals:
            if day in festival.off or day in festival.work:
                return festival.name
        return None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str | None = None) -> StatutoryNotice:
        """Build from ``{"year", "source"?, "holiday": [{"name", "off", "work"}]}``."""
        return _Reader(None).notice(data, source)

    @classmethod
    def from_toml(cls, text: str) -> StatutoryNotice:
        """Parse the TOML format; errors name the line of each bad entry."""
        text = text.removeprefix("\ufeff")
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            match = _LINE_IN_TOML_ERROR.search(str(exc))
            line = int(match.group(1)) if match else len(text.splitlines())  # end of document
            error = FieldError(f"line {line}", "calendar.notice_syntax", f"not TOML: {exc}")
            raise NoticeInvalid([error], [line]) from None
        return _Reader(text.splitlines()).notice(data, None)

    @classmethod
    def from_csv(cls, text: str, *, year: int | None = None, source: str = "") -> StatutoryNotice:
        """Parse the CSV format (``date,kind,name``); the year is ``year`` or the first row's."""
        rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
        header = [cell.strip().lower() for cell in rows[0]] if rows else []
        if header[:2] != ["date", "kind"]:
            error = FieldError("line 1", "calendar.notice_syntax", "header must be date,kind,name")
            raise NoticeInvalid([error], [1])
        reader = _Reader(None)
        by_name: dict[str, tuple[set[date], set[date]]] = {}
        lines: dict[tuple[str, date], int] = {}
        errors: list[tuple[FieldError, int]] = []
        for number, row in enumerate(rows[1:], start=2):
            if not any(cell.strip() for cell in row):
                continue
            cells = [*row, "", ""]
            kind = _KINDS.get(cells[1].strip().lower())
            days = reader.days(cells[0], f"line {number}")
            if kind is None:
                message = f"kind {cells[1]!r} is not off or work"
                errors.append(
                    (FieldError(f"line {number}", "calendar.notice_kind", message), number)
                )
            if reader.errors:
                errors.extend((error, number) for error in reader.errors)
                reader.errors.clear()
            if kind is None or not days:
                continue
            year = days[0].year if year is None else year
            name = cells[2].strip() or "-"
            off, work = by_name.setdefault(name, (set(), set()))
            (off if kind == "off" else work).update(days)
            for day in days:
                lines.setdefault((kind, day), number)
        if year is None:
            error = FieldError("line 2", "calendar.notice_empty", "the notice lists no day")
            errors.append((error, 2))
        if errors:
            raise NoticeInvalid([e for e, _ in errors], [n for _, n in errors])
        assert year is not None
        items = [(name, off, work) for name, (off, work) in by_name.items()]
        problems = _problems(year, items)
        if problems:
            at = [lines.get((p.path.rsplit(".", 1)[1], day)) for p, day in problems]
            errors_at = [
                FieldError(f"line {n}", p.code, f"line {n}: {p.message}")
                for (p, _), n in zip(problems, at, strict=True)
            ]
            raise NoticeInvalid(errors_at, at)
        festivals = [Festival(name, frozenset(off), frozenset(work)) for name, off, work in items]
        return StatutoryNotice(year, festivals, source)


class _Reader:
    """Turns notice entries into dates, collecting every error with its line when known."""

    def __init__(self, lines: list[str] | None) -> None:
        self.lines = lines
        self.errors: list[FieldError] = []
        self.at: list[int | None] = []

    def line_of(self, token: str, path: str) -> int | None:
        """The line of the TOML text holding ``token`` at ``path`` (None for dicts)."""
        if self.lines is None or not token:
            return None
        start = 0
        found = re.match(r"holiday\[(\d+)\]\.(\w+)", path)
        if found:  # search from the festival's table and the key's line
            headers = [i for i, line in enumerate(self.lines) if line.strip() == "[[holiday]]"]
            index = int(found.group(1))
            start = headers[index] if index < len(headers) else 0
            key = found.group(2)
            start = next(
                (
                    i
                    for i in range(start, len(self.lines))
                    if self.lines[i].lstrip().startswith(key)
                ),
                start,
            )
        for number in range(start, len(self.lines)):
            if token in self.lines[number]:
                return number + 1
        return None

    def fail(self, path: str, code: str, message: str, token: str = "") -> None:
        """Record one error; its message starts with the line when the text is known."""
        line = self.line_of(token, path)
        self.errors.append(FieldError(path, code, f"line {line}: {message}" if line else message))
        self.at.append(line)

    def days(self, raw: object, path: str) -> list[date]:
        """The days of one entry: a date, ``YYYY-MM-DD`` or ``YYYY-MM-DD..YYYY-MM-DD``."""
        if isinstance(raw, date):
            return [raw]
        if not isinstance(raw, str):
            self.fail(path, "calendar.notice_date", f"{raw!r} is not a date")
            return []
        first_text, _, last_text = raw.strip().partition("..")
        try:
            first = date.fromisoformat(first_text.strip())
            last = date.fromisoformat(last_text.strip()) if last_text else first
        except ValueError:
            self.fail(path, "calendar.notice_date", f"{raw!r} is not YYYY-MM-DD[..YYYY-MM-DD]", raw)
            return []
        if last < first:
            self.fail(path, "calendar.notice_range", f"{raw!r} ends before it starts", raw)
            return []
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]

    def notice(self, data: Mapping[str, Any], source: str | None) -> StatutoryNotice:
        """Validate a whole notice mapping, raising every error at once."""
        year = data.get("year")
        if isinstance(year, bool) or not isinstance(year, int) or not 1949 < year < 2200:
            self.fail("year", "calendar.notice_year", f"{year!r} is not a year", "year")
            year = None
        entries = data.get("holiday", [])
        if not isinstance(entries, list):
            self.fail("holiday", "calendar.notice_syntax", "holiday must be a list of tables")
            entries = []
        festivals: list[tuple[str, list[date], list[date]]] = []
        tokens: dict[tuple[int, str, date], str] = {}
        for index, entry in enumerate(entries):
            if not isinstance(entry, Mapping):
                self.fail(f"holiday[{index}]", "calendar.notice_syntax", "expected a table")
                continue
            name = str(entry.get("name") or f"#{index + 1}")
            kinds: dict[str, list[date]] = {"off": [], "work": []}
            for kind, found in kinds.items():
                values = entry.get(kind, [])
                for position, raw in enumerate(values if isinstance(values, list) else [values]):
                    for day in self.days(raw, f"holiday[{index}].{kind}[{position}]"):
                        found.append(day)
                        tokens.setdefault((index, kind, day), str(raw))
            festivals.append((name, kinds["off"], kinds["work"]))
        if year is not None:
            for error, day in _problems(year, festivals):
                at, kind = error.path.removeprefix("holiday[").split("].")
                self.fail(error.path, error.code, error.message, tokens[(int(at), kind, day)])
        if self.errors:
            raise NoticeInvalid(self.errors, self.at)
        assert year is not None
        made = [Festival(n, frozenset(off), frozenset(work)) for n, off, work in festivals]
        return StatutoryNotice(year, made, str(source or data.get("source") or ""))
