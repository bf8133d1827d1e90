"""The recorded lead stream: generated from a seed, written and read back as CSV.

One row per lead as it arrived: when (UTC, ISO 8601), channel, company, contact, phone,
e-mail, zone. The simulator writes ``leads.csv``; ``leadtocash replay`` reads it, or a CSV
exported from the user's own history with the same columns (``zone`` optional).
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import attrs

from leadtocash.durations import WorkingCalendar
from leadtocash.errors import FieldError, ValidationError

__all__ = ["COLUMNS", "StreamLead", "generate_stream", "read_stream", "write_stream"]

COLUMNS = ("at", "channel", "company_name", "contact_name", "phone", "email", "zone")

#: Where leads come from, and how often (inbound channels are allocated, the rest claimed).
CHANNELS = (
    ("web_form", 34),
    ("call", 14),
    ("email", 12),
    ("social", 14),
    ("event", 10),
    ("referral", 8),
    ("import", 8),
)
INBOUND = frozenset({"web_form", "call", "email", "social"})

_CITIES = [
    "北京",
    "上海",
    "广州",
    "深圳",
    "杭州",
    "南京",
    "成都",
    "武汉",
    "西安",
    "苏州",
    "天津",
    "重庆",
    "长沙",
    "青岛",
    "厦门",
]
_WORDS = [
    "华",
    "科",
    "信",
    "达",
    "创",
    "恒",
    "瑞",
    "智",
    "联",
    "通",
    "博",
    "远",
    "德",
    "隆",
    "泰",
    "新",
    "安",
    "盛",
    "嘉",
    "鼎",
    "宏",
    "元",
    "天",
    "云",
]
_TRADES = [
    "信息技术",
    "电子科技",
    "医疗器械",
    "物流",
    "新材料",
    "机械制造",
    "软件",
    "环保科技",
    "食品",
    "教育科技",
]
_SURNAMES = [
    "王",
    "李",
    "张",
    "刘",
    "陈",
    "杨",
    "黄",
    "赵",
    "吴",
    "周",
    "徐",
    "孙",
    "马",
    "朱",
    "胡",
    "郭",
]
_GIVEN = [
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "磊",
    "洋",
    "艳",
    "勇",
    "军",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "霞",
]


@attrs.frozen
class StreamLead:
    """One lead of the stream, as captured from its channel."""

    at: datetime
    channel: str
    company_name: str
    contact_name: str
    phone: str
    email: str
    zone: str

    def payload(self) -> dict[str, object]:
        """The channel payload a capture form would post."""
        return {
            "channel": self.channel,
            "company_name": self.company_name,
            "contact_name": self.contact_name,
            "phone": self.phone,
            "email": self.email,
        }


@attrs.frozen
class _Company:
    name: str
    phone: str
    email: str
    zone: str
    contact: str


def _company(rng: random.Random, n: int, zones: Sequence[str]) -> _Company:
    city = rng.choice(_CITIES)
    brand = "".join(rng.sample(_WORDS, 2)) + _WORDS[n % len(_WORDS)]
    name = f"{city}{brand}{rng.choice(_TRADES)}有限公司"
    phone = f"+86{rng.choice(('138', '139', '186', '135', '177'))}{n:08d}"
    email = f"buyer{n}@{['qq.com', '163.com', 'corp.cn', 'example.com'][n % 4]}"
    contact = rng.choice(_SURNAMES) + rng.choice(_GIVEN) + rng.choice(("", *_GIVEN))
    return _Company(name, phone, email, zones[n % len(zones)], contact)


def _respelled(rng: random.Random, company: _Company) -> tuple[str, str, str]:
    """Name, phone and e-mail of a duplicate: the same company typed another way."""
    name, phone, email = company.name, company.phone, company.email
    match rng.randrange(4):
        case 0:  # full-width brackets and a space, national phone format
            name = name.replace("有限公司", "（有限公司）")
            phone = f"{phone[3:6]} {phone[6:10]} {phone[10:]}"
        case 1:  # e-mail in capitals from another channel
            email = email.upper()
        case 2:  # the same phone typed with the country code and dashes
            phone = f"+86-{phone[3:6]}-{phone[6:10]}-{phone[10:]}"
        case _:  # identical, entered twice
            pass
    return name, phone, email


def generate_stream(
    seed: int,
    leads: int,
    zones: Sequence[str],
    start: date,
    days: int,
    calendar: WorkingCalendar,
    timezone: str,
    duplicate_rate: float,
) -> list[StreamLead]:
    """``leads`` leads over ``days`` days: fewer at weekends, very few on public holidays."""
    rng = random.Random(f"stream:{seed}")
    tz = ZoneInfo(timezone)
    weights = [1.0 if calendar.is_working_day(start + timedelta(d)) else 0.12 for d in range(days)]
    per_day = [0] * days
    for d in rng.choices(range(days), weights=weights, k=leads):
        per_day[d] += 1
    names, counts = zip(*CHANNELS, strict=True)
    companies: list[_Company] = []
    stream: list[StreamLead] = []
    for d, count in enumerate(per_day):
        day = start + timedelta(d)
        moments = sorted(rng.randrange(8 * 3600, 20 * 3600) for _ in range(count))
        for second in moments:
            at = datetime.combine(day, time(), tz) + timedelta(seconds=second)
            channel = rng.choices(names, weights=counts)[0]
            if companies and rng.random() < duplicate_rate:
                company = rng.choice(companies)
                name, phone, email = _respelled(rng, company)
            else:
                company = _company(rng, len(companies), zones)
                companies.append(company)
                name, phone, email = company.name, company.phone, company.email
            stream.append(
                StreamLead(
                    at.astimezone(UTC), channel, name, company.contact, phone, email, company.zone
                )
            )
    return stream


def write_stream(path: Path, stream: Sequence[StreamLead]) -> None:
    """Write the stream as UTF-8 CSV with a header row."""
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for lead in stream:
            writer.writerow([lead.at.isoformat(), *attrs.astuple(lead)[1:]])


def read_stream(path: Path, zones: Sequence[str]) -> list[StreamLead]:
    """Read a lead stream CSV (``zone`` may be missing: leads are spread over ``zones``).

    Bad rows raise one ``ValidationError`` naming each (``rows[3].at`` …), at most 20.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError.single(str(path), "sim.file_unreadable", f"{path}: {exc}") from None
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in COLUMNS if c != "zone" and c not in (reader.fieldnames or ())]
    if missing:
        raise ValidationError(
            [FieldError(c, "field.required", f"{path.name}: missing column {c}") for c in missing]
        )
    stream: list[StreamLead] = []
    errors: list[FieldError] = []
    for index, row in enumerate(reader):
        try:
            at = datetime.fromisoformat(row["at"])
        except (TypeError, ValueError):
            errors.append(FieldError(f"rows[{index}].at", "field.type", "not an ISO time"))
            continue
        if at.tzinfo is None:
            errors.append(FieldError(f"rows[{index}].at", "field.type", "no time zone"))
            continue
        zone = row.get("zone") or zones[index % len(zones)]
        if zone not in zones:
            zone = zones[sum(map(ord, zone)) % len(zones)]
        stream.append(
            StreamLead(
                at.astimezone(UTC),
                row["channel"] or "import",
                row["company_name"] or "",
                row["contact_name"] or "",
                row["phone"] or "",
                row["email"] or "",
                zone,
            )
        )
    if errors:
        raise ValidationError(errors[:20])
    stream.sort(key=lambda lead: lead.at)
    return stream
