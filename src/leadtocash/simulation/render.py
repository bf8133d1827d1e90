"""The report for people: rich tables in the terminal and an HTML page, in the reader's language.

Every label comes from the catalogs through :func:`leadtocash.i18n.message` (``sim.*`` codes,
channel and aging labels); rich measures CJK characters as two cells, so zh-CN columns align.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from leadtocash.i18n import message

__all__ = ["HTML_NAME", "render_html", "render_terminal", "sections"]

HTML_NAME = "report.html"

Rows = list[list[str]]


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f} %"


def _yuan(text: str) -> str:
    whole, _, cents = text.partition(".")
    sign = "-" if whole.startswith("-") else ""
    return f"{sign}¥{int(whole.lstrip('-')):,}.{cents or '00'}"


def sections(report: dict[str, Any], locale: str) -> list[tuple[str, list[str], Rows, str]]:
    """The report as titled tables: (title, header, rows, caption)."""

    def t(code: str, **details: Any) -> str:
        return message(code, locale, **details)

    intake, own, deals, cash = (
        report["intake"],
        report["ownership"],
        report["deals"],
        report["cash"],
    )
    audit = report["audit"]
    audit_text = (
        t("sim.audit.ok", entries=audit["entries"], strands=audit["strands"])
        if audit["ok"]
        else t("sim.audit.broken")
    )
    hours = own["first_contact_hours_median"]
    summary = [
        [t("sim.metric.leads"), f"{intake['leads']:,}"],
        [t("sim.metric.duplicates"), f"{intake['duplicates']:,}"],
        [t("sim.metric.customers"), f"{intake['customers']:,}"],
        [t("sim.metric.assigned"), f"{own['assigned']:,}"],
        [t("sim.metric.claims"), f"{own['claims']:,}"],
        [t("sim.metric.reclaim_rate"), f"{own['reclaimed']:,} ({_pct(own['reclaim_rate'])})"],
        [t("sim.metric.follow_ups"), f"{own['follow_ups']:,}"],
        [t("sim.metric.tier_changes"), f"{own['tier_changes']:,}"],
        [t("sim.metric.first_contact"), "–" if hours is None else t("sim.hours", hours=hours)],
        [
            t("sim.metric.masked"),
            f"{own['masked_reads']:,} / {own['masked_reads'] + own['unmasked_reads']:,}",
        ],
        [t("sim.metric.tickets"), f"{report['service']['tickets']:,}"],
        [t("sim.metric.sla_breaches"), f"{report['service']['sla_breaches']:,}"],
        [t("sim.metric.audit"), audit_text],
    ]
    channels = [
        [
            message(f"label.channel.{c}", locale),
            f"{n:,}",
            f"{intake['duplicates_by_channel'].get(c, 0):,}",
        ]
        for c, n in intake["by_channel"].items()
    ]
    worst = report["fairness"]["max_deviation"]
    policies = [
        [t(f"sim.policy.{p}"), f"{worst[p]:.2f}", f"{worst[p + '_final']:.2f}"]
        for p in ("fair", "round_robin", "random")
    ]
    reps = [
        [
            r["rep"],
            r["zone"],
            str(r["weight"]),
            f"{r['entitled']:.2f}",
            str(r["received"]),
            f"{r['deviation']:+.2f}",
            str(r["owned"]),
        ]
        for r in report["fairness"]["reps"]
    ]
    funnel = [
        [t(f"sim.stage.{r['stage']}"), str(r["entered"]), str(r["advanced"]), str(r["won"])]
        for r in report["funnel"]
    ]
    deal_rows = [
        [t("sim.metric.opportunities"), f"{deals['opportunities']:,}"],
        [t("sim.metric.won_lost"), f"{deals['won']:,} / {deals['lost']:,}"],
        [t("sim.metric.win_rate"), _pct(deals["win_rate"])],
        [t("sim.metric.weighted_forecast"), _yuan(deals["weighted_forecast"])],
        [t("sim.metric.contracts"), f"{deals['contracts']:,}"],
        [t("sim.metric.renewals"), f"{deals['renewals']:,}"],
    ]
    pools = [
        [p["zone"], f"{p['size']:,}", t("sim.days", days=p["mean_age_days"])]
        for p in report["pools"]
    ]
    money = [
        [t("sim.metric.collected"), _yuan(cash["collected"])],
        [t("sim.metric.outstanding"), _yuan(cash["outstanding"])],
        *[[message(f"label.aging_bucket.{b}", locale), _yuan(v)] for b, v in cash["aging"].items()],
    ]

    def c(*codes: str) -> list[str]:
        return [t(f"sim.col.{x}") for x in codes]

    return [
        (t("sim.section.summary"), c("metric", "value"), summary, ""),
        (t("sim.section.channels"), c("channel", "leads", "duplicates"), channels, ""),
        (
            t("sim.section.fairness"),
            c("policy", "max_deviation", "final_deviation"),
            policies,
            t("sim.caption.fairness"),
        ),
        (
            t("sim.section.reps"),
            c("rep", "zone", "weight", "entitled", "received", "deviation", "owned"),
            reps,
            "",
        ),
        (t("sim.section.funnel"), c("stage", "entered", "advanced", "won"), funnel, ""),
        (t("sim.section.deals"), c("metric", "value"), deal_rows, ""),
        (t("sim.section.pools"), c("pool", "size", "mean_age"), pools, ""),
        (t("sim.section.cash"), c("metric", "amount"), money, ""),
    ]


def render_terminal(report: dict[str, Any], locale: str, console: Any) -> None:
    """Print the report as rich tables on ``console``."""
    from rich.table import Table

    cfg = report["config"]
    console.print(
        message(
            "sim.title", locale, **{k: cfg[k] for k in ("zones", "reps", "days", "leads", "seed")}
        ),
        style="bold",
    )
    console.print(message("sim.period", locale, start=cfg["start"], end=cfg["end"]))
    for title, header, rows, caption in sections(report, locale):
        table = Table(title=title, caption=caption or None, title_justify="left")
        for n, name in enumerate(header):
            table.add_column(name, justify="left" if n == 0 else "right")
        for row in rows:
            table.add_row(*row)
        console.print(table)


def render_html(
    report: dict[str, Any], locale: str, charts: Sequence[Path], folder: Path, store: str
) -> Path:
    """Write ``report.html`` in ``folder`` (tables and the charts) and return its path."""
    e = html.escape
    cfg = report["config"]
    title = message(
        "sim.title", locale, **{k: cfg[k] for k in ("zones", "reps", "days", "leads", "seed")}
    )
    parts = [
        "<!doctype html>",
        f'<html lang="{e(locale)}"><head><meta charset="utf-8"><title>{e(title)}</title>',
        "<style>body{font-family:system-ui,'Noto Sans CJK SC','PingFang SC',sans-serif;"
        "margin:2em;max-width:1100px}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:.25em .6em}td+td{text-align:right}"
        "img{max-width:100%;margin:1em 0}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f"<p>{e(message('sim.period', locale, start=cfg['start'], end=cfg['end']))}</p>",
        f"<p>{e(message('sim.store', locale, path=store))}</p>",
    ]
    for chart in charts:
        parts.append(f'<img src="{e(chart.name)}" alt="{e(chart.stem)}">')
    for heading, header, rows, caption in sections(report, locale):
        parts.append(f"<h2>{e(heading)}</h2><table><tr>")
        parts.extend(f"<th>{e(h)}</th>" for h in header)
        parts.append("</tr>")
        for row in rows:
            parts.append("<tr>" + "".join(f"<td>{e(cell)}</td>" for cell in row) + "</tr>")
        parts.append("</table>")
        if caption:
            parts.append(f"<p><small>{e(caption)}</small></p>")
    parts.append("</body></html>")
    path = folder / HTML_NAME
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
