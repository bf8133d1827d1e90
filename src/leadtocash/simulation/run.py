"""Run a simulation on a store opened by URL, and replay a lead stream under other rules."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import attrs

from leadtocash.app import LeadToCash
from leadtocash.durations import WorkingCalendar
from leadtocash.ports.storage import Store
from leadtocash.simulation.config import SimulationConfig
from leadtocash.simulation.engine import Metrics, Progress, Simulation, zone_ids
from leadtocash.simulation.stream import StreamLead, generate_stream
from leadtocash.stores import connect
from leadtocash.testing import FakeClock, SequentialIds

__all__ = ["Run", "open_run", "play", "working_calendar"]

TIMEZONE = "Asia/Shanghai"


def working_calendar() -> WorkingCalendar:
    """China's statutory calendar (调休 included) when the ``calendars`` extra is installed,
    else Monday–Friday (the Spring Festival then counts as working days)."""
    from leadtocash.calendars import ChinaStatutoryCalendar
    from leadtocash.durations import WeekdayCalendar

    try:
        return ChinaStatutoryCalendar()
    except ImportError:  # pragma: no cover - chinesecalendar missing
        return WeekdayCalendar()


@attrs.frozen
class Run:
    """A finished run: its store (open), facade, metrics and the stream it played."""

    store: Store
    crm: LeadToCash
    clock: FakeClock
    config: SimulationConfig
    metrics: Metrics
    stream: tuple[StreamLead, ...]
    calendar: WorkingCalendar


def open_run(
    url: str, config: SimulationConfig, calendar: WorkingCalendar
) -> tuple[Store, LeadToCash, FakeClock]:
    """A new store at ``url`` (its schema created) with a facade on a fake clock at the start."""
    from datetime import UTC, datetime, time
    from zoneinfo import ZoneInfo

    store = connect(url, create_schema=True)
    start = datetime.combine(config.start, time(7), ZoneInfo(TIMEZONE)).astimezone(UTC)
    clock = FakeClock(start)
    crm = LeadToCash(store, clock, SequentialIds(), timezone=TIMEZONE, calendar=calendar)
    return store, crm, clock


def play(
    url: str,
    config: SimulationConfig,
    *,
    stream: Sequence[StreamLead] | None = None,
    progress: Progress | None = None,
) -> Run:
    """Simulate ``config`` on a new store at ``url`` (the generated stream unless given)."""
    calendar = working_calendar()
    if stream is None:
        stream = generate_stream(
            config.seed,
            config.leads,
            zone_ids(config.zones),
            config.start,
            config.days,
            calendar,
            TIMEZONE,
            config.duplicate_rate,
        )
    else:
        last = config.start + timedelta(days=config.days)
        stream = [lead for lead in stream if lead.at.date() < last]
    store, crm, clock = open_run(url, config, calendar)
    simulation = Simulation(crm, clock, config, stream, calendar, timezone=TIMEZONE)
    metrics = simulation.run(progress)
    return Run(store, crm, clock, config, metrics, tuple(stream), calendar)


def remove_store(path: Path) -> None:
    """Delete an SQLite file and its WAL companions (a fresh run starts from nothing)."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
