"""``leadtocash simulate`` and ``leadtocash replay`` (the ``sim`` extra: matplotlib for charts)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from leadtocash.errors import MissingExtra
from leadtocash.i18n import message, resolve_locale
from leadtocash.simulation import REPLAY_METRICS, SimulationConfig, load_rules, replay, simulate
from leadtocash.simulation.engine import Progress as ProgressFn
from leadtocash.system import SystemClock

__all__ = ["replay_command", "simulate_command"]


def environment_locale() -> str:
    """The reader's language from LC_ALL / LC_MESSAGES / LANG (unset or C: English)."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name, "")
        if value and value.split(".")[0] not in ("C", "POSIX"):
            return resolve_locale(value)
    return "en"


def _console() -> Console:
    return Console(highlight=False, markup=False, soft_wrap=False)


@contextmanager
def _progress(locale: str) -> Iterator[ProgressFn]:
    """A rich progress bar per phase, on standard error."""
    bars = Progress(
        TextColumn("{task.description:<16}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    tasks: dict[str, TaskID] = {}

    def update(phase: str, done: int, total: int) -> None:
        name, _, run = phase.partition(":")
        if phase not in tasks:
            label = message(f"sim.phase.{name}", locale) + (f" {chr(65 + int(run))}" if run else "")
            tasks[phase] = bars.add_task(label, total=total)
        bars.update(tasks[phase], completed=done, total=total)

    with bars:
        yield update


def _number(value: float) -> str:
    return f"{value:,.3g}" if abs(value) < 10 else f"{value:,.0f}"


def _check_charts() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise MissingExtra("sim", needed_for="the charts", module="matplotlib") from exc


@click.command("simulate")
@click.option(
    "--store",
    "store",
    default="leadtocash-sim.sqlite3",
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="SQLite file (re)created.",
)
@click.option(
    "--out",
    "out",
    default="leadtocash-sim-report",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the report.",
)
@click.option("--zones", default=3, show_default=True)
@click.option("--reps", default=30, show_default=True)
@click.option("--days", default=90, show_default=True)
@click.option("--leads", default=SimulationConfig().leads, show_default=True)
@click.option("--seed", default=7, show_default=True)
@click.option(
    "--rules",
    "rules_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Pool rules (TOML) instead of the defaults.",
)
@click.option("--locale", help="Report language (zh-CN, zh-TW, en); default from LANG.")
@click.option("--no-charts", is_flag=True, help="Skip the PNG charts and the HTML page.")
def simulate_command(
    store: Path,
    out: Path,
    zones: int,
    reps: int,
    days: int,
    leads: int,
    seed: int,
    rules_file: Path | None,
    locale: str | None,
    no_charts: bool,
) -> None:
    """Simulate a sales organisation on an SQLite store and report on it (seeded).

    Leads from seven channels with duplicates, the duplicate check, fair allocation and claims,
    follow-ups, tier changes, reclaims (weekends and the Spring Festival do not count),
    opportunities, quotes, contracts, deliveries, invoices, receipts, tickets and renewals —
    through the public API. The store file stays for the other commands.
    """
    loc = resolve_locale(locale) if locale else environment_locale()
    if not no_charts:
        _check_charts()
    config = SimulationConfig(zones=zones, reps=reps, days=days, leads=leads, seed=seed)
    if rules_file is not None:
        config = SimulationConfig(
            zones=zones, reps=reps, days=days, leads=leads, seed=seed, rules=load_rules(rules_file)
        )
    began = SystemClock().now()
    with _progress(loc) as progress:
        outcome = simulate(config, store, out, locale=loc, charts=not no_charts, progress=progress)
    elapsed = (SystemClock().now() - began).total_seconds()
    console = _console()
    from leadtocash.simulation.render import render_terminal

    render_terminal(outcome.report, loc, console)
    console.print(message("sim.elapsed", loc, seconds=f"{elapsed:.1f}"))
    console.print(message("sim.store", loc, path=str(store)))
    console.print(message("sim.output", loc, path=str(out)))
    if not outcome.report["audit"]["ok"]:
        raise SystemExit(1)


@click.command("replay")
@click.option(
    "--rules",
    "rules",
    multiple=True,
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A rule file (give two).",
)
@click.option(
    "--stream",
    "stream",
    default="leadtocash-sim-report/leads.csv",
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Lead stream CSV (the simulator's leads.csv, or your own history).",
)
@click.option("--zones", default=3, show_default=True)
@click.option("--reps", default=30, show_default=True)
@click.option("--seed", default=7, show_default=True)
@click.option("--days", type=int, help="Days to play (default: the stream's span).")
@click.option(
    "--chart",
    default="replay.png",
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
)
@click.option("--locale", help="Report language; default from LANG.")
def replay_command(
    rules: tuple[Path, ...],
    stream: Path,
    zones: int,
    reps: int,
    seed: int,
    days: int | None,
    chart: Path,
    locale: str | None,
) -> None:
    """Replay one lead stream under two rule sets and compare them side by side.

    Rule files are TOML with a [pool] table: capacity, daily_claim_limit,
    no_follow_up_working_days, not_won_days, warn_before_working_days, reclaim_cooldown_days.
    A bad file is named with its bad keys (exit 2).
    """
    loc = resolve_locale(locale) if locale else environment_locale()
    if len(rules) != 2:
        raise click.UsageError("give exactly two --rules files")
    for path in rules:
        if not path.is_file():
            raise click.BadParameter(f"{path}: no such file", param_hint="--rules")
    sets = [load_rules(path) for path in rules]
    if not stream.is_file():
        raise click.BadParameter(
            f"{stream}: no such file (run leadtocash simulate first)", param_hint="--stream"
        )
    with _progress(loc) as progress:
        a, b = replay(stream, sets, zones=zones, reps=reps, seed=seed, days=days, progress=progress)
    names = (sets[0].name, sets[1].name)
    table = Table(
        title=message("sim.replay.title", loc, a=names[0], b=names[1]), title_justify="left"
    )
    for column in (
        message("sim.col.metric", loc),
        names[0],
        names[1],
        message("sim.col.difference", loc),
    ):
        table.add_column(column, justify="right")
    rows = []
    for code, _better in REPLAY_METRICS:
        rows.append((code, a[code], b[code]))
        table.add_row(
            message(f"sim.replay.{code}", loc),
            _number(a[code]),
            _number(b[code]),
            f"{b[code] - a[code]:+,.3g}",
        )
    console = _console()
    console.print(table)
    try:
        from leadtocash.simulation.charts import write_replay_chart
    except ImportError:  # pragma: no cover - matplotlib missing
        return
    try:
        write_replay_chart(names, rows, loc, chart)
    except ImportError:
        return
    console.print(message("sim.output", loc, path=str(chart)))
