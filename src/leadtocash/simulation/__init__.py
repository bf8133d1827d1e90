"""A seeded lead-to-cash simulator and a what-if replay of pool rules (``leadtocash simulate``).

A simulated sales organisation (zones, pools, reps with weights, managers, finance, a service
desk) plays a stream of leads day by day on a real store through the public API only: intake
with the duplicate check, fair allocation and claims, follow-ups, tier changes, reclaims over
weekends and the Spring Festival, opportunities through the stages, quotes, contracts,
deliveries, invoices, receipts, tickets and renewals. The report is read back through the API.

``replay`` plays one recorded lead stream under two rule sets and compares the outcomes.
Charts and the terminal report need the ``sim`` extra (matplotlib, rich, click).
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from leadtocash.audit_processes import ParallelAudit
from leadtocash.simulation.config import DEFAULT_START, RuleSet, SimulationConfig, load_rules
from leadtocash.simulation.engine import Progress, zone_ids
from leadtocash.simulation.report import build_report
from leadtocash.simulation.run import TIMEZONE, Run, play, remove_store
from leadtocash.simulation.stream import StreamLead, read_stream, write_stream

__all__ = [
    "DEFAULT_START",
    "REPLAY_METRICS",
    "Outcome",
    "RuleSet",
    "SimulationConfig",
    "load_rules",
    "replay",
    "simulate",
]

#: The replay's comparison, in order: (code, higher is better).
REPLAY_METRICS = (
    ("leads", None),
    ("customers", None),
    ("fairness", False),
    ("reclaimed", False),
    ("reclaim_churn", False),
    ("first_contact", False),
    ("win_rate", True),
    ("cash", True),
)


@attrs.frozen
class Outcome:
    """A finished simulation: the report data and where everything was written."""

    report: dict[str, Any]
    store: Path
    folder: Path
    charts: tuple[Path, ...]
    html: Path | None


def simulate(
    config: SimulationConfig,
    store: Path,
    folder: Path,
    *,
    locale: str = "en",
    charts: bool = True,
    progress: Progress | None = None,
) -> Outcome:
    """Run ``config`` on a new SQLite file ``store``; write report, stream and charts in ``folder``.

    ``folder`` gets ``report.json`` (the numbers), ``leads.csv`` (the stream, for ``replay``),
    the PNG charts and ``report.html`` (with ``charts``). The store is kept for inspection.
    """
    folder.mkdir(parents=True, exist_ok=True)
    remove_store(store)
    url = f"sqlite:///{store.resolve()}?synchronous=NORMAL"
    run = play(url, config, progress=progress)
    try:
        if progress is not None:
            progress("report", 0, 1)
        # the audit log is verified in other processes while the report reads the store
        audit = ParallelAudit(url, run.store.audit_strands)
        report = build_report(run, audit.result)
    finally:
        run.store.close()
    write_stream(folder / "leads.csv", run.stream)
    (folder / "report.json").write_text(
        json.dumps(report, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8"
    )
    pngs: list[Path] = []
    page = None
    if charts:
        from leadtocash.simulation.charts import write_charts
        from leadtocash.simulation.render import render_html

        pngs = write_charts(report, locale, folder)
        page = render_html(report, locale, pngs, folder, str(store))
    if progress is not None:
        progress("report", 1, 1)
    return Outcome(report, store, folder, tuple(pngs), page)


def _summary(run: Run) -> dict[str, float]:
    m = run.metrics
    hours = m.first_contact_hours
    taken = m.assigned + m.claims
    closed = m.won + m.lost
    cash = m.daily[-1][3] if m.daily else 0
    return {
        "leads": float(m.captured),
        "customers": float(m.customers),
        "fairness": round(m.fairness[-1][1], 3) if m.fairness else 0.0,
        "reclaimed": float(m.reclaimed),
        "reclaim_churn": round(m.reclaimed / taken, 3) if taken else 0.0,
        "first_contact": round(statistics.median(hours), 1) if hours else 0.0,
        "win_rate": round(m.won / closed, 3) if closed else 0.0,
        "cash": float(cash),
    }


def replay(
    stream_path: Path,
    rules: Sequence[RuleSet],
    *,
    zones: int = 3,
    reps: int = 30,
    seed: int = 7,
    days: int | None = None,
    progress: Progress | None = None,
) -> list[dict[str, float]]:
    """Play the lead stream in ``stream_path`` once per rule set (same seed, same reps).

    Each play runs on a throwaway in-memory store; the organisation's behaviour (who claims,
    who follows up) draws from the same seed, so only the rules differ. Returns one summary
    per rule set (``REPLAY_METRICS``).
    """
    stream: list[StreamLead] = read_stream(stream_path, zone_ids(zones))
    if not stream:
        from leadtocash.errors import ValidationError

        raise ValidationError.single(
            str(stream_path), "sim.stream_empty", "the stream has no leads"
        )
    tz = ZoneInfo(TIMEZONE)
    first = stream[0].at.astimezone(tz).date()
    last = stream[-1].at.astimezone(tz).date()
    span = days or (last - first).days + 1
    results = []
    for n, rule_set in enumerate(rules):
        config = SimulationConfig(
            zones=zones,
            reps=reps,
            days=span,
            leads=len(stream),
            seed=seed,
            start=first,
            rules=rule_set,
        )

        def step(phase: str, done: int, total: int, n: int = n) -> None:
            if progress is not None:
                progress(f"{phase}:{n}", done, total)

        run = play("memory://", config, stream=stream, progress=step)
        run.store.close()
        results.append(_summary(run))
    return results
