"""PNG charts of a report with matplotlib (the ``sim`` extra): fairness, funnel, cash, aging.

Titles are in the reader's language when matplotlib has a font with CJK glyphs (Noto Sans CJK,
WenQuanYi, SimHei …); otherwise Chinese titles would print as empty boxes, so they are English.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from leadtocash.i18n import message, resolve_locale

__all__ = ["chart_locale", "write_charts", "write_replay_chart"]

_CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "WenQuanYi Zen Hei",
    "SimHei",
    "PingFang SC",
    "Source Han Sans SC",
    "Microsoft YaHei",
)


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def chart_locale(locale: str) -> str:
    """``locale`` when its script can be drawn, else ``en``."""
    if not resolve_locale(locale).startswith("zh"):
        return locale
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    for font in _CJK_FONTS:
        if font in names:
            import matplotlib

            matplotlib.rcParams["font.sans-serif"] = [font, "DejaVu Sans"]
            return locale
    return "en"


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata={"Software": None})
    _pyplot().close(fig)
    return path


def write_charts(report: dict[str, Any], locale: str, folder: Path) -> list[Path]:
    """fairness.png, funnel.png, cash.png, aging.png, pool.png in ``folder``; their paths."""
    plt = _pyplot()
    loc = chart_locale(locale)

    def t(code: str, **details: Any) -> str:
        return message(code, loc, **details)

    paths = []

    fig, ax = plt.subplots(figsize=(8, 4))
    series = report["fairness_series"]
    x = list(range(1, len(series) + 1))
    for column, policy, style in ((1, "fair", "-"), (2, "round_robin", "--"), (3, "random", ":")):
        ax.plot(x, [row[column] for row in series], style, label=t(f"sim.policy.{policy}"))
    ax.set_title(t("sim.chart.fairness"))
    ax.set_xlabel(t("sim.chart.rounds"))
    ax.set_ylabel(t("sim.col.max_deviation"))
    ax.legend()
    paths.append(_save(fig, folder / "fairness.png"))

    fig, ax = plt.subplots(figsize=(8, 4))
    rows = report["funnel"]
    ax.barh([t(f"sim.stage.{r['stage']}") for r in rows][::-1], [r["entered"] for r in rows][::-1])
    ax.set_title(t("sim.chart.funnel"))
    ax.set_xlabel(t("sim.col.entered"))
    paths.append(_save(fig, folder / "funnel.png"))

    fig, ax = plt.subplots(figsize=(8, 4))
    curve = report["cash"]["curve"]
    ax.plot([d + 1 for d, _ in curve], [float(c) for _, c in curve])
    ax.set_title(t("sim.chart.cash"))
    ax.set_xlabel(t("sim.chart.day"))
    ax.set_ylabel("CNY")
    paths.append(_save(fig, folder / "cash.png"))

    fig, ax = plt.subplots(figsize=(8, 4))
    aging = report["cash"]["aging"]
    ax.bar(
        [message(f"label.aging_bucket.{b}", loc) for b in aging], [float(v) for v in aging.values()]
    )
    ax.set_title(t("sim.chart.aging"))
    ax.set_ylabel("CNY")
    paths.append(_save(fig, folder / "aging.png"))

    fig, ax = plt.subplots(figsize=(8, 4))
    daily = report["daily"]
    ax.bar([d + 1 for d, _, _ in daily], [r for _, r, _ in daily], label=t("sim.metric.reclaimed"))
    ax2 = ax.twinx()
    ax2.plot(
        [d + 1 for d, _, _ in daily],
        [p for _, _, p in daily],
        color="tab:orange",
        label=t("sim.col.size"),
    )
    ax.set_title(t("sim.chart.pool"))
    ax.set_xlabel(t("sim.chart.day"))
    ax.legend(loc="upper left")
    ax2.legend(loc="upper right")
    paths.append(_save(fig, folder / "pool.png"))
    return paths


def write_replay_chart(
    names: tuple[str, str], rows: list[tuple[str, float, float]], locale: str, path: Path
) -> Path:
    """Side-by-side bars of each replay metric (normalised to the larger of the two)."""
    plt = _pyplot()
    loc = chart_locale(locale)
    fig, ax = plt.subplots(figsize=(9, 4))
    labels = [message(f"sim.replay.{code}", loc) for code, _, _ in rows]
    scale = [max(abs(a), abs(b)) or 1.0 for _, a, b in rows]
    xs = range(len(rows))
    ax.bar(
        [x - 0.2 for x in xs],
        [a / s for (_, a, _), s in zip(rows, scale, strict=True)],
        0.4,
        label=names[0],
    )
    ax.bar(
        [x + 0.2 for x in xs],
        [b / s for (_, _, b), s in zip(rows, scale, strict=True)],
        0.4,
        label=names[1],
    )
    ax.set_xticks(list(xs), labels, rotation=15)
    ax.set_title(message("sim.replay.title", loc, a=names[0], b=names[1]))
    ax.legend()
    return _save(fig, path)
